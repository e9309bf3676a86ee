"""Keyframed sequences: K keyframes told as one batch of frames, a span of in-betweens between each two.

Span s runs from keyframe ``a`` to keyframe ``b`` at coefficients ``c_s = (c_s0, ..., c_s(m+1))``: ``c_s0`` at
keyframe a, ``c_s(m+1)`` at keyframe b, the span's m in-betweens between. Open sequences chain
``0 -> 1 -> ... -> K-1``; a loop adds the span ``K-1 -> 0``. The frames are

    open: [V_0, in-betweens of span 0, V_1, in-betweens of span 1, ..., V_(K-1)]
    loop: [V_0, in-betweens of span 0, V_1, ..., V_(K-1), in-betweens of span K-1]

so every keyframe appears once, ``N = K + sum_s m_s``, and a loop's last frame is followed by its first. Frame n
of span s at coefficient c is ``interpolate(V_a, V_b, c)``: a keyframe's frame starts its span (``c = c_s0``), the
last keyframe of an open sequence ends the last span. Two endpoints (every schedule before keyframes) are K = 2
with one open span over the whole schedule, whose coefficients may run over any range (0 -> 1.5 sweeps an
attribute past its prompt).

Errors: :class:`~inbetween.errors.ArgumentError` naming ``keyframes``, ``spans``, ``segment_frames``,
``schedules``, ``values`` or ``guides``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Optional

import torch

from .errors import ArgumentError
from .schedules import beta_schedule
from .sequences import interpolate_sequence
from .validation import check_coefficients, check_int, check_integer, check_tensor


@dataclass(frozen=True)
class Span:
    """The frames from keyframe ``a`` to keyframe ``b``, both included, at ``coefficients`` (at least 2: the two
    keyframes)."""

    a: int
    b: int
    coefficients: tuple[float, ...]

    @property
    def inbetweens(self) -> int:
        return len(self.coefficients) - 2

    @property
    def weights(self) -> tuple[float, ...]:
        """Each in-between's position between the span's keyframes, ``w = (c - c_0) / (c_last - c_0)``: what AID
        blends the keyframes' attention by (0 at keyframe a, 1 at keyframe b, whatever range ``c`` runs over)."""
        first, last = self.coefficients[0], self.coefficients[-1]
        return tuple((c - first) / (last - first) for c in self.coefficients[1:-1])


@dataclass(frozen=True)
class KeyframeLayout:
    """K keyframes and the spans between them (see the module); made by :func:`keyframe_layout`,
    :func:`beta_keyframes` or :func:`two_endpoints`, which check it."""

    keyframes: int
    spans: tuple[Span, ...]
    loop: bool = False

    @property
    def frames(self) -> int:
        return self.keyframes + sum(span.inbetweens for span in self.spans)

    @cached_property
    def keyframe_frames(self) -> tuple[int, ...]:
        """The frame of each keyframe."""
        starts = [0]
        for span in self.spans:
            starts.append(starts[-1] + 1 + span.inbetweens)
        return tuple(starts[: self.keyframes])

    @cached_property
    def span_frames(self) -> tuple[range, ...]:
        """The in-between frames of each span."""
        return tuple(range(start + 1, start + 1 + span.inbetweens)
                     for start, span in zip(self.keyframe_frames, self.spans))

    @cached_property
    def coefficients(self) -> tuple[float, ...]:
        """Each frame's coefficient within its span."""
        values = [c for span in self.spans for c in span.coefficients[:-1]]
        return tuple(values if self.loop else values + [self.spans[-1].coefficients[-1]])

    @cached_property
    def span_members(self) -> tuple[tuple[int, ...], ...]:
        """The frames of each span, its two keyframes included, in frame order (a loop's last span holds frame 0,
        its end keyframe)."""
        frames = self.keyframe_frames
        return tuple(tuple(sorted({frames[span.a], *inbetweens, frames[span.b]}))
                     for span, inbetweens in zip(self.spans, self.span_frames))

    @property
    def is_two_endpoints(self) -> bool:
        return self.keyframes == 2 and not self.loop

    @property
    def signature(self) -> tuple[int, tuple[int, ...], bool]:
        """``(frames, keyframe_frames, loop)``: what two sequences must share for their frames to be the same
        keyframes and segments (their coefficients may differ)."""
        return self.frames, self.keyframe_frames, self.loop

    def describe(self) -> str:
        return (f"{self.frames} frames with keyframes at frames {list(self.keyframe_frames)}"
                f"{' (loop)' if self.loop else ''}")


def keyframe_layout(schedules: Sequence[Sequence[float]], loop: bool = False) -> KeyframeLayout:
    """The layout whose span s has the coefficients ``schedules[s]`` (its two keyframes included), in order
    ``0 -> 1 -> ...``; ``loop`` adds a last span back to keyframe 0, so K = len(schedules) (loop) or
    len(schedules) + 1. Every span has at least its two keyframes' coefficients."""
    where = "keyframe_layout"
    if not isinstance(loop, bool):
        raise TypeError(f"{where}: loop must be a bool, got {type(loop).__name__}")
    if len(schedules) < (2 if loop else 1):
        raise ArgumentError(where, "schedules", f"a {'loop' if loop else 'sequence'} needs at least "
                                                f"{2 if loop else 1} span(s), got {len(schedules)}")
    keyframes = len(schedules) + (0 if loop else 1)
    spans = []
    for s, schedule in enumerate(schedules):
        values, is_vector = check_coefficients(schedule, "schedules", where)
        if not is_vector or len(values) < 2:
            raise ArgumentError(where, "schedules", f"span {s} has {len(values)} coefficient(s); a span needs one "
                                                    "for each of its two keyframes", index=s)
        spans.append(Span(s, (s + 1) % keyframes, tuple(values)))
    return KeyframeLayout(keyframes, tuple(spans), loop)


