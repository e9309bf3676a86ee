"""The adaptive Beta schedule node: the AID paper's dynamic coefficient selection inside ComfyUI."""

import torch

import comfy.samplers
from comfy_api.latest import io

from ..inbetween import adaptive, metrics
from . import distance_backends
from .adaptive_render import FrameRenderer, Sampling
from .attention_patch import has_aid_patch
from .comfy_values import check_model_encoder, finite, read_conditioning, token_alignment_input
from .errors import InbetweenInputError
from .schedule_type import InterpSchedule, ScheduleIO
from .text_interpolation import interpolation_batch

ATTENTION_OFF = "off (text interpolation)"
ATTENTION = {"AID outer": "outer", "AID inner": "inner", ATTENTION_OFF: None}
# The reference's prior before the first fit.
PRIOR = (3.0, 3.0)


class AdaptiveBetaSchedule(io.ComfyNode):
    DISPLAY_NAME = "Adaptive Beta Schedule"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenAdaptiveBetaSchedule",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/schedule",
            description=(
                "The AID paper's dynamic selection: samples frames with your model, fits a Beta prior to their "
                "distances and returns the most evenly spaced frames. Each explored frame costs one sampling run."
            ),
            inputs=[
                io.Model.Input("model", tooltip="The unpatched model: this node applies AID itself, for every "
                                                "explored coefficient."),
                io.Vae.Input("vae", tooltip="Decodes every explored frame, to measure its distance to the others."),
                io.Conditioning.Input("positive_a", tooltip="Prompt at t = 0 (first frame)."),
                io.Conditioning.Input("positive_b", tooltip="Prompt at t = 1 (last frame), same text encoder as A."),
                io.Conditioning.Input("negative", tooltip="Negative prompt, shared by every frame."),
                io.Int.Input("seed", default=0, min=0, max=0xffffffffffffffff, control_after_generate=True,
                             tooltip="Seed of the initial noise; every frame starts from the same noise."),
                io.Int.Input("steps", default=20, min=1, max=10000, tooltip="Sampling steps per explored frame."),
                io.Float.Input("cfg", default=7.5, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="Classifier-free guidance scale."),
                io.Combo.Input("sampler_name", options=comfy.samplers.KSampler.SAMPLERS, default="euler",
                               tooltip="Sampler, as in KSampler."),
                io.Combo.Input("scheduler", options=comfy.samplers.KSampler.SCHEDULERS, default="normal",
                               tooltip="Noise schedule, as in KSampler."),
                io.Int.Input("width", default=512, min=64, max=16384, step=8, tooltip="Image width in pixels."),
                io.Int.Input("height", default=512, min=64, max=16384, step=8, tooltip="Image height in pixels."),
                io.Int.Input("frames", default=7, min=2, max=64,
                             tooltip="Frames in the output sequence, endpoints included; at most the budget."),
                io.Int.Input("exploration_budget", default=16, min=3, max=64,
                             tooltip="Coefficients explored (sampled and measured) before choosing, the first three "
                                     "included. More gives more even sequences and costs one sampling run each; the "
                                     "reference uses 16 for 7 frames."),
                io.Combo.Input("attention", options=list(ATTENTION), default="AID outer",
                               tooltip="AID outer / inner: each explored frame samples in the batch [A, t, B] with "
                                       "AID (the paper uses outer). off: plain text-embedding interpolation, one "
                                       "frame per run (any model)."),
                io.Float.Input("aid_end_percent", default=0.5, min=0.01, max=1.0, step=0.01,
                               tooltip="Fraction of the steps with AID attention, plain after (the reference's warmup "
                                       "ratio, 0.5)."),
                token_alignment_input(),
                io.Combo.Input("distance", options=distance_backends.BACKENDS, default=distance_backends.PIXEL,
                               tooltip=distance_backends.TOOLTIP),
                io.Conditioning.Input("guide", optional=True,
                                      tooltip="Optional guide prompt (PAID) for the in-between frames; needs AID."),
                io.ClipVision.Input("clip_vision", optional=True,
                                    tooltip="CLIP Vision model for the clip_vision distance (Load CLIP Vision)."),
            ],
            outputs=[
                io.Image.Output(display_name="images", tooltip="The chosen frames in order, first A, last B."),
                ScheduleIO.Output(display_name="schedule",
                                  tooltip="The coefficients of the chosen frames: Conditioning Interpolation Batch and "
                                          "AID Attention Patch with this schedule and the same seed make this sequence "
                                          "again (e.g. at a higher resolution)."),
                io.Float.Output(display_name="alpha", tooltip="Fitted Beta alpha (feed Beta Coefficient Schedule for "
                                                              "another frame count)."),
                io.Float.Output(display_name="beta", tooltip="Fitted Beta beta."),
                io.String.Output(display_name="report", tooltip="What was explored, fitted and chosen."),
            ],
        )

    @classmethod
    def execute(cls, model, vae, positive_a, positive_b, negative, seed, steps, cfg, sampler_name, scheduler, width,
                height, frames, exploration_budget, attention, aid_end_percent, token_alignment, distance, guide=None,
                clip_vision=None) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        aid_mode = ATTENTION[attention]
        _check_settings(node, model, frames, exploration_budget, aid_mode, guide)
        a = read_conditioning(node, "positive_a", positive_a, batch_one=True)
        b = read_conditioning(node, "positive_b", positive_b, batch_one=True)
        g = None if guide is None else read_conditioning(node, "guide", guide, batch_one=True)
        # checked here: the sampler would fail on it after minutes
        n = read_conditioning(node, "negative", negative)
        check_model_encoder(node, model, a, b, *([] if g is None else [g]), n)
        sampling = Sampling(seed, steps, finite(node, "cfg", cfg), sampler_name, scheduler, width, height)
        aid_end_percent = finite(node, "aid_end_percent", aid_end_percent)
        measure = distance_backends.backend(distance, node, clip_vision)

        def conditioning(schedule: tuple) -> list:
            return interpolation_batch(node, [a, b], InterpSchedule(schedule, "explored"), "lerp", token_alignment, g)

        conditioning((0.0, 0.5, 1.0))  # every conditioning error before the first sampling run
        renderer = FrameRenderer(model, vae, conditioning, negative, sampling, aid_mode, aid_end_percent,
                                 measure.embed, renders=exploration_budget - 2)
        if aid_mode is not None:
            try:
                renderer.patched((0.0, 0.5, 1.0))
            except InbetweenInputError as err:
                raise InbetweenInputError(node, "model", f"{err.detail}; or set attention to {ATTENTION_OFF!r}") from err

        result = adaptive.explore(renderer, frames, exploration_budget, measure.distance, alpha=PRIOR[0], beta=PRIOR[1])
        chosen = result.selected_coefficients
        images = torch.stack([renderer.images[t] for t in chosen])
        schedule = InterpSchedule(chosen, f"adaptive: {frames} of {exploration_budget} explored frames, fitted "
                                          f"Beta(alpha={result.alpha:.4g}, beta={result.beta:.4g})")
        return io.NodeOutput(images, schedule, result.alpha, result.beta, report(result, measure.label, attention))


