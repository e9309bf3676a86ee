"""Smoothness metrics of a frame sequence, as in the AID paper (Attention Interpolation of Diffusion).

With ``d`` the distances between adjacent frames: smoothness = 1 - Gini(d) (1 = perfectly even
steps, higher is better), consistency = mean(d) (lower is better), and max(d) (the largest jump).
The paper measures d with LPIPS; here the distance is pluggable, with a pixel RMS default.

Errors: wrong types raise ``TypeError``; values these functions cannot use raise
:class:`~inbetween.errors.ArgumentError` naming ``frames``, ``distance`` or ``d`` (with
``index`` for one distance). Frames holding NaN or inf are rejected: their distances, and every
score after them, would be NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Union

import torch

from .errors import ArgumentError
from .validation import check_finite, check_real, check_tensor, describe

Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Distances = Union[torch.Tensor, Sequence[float]]

DISTANCES: tuple[str, ...] = ("pixel",)


def adjacent_distances(frames: torch.Tensor, distance: Union[str, Distance] = "pixel") -> torch.Tensor:
    """Distances between consecutive frames: a 1-D tensor of N - 1 values for frames ``[N, ...]``.

    ``distance="pixel"``: root-mean-square difference over all elements of a pair,
    ``d_k = sqrt(mean((frames[k + 1] - frames[k])^2))``, computed in float32 (float64 for
    float64 frames) on the frames' device.

    ``distance`` may instead be a callable ``f(x, y)`` taking ``x = frames[:-1]`` and
    ``y = frames[1:]`` (views of ``frames``, which it must not modify) and returning a tensor
    with N - 1 elements, row k the distance from frame k to frame k + 1. Any shape with N - 1
    elements (such as LPIPS's ``[N - 1, 1, 1, 1]``) is flattened.
    """
    where = "adjacent_distances"
    check_tensor(frames, "frames", where, floating=False)
    if frames.dtype == torch.bool or frames.is_complex():
        raise TypeError(f"{where}: frames must hold real numbers, got dtype {frames.dtype}")
    if frames.dim() == 0 or frames.shape[0] < 2 or frames.numel() == 0:
        raise ArgumentError(where, "frames", f"must be a non-empty [N, ...] batch with N >= 2, "
                                             f"got shape {tuple(frames.shape)}")
    check_finite(frames, "frames", where)

    pairs = frames.shape[0] - 1
    if isinstance(distance, str):
        if distance != "pixel":
            raise ArgumentError(where, "distance", f"must be one of {DISTANCES} or a callable, got {distance!r}")
        return pixel_distance(frames[:-1], frames[1:])
    if not callable(distance):
        raise TypeError(f"{where}: distance must be one of {DISTANCES} or a callable, got {describe(distance)}")

    result = distance(frames[:-1], frames[1:])
    if not isinstance(result, torch.Tensor):
        raise TypeError(f"{where}: the distance callable must return a torch.Tensor, got {type(result).__name__}")
    if result.numel() != pairs:
        raise ArgumentError(where, "distance", f"must return {pairs} values for {pairs + 1} frames, "
                                               f"got shape {tuple(result.shape)}")
    return result.reshape(pairs)


def pixel_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Row-wise root-mean-square difference of ``x`` and ``y`` (both ``[K, ...]``): K values.

    ``d_k = sqrt(mean((y[k] - x[k])^2))`` in float32 (float64 when either input is float64);
    the ``"pixel"`` distance, usable wherever a distance callable is expected.
    """
    compute = torch.float64 if torch.float64 in (x.dtype, y.dtype) else torch.float32
    steps = y.to(compute) - x.to(compute)
    return steps.reshape(steps.shape[0], -1).pow(2).mean(dim=1).sqrt()


def gini(d: Distances) -> float:
    """Gini coefficient of non-negative values, 0 (all equal) to (n - 1) / n (one nonzero).

    ``G = sum_i sum_j |d_i - d_j| / (2 n^2 mean(d))``, evaluated in float64 by its sorted form
    ``G = sum_i (2 i - n - 1) d_(i) / (n sum(d))`` over the ascending values ``d_(1..n)``: equal
    in exact arithmetic, O(n log n) time and O(n) memory instead of an n x n matrix. All-zero
    ``d`` (no change at all, hence perfectly even) gives 0. Invariant to scaling ``d``.
    """
    return _gini(_distances("gini", d))


def smoothness(d: Distances) -> float:
    """AID smoothness ``1 - gini(d)``: 1 when every step is the same size."""
    return 1.0 - _gini(_distances("smoothness", d))


def consistency(d: Distances) -> float:
    """AID consistency ``mean(d)``: the average step; lower means frames stay closer."""
    return float(_distances("consistency", d).mean())


def sequence_metrics(d: Distances) -> dict[str, Union[float, list[float]]]:
    """All sequence metrics of adjacent distances ``d`` as plain Python values.

    Keys: ``"smoothness"`` (1 - Gini(d)), ``"consistency"`` (mean(d)), ``"max_distance"``
    (max(d)) as floats, and ``"distances"``, ``d`` as a list of floats.
    """
    values = _distances("sequence_metrics", d)
    return {
        "smoothness": 1.0 - _gini(values),
        "consistency": float(values.mean()),
        "max_distance": float(values.max()),
        "distances": values.tolist(),
    }


def _gini(values: torch.Tensor) -> float:
    total = values.sum()
    if total == 0:
        return 0.0
    n = values.numel()
    ascending = values.sort().values
    weights = torch.arange(1 - n, n, 2, dtype=values.dtype)  # 2 i - n - 1 for i = 1 .. n
    # The weights sum to 0, so subtracting the minimum changes nothing in exact arithmetic and
    # makes equal values give exactly 0 instead of rounding noise.
    return float((weights * (ascending - ascending[0])).sum() / (n * total))


def _distances(where: str, d: object) -> torch.Tensor:
    """``d`` as a 1-D float64 CPU tensor of finite, non-negative values (at least one)."""
    if isinstance(d, torch.Tensor):
        if d.dtype == torch.bool or d.is_complex():
            raise TypeError(f"{where}: d must hold real numbers, got a tensor of dtype {d.dtype}")
        if d.dim() != 1:
            raise ArgumentError(where, "d", f"must be 1-D, got a tensor of shape {tuple(d.shape)}")
        values = d.detach().to(device="cpu", dtype=torch.float64)
    elif isinstance(d, Sequence) and not isinstance(d, (str, bytes)):
        values = torch.tensor([check_real(v, "d", where, index) for index, v in enumerate(d)],
                              dtype=torch.float64)
    else:
        raise TypeError(f"{where}: d must be a 1-D tensor or a sequence of numbers, got {describe(d)}")

    if values.numel() == 0:
        raise ArgumentError(where, "d", "is empty; need at least one distance")
    for index, value in enumerate(values.tolist()):
        if not math.isfinite(value):
            raise ArgumentError(where, "d", f"must be finite, got {value!r}", index=index)
        if value < 0:
            raise ArgumentError(where, "d", f"must be >= 0 (a distance), got {value!r}", index=index)
    return values
