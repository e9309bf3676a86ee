"""One step window over a schedule sampled in parts: Wan 2.2 A14B's high-noise and low-noise models.

A14B samples one schedule with two models, one after the other, with two KSamplerAdvanced (steps N, the first
``start 0, end s`` returning leftover noise, the second ``start s, end N``). Each sampler hands its model only
its part of the sigmas (``sample_sigmas``): the first ``sigmas[:s + 1]``, the second ``sigmas[s:]``, so a step
window counted on the part is wrong in both (20 steps split at 10, ``end_percent`` 0.5: steps 0-4 of the first
model instead of 0-9, and 10-14 on the second where none should be).

:class:`WholeSchedule`, a ``SAMPLER_SAMPLE`` wrapper, finds the whole schedule once per sampling and puts it in
``transformer_options`` under :data:`WHOLE_KEY`, where the model-call wrapper counts the window on it:

* a part that begins at the sigma where the previous AID sampling stopped (the next sampler, given the first
  one's output) continues it: the whole is what was sampled before, then this part, exactly. Only the very
  next sampling may continue a part: img2img's ``denoise`` can start at a sigma where a part once stopped;
* a part whose last sigma is not 0 (a sampler that stops early with leftover noise) is the start of a longer
  schedule; ComfyUI's schedulers are functions of the model's sampling and a step count, so the whole is the
  first ``calculate_sigmas(model_sampling, scheduler, n)`` that begins with what was sampled so far (every
  scheduler ComfyUI lists, ``n`` up to 16 times the part; at most about 2 s on a CPU when none does). What was
  sampled is remembered for the next sampling. The first sampler must return its leftover noise
  (``return_with_leftover_noise``: with it off, ComfyUI ends the part at sigma 0 and it reads as whole).

Anything else (a whole schedule, img2img's ``denoise`` below 1, a part no scheduler makes) keeps its own steps,
as before; a part whose whole cannot be found is logged.
"""

from __future__ import annotations

import logging

import torch

import comfy.samplers

from .config import NODE_NAME

WHOLE_KEY = "inbetween_aid_whole_schedule"
WRAPPER_KEY = "inbetween_aid_schedule_parts"
LONGEST = 16  # the whole schedule has at most this many times the part's steps
# What the last AID sampling sampled, when it stopped with leftover noise; read (and dropped) by the next one.
_last_cut: dict[str, torch.Tensor] = {}


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-5, atol=1e-7)


def whole_schedule(part: torch.Tensor, model_sampling) -> torch.Tensor | None:
    """The whole schedule ``part`` (float32 sigmas on the CPU) belongs to, when it is one part of several."""
    before = _last_cut.pop("sampled", None)
    if before is not None and float(before[-1]) == float(part[0]):
        part = torch.cat([before[:-1], part])  # the sampler continuing where the previous AID sampling stopped
    else:
        before = None
    if part[-1] > 0:
        _last_cut["sampled"] = part
        return _extended(part, model_sampling)
    return part if before is not None else None


def _extended(start: torch.Tensor, model_sampling) -> torch.Tensor | None:
    """The first schedule ComfyUI's schedulers make (in their listed order, then by step count) that begins with
    ``start``. Some begin alike (``normal`` over n steps and ``sgm_uniform`` over n - 1 share all but their last
    sigmas): the listed order decides, so the window of such a first part may end a step off."""
    steps = len(start) - 1
    for name in comfy.samplers.SCHEDULER_NAMES:
        for n in range(steps + 1, LONGEST * steps + 1):
            try:
                whole = comfy.samplers.calculate_sigmas(model_sampling, name, n).float().cpu()
            except Exception:  # a scheduler that does not take this model or step count
                break
            if len(whole) > len(start) and _close(whole[: len(start)], start):
                return whole
    logging.warning(f"{NODE_NAME}: this sampler stops at sigma {float(start[-1]):.4g} of a schedule no ComfyUI "
                    "scheduler makes; its step window is counted on the steps sampled so far")
    return None


class WholeSchedule:
    """``WrappersMP.SAMPLER_SAMPLE`` wrapper: the whole schedule of a part, for the step window (host values, once
    per sampling)."""

    def __call__(self, executor, guider, sigmas, extra_args, *args, **kwargs):
        model_sampling = guider.model_patcher.get_model_object("model_sampling")
        whole = whole_schedule(sigmas.detach().float().cpu(), model_sampling)
        if whole is not None:
            model_options = extra_args["model_options"]
            options = {**model_options.get("transformer_options", {}), WHOLE_KEY: whole}
            extra_args = {**extra_args, "model_options": {**model_options, "transformer_options": options}}
        return executor(guider, sigmas, extra_args, *args, **kwargs)


def add_schedule_wrapper(model) -> None:
    """Register :class:`WholeSchedule` on ``model`` (a fresh clone), replacing an earlier AID patch's."""
    from comfy.patcher_extension import WrappersMP

    model.remove_wrappers_with_key(WrappersMP.SAMPLER_SAMPLE, WRAPPER_KEY)
    model.add_wrapper_with_key(WrappersMP.SAMPLER_SAMPLE, WRAPPER_KEY, WholeSchedule())
