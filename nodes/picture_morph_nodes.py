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

from ..inbetween import frequency, interpolation
from .aid_nodes import LAYERS
from .attention_patch import AIDConfig, patch_model
from .attention_patch.config import FUSED, PURE, InversionPhases, Phase
from .comfy_values import check_latent_pair, latent_like, read_conditioning, read_images, read_latent
from .errors import InbetweenInputError, engine_errors
from .inversion import invert_latent, sampled_sigmas
from .schedule_type import InterpSchedule, ScheduleIO

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
    if latent.noise_mask is not None:
        raise InbetweenInputError(node, input, "has a noise mask; a picture morph inverts and samples the whole "
                                               "picture (remove Set Latent Noise Mask)")
    return latent


def _check_positive(node: str, positive: object, frames: int) -> None:
    for entry in read_conditioning(node, "positive", positive):
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
        read_conditioning(node, "positive", positive)
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
                io.Float.Input("mean_from", default=0.3, min=0.0, max=1.0, step=0.01,
                               tooltip="Inversion steps after this fraction of the schedule give every frame the "
                                       "frames' mean attention (FreeMorph: 0.3)."),
                io.Float.Input("ends_from", default=0.6, min=0.0, max=1.0, step=0.01,
                               tooltip="Inversion steps after this fraction give each frame the mean of its "
                                       "attention to both pictures (FreeMorph: 0.6)."),
                io.Float.Input("low_frequencies", default=0.875, min=0.0, max=1.0, step=0.005,
                               tooltip="Share of each in-between's spectrum kept (window half-width / half size); the "
                                       "rest comes from one shared noise. FreeMorph: 42 of 48, 0.875."),
                io.Int.Input("noise_seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="Seed of the shared high-frequency noise."),
            ],
            outputs=_inversion_outputs("One start latent per frame."),
        )

    @classmethod
    def execute(cls, model, positive, latent_a, latent_b, schedule, sigmas, strength, iterations, mean_from,
                ends_from, low_frequencies, noise_seed) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        a, b = _one_picture(node, "latent_a", latent_a), _one_picture(node, "latent_b", latent_b)
        check_latent_pair(node, a, b)
        frames = _two_picture_frames(node, schedule)
        _check_positive(node, positive, frames)
        _check_inversion_model(node, model)
        if not 0.0 <= mean_from <= ends_from <= 1.0:
            raise InbetweenInputError(node, "ends_from", f"expected 0 <= mean_from <= ends_from <= 1, got mean_from "
                                                         f"{mean_from} and ends_from {ends_from}")
        sampled = sampled_sigmas(node, sigmas, strength)
        with engine_errors(node, t="schedule"):
            start = interpolation.slerp(a.samples, b.samples.to(a.samples), schedule.as_tensor())
        phases, steps = InversionPhases(mean_from, ends_from), sigmas.shape[0] - 1
        patched = _morph_patch(node, model, schedule, ())
        inverted = invert_latent(node, patched, positive, start, sampled, iterations,
                                 lambda step: phases.behaviour_at(step, steps))
        base = patched.model
        inverted = base.process_latent_in(inverted)  # the noise and its filter live in the model's latent space
        noise = _shared_noise(patched, inverted, sampled[0], noise_seed)
        with engine_errors(node, keep="low_frequencies"):
            inbetweens = frequency.replace_high_frequencies(inverted[1:-1], noise, low_frequencies)
        samples = base.process_latent_out(torch.cat([inverted[:1], inbetweens, inverted[-1:]]))
        return io.NodeOutput(latent_like(latent_a, samples, None), sampled)


def _two_picture_frames(node: str, schedule: InterpSchedule) -> int:
    if not isinstance(schedule, InterpSchedule):
        raise InbetweenInputError(node, "schedule", f"expected an INTERP_SCHEDULE, got {type(schedule).__name__}")
    if schedule.keyframed is not None:
        raise InbetweenInputError(node, "schedule", "is keyframed; a picture morph runs between two pictures, so "
                                                    "use Beta Coefficient Schedule")
    if len(schedule) < 3:
        raise InbetweenInputError(node, "schedule", f"has {len(schedule)} frames; a morph needs both pictures and "
                                                    "at least one in-between")
    return len(schedule)


def _morph_patch(node: str, model, schedule: InterpSchedule, phases: tuple[Phase, ...], layers=(True, True),
                 max_rows: int = 0, apply_to_uncond: bool = False):
    """``model`` with the AID patch a morph runs on, its errors named for ``node``."""
    try:
        config = AIDConfig(coefficients=tuple(schedule.coefficients), phases=phases, max_rows=max_rows,
                           apply_to_uncond=apply_to_uncond)
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
        _two_picture_frames(node, schedule)
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
                io.Combo.Input("ends", options=["pictures", "regenerated"], default="pictures",
                               tooltip="pictures: the inputs themselves. regenerated: the frames as sampled."),
            ],
            outputs=[io.Image.Output(tooltip="The morph with its ends.")],
        )

    @classmethod
    def execute(cls, images, picture_a, picture_b, ends) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        frames = read_images(node, "images", images, least=2)
        if ends not in ("pictures", "regenerated"):
            raise InbetweenInputError(node, "ends", f"must be pictures or regenerated, got {ends!r}")
        pictures = []
        for name, value in (("picture_a", picture_a), ("picture_b", picture_b)):
            picture = read_images(node, name, value)
            if picture.shape[0] != 1 or picture.shape[1:] != frames.shape[1:]:
                raise InbetweenInputError(node, name, f"expected one picture of {tuple(frames.shape[1:])} (height, "
                                                      f"width, channels) like the frames, got "
                                                      f"{tuple(picture.shape)}; scale it as it was before VAE Encode")
            pictures.append(picture.to(frames))
        if ends == "regenerated":
            return io.NodeOutput(frames)
        return io.NodeOutput(torch.cat([pictures[0], frames[1:-1], pictures[1]]))
