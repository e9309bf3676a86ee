"""Picture morphs whose ends are the user's pictures: inversion, and FreeMorph (ICCV 2025) on the AID patch.

The graph: VAE Encode each picture -> Picture Morph Latents (inverts the pictures' slerped latents with
FreeMorph's attention phases, gives the in-betweens one shared noise's high frequencies) -> SamplerCustom with
the model from Picture Morph Attention (AID as FreeMorph schedules it), noise off, the sigmas it returned ->
VAE Decode -> Keep Picture Ends (the pictures themselves as first and last frame). Invert Latent is the
inversion alone, for any latent.
"""

from __future__ import annotations

import torch

import comfy.model_sampling
from comfy_api.latest import io

from ..inbetween import frequency
from ..inbetween.keyframes import interpolate_keyframes
from .aid_nodes import LAYERS
from .attention_patch import AIDConfig, patch_model
from .attention_patch.config import FUSED, PURE, InversionPhases, Phase
from .comfy_values import check_latent_pair, latent_like, read_conditioning, read_images, read_latent
from .errors import InbetweenInputError, engine_errors
from .inversion import invert_latent, sampled_sigmas
from .schedule_type import InterpSchedule, ScheduleIO, keyframes_of

CATEGORY = "inbetween/morph"
STRENGTH_TOOLTIP = ("Fraction of the schedule inverted, then sampled: round(steps x strength) last steps (FreeMorph: "
                    "0.8 of 50, 40 steps). Higher: more freedom in between, less of the pictures.")
ITERATIONS_TOOLTIP = ("Fixed-point iterations per inverted step; each costs one model call (FreeMorph: 5). 1 is plain "
                      "DDIM inversion.")
SIGMAS_TOOLTIP = "The sampler's whole schedule (e.g. BasicScheduler); sample with the SIGMAS this node returns."
SAMPLED_TOOLTIP = "The part of the schedule to sample: give it to SamplerCustom with add_noise off."


def _inversion_inputs() -> list:
    """The schedule and how much of it is inverted, as both inverting nodes take them."""
    return [io.Sigmas.Input("sigmas", tooltip=SIGMAS_TOOLTIP),
            io.Float.Input("strength", default=0.8, min=0.01, max=1.0, step=0.01, tooltip=STRENGTH_TOOLTIP),
            io.Int.Input("iterations", default=5, min=1, max=50, tooltip=ITERATIONS_TOOLTIP)]


def _inversion_outputs(latent_tooltip: str) -> list:
    return [io.Latent.Output(display_name="latent", tooltip=latent_tooltip),
            io.Sigmas.Output(display_name="sigmas", tooltip=SAMPLED_TOOLTIP)]


def _check_inversion_model(node: str, model) -> None:
    """Inversion reads the denoiser as ``x = x0 + sigma * noise`` (eps, v) or rectified flow."""
    sampling = model.get_model_object("model_sampling")
    image_to_image = tuple(getattr(comfy.model_sampling, name) for name in ("X0", "IMG_TO_IMG")
                           if hasattr(comfy.model_sampling, name))
    if not isinstance(sampling, (comfy.model_sampling.EPS, comfy.model_sampling.CONST)) \
            or isinstance(sampling, image_to_image):
        kind = type(sampling).__name__
        raise InbetweenInputError(node, "model", f"its sampling ({kind}) has no inversion path here; inversion "
                                                 "works on eps- and v-prediction models and rectified-flow models "
                                                 "(Flux, SD3.x, Qwen-Image, Z-Image, Wan)")


def _one_picture(node: str, input: str, value: object):
    latent = read_latent(node, input, value)
    if latent.batch != 1:
        raise InbetweenInputError(node, input, f"expected one picture's latent (batch 1, VAE Encode of one image), "
                                               f"got batch {latent.batch}")
    return _unmasked(node, input, latent)


def _unmasked(node: str, input: str, latent):
    if latent.noise_mask is not None:
        raise InbetweenInputError(node, input, "has a noise mask; a picture morph inverts and samples the whole "
                                               "picture (remove Set Latent Noise Mask)")
    return latent


def _check_positive(node: str, positive: object, frames: int) -> None:
    for entry in read_conditioning(node, "positive", positive, joint_mask=None):
        if entry.tokens.shape[0] not in (1, frames):
            raise InbetweenInputError(node, "positive", f"has batch {entry.tokens.shape[0]} but the schedule has "
                                                        f"{frames} frames; use one caption per frame (Conditioning "
                                                        "Interpolation Batch with this schedule) or one for all")


