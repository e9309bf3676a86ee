"""Smoothness metrics of a frame sequence, as the AID paper and the morphing papers compute them.

With ``d`` the distances between adjacent frames: the AID paper's smoothness = 1 - Gini(d) (1 = perfectly
even steps, higher is better), consistency = mean(d) (lower is better), and max(d) (the largest jump);
the morphing papers' sum(d) (FreeMorph's LPIPS column, DiffMorpher's "PPL"), perceptual distance variance
var(d) (DiffMorpher's PDV) and perceptual path length sum(d) / epsilon^2 (FreeMorph's PPL column). The
papers measure d with LPIPS; here the distance is pluggable, with a pixel RMS default. For a loop the
closing step, last frame to first, can join ``d`` (``adjacent_distances(..., loop=True)``).

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
from .validation import check_finite, check_positive, check_real, check_tensor, describe

Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Distances = Union[torch.Tensor, Sequence[float]]

DISTANCES: tuple[str, ...] = ("pixel",)

# FreeMorph's table (ICCV 2025, Table 1) has PPL_sum = 25 x LPIPS_sum in every row: sum(d) / epsilon^2 with
# epsilon = 1/5.
FREEMORPH_PPL_EPSILON = 0.2
# The ImageNet statistics torchvision's models are trained with; the AID reference normalises LPIPS inputs by them.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def adjacent_distances(frames: torch.Tensor, distance: Union[str, Distance] = "pixel",
                       loop: bool = False) -> torch.Tensor:
    """Distances between consecutive frames: a 1-D tensor of N - 1 values for frames ``[N, ...]``.

    ``distance="pixel"``: root-mean-square difference over all elements of a pair,
    ``d_k = sqrt(mean((frames[k + 1] - frames[k])^2))``, computed in float32 (float64 for
    float64 frames) on the frames' device.

    ``distance`` may instead be a callable ``f(x, y)`` taking ``x = frames[:-1]`` and
    ``y = frames[1:]`` (views of ``frames``, which it must not modify) and returning a tensor
    with N - 1 elements, row k the distance from frame k to frame k + 1. Any shape with N - 1
    elements (such as LPIPS's ``[N - 1, 1, 1, 1]``) is flattened.

    ``loop=True``: the sequence closes on itself (its last frame leads back to the first, which it does not
    repeat), so N values come back, the last ``d_(N-1) = distance(frames[N - 1], frames[0])``; the callable then
    gets ``x = frames`` and ``y = [frames[1], ..., frames[N - 1], frames[0]]`` (a new tensor).
    """
    where = "adjacent_distances"
    check_tensor(frames, "frames", where, floating=False)
    if frames.dtype == torch.bool or frames.is_complex():
        raise TypeError(f"{where}: frames must hold real numbers, got dtype {frames.dtype}")
    if frames.dim() == 0 or frames.shape[0] < 2 or frames.numel() == 0:
        raise ArgumentError(where, "frames", f"must be a non-empty [N, ...] batch with N >= 2, "
                                             f"got shape {tuple(frames.shape)}")
    check_finite(frames, "frames", where)

    if not isinstance(loop, bool):
        raise TypeError(f"{where}: loop must be a bool, got {describe(loop)}")
    pairs = frames.shape[0] if loop else frames.shape[0] - 1
    before, after = (frames, torch.cat([frames[1:], frames[:1]])) if loop else (frames[:-1], frames[1:])
    if isinstance(distance, str):
        if distance != "pixel":
            raise ArgumentError(where, "distance", f"must be one of {DISTANCES} or a callable, got {distance!r}")
        return pixel_distance(before, after)
    if not callable(distance):
        raise TypeError(f"{where}: distance must be one of {DISTANCES} or a callable, got {describe(distance)}")

    result = distance(before, after)
    if not isinstance(result, torch.Tensor):
        raise TypeError(f"{where}: the distance callable must return a torch.Tensor, got {type(result).__name__}")
    if result.numel() != pairs:
        raise ArgumentError(where, "distance", f"must return {pairs} values for {frames.shape[0]} frames"
                                               f"{' in a loop' if loop else ''}, got shape {tuple(result.shape)}")
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


def distance_sum(d: Distances) -> float:
    """The length of the path through the frames, ``sum(d)``: the morphing papers' total distance.

    With LPIPS distances this is FreeMorph's LPIPS_sum of one sequence (its table adds the sums of every pair of a
    data set) and what DiffMorpher's table calls PPL. Lower means a more direct path. With a true metric (pixel
    RMS) it is at least the distance between the ends; LPIPS grows about as the square of small steps, so its sum
    shrinks as frames are added: compare sequences of the same frame count (FreeMorph: 7).
    """
    return math.fsum(_distances("distance_sum", d).tolist())


def perceptual_distance_variance(d: Distances) -> float:
    """DiffMorpher's perceptual distance variance (PDV): ``var(d) = mean((d_k - mean(d))^2)``.

    The population variance (divided by n, as NumPy's ``var``; one distance gives 0): 0 when every step is the
    same size, lower means a more even speed. Its square root is the standard deviation of the steps. DiffMorpher
    averages it over the sequences of a data set. Not scale-invariant, unlike the Gini coefficient.
    """
    return _variance(_distances("perceptual_distance_variance", d))


def perceptual_path_length(d: Distances, epsilon: float = FREEMORPH_PPL_EPSILON) -> float:
    """Perceptual path length from adjacent frames: ``sum_k d_k / epsilon^2``.

    StyleGAN's PPL is ``E_t[LPIPS(x(t), x(t + eps)) / eps^2]`` over random t with eps = 1e-4 (IMPUS computes it so,
    rendering two pictures per sample), which frames alone cannot give. What they give is this discrete form, each
    step a difference quotient: FreeMorph's PPL_sum, whose table is 25 x its LPIPS_sum in every row, i.e.
    epsilon = 1/5 (the default). ``epsilon = 1 / (N - 1)`` is the spacing of N evenly spaced frames.
    """
    values = _distances("perceptual_path_length", d)
    step = check_positive(epsilon, "epsilon", "perceptual_path_length")
    return math.fsum(values.tolist()) / step**2


def sequence_metrics(d: Distances, ppl_epsilon: float = FREEMORPH_PPL_EPSILON) -> dict[str, Union[float, list[float]]]:
    """All sequence metrics of adjacent distances ``d`` as plain Python values.

    Keys: ``"smoothness"`` (1 - Gini(d)), ``"consistency"`` (mean(d)), ``"max_distance"`` (max(d)),
    ``"distance_sum"`` (sum(d)), ``"pdv"`` (var(d), :func:`perceptual_distance_variance`), ``"ppl"``
    (sum(d) / ppl_epsilon^2, :func:`perceptual_path_length`) as floats, and ``"distances"``, ``d`` as a list of
    floats.
    """
    values = _distances("sequence_metrics", d)
    step = check_positive(ppl_epsilon, "ppl_epsilon", "sequence_metrics")
    total = math.fsum(values.tolist())
    return {
        "smoothness": 1.0 - _gini(values),
        "consistency": float(values.mean()),
        "max_distance": float(values.max()),
        "distance_sum": total,
        "pdv": _variance(values),
        "ppl": total / step**2,
        "distances": values.tolist(),
    }


def lpips_inputs(images: torch.Tensor) -> torch.Tensor:
    """ComfyUI's IMAGE ``[N, H, W, C]`` in [0, 1] as LPIPS documents its input: ``[N, 3, H, W]``, ``2 x - 1``.

    The first three channels (an alpha channel is dropped), float32 (float64 stays float64), a new tensor.
    """
    return _channels_first("lpips_inputs", images) * 2.0 - 1.0


def imagenet_normalized(images: torch.Tensor) -> torch.Tensor:
    """``[N, H, W, C]`` in [0, 1] normalised as the AID reference feeds LPIPS: ``[N, 3, H, W]``, ``(x - m) / s``.

    ``m = (0.485, 0.456, 0.406)`` and ``s = (0.229, 0.224, 0.225)`` per RGB channel (torchvision's
    ``Normalize`` with ImageNet statistics; AID's ``utils.compute_lpips``), instead of LPIPS's own ``2 x - 1``;
    LPIPS then applies its scaling layer on top, as in the reference. No resizing (neither does the reference).
    """
    pixels = _channels_first("imagenet_normalized", images)
    mean = torch.tensor(IMAGENET_MEAN, dtype=pixels.dtype, device=pixels.device).reshape(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=pixels.dtype, device=pixels.device).reshape(1, 3, 1, 1)
    return (pixels - mean) / std


def _channels_first(where: str, images: torch.Tensor) -> torch.Tensor:
    check_tensor(images, "images", where)
    if images.dim() != 4 or images.shape[-1] < 3:
        raise ArgumentError(where, "images", f"must be [N, H, W, C] with C >= 3, got shape {tuple(images.shape)}")
    pixels = images[..., :3].movedim(-1, 1)
    return pixels if pixels.dtype == torch.float64 else pixels.float()


def _variance(values: torch.Tensor) -> float:
    return float((values - values.mean()).pow(2).mean())


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
