"""Per model call: decide once, outside the compiled model, what every AID attention layer does.

The APPLY_MODEL wrapper reads the step, the chunks and the device on the host, then hands the
layers an :class:`AIDStep` of plain Python values (and one cached coefficient tensor) through
``transformer_options``. The layers then never read a tensor's values, so the patched model runs
inside ``torch.compile`` graphs and CUDA graphs without device syncs.
"""

from __future__ import annotations

import functools
import logging

import torch

from comfy.patcher_extension import WrappersMP

from ..errors import InbetweenInputError
from . import split
from .config import NODE_NAME, AIDConfig, step_of
from .step import INACTIVE, STEP_KEY, AIDStep, Run, weights_on

WRAPPER_KEY = "inbetween_aid"


@functools.lru_cache(maxsize=8)
def _cuda_capability(device: torch.device) -> tuple[int, int] | None:
    if device.type != "cuda" or torch.version.hip:
        return None
    return torch.cuda.get_device_capability(device)


def decide(config: AIDConfig, x: torch.Tensor, sigma: torch.Tensor, context: torch.Tensor | None,
           options: dict) -> AIDStep:
    """The :class:`AIDStep` of a model call on batch ``x`` at ``sigma`` (two host reads, once per call)."""
    if options.get("context_window") is not None:
        raise InbetweenInputError(NODE_NAME, "model", "context windows slice the latent batch, but AID needs every frame "
                                              "of the sequence in one model call; remove the context window node")
    chunks = list(options.get("cond_or_uncond") or [0])
    frames = config.frames
    if x.shape[0] != len(chunks) * frames:
        raise _latent_mismatch(frames, x.shape[0] / len(chunks))
    sample_sigmas = options.get("sample_sigmas")
    if sample_sigmas is not None and len(sample_sigmas) >= 2:
        schedule = sample_sigmas.tolist()
        step = step_of(float(sigma.max()), schedule)
        if step not in config.active_steps(len(schedule) - 1):
            return INACTIVE
    active = [c for c, kind in enumerate(chunks) if config.chunk_is_active(kind)]
    if not active:
        return INACTIVE
    t = weights_on(config.weights, x.device)
    runs = tuple(Run(c * frames + 1, (c + 1) * frames - 1, c * frames, (c + 1) * frames - 1, t) for c in active)
    text_tokens = context.shape[1] if context is not None and context.dim() == 3 else 0
    return AIDStep(runs, x.shape[0], cuda_capability=_cuda_capability(x.device), text_tokens=text_tokens)


def _latent_mismatch(frames: int, batch: float):
    return InbetweenInputError(NODE_NAME, "schedule", f"schedule has {frames} frames but the latent batch has {batch:g}; "
                                              f"use a latent of batch {frames} (e.g. Shared Noise Latent with this "
                                              "schedule)")


class ApplyModelWrapper:
    """``WrappersMP.APPLY_MODEL`` wrapper: decides the call's :class:`AIDStep` and passes it on."""

    def __init__(self, config: AIDConfig):
        self.config = config

    def __call__(self, executor, x, t, c_concat=None, c_crossattn=None, control=None, transformer_options={},
                 **kwargs):
        step = decide(self.config, x, t, c_crossattn, transformer_options)
        if 0 < self.config.max_rows < x.shape[0]:
            return split.call_in_parts(executor, self.config, step, x, t, c_concat, c_crossattn, control,
                                       transformer_options, kwargs)
        # A copy: the caller's dict is shared by the other chunks' calls and must not carry this step.
        options = {**transformer_options, STEP_KEY: step}
        return executor(x, t, c_concat, c_crossattn, control, options, **kwargs)


class SamplingChecks:
    """``WrappersMP.OUTER_SAMPLE`` wrapper: checks, once per sampling, what the layers cannot see.

    A conditioning batch that is neither 1 nor the schedule's length would be tiled over the frames
    by ComfyUI (rows ``[a, g, b, a, g]`` for 3 against 5): an error. Rows that do not share their
    initial noise differ by more than their conditioning, which AID does not undo: a warning.
    Self-Attention Guidance keeps the attention of one whole model call for its guidance, which
    ``max_rows`` carries out in parts: an error rather than its shape error in the middle of sampling.
    """

    def __init__(self, config: AIDConfig):
        self.config = config

    def __call__(self, executor, noise, *args, **kwargs):
        frames = self.config.frames
        if noise.shape[0] != frames:
            raise _latent_mismatch(frames, noise.shape[0])
        for name, conds in executor.class_obj.conds.items():
            for cond in conds:
                for key in ("cross_attn", "pooled_output"):
                    value = cond.get(key)
                    if isinstance(value, torch.Tensor) and value.shape[0] not in (1, frames):
                        raise InbetweenInputError(NODE_NAME, "schedule", f"has {frames} frames but the {name} conditioning "
                                          f"({key}) has batch {value.shape[0]}; build the conditioning with the "
                                          "same schedule (Conditioning Interpolation Batch) or use batch 1")
        if self.config.max_rows and frames * len(executor.class_obj.conds) > self.config.max_rows:
            for function in executor.class_obj.model_options.get("sampler_post_cfg_function", []):
                if getattr(function, "__module__", "").endswith("nodes_sag"):
                    raise InbetweenInputError(NODE_NAME, "max_rows", "Self-Attention Guidance records the attention "
                                              "of the whole model call, which max_rows carries out in parts; set "
                                              "max_rows to 0 or remove Self-Attention Guidance")
        if not torch.equal(noise[1:], noise[:1].expand_as(noise[1:])):
            logging.warning(f"{NODE_NAME}: the {frames} frames start from different noise, so they differ by more "
                            "than their conditioning and AID cannot make them consistent. Use Shared Noise Latent "
                            "(or Slerp Latent with shared_noise, for a morph) with KSampler, or one seed for every "
                            "row, unless the noise differs on purpose (Interpolated Noise).")
        return executor(noise, *args, **kwargs)


def add_wrappers(model, config: AIDConfig) -> None:
    """Register both wrappers on ``model`` (a fresh clone), replacing an earlier AID patch's."""
    for kind, wrapper in ((WrappersMP.APPLY_MODEL, ApplyModelWrapper(config)),
                          (WrappersMP.OUTER_SAMPLE, SamplingChecks(config))):
        model.remove_wrappers_with_key(kind, WRAPPER_KEY)
        model.add_wrapper_with_key(kind, WRAPPER_KEY, wrapper)
