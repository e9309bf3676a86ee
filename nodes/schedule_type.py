"""The INTERP_SCHEDULE value passed between nodes: one interpolation coefficient per frame."""

from dataclasses import dataclass

import torch

from comfy_api.latest import io

ScheduleIO = io.Custom("INTERP_SCHEDULE")


@dataclass(frozen=True)
class InterpSchedule:
    """Coefficients t_0..t_{n-1} (frame k of a sequence uses t_k) and how they were made.

    Frozen and built from floats so a schedule can be cached, compared and shared by many
    downstream nodes without anyone changing it under the others.
    """

    coefficients: tuple[float, ...]
    description: str

    def __len__(self) -> int:
        return len(self.coefficients)

    def as_tensor(self) -> torch.Tensor:
        return torch.tensor(self.coefficients, dtype=torch.float64)

    def summary(self) -> str:
        values = ", ".join(f"{t:.4f}" for t in self.coefficients)
        return f"{self.description}\n{len(self)} frames: [{values}]"
