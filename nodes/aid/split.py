"""Long sequences: one model call of the sampler carried out as several smaller ones (``max_rows``).

ComfyUI hands the model the whole latent batch, ``[A, in-betweens, B]`` for every chunk of
``cond_or_uncond``, in one call. With ``max_rows`` set, the APPLY_MODEL wrapper splits that call into
parts: endpoint A of every chunk, endpoint B of every chunk (each exactly the call a plain
sampling of that picture alone makes, so the endpoints are those generations bit for bit), then
the in-between frames, at most ``max_rows`` rows at a time. During the endpoint parts every AID
layer keeps the endpoints' keys and values (:attr:`~.model_call.AIDStep.kept`); the in-between
parts read them, so each endpoint is computed once per model call rather than once per part. The
kept keys/values belong to this one model call and are dropped when it returns.

Every per-row input of the call is cut with the rows: ``x``, the timesteps, ``c_concat``,
``c_crossattn``, ControlNet residuals, and every tensor (or list of tensors) among the extra
conditions (``y`` / pooled, guidance, attention masks, reference latents). Anything whose first
dimension is not the call's batch cannot be cut by rows and stops sampling with an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

import comfy.model_management

from ..errors import InbetweenInputError
from .config import NODE_NAME, AIDConfig
from .step import STEP_KEY, AIDStep, Kept, Run, weights_on


@dataclass(frozen=True)
class Part:
    """One smaller model call: frames ``frames`` (a range) of each chunk in ``chunks``, in that order."""

    chunks: tuple[int, ...]
    frames: range

    def rows(self, frames: int) -> list[slice]:
        """The rows of the sampler's batch this part holds, chunk by chunk."""
        return [slice(c * frames + self.frames.start, c * frames + self.frames.stop) for c in self.chunks]


def plan(chunks: int, frames: int, max_rows: int) -> list[Part]:
    """The parts of a model call on ``chunks`` chunks of ``frames`` frames, at most ``max_rows`` rows each.

    Endpoint A, endpoint B, then the in-betweens in order. The chunks stay together as ComfyUI batches
    them (``[uncond, cond]``) when ``max_rows`` holds one row of each, else every chunk goes alone.
    """
    groups = [tuple(range(chunks))] if max_rows >= chunks else [(c,) for c in range(chunks)]
    per_part = max_rows // len(groups[0])
    parts = [Part(group, range(0, 1)) for group in groups] + [Part(group, range(frames - 1, frames)) for group in groups]
    for first in range(1, frames - 1, per_part):
        parts += [Part(group, range(first, min(first + per_part, frames - 1))) for group in groups]
    return parts


def part_step(part: Part, frames: int, active: set[int], step: AIDStep, config: AIDConfig, kept: dict,
              device: torch.device) -> AIDStep:
    """What the AID layers do in ``part`` when chunks ``active`` interpolate (``step``: the whole call's)."""
    if not (active and step.active):
        return step
    held = [(i, c) for i, c in enumerate(part.chunks) if c in active]
    if part.frames.start == 0 or part.frames.start == frames - 1:
        end = 0 if part.frames.start == 0 else 1
        return AIDStep((), len(part.chunks), tuple((i, Kept(c, end)) for i, c in held), kept, step.cuda_capability,
                       step.text_tokens)
    count = len(part.frames)
    t = weights_on(config.weights[part.frames.start - 1 : part.frames.stop - 1], device)
    runs = tuple(Run(i * count, (i + 1) * count, Kept(c, 0), Kept(c, 1), t) for i, c in held)
    return AIDStep(runs, len(part.chunks) * count, (), kept, step.cuda_capability, step.text_tokens)


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


def call_in_parts(executor, config: AIDConfig, step: AIDStep, x, t, c_concat, c_crossattn, control,
                  transformer_options: dict, kwargs: dict) -> torch.Tensor:
    """The model call on ``x`` carried out in parts of at most ``config.max_rows`` rows, as one call."""
    chunk_kinds = list(transformer_options.get("cond_or_uncond") or [0])
    frames, batch = config.frames, x.shape[0]
    uuids = transformer_options.get("uuids")
    sigmas = transformer_options.get("sigmas")
    active = {c for c, kind in enumerate(chunk_kinds) if config.chunk_is_active(kind)}
    kept: dict = {}
    done: dict[tuple[int, int], torch.Tensor] = {}  # (chunk, first frame) -> that part's rows of the output
    for index, part in enumerate(plan(len(chunk_kinds), frames, config.max_rows)):
        if index:
            comfy.model_management.throw_exception_if_processing_interrupted()
        rows = part.rows(frames)
        options = {**transformer_options, STEP_KEY: part_step(part, frames, active, step, config, kept, x.device),
                   "cond_or_uncond": [chunk_kinds[c] for c in part.chunks]}
        if isinstance(uuids, list) and len(uuids) == len(chunk_kinds):
            options["uuids"] = [uuids[c] for c in part.chunks]
        if isinstance(sigmas, torch.Tensor) and sigmas.dim() == 1 and sigmas.shape[0] == frames:
            options["sigmas"] = sigmas[part.frames.start : part.frames.stop]
        out = executor(*(take_rows(value, rows, batch, name) for name, value in
                         (("x", x), ("timestep", t), ("c_concat", c_concat), ("c_crossattn", c_crossattn),
                          ("control", control))),
                       options, **{key: take_rows(value, rows, batch, key) for key, value in kwargs.items()})
        count = len(part.frames)
        for i, c in enumerate(part.chunks):
            done[c, part.frames.start] = out[i * count : (i + 1) * count]
    return torch.cat([done[key] for key in sorted(done)])
