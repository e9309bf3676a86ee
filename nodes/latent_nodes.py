"""Nodes that interpolate LATENT dicts."""

import torch

from comfy_api.latest import io

from ..inbetween import interpolation, translation
from ..inbetween.keyframes import interpolate_keyframes
from .comfy_values import (Latent, check_latent_pair, check_schedule_batch, empty_latent, finite, latent_like,
                           read_latent, sampler_masks)
from .errors import InbetweenInputError, engine_errors
from .schedule_type import InterpSchedule, ScheduleIO, keyframes_of, sweep_coefficients

KEYFRAME_LATENT_BATCH = "Keyframe Latent Batch"
METHOD_TOOLTIP = ("slerp: great circle, keeps the norm of equal-norm inputs. normalized_lerp: lerp / sqrt((1-t)^2 + "
                  "t^2), keeps noise variance. lerp: straight line (noise loses variance in between).")
SHARED_NOISE_TOOLTIP = ("shared: every row gets batch_index 0, so KSampler gives all rows the one noise of the seed "
                        "(the ends are then img2img of A and B). per row: each row gets its own noise.")


class SlerpLatent(io.ComfyNode):
    """Latent A -> latent B by slerp, normalized lerp or lerp, at one factor or along a schedule."""

    DISPLAY_NAME = "Slerp Latent"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenSlerpLatent",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/latent",
            description=(
                "Interpolates two latents: one row per schedule coefficient, or one latent at 'factor'. With "
                "shared_noise, sampled at denoise < 1, the ends are img2img of A and of B and the rows a morph."
            ),
            inputs=[
                io.Latent.Input("latent_a", tooltip="Start of the interpolation (t = 0)."),
                io.Latent.Input("latent_b", tooltip="End of the interpolation (t = 1). Same shape as latent_a."),
                io.Combo.Input("method", options=list(interpolation.INTERPOLATION_METHODS), default="slerp",
                               tooltip=METHOD_TOOLTIP),
                io.Float.Input("factor", default=0.5, min=-1.0, max=2.0, step=0.01,
                               tooltip="Interpolation factor t when no schedule is connected (0 = A, 1 = B)."),
                ScheduleIO.Input("schedule", optional=True,
                                 tooltip="Optional coefficient schedule: output one latent per coefficient."),
                # Optional so that API prompts written before this input existed still run.
                io.Boolean.Input("shared_noise", default=True, optional=True, label_on="shared",
                                 label_off="per row", tooltip=SHARED_NOISE_TOOLTIP),
            ],
            outputs=[io.Latent.Output(tooltip="The interpolated latent(s).")],
        )

    @classmethod
    def execute(cls, latent_a, latent_b, method, factor, schedule=None, shared_noise=True) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        a, b = read_latent(node, "latent_a", latent_a), read_latent(node, "latent_b", latent_b)
        check_latent_pair(node, a, b)
        if schedule is not None and schedule.keyframed is not None:
            for latent in (a, b):
                if latent.batch != 1:
                    raise InbetweenInputError(node, latent.input, f"expected one latent (batch 1) with a keyframed "
                                                                  f"schedule, got batch {latent.batch}")
            return io.NodeOutput(_keyframe_latent(node, latent_a, [a, b], schedule, method, shared_noise,
                                                  f"; for more keyframes use {KEYFRAME_LATENT_BATCH}"))
        if schedule is not None:
            for latent in (a, b):
                check_schedule_batch(node, len(schedule), latent, single_ok=True)
            t, t_input = schedule.as_tensor(), "schedule"
        else:
            t, t_input = finite(node, "factor", factor), "factor"
        with engine_errors(node, a="latent_a", b="latent_b", t=t_input):
            samples = interpolation.interpolate(a.samples, b.samples.to(a.samples), t, method)
            masks = sampler_masks(a, b)
            # Masks blend like the samples (by lerp: a mask is a weight, not noise) and stay in [0, 1].
            mask = None if masks is None else interpolation.lerp(*masks, t).clamp(0.0, 1.0)
        return io.NodeOutput(latent_like(latent_a, samples, mask, _batch_index(samples, shared_noise)))


def _batch_index(samples: torch.Tensor, shared_noise: bool) -> list[int] | None:
    # The rows are new latents, not rows of any input: the inputs' batch_index never applies to them.
    # comfy.sample.prepare_noise gives rows of equal batch_index equal noise, and index 0 the noise of a
    # batch-1 latent from the same seed.
    return [0] * samples.shape[0] if shared_noise else None


def _keyframe_latent(node: str, template: dict, latents: list[Latent], schedule: InterpSchedule, method: str,
                     shared_noise: bool, hint: str) -> dict:
    """The frames of a keyframed schedule from the keyframe rows of ``latents`` (in order), masks alike."""
    samples = torch.cat([latent.samples.to(latents[0].samples) for latent in latents])
    names = " and ".join(latent.input for latent in latents)
    layout = keyframes_of(node, schedule, samples.shape[0], f"{names} give", hint)
    masks = [latent.sampler_mask() for latent in latents]
    with engine_errors(node, t="schedule"):
        rows = interpolate_keyframes(samples, layout, method)
        mask = None
        if any(m is not None for m in masks):
            joined = torch.cat([torch.ones_like(latent.samples) if m is None else m
                                for m, latent in zip(masks, latents)]).to(rows)
            # Masks blend like the samples (by lerp: a mask is a weight, not noise) and stay in [0, 1].
            mask = interpolate_keyframes(joined, layout, "lerp").clamp(0.0, 1.0)
    return latent_like(template, rows, mask, _batch_index(rows, shared_noise))


