"""The ``comfy.patcher_extension`` wrappers that run AID's plan: once per model call, and once per sampling.

:class:`ModelCallWrapper` (``APPLY_MODEL``) reads the sampler's step, the chunks and the device on the host,
builds the call's :class:`~.plan.CallPlan` and hands it to the layers in ``transformer_options``; with
``max_rows`` it carries the call out in parts (the in-between frames, at most ``max_rows`` rows each, and every
keyframe alone just before the first part that needs it: endpoint A of every chunk, then endpoint B, first, for
two endpoints; a keyframe's kept keys/values go after the last part of its segments). Every per-row input of the call is cut with the rows: ``x``, the
timesteps, ``c_concat``, ``c_crossattn``, ControlNet residuals, and every tensor (or list of tensors) among the
extra conditions (``y`` / pooled, guidance, attention masks, reference latents); anything whose first dimension
is not the call's batch cannot be cut by rows and stops sampling with an error. Each endpoint part is exactly the
call a plain sampling of that picture alone makes, so end frames are those generations bit for bit; the
endpoints' keys/values are kept for the call's in-between parts and dropped when it returns.

:class:`SamplingChecks` (``OUTER_SAMPLE``) checks, once per sampling, what the layers cannot see.
"""

from __future__ import annotations

import functools
import logging

import torch

import comfy.model_management
from comfy.patcher_extension import WrappersMP

from ..errors import InbetweenInputError
from ..schedule_type import CONDITIONING_KEY
from . import plan, shares
from .config import NODE_NAME, AIDConfig, step_of
from .schedule_parts import WHOLE_KEY

WRAPPER_KEY = "inbetween_aid"


@functools.lru_cache(maxsize=8)
def _cuda_capability(device: torch.device) -> tuple[int, int] | None:
    if device.type != "cuda" or torch.version.hip:
        return None
    return torch.cuda.get_device_capability(device)


def _latent_mismatch(frames: int, batch: float):
    return InbetweenInputError(NODE_NAME, "schedule", f"schedule has {frames} frames but the latent batch has {batch:g}; "
                                              f"use a latent of batch {frames} (e.g. Shared Noise Latent with this "
                                              "schedule)")


class ModelCallWrapper:
    """``WrappersMP.APPLY_MODEL`` wrapper: plans the model call and runs it, whole or in parts."""

    def __init__(self, config: AIDConfig):
        self.config = config
        self.share = shares.share_of(config)  # None: every frame

    def __call__(self, executor, x, t, c_concat=None, c_crossattn=None, control=None, transformer_options={},
                 **kwargs):
        whole = self.plan(x, t, c_crossattn, transformer_options)
        if self.share is not None and not self.config.max_rows < x.shape[0]:
            raise InbetweenInputError(NODE_NAME, "max_rows", f"max_rows {self.config.max_rows} holds the whole model "
                                      f"call ({x.shape[0]} rows) in one part, so there are no parts to share among "
                                      f"{self.share.count}; lower max_rows below {x.shape[0]} or set share_count to 1")
        if 0 < self.config.max_rows < x.shape[0]:
            return self._in_parts(executor, whole, x, t, c_concat, c_crossattn, control, transformer_options, kwargs)
        return executor(x, t, c_concat, c_crossattn, control, plan.with_plan(transformer_options, whole), **kwargs)

    def plan(self, x: torch.Tensor, sigma: torch.Tensor, context: torch.Tensor | None, options: dict) -> plan.CallPlan:
        """The plan of a model call on batch ``x`` at ``sigma`` (two host reads, once per call)."""
        if options.get("context_window") is not None:
            raise InbetweenInputError(NODE_NAME, "model", "context windows slice the latent batch, but AID needs every "
                                                  "frame of the sequence in one model call; remove the context window node")
        chunk_kinds = list(options.get("cond_or_uncond") or [0])
        frames = self.config.frames
        if x.shape[0] != len(chunk_kinds) * frames:
            raise _latent_mismatch(frames, x.shape[0] / len(chunk_kinds))
        text_tokens = context.shape[1] if context is not None and context.dim() == 3 else 0
        return plan.whole_call(self.config, chunk_kinds, self.behaviour(sigma, options), x.device,
                               _cuda_capability(x.device), text_tokens)

    def behaviour(self, sigma: torch.Tensor, options: dict) -> str | None:
        """What the layers do in this call: as its caller says (:data:`.plan.BEHAVIOUR_KEY`), else the phase of the
        sampler's step (one host read of ``sigma``)."""
        if plan.BEHAVIOUR_KEY in options:
            return options[plan.BEHAVIOUR_KEY]
        sample_sigmas = options.get(WHOLE_KEY, options.get("sample_sigmas"))  # a part's whole: .schedule_parts
        step, steps = None, 0
        if sample_sigmas is not None and len(sample_sigmas) >= 2:
            schedule = sample_sigmas.tolist()
            step, steps = step_of(float(sigma.max()), schedule), len(schedule) - 1
        return self.config.behaviour_at(step, steps)

    def _in_parts(self, executor, whole: plan.CallPlan, x, t, c_concat, c_crossattn, control, transformer_options: dict,
                  kwargs: dict) -> torch.Tensor:
        """The model call on ``x`` carried out in parts of at most ``max_rows`` rows, as one call."""
        chunk_kinds = list(transformer_options.get("cond_or_uncond") or [0])
        frames, batch = self.config.frames, x.shape[0]
        active = {c for c, kind in enumerate(chunk_kinds) if self.config.chunk_is_active(kind)}
        kept: dict = {}
        done: dict[tuple[int, int], torch.Tensor] = {}  # (chunk, first frame of a run) -> those rows of the output
        call_parts, releases = plan.parts(len(chunk_kinds), self.config, self.config.max_rows)
        if self.share is not None:
            shares.check_parts(self.share, self.config, len(chunk_kinds))
        for index, part in enumerate(call_parts):
            if index:
                comfy.model_management.throw_exception_if_processing_interrupted()
            rows = part.rows(frames)
            if self.share is not None and not self.share.runs(part):
                # Another participant's rows: the model does not see them. Their denoised is x itself, so the
                # sampler's step leaves them where they are (d = (x - denoised) / sigma = 0) and no row of this
                # share ever reads them: the parts this share runs take only their own rows and kept keyframes.
                out = take_rows(x, rows, batch, "x")
            else:
                options = {**plan.with_plan(transformer_options, plan.part_plan(part, self.config, active, whole,
                                                                                kept, x.device)),
                           "cond_or_uncond": [chunk_kinds[c] for c in part.chunks]}
                out = self._run_part(executor, part, rows, options, x, t, c_concat, c_crossattn, control, kwargs)
            row = 0
            for c in part.chunks:
                for run in part.runs:
                    done[c, run.start] = out[row : row + len(run)]
                    row += len(run)
            for key in [key for key in kept if key[1].keyframe in releases.get(index, ())]:
                del kept[key]  # no later part of this call attends to that keyframe
        return torch.cat([done[key] for key in sorted(done)])

    def _run_part(self, executor, part: plan.Part, rows: list[slice], options: dict, x, t, c_concat, c_crossattn,
                  control, kwargs: dict) -> torch.Tensor:
        """The model call on ``part``'s rows (``options``: the part's copy of the call's ``transformer_options``),
        every per-row input cut with them."""
        frames, batch = self.config.frames, x.shape[0]
        uuids, sigmas = options.get("uuids"), options.get("sigmas")
        if isinstance(uuids, list) and len(uuids) == batch // frames:
            options["uuids"] = [uuids[c] for c in part.chunks]
        if isinstance(sigmas, torch.Tensor) and sigmas.dim() == 1 and sigmas.shape[0] == frames:
            options["sigmas"] = take_rows(sigmas, [slice(run.start, run.stop) for run in part.runs], frames, "sigmas")
        return executor(*(take_rows(value, rows, batch, name) for name, value in
                          (("x", x), ("timestep", t), ("c_concat", c_concat), ("c_crossattn", c_crossattn),
                           ("control", control))),
                        options, **{key: take_rows(value, rows, batch, key) for key, value in kwargs.items()})


