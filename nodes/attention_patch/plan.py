"""The plan of one model call: what every row of the batch does in every AID attention layer.

Built once per model call, outside the compiled model, from the patch's settings and the sampler's step
(:func:`whole_call`), or for each part of a call split by ``max_rows`` (:func:`parts`, :func:`part_plan`).
The layers receive a :class:`CallPlan` of plain Python values (and one cached coefficient tensor) in
``transformer_options`` and never read a tensor's values, so the patched model runs inside
``torch.compile`` graphs and CUDA graphs without device syncs. Nothing here reads a tensor either.

A batch holds ``[chunk][frame]`` rows, row ``c * frames + j`` is frame j of chunk c
(``cond_or_uncond`` lists the chunks). A :class:`Segment` is a run of in-between rows with the two
endpoints they attend to (the keyframes of their span of the schedule: A and B for two endpoints): a row
of the same batch, or a :class:`KeptEndpoint` whose keys and values an earlier part of the same model call
kept.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple, Union

import torch

from ...inbetween.keyframes import KeyframeLayout, span_mean_weights
from .config import ENDS_MEAN, FUSED, ROWS_MEAN, AIDConfig

PLAN_KEY = "inbetween_aid_plan"
# Set by a caller that decides the layers' behaviour per model call itself (a picture morph's inversion walks the
# sigmas upward, which the sampler's step count does not describe): a behaviour of .config.BEHAVIOURS, or None.
BEHAVIOUR_KEY = "inbetween_aid_behaviour"


class KeptEndpoint(NamedTuple):
    """Keyframe ``keyframe`` (A is 0 and B 1 for two endpoints) of chunk ``chunk``, computed by an earlier part of
    the same model call; its keys and values wait in :attr:`CallPlan.kept`, one entry per AID layer."""

    chunk: int
    keyframe: int


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
class RowMix:
    """Rows ``rows`` of this call's batch each get a weighted mean of those rows' plain attention outputs:
    ``out_i = sum_j weights[i, j] Attn(Q_j, K_j, V_j)`` (``weights`` ``[R, R]`` float32 on the model's device)."""

    rows: slice
    weights: torch.Tensor


@dataclass(frozen=True)
class CallPlan:
    """What the AID layers do in one model call of ``batch`` rows.

    ``segments``: the in-between rows that interpolate (none outside the step window); in a picture morph's
    inversion, segments cover keyframe rows too, and segments over the same rows (a keyframe between two spans)
    give those rows the mean of their outputs. ``means``: :class:`RowMix` runs, whose rows each get a weighted mean
    of the run's attention outputs (a picture morph's inversion). ``captures``: rows
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
    means: tuple[RowMix, ...] = ()
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
        return bool(self.segments or self.captures or self.means)


IDLE = CallPlan()


def plan_of(transformer_options: dict) -> CallPlan:
    """The plan of the model call these ``transformer_options`` belong to (:data:`IDLE` outside AID's sampling)."""
    return transformer_options.get(PLAN_KEY, IDLE)


def with_plan(transformer_options: dict, plan: CallPlan) -> dict:
    """A copy of ``transformer_options`` carrying ``plan`` (the caller's dict is shared by other calls)."""
    return {**transformer_options, PLAN_KEY: plan}


@functools.lru_cache(maxsize=1024)
def weights_on(weights: tuple, device: torch.device) -> torch.Tensor:
    """One tensor per (schedule, device), made once: never a host-to-device copy per call.

    Made outside inference mode: the first caller may sample under ``torch.inference_mode`` (as ComfyUI's
    executor does), a later one trace with autograd on (``torch.compile``), which refuses inference tensors.
    """
    with torch.inference_mode(False):
        return torch.tensor(weights, dtype=torch.float32, device=device)


def whole_call(config: AIDConfig, chunk_kinds: list[int], behaviour: str | None, device: torch.device,
               cuda_capability: tuple[int, int] | None = None, text_tokens: int = 0) -> CallPlan:
    """The plan of a model call on every frame of ``chunk_kinds`` (0 positive, 1 negative) when the layers run
    ``behaviour`` (:data:`.config.BEHAVIOURS`; ``None``: plain attention).

    fused, pure: each in-between row interpolates its span's keyframes. The inversion's behaviours give every row of
    the chunk, keyframes included, what FreeMorph gives the rows between its two pictures, within each span that
    holds the row, averaged over those spans (two for a keyframe inside a story or a loop, else one):
    ends_mean: ``(Attn(Q_i, K_a, V_a) + Attn(Q_i, K_b, V_b)) / 2`` for the span's keyframes a and b, pure outer AID at
    ``t = 1/2``; rows_mean: the mean of the span's rows' attention outputs (:func:`~...inbetween.keyframes.
    span_mean_weights`). Two pictures: every row, one span over the whole chunk.
    """
    frames = config.frames
    active = [c for c, kind in enumerate(chunk_kinds) if config.chunk_is_active(kind)]
    if behaviour is None or not active:
        return IDLE
    batch = len(chunk_kinds) * frames
    common = dict(batch=batch, mode=config.mode, endpoint_bits=True, cuda_capability=cuda_capability,
                  text_tokens=text_tokens)
    if behaviour == ROWS_MEAN:
        weights = weights_on(_span_means(config.layout), device)
        means = tuple(RowMix(slice(c * frames, (c + 1) * frames), weights) for c in active)
        return CallPlan(means=means, host_rows=_complement(means, batch), fused=False, **common)
    if behaviour == ENDS_MEAN:
        segments = tuple(Segment(first=c * frames + first, stop=c * frames + stop, a=c * frames + a,
                                 b=c * frames + b, t=weights_on((0.5,) * (stop - first), device))
                         for c in active for first, stop, a, b in _ends_mean_runs(config.layout))
        return CallPlan(segments=segments, host_rows=_complement(segments, batch), **{**common, "mode": "outer"},
                        fused=False)
    segments = tuple(Segment(first=c * frames + span.inbetweens.start, stop=c * frames + span.inbetweens.stop,
                             a=c * frames + span.a_frame, b=c * frames + span.b_frame,
                             t=weights_on(span.weights, device))
                     for c in active for span in config.spans)
    return CallPlan(segments=segments, fused=behaviour == FUSED, host_rows=_complement(segments, batch), **common)


_span_means = functools.lru_cache(maxsize=256)(span_mean_weights)


@functools.lru_cache(maxsize=256)
def _ends_mean_runs(layout: KeyframeLayout) -> tuple[tuple[int, int, int, int], ...]:
    """``(first, stop, a, b)`` in frames, in frame order: each span's rows as runs that attend to its keyframe frames
    a and b; a keyframe held by two spans is a one-row run in each (the layer averages them)."""
    held = Counter(frame for members in layout.span_members for frame in members)
    runs = []
    for members, inbetweens, span in zip(layout.span_members, layout.span_frames, layout.spans):
        a, b = layout.keyframe_frames[span.a], layout.keyframe_frames[span.b]
        for frame in members:
            if runs and held[frame] == 1 and runs[-1][1] == frame and runs[-1][2:] == (a, b) \
                    and held[runs[-1][0]] == 1:
                runs[-1] = (runs[-1][0], frame + 1, a, b)
            else:
                runs.append((frame, frame + 1, a, b))
    return tuple(sorted(runs))


def _complement(runs: tuple[Segment | RowMix, ...], batch: int) -> tuple[slice, ...]:
    """The rows of a batch of ``batch`` that no run covers, as contiguous runs (``runs`` in row order, a run over
    the same rows as the one before it allowed)."""
    rows, start = [], 0
    for run in runs:
        if run.rows.start > start:
            rows.append(slice(start, run.rows.start))
        start = max(start, run.rows.stop)
    return tuple(rows + ([slice(start, batch)] if start < batch else []))
@dataclass(frozen=True)
class Part:
    """One smaller model call: frames ``frames`` (increasing) of each chunk in ``chunks``, in that order."""

    chunks: tuple[int, ...]
    frames: tuple[int, ...]

    @property
    def runs(self) -> list[range]:
        """The part's frames as runs of consecutive frames."""
        runs, start = [], 0
        for i in range(1, len(self.frames) + 1):
            if i == len(self.frames) or self.frames[i] != self.frames[i - 1] + 1:
                runs.append(range(self.frames[start], self.frames[i - 1] + 1))
                start = i
        return runs

    def rows(self, frames: int) -> list[slice]:
        """The rows of the sampler's batch this part holds, chunk by chunk."""
        return [slice(c * frames + run.start, c * frames + run.stop) for c in self.chunks for run in self.runs]


def parts(chunks: int, config: AIDConfig, max_rows: int) -> tuple[list[Part], dict[int, tuple[int, ...]]]:
    """The parts of a model call on ``chunks`` chunks of the schedule's frames, at most ``max_rows`` rows each, and
    when each keyframe's kept keys/values can go: ``{part index: keyframes no later part needs}``.

    The in-betweens in frame order, at most ``max_rows`` rows a part; every keyframe alone, just before the first
    part that needs it (A, then B, first of all for two endpoints). A keyframe is kept until the last part of its
    segments, so a long story keeps two or three keyframes at a time (and the first, in a loop), not all. The chunks
    stay together as ComfyUI batches them (``[uncond, cond]``) when ``max_rows`` holds one row of each, else every
    chunk goes alone.
    """
    groups = [tuple(range(chunks))] if max_rows >= chunks else [(c,) for c in range(chunks)]
    per_part = max_rows // len(groups[0])
    keyframe_frames = config.keyframe_frames
    span_of = {frame: span for span in config.spans for frame in span.inbetweens}
    inbetweens = sorted(span_of)
    result, last_use, done = [], {}, set()
    for first in range(0, len(inbetweens), per_part):
        frames = tuple(inbetweens[first : first + per_part])
        needed = sorted({end for frame in frames for end in (span_of[frame].a, span_of[frame].b)})
        for keyframe in (k for k in needed if k not in done):
            result += [Part(group, (keyframe_frames[keyframe],)) for group in groups]
            done.add(keyframe)
        result += [Part(group, frames) for group in groups]
        last_use.update({keyframe: len(result) - 1 for keyframe in needed})
    releases: dict[int, tuple[int, ...]] = {}
    for keyframe, index in sorted(last_use.items()):
        releases[index] = releases.get(index, ()) + (keyframe,)
    return result, releases


def part_plan(part: Part, config: AIDConfig, active: set[int], whole: CallPlan, kept: dict,
              device: torch.device) -> CallPlan:
    """The plan of ``part`` when chunks ``active`` interpolate (``whole``: the plan of the whole call).

    A keyframe's part keeps its keys/values in ``kept``; an in-between part reads them, and asks for plain
    attention only on the rows of chunks that do not interpolate.
    """
    if not (active and whole.active):
        return whole
    held = [(i, c) for i, c in enumerate(part.chunks) if c in active]
    common = dict(mode=whole.mode, fused=whole.fused, kept=kept, cuda_capability=whole.cuda_capability,
                  text_tokens=whole.text_tokens)
    keyframe_frames = config.keyframe_frames
    if part.frames[0] in keyframe_frames:
        keyframe = keyframe_frames.index(part.frames[0])
        return CallPlan(batch=len(part.chunks), captures=tuple((i, KeptEndpoint(c, keyframe)) for i, c in held),
                        **common)
    count = len(part.frames)
    pieces = []  # (first row offset in a chunk, stop, span, first in-between position in the span)
    for span in config.spans:
        positions = [p for p, frame in enumerate(part.frames) if frame in span.inbetweens]
        if positions:
            offset = part.frames[positions[0]] - span.inbetweens.start
            pieces.append((positions[0], positions[-1] + 1, span, offset))
    segments = tuple(Segment(first=i * count + first, stop=i * count + stop, a=KeptEndpoint(c, span.a),
                             b=KeptEndpoint(c, span.b),
                             t=weights_on(span.weights[offset : offset + stop - first], device))
                     for i, c in held for first, stop, span, offset in pieces)
    batch = len(part.chunks) * count
    return CallPlan(segments=segments, batch=batch, host_rows=_complement(segments, batch), **common)
