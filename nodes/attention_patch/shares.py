"""Frame shares: one sequence sampled by several participants (GPUs or machines), each computing only its share.

Every frame of an AID sequence is a function of its own row, its span's keyframes and one shared noise; with
``max_rows`` the model call already runs in parts (:func:`.plan.parts`): every keyframe alone, then the in-betweens
reading the keyframes' kept keys/values. A share is a contiguous run of frames made of whole parts; its participant
computes its own parts and the keyframe parts its in-betweens attend to (recomputed locally, not its frames), and
skips the rest. Each part it runs is the single-participant run's part on the same rows, so its frames are that
run's bit for bit, and the shares gathered in index order are the whole sequence in order.

**Units.** The parts depend on the call's chunks: ``max_rows // chunks`` frames a part (cfg 1: one chunk; cfg:
negative and positive). The shares are cut where neither the one-chunk nor the two-chunk parts cross (the common
refinement of both splits), so a share is whole parts at any cfg, and the frames of a share are known from the
patch's settings alone. A part crossing a keyframe in frame order (a part of in-betweens of two spans) takes that
keyframe into its unit.

**Balance.** A share's cost is the frames its participant computes, ``|own frames| + |keyframes its in-betweens
attend to outside them|``; the units are split into ``count`` runs minimising the largest cost (dynamic programme,
``O(count * units^2)``, once per patch). The ideal speed-up of ``count`` participants is then
``frames / max cost``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ..errors import InbetweenInputError
from .config import NODE_NAME, AIDConfig
from .plan import Part, parts

# The chunk counts of a ComfyUI sampling: the positive alone (cfg 1), or the negative and the positive.
CHUNK_COUNTS = (1, 2)


@dataclass(frozen=True)
class Share:
    """Share ``index`` of ``count``: frames ``frames`` (contiguous) are its own; the model computes the rows of
    ``computes`` (its frames and the keyframes their spans attend to) and no other."""

    index: int
    count: int
    frames: range
    computes: frozenset[int]

    def runs(self, part: Part) -> bool:
        """Whether this share's participant runs ``part`` (a part is wholly inside or outside a share's units)."""
        return not self.computes.isdisjoint(part.frames)


def _crossed(call_parts: list[Part]) -> set[int]:
    """Frame positions ``f`` a part crosses: it holds a frame below ``f`` and one at or above."""
    return {f for part in call_parts for f in range(part.frames[0] + 1, part.frames[-1] + 1)}


@functools.lru_cache(maxsize=64)
def units(config: AIDConfig) -> tuple[range, ...]:
    """The frames split into the finest contiguous runs that are whole parts for one and for two chunks."""
    frames = config.frames
    crossed = set().union(*(_crossed(parts(chunks, config, config.max_rows)[0]) for chunks in CHUNK_COUNTS))
    starts = [0] + [f for f in range(1, frames) if f not in crossed]
    return tuple(range(a, b) for a, b in zip(starts, starts[1:] + [frames]))


def _ends_of(config: AIDConfig) -> dict[int, tuple[int, int]]:
    """In-between frame -> the frames of its span's two keyframes."""
    return {frame: (span.a_frame, span.b_frame) for span in config.spans for frame in span.inbetweens}


def _computes(config: AIDConfig, frames: range) -> frozenset[int]:
    ends = _ends_of(config)
    return frozenset(frames).union(*(ends.get(frame, ()) for frame in frames))


@functools.lru_cache(maxsize=64)
def shares(config: AIDConfig, count: int) -> tuple[Share, ...]:
    """``count`` shares of the schedule's frames, contiguous runs of :func:`units`, balanced on the frames each
    participant computes (``count`` at most the number of units)."""
    runs = units(config)
    n = len(runs)
    if not 1 <= count <= n:
        raise ValueError(f"{count} shares of {n} units")
    ends = _ends_of(config)
    cost = [[0] * (n + 1) for _ in range(n + 1)]  # cost[i][j]: frames computed for units i .. j - 1
    for i in range(n):
        needed: set[int] = set()  # keyframes the in-betweens of units i .. j - 1 attend to (a few: grown per unit)
        for j in range(i + 1, n + 1):
            needed.update(*(ends.get(frame, ()) for frame in runs[j - 1]))
            start, stop = runs[i].start, runs[j - 1].stop
            cost[i][j] = stop - start + sum(1 for frame in needed if not start <= frame < stop)
    inf = float("inf")
    best = [[inf] * (n + 1) for _ in range(count + 1)]
    cut = [[0] * (n + 1) for _ in range(count + 1)]
    best[0][0] = 0
    for s in range(1, count + 1):
        for j in range(s, n + 1):
            for i in range(s - 1, j):
                value = max(best[s - 1][i], cost[i][j])
                if value < best[s][j]:
                    best[s][j], cut[s][j] = value, i
    bounds, j = [n], n
    for s in range(count, 0, -1):
        j = cut[s][j]
        bounds.append(j)
    bounds.reverse()
    result = []
    for index, (i, j) in enumerate(zip(bounds, bounds[1:])):
        frames = range(runs[i].start, runs[j - 1].stop)
        result.append(Share(index, count, frames, _computes(config, frames)))
    return tuple(result)


@functools.lru_cache(maxsize=64)
def check_parts(share: Share, config: AIDConfig, chunks: int) -> None:
    """Refuse a model call of ``chunks`` chunks whose parts cross this share's edges (more chunks than ComfyUI's
    negative and positive, batched together: :data:`CHUNK_COUNTS` are aligned by construction). Once per chunk
    count (cached)."""
    edges = {share.frames.start, share.frames.stop}
    if edges & _crossed(parts(chunks, config, config.max_rows)[0]):
        raise InbetweenInputError(NODE_NAME, "share_count", f"this model call batches {chunks} conditioning chunks, "
                                  f"whose parts of max_rows {config.max_rows} cross the edges of share "
                                  f"{share.index} (frames {share.frames.start}-{share.frames.stop - 1}); use "
                                  "share_count 1 or a max_rows that holds one row of each chunk per frame")


def share_of(config: AIDConfig) -> Share | None:
    """The patch's own share, ``None`` when it samples the whole sequence (``share_count`` 1)."""
    if config.share_count == 1:
        return None
    return shares(config, config.share_count)[config.share_index]


def ideal_speedup(config: AIDConfig, count: int) -> float:
    """``frames / max(frames a participant computes)``: the most ``count`` participants can gain, ignoring overheads."""
    return config.frames / max(len(share.computes) for share in shares(config, count))
