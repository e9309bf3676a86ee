"""The plan of one model call: what every row of the batch does in every AID attention layer.

Built once per model call, outside the compiled model, from the patch's settings and the sampler's step
(:func:`whole_call`), or for each part of a call split by ``max_rows`` (:func:`parts`, :func:`part_plan`).
The layers receive a :class:`CallPlan` of plain Python values (and one cached coefficient tensor) in
``transformer_options`` and never read a tensor's values, so the patched model runs inside
``torch.compile`` graphs and CUDA graphs without device syncs. Nothing here reads a tensor either.

A batch holds ``[chunk][frame]`` rows, row ``c * frames + j`` is frame j of chunk c
(``cond_or_uncond`` lists the chunks). A :class:`Segment` is a run of in-between rows with the two
endpoints they attend to: a row of the same batch, or a :class:`KeptEndpoint` whose keys and values an
earlier part of the same model call kept.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple, Union

import torch

from .config import AIDConfig

PLAN_KEY = "inbetween_aid_plan"


class KeptEndpoint(NamedTuple):
    """Endpoint A (``end`` 0) or B (1) of chunk ``chunk``, computed by an earlier part of the same model call;
    its keys and values wait in :attr:`CallPlan.kept`, one entry per AID layer."""

    chunk: int
    end: int


# Where a segment's endpoint comes from: a row of this call's batch, or kept from an earlier part.
Endpoint = Union[int, KeptEndpoint]


@dataclass(frozen=True)
class Segment:
    """In-between rows ``first .. stop - 1`` of this call's batch, interpolated at ``t`` (``[stop - first]``
    float32 on the model's device) between endpoints ``a`` and ``b``."""

    first: int
    stop: int
    a: Endpoint
    b: Endpoint
    t: torch.Tensor

    @property
    def rows(self) -> slice:
        return slice(self.first, self.stop)


@dataclass(frozen=True)
class CallPlan:
    """What the AID layers do in one model call of ``batch`` rows.

    ``segments``: the in-between rows that interpolate (none outside the step window). ``captures``: rows
    that are endpoints of in-between rows a later part computes; each layer keeps their keys, values and
    mask in ``kept``, a dict made for one model call and dropped with it. ``host_rows``: the rows whose plain
    attention is needed (the others are all in ``segments``), so a layer need not compute and discard the rest;
    ``None`` where no row interpolates. ``endpoint_bits``: those rows hold endpoints that must come out as plain
    sampling computes them on the whole batch, so a layer computes them apart only where its attention backend
    gives every row the same bits in any batch (see :mod:`.layer`). ``text_tokens``: the conditioning's token
    count (a transformer's joined sequence starts with the text). ``cuda_capability``: the GPU's, read once per
    call for the kernel choice.
    """

    segments: tuple[Segment, ...] = ()
    batch: int = 0
    mode: str = "outer"
    fused: bool = True
    captures: tuple[tuple[int, KeptEndpoint], ...] = ()
    kept: dict | None = None
    host_rows: tuple[slice, ...] | None = None
    endpoint_bits: bool = False
    cuda_capability: tuple[int, int] | None = None
    text_tokens: int = 0

    @property
    def active(self) -> bool:
        return bool(self.segments or self.captures)


IDLE = CallPlan()


def plan_of(transformer_options: dict) -> CallPlan:
    """The plan of the model call these ``transformer_options`` belong to (:data:`IDLE` outside AID's sampling)."""
    return transformer_options.get(PLAN_KEY, IDLE)


def with_plan(transformer_options: dict, plan: CallPlan) -> dict:
    """A copy of ``transformer_options`` carrying ``plan`` (the caller's dict is shared by other calls)."""
    return {**transformer_options, PLAN_KEY: plan}


@functools.lru_cache(maxsize=256)
def weights_on(weights: tuple[float, ...], device: torch.device) -> torch.Tensor:
    """One tensor per (schedule, device), made once: never a host-to-device copy per call.

    Made outside inference mode: the first caller may sample under ``torch.inference_mode`` (as ComfyUI's
    executor does), a later one trace with autograd on (``torch.compile``), which refuses inference tensors.
    """
    with torch.inference_mode(False):
        return torch.tensor(weights, dtype=torch.float32, device=device)