def take_rows(value, rows: list[slice], batch: int, name: str):
    """``value``'s rows ``rows`` when it is per-row (a tensor of ``batch`` rows, or a list/dict of them)."""
    if isinstance(value, torch.Tensor):
        if value.dim() == 0:
            return value
        if value.shape[0] != batch:
            raise InbetweenInputError(NODE_NAME, "max_rows", f"the model call's input '{name}' has {value.shape[0]} "
                                      f"rows for a batch of {batch}, so it cannot be split with the frames; set "
                                      "max_rows to 0 to sample the whole batch in one call")
        return value[rows[0]] if len(rows) == 1 else torch.cat([value[r] for r in rows])
    if isinstance(value, list):
        return [take_rows(item, rows, batch, f"{name}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: take_rows(item, rows, batch, f"{name}.{key}") for key, item in value.items()}
    return value


class SamplingChecks:
    """``WrappersMP.OUTER_SAMPLE`` wrapper: checks, once per sampling, what the layers cannot see.

    A conditioning batch that is neither 1 nor the schedule's length would be tiled over the frames
    by ComfyUI (rows ``[a, g, b, a, g]`` for 3 against 5): an error; so is a conditioning made along a
    schedule whose keyframes sit at other frames than the patch's. Rows that do not share their
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
        layout = self.config.layout
        for name, conds in executor.class_obj.conds.items():
            for cond in conds:
                for key in ("cross_attn", "pooled_output"):
                    value = cond.get(key)
                    if isinstance(value, torch.Tensor) and value.shape[0] not in (1, frames):
                        raise InbetweenInputError(NODE_NAME, "schedule", f"has {frames} frames but the {name} conditioning "
                                          f"({key}) has batch {value.shape[0]}; build the conditioning with the "
                                          "same schedule (Conditioning Interpolation Batch) or use batch 1")
                made_for = cond.get(CONDITIONING_KEY)
                if made_for is not None and made_for != layout.signature:
                    count, keyframe_frames, loop = made_for
                    raise InbetweenInputError(NODE_NAME, "schedule", f"has {layout.describe()}, but the {name} "
                                              f"conditioning was made for {count} frames with keyframes at frames "
                                              f"{list(keyframe_frames)}{' (loop)' if loop else ''}; give both nodes "
                                              "the same schedule")
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
    for kind, wrapper in ((WrappersMP.APPLY_MODEL, ModelCallWrapper(config)),
                          (WrappersMP.OUTER_SAMPLE, SamplingChecks(config))):
        model.remove_wrappers_with_key(kind, WRAPPER_KEY)
        model.add_wrapper_with_key(kind, WRAPPER_KEY, wrapper)
