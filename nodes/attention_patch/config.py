"""What an AID patch is asked to do, validated once when the patch is made, and its step window."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from ...inbetween import aid
from ...inbetween.keyframes import KeyframeLayout, two_endpoints
from ..errors import InbetweenInputError

NODE_NAME = "AID Attention Patch"
POSITIVE, NEGATIVE = 0, 1

# What the AID layers do with a model call's rows (see .plan): "fused" and "pure" interpolate the in-betweens
# (AID, the frame's own keys joined or not); a picture morph's inversion also gives every row, endpoints included,
# the rows' mean attention output ("rows_mean") or the mean of its attention to the first and to the last row
# ("ends_mean").
FUSED, PURE, ROWS_MEAN, ENDS_MEAN = "fused", "pure", "rows_mean", "ends_mean"
BEHAVIOURS = (FUSED, PURE, ROWS_MEAN, ENDS_MEAN)


@dataclass(frozen=True)
class Phase:
    """Sampling steps ``int(steps * start_percent) <= i < int(steps * end_percent)`` (0-based, the reference's
    warmup count) run ``behaviour``."""

    start_percent: float
    end_percent: float
    behaviour: str

    def steps(self, steps: int) -> range:
        return range(int(steps * self.start_percent), int(steps * self.end_percent))


@dataclass(frozen=True)
class SpanRows:
    """Span s of the schedule in frames: its in-betweens ``inbetweens`` (a range) interpolate between the frames of
    keyframes ``a`` and ``b`` (``a_frame``, ``b_frame``) by ``weights``."""

    a: int
    b: int
    a_frame: int
    b_frame: int
    inbetweens: range
    weights: tuple[float, ...]


@dataclass(frozen=True)
class AIDConfig:
    """The settings of one AID patch; coefficients are Python floats, checked here and never again. ``keyframed``:
    the schedule's keyframes (``None``: two endpoints, the first and last frame)."""

    coefficients: tuple[float, ...]
    mode: str = "outer"
    fused: bool = True
    start_percent: float = 0.0
    end_percent: float = 0.5
    apply_to_uncond: bool = False
    max_rows: int = 0
    keyframed: KeyframeLayout | None = None
    phases: tuple[Phase, ...] = ()
    share_index: int = 0
    share_count: int = 1

    def __post_init__(self):
        coefficients = tuple(float(c) for c in self.coefficients)
        object.__setattr__(self, "coefficients", coefficients)
        if not all(math.isfinite(c) for c in coefficients):
            raise InbetweenInputError(NODE_NAME, "schedule", f"coefficients must be finite, got {list(coefficients)}")
        if self.keyframed is None:
            if len(coefficients) < 3:
                raise InbetweenInputError(NODE_NAME, "schedule", f"has {len(coefficients)} frames; AID needs at least 3 "
                                                                 "(two endpoints and an in-between)")
            if coefficients[0] == coefficients[-1]:
                raise InbetweenInputError(NODE_NAME, "schedule", f"starts and ends at {coefficients[0]}; the frames "
                                                                 "need two different endpoints")
        else:
            if self.keyframed.coefficients != coefficients:
                raise InbetweenInputError(NODE_NAME, "schedule", "its coefficients are not those of its keyframes")
            for s, span in enumerate(self.keyframed.spans):
                if span.inbetweens < 1 or span.coefficients[0] == span.coefficients[-1]:
                    raise InbetweenInputError(NODE_NAME, "schedule", f"segment {s + 1} has {span.inbetweens} "
                                                                     "in-betweens between equal coefficients; AID "
                                                                     "needs at least one between two different ones")
        if self.mode not in aid.AID_MODES:
            raise InbetweenInputError(NODE_NAME, "mode", f"must be one of {aid.AID_MODES}, got {self.mode!r}")
        for name in ("start_percent", "end_percent"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise InbetweenInputError(NODE_NAME, name, f"must be a number in [0, 1], got {value!r}")
        if isinstance(self.max_rows, bool) or not isinstance(self.max_rows, int) or self.max_rows < 0:
            raise InbetweenInputError(NODE_NAME, "max_rows", f"must be a whole number >= 0 (0: the whole batch in one "
                                                             f"model call), got {self.max_rows!r}")
        if not self.start_percent < self.end_percent:
            raise InbetweenInputError(NODE_NAME, "end_percent", f"must be greater than start_percent ({self.start_percent}), "
                                                        f"got {self.end_percent}")
        if not self.phases:
            object.__setattr__(self, "phases", (Phase(self.start_percent, self.end_percent,
                                                      FUSED if self.fused else PURE),))
        for phase in self.phases:
            if phase.behaviour not in (FUSED, PURE) or not 0.0 <= phase.start_percent < phase.end_percent <= 1.0:
                raise InbetweenInputError(NODE_NAME, "phases", f"each phase needs 0 <= start < end <= 1 and fused "
                                                               f"or pure attention, got {phase}")
        self._check_share()  # last: it hashes the settings (cached units), which must be final by then

    def _check_share(self) -> None:
        """Frame shares (:mod:`.shares`): checked here, so a share that would hold no frame is refused before
        sampling."""
        for name, least in (("share_count", 1), ("share_index", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise InbetweenInputError(NODE_NAME, name, f"must be a whole number >= {least}, got {value!r}")
        if self.share_index >= self.share_count:
            raise InbetweenInputError(NODE_NAME, "share_index", f"must be below share_count ({self.share_count}): "
                                      f"shares are numbered 0 .. {self.share_count - 1}, got {self.share_index}")
        if self.share_count == 1:
            return
        if self.max_rows == 0:
            raise InbetweenInputError(NODE_NAME, "max_rows", f"share_count {self.share_count} needs max_rows > 0: a "
                                      "share is a run of the parts max_rows splits each model call into; got 0")
        from .shares import units  # .shares builds on .plan, which imports this module

        available = len(units(self))
        if self.share_count > available:
            raise InbetweenInputError(NODE_NAME, "share_count", f"the {self.frames} frames split into {available} "
                                      f"runs of whole parts at max_rows {self.max_rows}, so at most {available} "
                                      f"shares hold a frame each; got {self.share_count} (lower share_count or "
                                      "max_rows)")

    @property
    def frames(self) -> int:
        return len(self.coefficients)

    @cached_property
    def layout(self) -> KeyframeLayout:
        return self.keyframed if self.keyframed is not None else two_endpoints(self.coefficients)

    @cached_property
    def spans(self) -> tuple[SpanRows, ...]:
        """The schedule's spans in frames, in frame order (a two-endpoint schedule is one span)."""
        layout = self.layout
        frames = layout.keyframe_frames
        return tuple(SpanRows(span.a, span.b, frames[span.a], frames[span.b], inbetweens, span.weights)
                     for span, inbetweens in zip(layout.spans, layout.span_frames))

    @cached_property
    def keyframe_frames(self) -> tuple[int, ...]:
        return self.layout.keyframe_frames

    @cached_property
    def weights(self) -> tuple[float, ...]:
        """AID weight of each in-between row in frame order, relative to its segment's keyframes:
        ``(c_k - c_a) / (c_b - c_a)`` (``inbetween.keyframes.Span.weights``).

        A schedule 0 -> 1.5 (an alpha sweep) gives the same weights as 0 -> 1: the endpoint rows are
        what the weights interpolate between.
        """
        return tuple(w for span in self.spans for w in span.weights)

    def chunk_is_active(self, kind: int) -> bool:
        return kind == POSITIVE or (kind == NEGATIVE and self.apply_to_uncond)

    def behaviour_at(self, step: int | None, steps: int) -> str | None:
        """What the layers do at 0-based sampler ``step`` of ``steps``: the first phase holding the step, ``None``
        (plain attention) outside every phase. An unknown step (outside ComfyUI's samplers) counts as the first
        phase's."""
        if step is None:
            return self.phases[0].behaviour
        return next((phase.behaviour for phase in self.phases if step in phase.steps(steps)), None)


def step_of(sigma: float, sample_sigmas: list[float]) -> int:
    """0-based step of ``sigma`` in the sampler's sigmas; a sigma between two steps (multi-stage
    samplers such as Heun or DPM++ 2S) belongs to the earlier one."""
    return max(sum(1 for s in sample_sigmas[:-1] if s >= sigma * (1 - 1e-5)) - 1, 0)


@dataclass(frozen=True)
class InversionPhases:
    """FreeMorph's attention while a picture morph is inverted, by inversion step ``i`` (0 at the clean end) of a
    schedule of ``steps`` steps, with ``m = int(steps * mean_from)`` and ``e = int(steps * ends_from)``: plain for
    ``i <= m``, the rows' mean (``rows_mean``) for ``m < i < e``, plain at ``i = e``, then each row's mean attention
    to the first and the last row (``ends_mean``) for ``i > e``. These are FreeMorph's loop bounds: the step at
    each mark stays plain."""

    mean_from: float = 0.3
    ends_from: float = 0.6

    def behaviour_at(self, step: int, steps: int) -> str | None:
        mean_mark, ends_mark = int(steps * self.mean_from), int(steps * self.ends_from)
        if mean_mark < step < ends_mark:
            return ROWS_MEAN
        return ENDS_MEAN if step > ends_mark else None
