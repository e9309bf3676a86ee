"""The INTERP_SCHEDULE value passed between nodes: one interpolation coefficient per frame, and the keyframes
those frames run between.

A schedule from Beta Coefficient Schedule runs between two endpoints, its first and last frame. One from
Keyframe Schedule runs through K keyframes, open or looping (``inbetween.keyframes``): frame n interpolates
the two keyframes of its segment at its coefficient. Nodes that interpolate two values (A and B) take both
kinds when they have two keyframes (a loop A -> B -> A too); nodes that sweep one value along the
coefficients (Latent Slide, the attribute nodes) take two-endpoint schedules only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from comfy_api.latest import io

from ..inbetween.keyframes import KeyframeLayout, two_endpoints
from .errors import InbetweenInputError

ScheduleIO = io.Custom("INTERP_SCHEDULE")
# A conditioning made along a schedule carries its layout's signature under this key, so AID Attention Patch can
# refuse a schedule whose keyframes sit elsewhere (frames would attend to the wrong keyframes, silently).
CONDITIONING_KEY = "inbetween_keyframes"


@dataclass(frozen=True)
class InterpSchedule:
    """Coefficients t_0..t_{n-1} (frame k of a sequence uses t_k), how they were made, and the keyframes
    (``keyframed``; ``None``: two endpoints, the first and last frame).

    Frozen and built from floats so a schedule can be cached, compared and shared by many
    downstream nodes without anyone changing it under the others.
    """

    coefficients: tuple[float, ...]
    description: str
    keyframed: KeyframeLayout | None = None

    @classmethod
    def of_keyframes(cls, layout: KeyframeLayout, description: str) -> InterpSchedule:
        return cls(layout.coefficients, description, layout)

    def __len__(self) -> int:
        return len(self.coefficients)

    @property
    def layout(self) -> KeyframeLayout:
        """The keyframes and segments, two endpoints for a schedule without keyframes."""
        return self.keyframed if self.keyframed is not None else two_endpoints(self.coefficients)

    def as_tensor(self) -> torch.Tensor:
        return torch.tensor(self.coefficients, dtype=torch.float64)

    def summary(self) -> str:
        values = ", ".join(f"{t:.4f}" for t in self.coefficients)
        text = f"{self.description}\n{len(self)} frames: [{values}]"
        if self.keyframed is not None:
            text += f"\nkeyframes at frames {list(self.keyframed.keyframe_frames)}"
        return text


def keyframes_of(node: str, schedule: InterpSchedule, count: int, source: str, hint: str = "") -> KeyframeLayout:
    """The schedule's layout when it has ``count`` keyframes (``source`` says where they came from, e.g.
    "conditioning_a and conditioning_b give"); otherwise an error naming the schedule."""
    layout = schedule.layout
    if layout.keyframes != count:
        raise InbetweenInputError(node, "schedule", f"schedule has {layout.keyframes} keyframes but {source} "
                                                    f"{count}{hint}")
    return layout


def sweep_coefficients(node: str, schedule: InterpSchedule) -> tuple[float, ...]:
    """The coefficients of a schedule between two endpoints, for nodes that sweep one value along them."""
    if schedule.keyframed is not None and not schedule.keyframed.is_two_endpoints:
        raise InbetweenInputError(node, "schedule", f"expected a schedule between two endpoints (Beta Coefficient "
                                                    f"Schedule), got one through {schedule.keyframed.keyframes} "
                                                    f"keyframes{' in a loop' if schedule.keyframed.loop else ''}, "
                                                    "whose coefficients restart at every keyframe")
    return schedule.coefficients