class InvertLatent(io.ComfyNode):
    """A latent -> the noisy latent that the same sampler settings turn back into it."""

    DISPLAY_NAME = "Invert Latent"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenInvertLatent",
            display_name=cls.DISPLAY_NAME,
            category=CATEGORY,
            description=("Inverts a latent (e.g. a VAE-encoded picture) along the sampler's schedule: sampling the "
                         "result with the returned sigmas, noise off, gives the latent back."),
            inputs=[
                io.Model.Input("model", tooltip="Eps-, v-prediction or rectified-flow model (Flux, SD3.x, Qwen-Image, "
                                                "Z-Image, Wan)."),
                io.Conditioning.Input("positive", tooltip="The picture's caption; inversion runs at cfg 1, as "
                                                          "FreeMorph's."),
                io.Latent.Input("latent", tooltip="The latent(s) to invert, each row on its own."),
                *_inversion_inputs(),
            ],
            outputs=_inversion_outputs("The inverted latent."),
        )

    @classmethod
    def execute(cls, model, positive, latent, sigmas, strength, iterations) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        read = read_latent(node, "latent", latent)
        read_conditioning(node, "positive", positive, joint_mask=None)
        _check_inversion_model(node, model)
        sampled = sampled_sigmas(node, sigmas, strength)
        samples = invert_latent(node, model, positive, read.samples, sampled, iterations)
        return io.NodeOutput(latent_like(latent, samples, read.noise_mask), sampled)


class PictureMorphLatents(io.ComfyNode):
    """FreeMorph's start latents for a morph between two pictures."""

    DISPLAY_NAME = "Picture Morph Latents"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenPictureMorphLatents",
            display_name=cls.DISPLAY_NAME,
            category=CATEGORY,
            description=("FreeMorph: slerps two pictures' latents along the schedule, inverts every frame with "
                         "FreeMorph's attention phases, and gives the in-betweens one noise's high frequencies."),
            inputs=[
                io.Model.Input("model", tooltip="The model that samples the morph (SD1.x/2.x, SDXL, Flux and the "
                                                "other AID families)."),
                io.Conditioning.Input("positive", tooltip="The pictures' captions along the schedule (Conditioning "
                                                          "Interpolation Batch), or one caption for all."),
                io.Latent.Input("latent_a", tooltip="The first picture, VAE-encoded (batch 1)."),
                io.Latent.Input("latent_b", tooltip="The last picture, VAE-encoded, same size as latent_a."),
                ScheduleIO.Input("schedule", tooltip="The frames and where each sits between the pictures (FreeMorph: "
                                                     "7 frames, uniform)."),
                *_inversion_inputs(),
                *_freemorph_inputs(),
            ],
            outputs=_inversion_outputs("One start latent per frame."),
        )

    @classmethod
    def execute(cls, model, positive, latent_a, latent_b, schedule, sigmas, strength, iterations, mean_from,
                ends_from, low_frequencies, noise_seed) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        a, b = _one_picture(node, "latent_a", latent_a), _one_picture(node, "latent_b", latent_b)
        check_latent_pair(node, a, b)
        _morph_frames(node, schedule, two_pictures=True)
        pictures = torch.cat([a.samples, b.samples.to(a.samples)])
        return _morph_start(node, model, positive, latent_a, pictures, schedule, sigmas, strength, iterations,
                            mean_from, ends_from, low_frequencies, noise_seed)


