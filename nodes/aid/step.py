"""What the AID layers do in one model call (:class:`AIDStep`), handed to them in ``transformer_options``."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple, Union

import torch

STEP_KEY = "inbetween_aid_step"


class Kept(NamedTuple):
    """An endpoint computed by an earlier call of the same model call: chunk ``chunk``'s A (``end`` 0) or B (1).

    Its keys and values wait in :attr:`AIDStep.kept`, one entry per AID layer.
    """

    chunk: int
    end: int


# Where a run's endpoint comes from: a row of this call's batch, or kept from an earlier call.
Endpoint = Union[int, Kept]


@dataclass(frozen=True)
class Run:
    """In-between rows ``first .. stop - 1`` of this call's batch, interpolated at ``t`` ``[stop - first]``
    (float32, on the model's device) between endpoints ``a`` and ``b``."""

    first: int
    stop: int
    a: Endpoint
    b: Endpoint
    t: torch.Tensor


@dataclass(frozen=True)
class AIDStep:
    """What the AID layers do in one model call.

    ``runs``: the in-between rows that interpolate (empty outside the window), in a call of
    ``batch`` rows. ``captures``: rows of
    this call that are endpoints of in-between rows computed by later calls (a long sequence split
    by ``max_rows``); each layer keeps their keys and values in ``kept``, a dict made for one model
    call of the sampler and dropped with it. ``text_tokens`` is the conditioning's token count: where
    a transformer joins text and image tokens into one sequence, the text comes first and is this long.
    """

    runs: tuple[Run, ...]
    batch: int = 0
    captures: tuple[tuple[int, Kept], ...] = ()
    kept: dict | None = None
    cuda_capability: tuple[int, int] | None = None
    text_tokens: int = 0

    @property
    def active(self) -> bool:
        return bool(self.runs or self.captures)


INACTIVE = AIDStep(())


@functools.lru_cache(maxsize=256)
def weights_on(weights: tuple[float, ...], device: torch.device) -> torch.Tensor:
    """One tensor per (schedule, device), made once: never a host-to-device copy per call.

    Made outside inference mode: the first caller may sample under ``torch.inference_mode`` (as ComfyUI's
    executor does), a later one trace with autograd on (``torch.compile``), which refuses inference tensors.
    """
    with torch.inference_mode(False):
        return torch.tensor(weights, dtype=torch.float32, device=device)