def whole_call(config: AIDConfig, chunk_kinds: list[int], step: int | None, steps: int, device: torch.device,
               cuda_capability: tuple[int, int] | None = None, text_tokens: int = 0) -> CallPlan:
    """The plan of a model call on every frame of ``chunk_kinds`` (0 positive, 1 negative) at sampler step ``step``
    of ``steps`` (``None``: unknown, as outside ComfyUI's samplers, counts as inside the window)."""
    if step is not None and step not in config.active_steps(steps):
        return IDLE
    frames = config.frames
    active = [c for c, kind in enumerate(chunk_kinds) if config.chunk_is_active(kind)]
    if not active:
        return IDLE
    t = weights_on(config.weights, device)
    segments = tuple(Segment(first=c * frames + 1, stop=(c + 1) * frames - 1, a=c * frames, b=(c + 1) * frames - 1,
                             t=t) for c in active)
    return CallPlan(segments=segments, batch=len(chunk_kinds) * frames, mode=config.mode, fused=config.fused,
                    host_rows=_complement(segments, len(chunk_kinds) * frames), endpoint_bits=True,
                    cuda_capability=cuda_capability, text_tokens=text_tokens)


def _complement(segments: tuple[Segment, ...], batch: int) -> tuple[slice, ...]:
    """The rows of a batch of ``batch`` that no segment covers, as contiguous runs."""
    rows, start = [], 0
    for segment in segments:
        if segment.first > start:
            rows.append(slice(start, segment.first))
        start = segment.stop
    return tuple(rows + ([slice(start, batch)] if start < batch else []))


@dataclass(frozen=True)
class Part:
    """One smaller model call: frames ``frames`` (a range) of each chunk in ``chunks``, in that order."""

    chunks: tuple[int, ...]
    frames: range

    def rows(self, frames: int) -> list[slice]:
        """The rows of the sampler's batch this part holds, chunk by chunk."""
        return [slice(c * frames + self.frames.start, c * frames + self.frames.stop) for c in self.chunks]


def parts(chunks: int, frames: int, max_rows: int) -> list[Part]:
    """The parts of a model call on ``chunks`` chunks of ``frames`` frames, at most ``max_rows`` rows each.

    Endpoint A, endpoint B, then the in-betweens in order. The chunks stay together as ComfyUI batches
    them (``[uncond, cond]``) when ``max_rows`` holds one row of each, else every chunk goes alone.
    """
    groups = [tuple(range(chunks))] if max_rows >= chunks else [(c,) for c in range(chunks)]
    per_part = max_rows // len(groups[0])
    result = [Part(group, range(0, 1)) for group in groups] + [Part(group, range(frames - 1, frames))
                                                                 for group in groups]
    for first in range(1, frames - 1, per_part):
        result += [Part(group, range(first, min(first + per_part, frames - 1))) for group in groups]
    return result


def part_plan(part: Part, config: AIDConfig, active: set[int], whole: CallPlan, kept: dict,
              device: torch.device) -> CallPlan:
    """The plan of ``part`` when chunks ``active`` interpolate (``whole``: the plan of the whole call).

    An endpoint part keeps its endpoints' keys/values in ``kept``; an in-between part reads them, and asks for
    plain attention only on the rows of chunks that do not interpolate.
    """
    if not (active and whole.active):
        return whole
    frames = config.frames
    held = [(i, c) for i, c in enumerate(part.chunks) if c in active]
    common = dict(mode=whole.mode, fused=whole.fused, kept=kept, cuda_capability=whole.cuda_capability,
                  text_tokens=whole.text_tokens)
    if part.frames.start in (0, frames - 1):
        end = 0 if part.frames.start == 0 else 1
        return CallPlan(batch=len(part.chunks), captures=tuple((i, KeptEndpoint(c, end)) for i, c in held), **common)
    count = len(part.frames)
    t = weights_on(config.weights[part.frames.start - 1 : part.frames.stop - 1], device)
    segments = tuple(Segment(first=i * count, stop=(i + 1) * count, a=KeptEndpoint(c, 0), b=KeptEndpoint(c, 1), t=t)
                     for i, c in held)
    batch = len(part.chunks) * count
    return CallPlan(segments=segments, batch=batch, host_rows=_complement(segments, batch), **common)