class PictureStoryLatents(io.ComfyNode):
    """FreeMorph's start latents for a keyframed morph through several pictures, open or looping."""

    DISPLAY_NAME = "Picture Story Latents"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenPictureStoryLatents",
            display_name=cls.DISPLAY_NAME,
            category=CATEGORY,
            description=("FreeMorph through several pictures: each segment of a Keyframe Schedule morphs from one "
                         "picture to the next (a loop back to the first), every picture a kept keyframe."),
            inputs=[
                io.Model.Input("model", tooltip="The model that samples the morph."),
                io.Conditioning.Input("positive", tooltip="The pictures' captions along the schedule (Keyframe "
                                                          "Conditioning Batch), or one caption for all."),
                io.Latent.Input("pictures", tooltip="One latent per picture, in order (VAE Encode of a batch of "
                                                    "pictures of one size)."),
                ScheduleIO.Input("schedule", tooltip="Keyframe Schedule with one keyframe per picture."),
                *_inversion_inputs(),
                *_freemorph_inputs(),
            ],
            outputs=_inversion_outputs("One start latent per frame."),
        )

    @classmethod
    def execute(cls, model, positive, pictures, schedule, sigmas, strength, iterations, mean_from, ends_from,
                low_frequencies, noise_seed) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        latent = _unmasked(node, "pictures", read_latent(node, "pictures", pictures))
        _morph_frames(node, schedule)
        keyframes_of(node, schedule, latent.batch, "pictures give", " (one latent per picture)")
        return _morph_start(node, model, positive, pictures, latent.samples, schedule, sigmas, strength, iterations,
                            mean_from, ends_from, low_frequencies, noise_seed)