def two_endpoints(coefficients: Sequence[float]) -> KeyframeLayout:
    """The layout of a schedule between two endpoints: one open span over all of ``coefficients``."""
    return keyframe_layout([coefficients])


def beta_keyframes(keyframes: int, segment_frames: Sequence[int], alpha: float, beta: float,
                   loop: bool = False) -> KeyframeLayout:
    """Keyframes with Beta-prior in-betweens (the AID schedule) in every span.

    ``segment_frames[s]`` counts span s's frames without its end keyframe (its start keyframe and its in-betweens,
    at least 2), so a sequence of spans of F frames has ``N = S * F + 1`` frames (open) or ``S * F`` (loop), S the
    span count (K - 1, or K for a loop). Span s takes ``beta_schedule(segment_frames[s] + 1, alpha, beta)``:
    coefficients from 0 at its start keyframe to 1 at its end keyframe.
    """
    where = "beta_keyframes"
    keyframes = check_integer(keyframes, "keyframes", where, 2)
    spans = keyframes if loop else keyframes - 1
    counts = list(segment_frames)
    if len(counts) != spans:
        raise ArgumentError(where, "segment_frames", f"{keyframes} keyframes {'in a loop ' if loop else ''}make "
                                                     f"{spans} segments, but {len(counts)} frame count(s) arrived")
    for s, count in enumerate(counts):
        # A negative count is refused as 0 and 1 are: by segment_frames with its index, which a caller can name.
        if check_int(count, f"segment_frames[{s}]", where) < 2:
            raise ArgumentError(where, "segment_frames", f"segment {s + 1} has {count} frame(s); a segment needs at "
                                                         "least 2 (its start keyframe and an in-between)", index=s)
    return keyframe_layout([beta_schedule(count + 1, alpha, beta).tolist() for count in counts], loop)


def interpolate_keyframes(values: torch.Tensor, layout: KeyframeLayout, method: str = "lerp",
                          guides: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The frames ``[N, ...]`` of ``layout`` from keyframe values ``[K, ...]``.

    Frame n of span s at coefficient c is ``interpolate(values[a], values[b], c, method)``
    (:func:`~inbetween.sequences.interpolate_sequence`), so a keyframe's frame is its value exactly at
    coefficient 0 or 1. ``guides`` (PAID): ``[1, ...]`` guides every span, ``[S, ...]`` span s with row s; a
    span's in-between frames are then its guide. Dtype and device are ``values``'.
    """
    where = "interpolate_keyframes"
    check_tensor(values, "values", where)
    if values.dim() == 0 or values.shape[0] != layout.keyframes:
        shape = tuple(values.shape)
        raise ArgumentError(where, "values", f"expected one row per keyframe ({layout.keyframes}), got shape {shape}")
    if guides is not None:
        check_tensor(guides, "guides", where)
        if guides.dim() == 0 or guides.shape[0] not in (1, len(layout.spans)):
            raise ArgumentError(where, "guides", f"expected one guide for every segment or one per segment "
                                                 f"({len(layout.spans)}), got shape {tuple(guides.shape)}")
    rows = []
    for s, span in enumerate(layout.spans):
        guide = None if guides is None else guides[s if guides.shape[0] > 1 else 0].unsqueeze(0)
        span_rows = interpolate_sequence(values[span.a].unsqueeze(0), values[span.b].unsqueeze(0),
                                         list(span.coefficients), method, guide=guide)
        last = s == len(layout.spans) - 1 and not layout.loop
        rows.append(span_rows if last else span_rows[:-1])
    return torch.cat(rows)


def span_mean_weights(layout: KeyframeLayout) -> tuple[tuple[float, ...], ...]:
    """The ``N x N`` weights that give each frame the mean of its spans' frames (a picture morph's inversion).

    With ``S_s`` span s's frames, its two keyframes included (:attr:`KeyframeLayout.span_members`), and ``spans(i)``
    the spans holding frame i (one for an in-between or an open sequence's first and last keyframe, two for the
    other keyframes):

        W[i][j] = (1 / |spans(i)|) * sum_{s in spans(i)} [j in S_s] / |S_s|

    so ``out_i = sum_j W[i][j] x_j`` is the mean over frame i's spans of each span's mean. Every row sums to 1; two
    endpoints give ``1 / N`` everywhere: the mean of all frames (FreeMorph's).
    """
    members = layout.span_members
    weights = []
    for i in range(layout.frames):
        holding = [s for s in members if i in s]
        row = [0.0] * layout.frames
        for span in holding:
            for j in span:
                row[j] += 1.0 / (len(span) * len(holding))
        weights.append(tuple(row))
    return tuple(weights)