class SharedNoiseLatent(io.ComfyNode):
    """An empty latent batch whose rows all get the same noise from KSampler (the AID setting)."""

    DISPLAY_NAME = "Shared Noise Latent"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenSharedNoiseLatent",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/latent",
            description=(
                "Empty latent of batch N with batch_index all 0, so ComfyUI's KSampler gives every row the same "
                "initial noise: the frames of a sequence then differ only by their conditioning, as in AID."
            ),
            inputs=[
                io.Int.Input("width", default=512, min=16, max=16384, step=8, tooltip="Image width in pixels."),
                io.Int.Input("height", default=512, min=16, max=16384, step=8, tooltip="Image height in pixels."),
                io.Int.Input("frames", default=7, min=1, max=4096,
                             tooltip="Batch size when no schedule is connected."),
                ScheduleIO.Input("schedule", optional=True, tooltip="Optional: the batch size follows its length."),
            ],
            outputs=[io.Latent.Output(tooltip="Latent batch; every row shares batch_index 0.")],
        )

    @classmethod
    def execute(cls, width, height, frames, schedule=None) -> io.NodeOutput:
        batch = len(schedule) if schedule is not None else frames
        latent = empty_latent(cls.DISPLAY_NAME, "frames" if schedule is None else "schedule", batch, width, height)
        return io.NodeOutput({**latent, "batch_index": [0] * batch})


class LatentSlide(io.ComfyNode):
    """Latent translation: a window sliding over [A | B], or a wipe that keeps columns in place."""

    DISPLAY_NAME = "Latent Slide"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenLatentSlide",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/latent",
            description=(
                "Joins latents A and B side by side, one frame per step: 'slide' moves a window of A's width from A "
                "to B (the image pans), 'wipe' switches each column from A to B in place."
            ),
            inputs=[
                io.Latent.Input("latent_a", tooltip="First frame (one latent)."),
                io.Latent.Input("latent_b", tooltip="Last frame (one latent of the same size)."),
                io.Combo.Input("mode", options=list(translation.TRANSLATION_MODES), default="slide",
                               tooltip="slide: window over [A | B]. wipe: columns switch from A to B in place."),
                io.Int.Input("frames", default=9, min=2, max=4096,
                             tooltip="Number of evenly spaced window positions when no schedule is connected."),
                ScheduleIO.Input("schedule", optional=True,
                                 tooltip="Optional coefficients in [0, 1]: frame k shifts by round(t_k * width)."),
            ],
            outputs=[io.Latent.Output(tooltip="One latent per window position.")],
        )

    @classmethod
    def execute(cls, latent_a, latent_b, mode, frames, schedule=None) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        a, b = read_latent(node, "latent_a", latent_a), read_latent(node, "latent_b", latent_b)
        for latent in (a, b):
            if latent.batch != 1:
                raise InbetweenInputError(node, latent.input, f"expected one latent (batch 1), got batch "
                                                              f"{latent.batch}")
        check_latent_pair(node, a, b)
        coefficients = sweep_coefficients(node, schedule) if schedule is not None else [k / (frames - 1) for k in range(frames)]
        with engine_errors(node, coefficients="schedule"):
            offsets = translation.offsets_from_coefficients(coefficients, a.samples.shape[-1])
        with engine_errors(node, a="latent_a", b="latent_b"):
            samples = translation.translate(a.samples, b.samples.to(a.samples), offsets, mode)
            masks = sampler_masks(a, b)
            mask = None if masks is None else translation.translate(*masks, offsets, mode)
        return io.NodeOutput(latent_like(latent_a, samples, mask))


class KeyframeLatentBatch(io.ComfyNode):
    """Keyframe latents (pictures) K0 -> K1 -> ... as one latent batch, one row per frame of a Keyframe Schedule."""

    DISPLAY_NAME = KEYFRAME_LATENT_BATCH

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenKeyframeLatentBatch",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/latent",
            description=(
                "Keyframe latents as one batch of N: each frame interpolates the two keyframes of its segment. With "
                "shared_noise, sampled at denoise < 1, keyframes are img2img of their pictures, the rest a morph."
            ),
            inputs=[
                io.Latent.Input("keyframes", tooltip="One latent per keyframe, in order (VAE Encode of a batch of "
                                                     "pictures of one size, or Batch Latents)."),
                ScheduleIO.Input("schedule", tooltip="Keyframe Schedule with as many keyframes."),
                io.Combo.Input("method", options=list(interpolation.INTERPOLATION_METHODS), default="slerp",
                               tooltip=METHOD_TOOLTIP),
                io.Boolean.Input("shared_noise", default=True, label_on="shared", label_off="per row",
                                 tooltip="shared: every row gets batch_index 0, so KSampler gives all rows the one "
                                         "noise of the seed (keyframes are then img2img of their pictures). per row: "
                                         "each row gets its own noise."),
            ],
            outputs=[io.Latent.Output(tooltip="One latent per frame.")],
        )

    @classmethod
    def execute(cls, keyframes, schedule, method, shared_noise) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        latent = read_latent(node, "keyframes", keyframes)
        return io.NodeOutput(_keyframe_latent(node, keyframes, [latent], schedule, method, shared_noise,
                                              " (one latent per keyframe)"))