def _freemorph_inputs() -> list:
    """FreeMorph's inversion phases and high-frequency noise, as both start-latent nodes take them."""
    return [
        io.Float.Input("mean_from", default=0.3, min=0.0, max=1.0, step=0.01,
                       tooltip="Inversion steps after this fraction of the schedule give every frame the mean "
                               "attention of its segment's frames (FreeMorph: 0.3)."),
        io.Float.Input("ends_from", default=0.6, min=0.0, max=1.0, step=0.01,
                       tooltip="Inversion steps after this fraction give each frame the mean of its attention to its "
                               "segment's two pictures (FreeMorph: 0.6)."),
        io.Float.Input("low_frequencies", default=0.875, min=0.0, max=1.0, step=0.005,
                       tooltip="Share of each in-between's spectrum kept (window half-width / half size); the rest "
                               "comes from one shared noise. FreeMorph: 42 of 48, 0.875."),
        io.Int.Input("noise_seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                     tooltip="Seed of the shared high-frequency noise."),
    ]


def _morph_start(node: str, model, positive, template: dict, pictures: torch.Tensor, schedule: InterpSchedule,
                 sigmas, strength: float, iterations: int, mean_from: float, ends_from: float,
                 low_frequencies: float, noise_seed: int) -> io.NodeOutput:
    """The start latents of a morph through ``pictures`` ``[K, ...]`` (a LATENT's) along ``schedule``: slerped within
    each segment, inverted with FreeMorph's phases, the in-betweens' high frequencies from one seeded noise."""
    frames = len(schedule)
    _check_positive(node, positive, frames)
    _check_inversion_model(node, model)
    if not 0.0 <= mean_from <= ends_from <= 1.0:
        raise InbetweenInputError(node, "ends_from", f"expected 0 <= mean_from <= ends_from <= 1, got mean_from "
                                                     f"{mean_from} and ends_from {ends_from}")
    sampled = sampled_sigmas(node, sigmas, strength)
    with engine_errors(node, t="schedule"):
        start = interpolate_keyframes(pictures, schedule.layout, "slerp")
    phases, steps = InversionPhases(mean_from, ends_from), sigmas.shape[0] - 1
    patched = _morph_patch(node, model, schedule, ())
    inverted = invert_latent(node, patched, positive, start, sampled, iterations,
                             lambda step: phases.behaviour_at(step, steps))
    base = patched.model
    inverted = base.process_latent_in(inverted)  # the noise and its filter live in the model's latent space
    noise = _shared_noise(patched, inverted, sampled[0], noise_seed)
    inbetweens = [frame for frame in range(frames) if frame not in schedule.layout.keyframe_frames]
    with engine_errors(node, keep="low_frequencies"):
        filtered = frequency.replace_high_frequencies(inverted[inbetweens], noise, low_frequencies)
    inverted[inbetweens] = filtered
    return io.NodeOutput(latent_like(template, base.process_latent_out(inverted), None), sampled)


def _morph_frames(node: str, schedule: InterpSchedule, two_pictures: bool = False) -> int:
    """The frame count of a morph's schedule: two pictures (a Beta Coefficient Schedule) or, unless
    ``two_pictures``, a Keyframe Schedule through several."""
    if not isinstance(schedule, InterpSchedule):
        raise InbetweenInputError(node, "schedule", f"expected an INTERP_SCHEDULE, got {type(schedule).__name__}")
    if two_pictures and not schedule.layout.is_two_endpoints:
        raise InbetweenInputError(node, "schedule", f"runs through {schedule.layout.keyframes} keyframes"
                                                    f"{' in a loop' if schedule.layout.loop else ''}; this node "
                                                    "morphs two pictures, so use Beta Coefficient Schedule, or "
                                                    "Picture Story Latents for several pictures")
    if len(schedule) < 3:
        raise InbetweenInputError(node, "schedule", f"has {len(schedule)} frames; a morph needs both pictures and "
                                                    "at least one in-between")
    return len(schedule)


def _morph_patch(node: str, model, schedule: InterpSchedule, phases: tuple[Phase, ...], layers=(True, True),
                 max_rows: int = 0, apply_to_uncond: bool = False):
    """``model`` with the AID patch a morph runs on, its errors named for ``node``."""
    try:
        config = AIDConfig(coefficients=tuple(schedule.coefficients), phases=phases, max_rows=max_rows,
                           apply_to_uncond=apply_to_uncond, keyframed=schedule.keyframed)
        return patch_model(model, config, *layers)
    except InbetweenInputError as err:
        raise InbetweenInputError(node, err.input, err.detail) from err


def _shared_noise(model, inverted: torch.Tensor, sigma: torch.Tensor, seed: int) -> torch.Tensor:
    """One noise ``[1, C, H, W]`` from ``seed`` (as ComfyUI's samplers draw it, on the CPU), at the scale of a pure-noise
    latent at ``sigma`` in the form the sampler reads: ``sqrt(1 + sigma^2) n`` on eps/v (FreeMorph's unit noise in
    diffusers' scale), ``sigma / (1 - sigma) n`` on rectified flow."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    noise = torch.randn((1, *inverted.shape[1:]), generator=generator, dtype=torch.float32, device="cpu")
    sampling = model.get_model_object("model_sampling")
    sigma = sigma.reshape(1).to(noise)
    scaled = sampling.noise_scaling(sigma, noise, torch.zeros_like(noise), max_denoise=True)
    return sampling.inverse_noise_scaling(sigma, scaled).to(inverted)


class PictureMorphAttention(io.ComfyNode):
    """AID as FreeMorph samples a picture morph: pure, then fused, then plain."""

    DISPLAY_NAME = "Picture Morph Attention"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenPictureMorphAttention",
            display_name=cls.DISPLAY_NAME,
            category=CATEGORY,
            description=("AID for sampling a picture morph, as FreeMorph schedules it: the in-betweens attend to "
                         "both pictures only, then to themselves as well, then plainly."),
            inputs=[
                io.Model.Input("model", tooltip="The model that samples the morph."),
                ScheduleIO.Input("schedule", tooltip="The attention coefficients (FreeMorph: Beta(20, 20), 7 frames), "
                                                     "same frame count as the morph's latents."),
                io.Float.Input("pure_until", default=0.2, min=0.0, max=1.0, step=0.01,
                               tooltip="Sampled steps before this fraction attend to the two pictures only (pure "
                                       "outer AID; FreeMorph: 0.2)."),
                io.Float.Input("fused_until", default=0.6, min=0.0, max=1.0, step=0.01,
                               tooltip="Then, until this fraction, fused outer AID (own keys too); plain after "
                                       "(FreeMorph: 0.6)."),
                io.Combo.Input("layers", options=list(LAYERS), default="self + cross",
                               tooltip="Which attentions interpolate, as in AID Attention Patch."),
                io.Boolean.Input("apply_to_uncond", default=False,
                                 tooltip="Also interpolate the negative pass; FreeMorph leaves it plain."),
                io.Int.Input("max_rows", default=0, min=0, max=4096,
                             tooltip="Rows per model call for long morphs (0: the whole batch), as in AID Attention "
                                     "Patch."),
            ],
            outputs=[io.Model.Output(tooltip="A patched clone; the input model is unchanged.")],
        )

    @classmethod
    def execute(cls, model, schedule, pure_until, fused_until, layers, apply_to_uncond, max_rows) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        _morph_frames(node, schedule)
        if layers not in LAYERS:
            raise InbetweenInputError(node, "layers", f"must be one of {list(LAYERS)}, got {layers!r}")
        if not 0.0 <= pure_until <= fused_until <= 1.0 or fused_until == 0.0:
            raise InbetweenInputError(node, "fused_until", f"expected 0 <= pure_until <= fused_until <= 1 and "
                                                           f"fused_until > 0, got pure_until {pure_until} and "
                                                           f"fused_until {fused_until}")
        phases = tuple(Phase(start, end, behaviour) for start, end, behaviour
                       in ((0.0, pure_until, PURE), (pure_until, fused_until, FUSED)) if start < end)
        return io.NodeOutput(_morph_patch(node, model, schedule, phases, LAYERS[layers], max_rows, apply_to_uncond))


class KeepPictureEnds(io.ComfyNode):
    """The pictures themselves as the morph's first and last frame."""

    DISPLAY_NAME = "Keep Picture Ends"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenKeepPictureEnds",
            display_name=cls.DISPLAY_NAME,
            category=CATEGORY,
            description="Puts the input pictures back as the first and last frame of a decoded morph.",
            inputs=[
                io.Image.Input("images", tooltip="The decoded morph (VAE Decode), at least 2 frames."),
                io.Image.Input("picture_a", tooltip="The first picture, as encoded (same size as the frames)."),
                io.Image.Input("picture_b", tooltip="The last picture, as encoded (same size as the frames)."),
                _ends_input(),
            ],
            outputs=[io.Image.Output(tooltip="The morph with its ends.")],
        )

    @classmethod
    def execute(cls, images, picture_a, picture_b, ends) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        frames = read_images(node, "images", images, least=2)
        pictures = [_pictures_like(node, name, value, frames, 1) for name, value in (("picture_a", picture_a),
                                                                                     ("picture_b", picture_b))]
        return io.NodeOutput(_keep_pictures(node, frames, torch.cat(pictures), (0, frames.shape[0] - 1), ends))


