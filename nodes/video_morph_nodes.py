"""Video morphs from stills on Wan's first-last-frame models: one clip between each two neighbouring stills.

The graph: stills (a picture morph's or AID's frames, a keyframed story's) -> Wan Clips From Stills (the clips'
conditioning as ComfyUI's ``WanFirstLastFrameToVideo`` builds it for each pair, and one latent row per clip with one
shared noise) -> KSampler (every clip in one sampling) -> VAE Decode (clip after clip, L frames each) -> Join Clips
(each boundary still once) -> a video node. The video model only bridges pictures that are close, so each clip is a
short step rather than a cross-fade between two far pictures.
"""

from __future__ import annotations

import torch

import comfy.clip_vision
from comfy_api.latest import io
from comfy_extras.nodes_wan import WanFirstLastFrameToVideo

from ..inbetween.clips import clip_pairs, join_clips
from .attention_patch.wan import is_wan
from .comfy_values import describe, latent_like, read_clip_vision_output, read_conditioning, read_images
from .errors import InbetweenInputError, engine_errors

CATEGORY = "inbetween/video"
# Wan's VAEs (2.1 and 2.2) pack 4 frames into a latent frame after the first: a clip of L = 4k + 1 frames is k + 1
# latent frames and decodes back to L frames. Another L would decode to a different count, and the end still, placed
# at frame L, would fall between decoded frames.
TEMPORAL_COMPRESSION = 4
# The values WanFirstLastFrameToVideo puts in both conditionings; each clip row gets its pair's.
ROW_KEYS = ("concat_latent_image", "concat_mask")
LENGTH_TOOLTIP = "Frames per clip, 4k + 1 (Wan: 81 at 16 fps is 5 s); each clip starts and ends on a still."