def _check_settings(node: str, model, frames: int, budget: int, aid_mode, guide) -> None:
    """Settings that cannot work together, refused before any sampling."""
    if frames > budget:
        raise InbetweenInputError(node, "frames", f"{frames} frames cannot be chosen from an exploration budget of "
                                                  f"{budget}; raise exploration_budget to at least {frames}")
    if aid_mode is None and guide is not None:
        raise InbetweenInputError(node, "guide", "a guide prompt (PAID) needs AID attention: without it every "
                                                 "in-between frame would be the guide prompt alone; set attention to "
                                                 "AID outer or inner")
    if has_aid_patch(model):
        raise InbetweenInputError(node, "model", "already carries an AID Attention Patch, whose fixed schedule cannot "
                                                 "serve the coefficients explored here; connect the unpatched model "
                                                 "and choose the AID settings on this node")


def report(result: adaptive.Exploration, label: str, attention: str) -> str:
    chosen = set(result.selection.indices)
    scores = metrics.sequence_metrics(list(result.selection.distances))
    lines = [
        f"Adaptive Beta schedule: {len(chosen)} of {len(result.coefficients)} explored frames; attention: {attention}; "
        f"distance: {label}",
        f"fitted Beta(alpha={result.alpha:.4f}, beta={result.beta:.4f}): least-squares fit of the Beta CDF to the "
        "cumulative normalised distances",
        "chosen t: [" + ", ".join(f"{t:.4f}" for t in result.selected_coefficients) + "]",
        "chosen steps: [" + ", ".join(f"{d:.4f}" for d in result.selection.distances) + f"], spread (max - min) "
        f"{result.selection.spread:.4f}",
        f"chosen sequence: smoothness {scores['smoothness']:.4f}, consistency {scores['consistency']:.4f}, "
        f"max {scores['max_distance']:.4f}",
        "explored (* = chosen; render order; distance to the next explored frame):",
    ]
    for k, t in enumerate(result.coefficients):
        step = f"{result.distances[k]:.4f}" if k < len(result.distances) else "-"
        lines.append(f"  {'*' if k in chosen else ' '} t={t:.4f}  #{result.order[k]:<2d}  {step}")
    return "\n".join(lines)