class KeepPictureKeyframes(io.ComfyNode):
    """The pictures themselves at the keyframes of a decoded picture story."""

    DISPLAY_NAME = "Keep Picture Keyframes"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenKeepPictureKeyframes",
            display_name=cls.DISPLAY_NAME,
            category=CATEGORY,
            description="Puts the input pictures back at the keyframe frames of a decoded picture story.",
            inputs=[
                io.Image.Input("images", tooltip="The decoded story (VAE Decode), one frame per frame of the "
                                                 "schedule."),
                io.Image.Input("pictures", tooltip="The pictures, in order, as encoded (one batch, same size as the "
                                                   "frames)."),
                ScheduleIO.Input("schedule", tooltip="The story's Keyframe Schedule: where each picture goes."),
                _ends_input(),
            ],
            outputs=[io.Image.Output(tooltip="The story with its pictures.")],
        )

    @classmethod
    def execute(cls, images, pictures, schedule, ends) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        frames = read_images(node, "images", images, least=2)
        _morph_frames(node, schedule)
        layout = schedule.layout
        if frames.shape[0] != layout.frames:
            raise InbetweenInputError(node, "images", f"has {frames.shape[0]} frames but the schedule has "
                                                      f"{layout.frames}")
        pictures = _pictures_like(node, "pictures", pictures, frames, layout.keyframes)
        return io.NodeOutput(_keep_pictures(node, frames, pictures, layout.keyframe_frames, ends))


def _ends_input() -> io.Combo.Input:
    return io.Combo.Input("ends", options=["pictures", "regenerated"], default="pictures",
                          tooltip="pictures: the inputs themselves. regenerated: the frames as sampled.")


def _pictures_like(node: str, input: str, value: object, frames: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` pictures of the frames' size, in the frames' dtype and device."""
    pictures = read_images(node, input, value)
    if pictures.shape[0] != count or pictures.shape[1:] != frames.shape[1:]:
        raise InbetweenInputError(node, input, f"expected {count} picture(s) of {tuple(frames.shape[1:])} (height, "
                                               f"width, channels) like the frames, got {tuple(pictures.shape)}; "
                                               "scale them as they were before VAE Encode")
    return pictures.to(frames)


def _keep_pictures(node: str, frames: torch.Tensor, pictures: torch.Tensor, at: tuple[int, ...],
                   ends: str) -> torch.Tensor:
    """``frames`` with picture k in place of frame ``at[k]`` (``ends`` pictures), or as they are (regenerated)."""
    if ends not in ("pictures", "regenerated"):
        raise InbetweenInputError(node, "ends", f"must be pictures or regenerated, got {ends!r}")
    if ends == "regenerated":
        return frames
    out = frames.clone()
    out[list(at)] = pictures
    return out