class WanClipsFromStills(io.ComfyNode):
    """N stills -> N - 1 clip rows (N for a loop) for Wan's first-last-frame models, sampled together."""

    DISPLAY_NAME = "Wan Clips From Stills"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenWanClipsFromStills",
            display_name=cls.DISPLAY_NAME,
            category=CATEGORY,
            description=(
                "One Wan first-last-frame clip between each two neighbouring stills, conditioned as "
                "WanFirstLastFrameToVideo conditions that pair; one latent row per clip, all with one shared noise."
            ),
            inputs=[
                io.Conditioning.Input("positive", tooltip="The prompt: one for every clip, or one row per clip."),
                io.Conditioning.Input("negative", tooltip="The negative prompt."),
                io.Vae.Input("vae", tooltip="Wan's VAE (Wan 2.1 VAE for Wan 2.1 FLF2V and Wan 2.2 A14B)."),
                io.Image.Input("stills", tooltip="The stills in order, one IMAGE batch of at least 2 (e.g. a "
                                                 "picture morph's frames)."),
                io.Int.Input("width", default=832, min=16, max=16384, step=16,
                             tooltip="Clip width; stills of another shape are scaled and centre-cropped."),
                io.Int.Input("height", default=480, min=16, max=16384, step=16, tooltip="Clip height."),
                io.Int.Input("length", default=81, min=5, max=16384, step=4, tooltip=LENGTH_TOOLTIP),
                io.Boolean.Input("loop", default=False, tooltip="Add a last clip from the last still back to the "
                                                                "first."),
                io.ClipVisionOutput.Input("clip_vision_stills", optional=True,
                                          tooltip="Optional: CLIP Vision Encode of the same stills (Wan 2.1 FLF2V "
                                                  "reads both ends of each clip)."),
                io.Model.Input("model", optional=True, tooltip="Optional: the model that samples the clips, checked "
                                                               "to read first-last-frame conditioning."),
            ],
            outputs=[
                io.Conditioning.Output(display_name="positive", tooltip="Each clip row with its pair's start and end."),
                io.Conditioning.Output(display_name="negative", tooltip="The same for the negative prompt."),
                io.Latent.Output(display_name="latent", tooltip="One row per clip, batch_index all 0: every clip "
                                                                "gets the same noise."),
            ],
        )

    @classmethod
    def execute(cls, positive, negative, vae, stills, width, height, length, loop,
                clip_vision_stills=None, model=None) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        pictures = read_images(node, "stills", stills, least=2)
        if pictures.shape[-1] != 3:
            raise InbetweenInputError(node, "stills", f"expected RGB pictures (3 channels), got "
                                                      f"{pictures.shape[-1]} channels")
        conditionings = read_conditioning(node, "positive", positive), read_conditioning(node, "negative", negative)
        _check_video_vae(node, vae)
        if model is not None:
            _check_first_last_frame_model(node, model, vae.latent_channels)
        if length < TEMPORAL_COMPRESSION + 1 or (length - 1) % TEMPORAL_COMPRESSION:
            raise InbetweenInputError(node, "length", f"Wan clips have 4k + 1 frames (the VAE packs 4 frames in a "
                                                      f"latent frame after the first); {_clip_length_hint(length)}, "
                                                      f"got {length}")
        states = None
        if clip_vision_stills is not None:
            states = read_clip_vision_output(node, "clip_vision_stills", clip_vision_stills,
                                             "penultimate_hidden_states")
            if states.shape[0] != pictures.shape[0]:
                raise InbetweenInputError(node, "clip_vision_stills", f"expected one encoding per still "
                                                                      f"({pictures.shape[0]}), got {states.shape[0]}")
        with engine_errors(node, stills="stills"):
            pairs = clip_pairs(pictures.shape[0], loop)
        for entry in (entry for entries in conditionings for entry in entries):
            # ComfyUI would tile other batches over the rows (prompts 0, 1, 0 for 2 prompts and 3 clips) without a word.
            if entry.tokens.shape[0] not in (1, len(pairs)):
                raise InbetweenInputError(node, entry.input, f"entry {entry.index}: expected one prompt (batch 1) or "
                                                             f"one per clip ({len(pairs)} for {pictures.shape[0]} "
                                                             f"stills{', loop' if loop else ''}), got batch "
                                                             f"{entry.tokens.shape[0]}")
        rows = [_pair_row(positive, negative, vae, pictures, states, width, height, length, first, last)
                for first, last in pairs]
        latent = rows[0][2]
        samples = torch.cat([row[2]["samples"] for row in rows])
        # batch_index all 0: KSampler draws one noise and gives it to every row (comfy.sample.prepare_noise), the
        # noise it draws for a single clip: each row then samples as its pair sampled alone would.
        return io.NodeOutput(_stacked(rows, 0, states is not None), _stacked(rows, 1, states is not None),
                             latent_like(latent, samples, None, [0] * len(rows)))


def _check_video_vae(node: str, vae) -> None:
    """A video VAE (latents ``[C, T, H, W]``): an image VAE would encode each frame of a clip on its own."""
    dims = getattr(vae, "latent_dim", None)
    if dims != 3:
        got = f"a VAE of {dims}-D latents (an image VAE)" if isinstance(dims, int) else describe(vae)
        raise InbetweenInputError(node, "vae", f"expected Wan's video VAE (3-D latents), got {got}")


def _check_first_last_frame_model(node: str, model, latent_channels: int) -> None:
    """A Wan model that reads a concat image and mask beside its latent: ``2 C + 4`` input channels for C latent
    channels (Wan 2.1 FLF2V and I2V, Wan 2.2 I2V A14B: 36). A text-to-video Wan (C in) would drop the stills without
    a word (ComfyUI's WAN21.concat_cond returns nothing when no channel is left for them)."""
    diffusion_model = model.get_model_object("diffusion_model") if hasattr(model, "get_model_object") else None
    if not is_wan(diffusion_model):
        raise InbetweenInputError(node, "model", f"expected a Wan first-last-frame model (Wan 2.1 FLF2V, Wan 2.2 I2V "
                                                 f"A14B), got {type(diffusion_model or model).__name__}")
    wanted, taken = 2 * latent_channels + 4, diffusion_model.patch_embedding.weight.shape[1]
    if taken != wanted:
        raise InbetweenInputError(node, "model", f"expected a Wan model reading {wanted} latent channels (the clip, "
                                                 f"the stills' latent and a 4-channel mask: a first-last-frame model), "
                                                 f"got one reading {taken} (text-to-video reads {latent_channels}); "
                                                 "it would not see the stills")


def _clip_length_hint(length: int) -> str:
    """The clip lengths 4k + 1 (at least 5) next to ``length``."""
    below = (length - 1) // TEMPORAL_COMPRESSION * TEMPORAL_COMPRESSION + 1
    if below <= TEMPORAL_COMPRESSION:
        return f"expected at least {TEMPORAL_COMPRESSION + 1}"
    return f"expected e.g. {below} or {below + TEMPORAL_COMPRESSION}"


def _pair_row(positive, negative, vae, pictures: torch.Tensor, states: torch.Tensor | None, width: int, height: int,
              length: int, first: int, last: int) -> tuple:
    """(positive, negative, latent) of the clip from still ``first`` to still ``last``: ComfyUI's own
    WanFirstLastFrameToVideo for that pair, batch 1, so every row is what that node gives for its pair alone."""
    ends = {}
    if states is not None:
        ends = {"clip_vision_start_image": _still_encoding(states, first),
                "clip_vision_end_image": _still_encoding(states, last)}
    return WanFirstLastFrameToVideo.execute(positive=positive, negative=negative, vae=vae, width=width, height=height,
                                            length=length, batch_size=1, start_image=pictures[first:first + 1],
                                            end_image=pictures[last:last + 1], **ends).args


def _still_encoding(states: torch.Tensor, index: int):
    """One still's CLIP vision encoding: the part of a batch's output Wan reads (its penultimate hidden states)."""
    output = comfy.clip_vision.Output()
    output.penultimate_hidden_states = states[index:index + 1]
    return output


def _stacked(rows: list[tuple], which: int, clip_vision: bool) -> list:
    """One conditioning from the rows' (``which``: 0 positive, 1 negative): entry j is the input's entry j with the
    rows' concat latents, masks and (``clip_vision``: the node was given the stills' encoding) CLIP vision states
    stacked in row order, so clip row r meets its pair's. Without it an input's own CLIP vision output stays as it
    came, as WanFirstLastFrameToVideo leaves it."""
    conditionings = [row[which] for row in rows]
    stacked = []
    for entries in zip(*conditionings):
        options = dict(entries[0][1])
        for key in ROW_KEYS:
            options[key] = torch.cat([entry[1][key] for entry in entries])
        if clip_vision:
            output = comfy.clip_vision.Output()
            output.penultimate_hidden_states = torch.cat([entry[1]["clip_vision_output"].penultimate_hidden_states
                                                          for entry in entries])
            options["clip_vision_output"] = output
        stacked.append([entries[0][0], options])
    return stacked


class JoinClips(io.ComfyNode):
    """Decoded clips -> one video, each still where two clips meet shown once."""

    DISPLAY_NAME = "Join Clips"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenJoinClips",
            display_name=cls.DISPLAY_NAME,
            category=CATEGORY,
            description=(
                "Joins decoded clips (VAE Decode of Wan Clips From Stills' rows) into one video: a clip's last frame "
                "is the next clip's first, so it is shown once."
            ),
            inputs=[
                io.Image.Input("images", tooltip="The decoded clips, one after the other (VAE Decode of the clip "
                                                 "rows)."),
                io.Int.Input("clip_length", default=81, min=2, max=16384,
                             tooltip="Frames per clip: Wan Clips From Stills' length."),
                io.Boolean.Input("loop", default=False, tooltip="The clips loop (as set in Wan Clips From Stills): "
                                                                "the last frame, the first still again, is dropped."),
            ],
            outputs=[io.Image.Output(tooltip="(clips) x (clip_length - 1) frames, plus 1 unless the clips loop.")],
        )

    @classmethod
    def execute(cls, images, clip_length, loop) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        frames = read_images(node, "images", images)
        with engine_errors(node, frames="images", clip_length="clip_length"):
            return io.NodeOutput(join_clips(frames, clip_length, loop))
