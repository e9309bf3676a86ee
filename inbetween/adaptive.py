"""Adaptive Beta schedule: the AID paper's dynamic selection of interpolation coefficients.

Exploration starts with the frames at t = 0, 0.5 and 1. Each round splits the interval whose
end frames are furthest apart at its Beta median under the current (alpha, beta)
(:func:`beta_split`), renders the new frame, and refits (alpha, beta) so the Beta CDF follows
the cumulative normalised distances (:func:`fit_beta`). When the budget is spent, the requested
number of frames is chosen from everything explored so that the distances between consecutive
chosen frames are as even as possible (:func:`select_even`), endpoints kept.

The renderer and the distance are callables, so the loop runs the same with a diffusion model
behind it (the ComfyUI node) or a synthetic curve (the tests).

Errors: wrong types raise ``TypeError``; values these functions cannot use raise
:class:`~inbetween.errors.ArgumentError` naming the parameter (``left``, ``right``, ``alpha``,
``beta``, ``distances``, ``coefficients``, ``fractions``, ``features``, ``distance``,
``weights``, ``frames``, ``budget``, ``render``; ``index`` for one element of a sequence).
A renderer returning NaN or inf frames is reported on ``render``, a distance returning NaN, inf
or negative values on ``distance``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
import torch
from scipy import optimize, stats

from .errors import ArgumentError
from .metrics import Distance, pixel_distance
from .schedules import beta_cdf, beta_quantile
from .validation import check_coefficients, check_finite, check_frame_count, check_integer, check_positive, \
    check_tensor, check_unit_interval

# Bounds of the fitted parameters: far beyond any schedule anyone would use (alpha = beta = 1e4
# puts every in-between frame within 0.01 of 0.5).
PARAMETER_RANGE = (0.01, 1e4)
_LOG_RANGE = (math.log(PARAMETER_RANGE[0]), math.log(PARAMETER_RANGE[1]))
# Coarse log-grid of starting points: the least-squares surface has long flat valleys (large
# alpha and beta with the same ratio), so one local search from (1, 1) can stall far away.
_GRID = np.exp(np.linspace(*_LOG_RANGE, 13))
# Local searches from the best few grid points and from (1, 1): a steep CDF can fit a few points
# well enough to be a local minimum (Beta(100, 1000) against data from Beta(0.3, 7), for one), and
# the best grid points can all lie in that valley (Beta(100, 300) against Beta(6.5, 33)), where
# the uniform start does not.
_STARTS = 4
# Candidate thresholds processed per vectorised DP pass, to bound memory at 256 * m^2 floats.
_THRESHOLD_CHUNK = 256

Render = Callable[[list[float]], torch.Tensor]
Progress = Callable[[int, int, float], None]


def beta_split(left: float, right: float, alpha: float, beta: float) -> float:
    """The Beta median of the interval [left, right]: the t with ``F(t) = (F(left) + F(right)) / 2``.

    ``F`` is the Beta(alpha, beta) CDF, so t halves the probability mass the current prior gives
    the interval (the reference's ``_add_next_point``). When the CDF is flat to float precision
    across the interval (extreme alpha or beta) that t is not strictly inside it; the arithmetic
    midpoint is returned instead, so every split adds a new coefficient.
    """
    where = "beta_split"
    left = check_unit_interval(left, "left", where)
    right = check_unit_interval(right, "right", where)
    alpha = check_positive(alpha, "alpha", where)
    beta = check_positive(beta, "beta", where)
    if not left < right:
        raise ArgumentError(where, "right", f"must be > left ({left!r}), got {right!r}")
    target = 0.5 * (beta_cdf(left, alpha, beta) + beta_cdf(right, alpha, beta))
    t = beta_quantile(target, alpha, beta)
    return t if left < t < right else 0.5 * (left + right)


def cumulative_fractions(distances: Sequence[float]) -> list[float]:
    """``[0, d_0, d_0 + d_1, ..., sum(d)] / sum(d)``: how far along the sequence each frame is.

    All-zero distances (nothing changes) give evenly spaced fractions, the uniform sequence.
    """
    where = "cumulative_fractions"
    values, _ = check_coefficients(distances, "distances", where)
    for index, value in enumerate(values):
        if value < 0:
            raise ArgumentError(where, "distances", f"must be >= 0 (a distance), got {value!r}", index=index)
    total = math.fsum(values)
    if total <= 0.0:
        return [k / len(values) for k in range(len(values) + 1)]
    partial = [0.0] + [math.fsum(values[: k + 1]) / total for k in range(len(values))]
    partial[-1] = 1.0
    return partial


def fit_beta(coefficients: Sequence[float], fractions: Sequence[float]) -> tuple[float, float]:
    """Least-squares Beta fit: (alpha, beta) minimising ``sum_k (F(t_k; alpha, beta) - c_k)^2``.

    ``t_k`` are the coefficients (in [0, 1]) and ``c_k`` the target CDF values, usually
    :func:`cumulative_fractions` of the adjacent distances. ``scipy.optimize.least_squares``
    (trust-region reflective) runs over ``(log alpha, log beta)`` inside
    :data:`PARAMETER_RANGE`, from (1, 1) (the reference's ``curve_fit`` start) and from each of
    the 4 best points of a 13 x 13 log-spaced grid, keeping the best result. Points at t = 0
    and t = 1 carry no information (F is 0 and 1 there for every alpha, beta) but do no harm.
    """
    where = "fit_beta"
    ts, _ = check_coefficients(coefficients, "coefficients", where)
    cs, _ = check_coefficients(fractions, "fractions", where)
    if len(cs) != len(ts):
        raise ArgumentError(where, "fractions", f"must hold one value per coefficient ({len(ts)}), got {len(cs)}")
    for index, t in enumerate(ts):
        if not 0.0 <= t <= 1.0:
            raise ArgumentError(where, "coefficients", f"must be in [0, 1], got {t!r}", index=index)
    interior = [k for k, t in enumerate(ts) if 0.0 < t < 1.0]
    if not interior:
        raise ArgumentError(where, "coefficients", f"need at least one value strictly between 0 and 1, got {ts}")
    t, c = np.array([ts[k] for k in interior]), np.array([cs[k] for k in interior])

    def residuals(log_params: np.ndarray) -> np.ndarray:
        return stats.beta.cdf(t, *np.exp(log_params)) - c

    # Loss of every grid point at once: [13, 13, points] CDF values.
    grid_loss = ((stats.beta.cdf(t, _GRID[:, None, None], _GRID[None, :, None]) - c) ** 2).sum(axis=-1)
    best = np.argsort(grid_loss, axis=None, kind="stable")[:_STARTS]
    starts = [np.zeros(2)] + [np.log([_GRID[i // _GRID.size], _GRID[i % _GRID.size]]) for i in best]
    fits = [optimize.least_squares(residuals, start, bounds=_LOG_RANGE, xtol=1e-15, ftol=1e-15, gtol=1e-15)
            for start in starts]
    best = min(fits, key=lambda fit: fit.cost)
    alpha, beta = np.exp(best.x)
    return float(alpha), float(beta)


def pairwise_distances(features: torch.Tensor, distance: Union[str, Distance] = "pixel") -> torch.Tensor:
    """Symmetric ``[m, m]`` float64 matrix of distances between all frames of ``features[m, ...]``.

    ``distance`` is ``"pixel"`` (:func:`inbetween.metrics.pixel_distance`) or a callable
    ``f(x[K, ...], y[K, ...]) -> K values``, as for :func:`inbetween.metrics.adjacent_distances`;
    it is called once per row, with frame i against every later frame.
    """
    where = "pairwise_distances"
    check_tensor(features, "features", where, floating=False)
    if features.dim() == 0 or features.shape[0] < 2 or features.numel() == 0:
        raise ArgumentError(where, "features", f"must be a non-empty [m, ...] batch with m >= 2, "
                                               f"got shape {tuple(features.shape)}")
    check_finite(features, "features", where)
    return _pairwise(where, features, _distance_callable(distance, where))


def _pairwise(where: str, features: torch.Tensor, measure: Distance) -> torch.Tensor:
    m = features.shape[0]
    matrix = torch.zeros(m, m, dtype=torch.float64)
    for i in range(m - 1):
        later = features[i + 1:]
        row = _checked(measure(features[i:i + 1].expand_as(later), later), later.shape[0], where)
        matrix[i, i + 1:] = row
        matrix[i + 1:, i] = row
    return matrix


@dataclass(frozen=True)
class Selection:
    """Indices of the chosen frames (first 0, last m - 1) and the distances between consecutive ones."""

    indices: tuple[int, ...]
    distances: tuple[float, ...]

    @property
    def spread(self) -> float:
        return max(self.distances) - min(self.distances)


def select_even(weights: torch.Tensor, frames: int) -> Selection:
    """The ``frames`` of ``m`` explored frames whose consecutive distances are most even.

    ``weights[i, j]`` (i < j) is the distance between explored frames i and j, in coefficient
    order. Over all index sequences ``0 = i_0 < i_1 < ... < i_{n-1} = m - 1`` with n = frames,
    the result minimises the spread ``max_k w(i_k, i_{k+1}) - min_k w(i_k, i_{k+1})`` (the
    reference's criterion); among sequences of equal spread, the one with the smallest largest
    step. Exact: for every candidate lower bound L (each distinct weight), a dynamic programme
    finds the smallest possible largest step of an n-frame path using only steps >= L; the
    answer is the L minimising (that largest step - L), the first such L on ties.
    """
    where = "select_even"
    frames = check_frame_count(frames, "frames", where)
    check_tensor(weights, "weights", where)
    if weights.dim() != 2 or weights.shape[0] != weights.shape[1] or weights.shape[0] < 2:
        raise ArgumentError(where, "weights", f"must be a square [m, m] matrix with m >= 2, got shape "
                                              f"{tuple(weights.shape)}")
    m = weights.shape[0]
    if frames > m:
        raise ArgumentError(where, "frames", f"cannot choose {frames} frames from {m} explored frames")
    w = weights.detach().to(device="cpu", dtype=torch.float64)
    upper = torch.ones(m, m, dtype=torch.bool).triu(1)
    check_finite(w[upper], "weights", where)

    thresholds = torch.unique(w[upper])  # sorted ascending
    best_value, best_threshold = math.inf, None
    for chunk in thresholds.split(_THRESHOLD_CHUNK):
        largest = _minimax_paths(w, upper, chunk, frames)[:, m - 1]
        values = largest - chunk
        k = int(torch.argmin(values))  # first minimum: the smallest L, hence the smallest largest step
        if float(values[k]) < best_value:
            best_value, best_threshold = float(values[k]), chunk[k:k + 1]
    path = _minimax_path(w, upper, best_threshold, frames)
    return Selection(tuple(path), tuple(float(w[i, j]) for i, j in zip(path, path[1:])))


def _minimax_paths(w: torch.Tensor, upper: torch.Tensor, thresholds: torch.Tensor, frames: int,
                   parents: Optional[list] = None) -> torch.Tensor:
    """``[K, m]``: per threshold, the smallest largest step of a ``frames``-frame path 0 -> j using steps >= it."""
    m = w.shape[0]
    allowed = upper & (w >= thresholds[:, None, None])  # [K, m, m]
    cost = torch.where(allowed, w.expand_as(allowed), torch.full_like(allowed, math.inf, dtype=torch.float64))
    reach = torch.full((thresholds.shape[0], m), math.inf, dtype=torch.float64)
    reach[:, 0] = -math.inf  # a one-frame path has no step yet
    for _ in range(frames - 1):
        through = torch.maximum(reach[:, :, None], cost)  # [K, i, j]: path to i, then step i -> j
        reach, arg = through.min(dim=1)
        if parents is not None:
            parents.append(arg[0].tolist())
    return reach


def _minimax_path(w: torch.Tensor, upper: torch.Tensor, threshold: torch.Tensor, frames: int) -> list[int]:
    parents: list[list[int]] = []
    _minimax_paths(w, upper, threshold, frames, parents)
    path = [w.shape[0] - 1]
    for step in reversed(parents):
        path.append(step[path[-1]])
    return path[::-1]


@dataclass(frozen=True)
class Exploration:
    """Everything the adaptive schedule explored and chose.

    ``coefficients`` are the explored t in increasing order (first 0, last 1), ``distances`` the
    distances between adjacent explored frames, ``alpha``/``beta`` the last fit, ``selection``
    the chosen frames (indices into ``coefficients``), ``order[k]`` the render order of
    explored frame k (0, 1, 2 for t = 0, 0.5, 1; then one per split).
    """

    coefficients: tuple[float, ...]
    distances: tuple[float, ...]
    alpha: float
    beta: float
    selection: Selection
    order: tuple[int, ...]

    @property
    def selected_coefficients(self) -> tuple[float, ...]:
        return tuple(self.coefficients[i] for i in self.selection.indices)


def explore(render: Render, frames: int, budget: int, distance: Union[str, Distance] = "pixel",
            alpha: float = 3.0, beta: float = 3.0, progress: Optional[Progress] = None) -> Exploration:
    """Adaptive Beta schedule: explore ``budget`` coefficients, then choose ``frames`` of them.

    ``render(ts)`` returns a tensor ``[len(ts), ...]`` of frames (images or features) at the
    coefficients ``ts``; it is called once with ``[0.0, 0.5, 1.0]`` and then ``budget - 3``
    times with one new coefficient. ``distance`` compares frames as in
    :func:`pairwise_distances`. ``alpha``/``beta`` are the prior before the first fit (the
    reference starts at 3, 3). ``progress(done, total, t)`` is called after each render with the
    number of renders done, their total ``budget - 2``, and the coefficient just rendered
    (0.5 for the first). Exceptions raised by ``render`` or ``progress`` (such as a user's
    cancel) propagate unchanged.

    Each round: k = argmax of the adjacent distances (first on ties); t = :func:`beta_split`
    of [t_k, t_{k+1}] under the current (alpha, beta); render t; then (alpha, beta) =
    :func:`fit_beta` of all coefficients against :func:`cumulative_fractions` of the adjacent
    distances. Finally :func:`select_even` on the distances between all explored frames.
    """
    where = "explore"
    frames = check_frame_count(frames, "frames", where)
    budget = check_integer(budget, "budget", where, 3)  # t = 0, 0.5 and 1 come first
    if frames > budget:
        raise ArgumentError(where, "frames", f"cannot choose {frames} frames from a budget of {budget} explored frames")
    alpha = check_positive(alpha, "alpha", where)
    beta = check_positive(beta, "beta", where)
    measure = _distance_callable(distance, where)
    if progress is not None and not callable(progress):
        raise TypeError(f"{where}: progress must be a callable or None, got {type(progress).__name__}")
    total = budget - 2

    first = _rendered(render([0.0, 0.5, 1.0]), "render([0, 0.5, 1])", 3)
    if progress is not None:
        progress(1, total, 0.5)
    ts, seen, order = [0.0, 0.5, 1.0], [first[0], first[1], first[2]], [0, 1, 2]
    ds = _checked(measure(first[:2], first[1:]), 2, where).tolist()

    for done in range(2, total + 1):
        k = max(range(len(ds)), key=ds.__getitem__)
        t = beta_split(ts[k], ts[k + 1], alpha, beta)
        new = _rendered(render([t]), f"render([{t!r}])", 1, first.shape[1:])
        pair = _checked(measure(torch.stack([seen[k], new[0]]), torch.cat([new, seen[k + 1][None]])), 2, where).tolist()
        ts.insert(k + 1, t)
        seen.insert(k + 1, new[0])
        order.insert(k + 1, done + 1)
        ds[k:k + 1] = pair
        alpha, beta = fit_beta(ts, cumulative_fractions(ds))
        if progress is not None:
            progress(done, total, t)

    weights = _pairwise(where, torch.stack(seen), measure)
    return Exploration(tuple(ts), tuple(ds), alpha, beta, select_even(weights, frames), tuple(order))


def _rendered(frames: object, call: str, rows: int, trailing: Optional[torch.Size] = None) -> torch.Tensor:
    """The renderer's answer, checked: ``rows`` frames (of shape ``trailing`` when given), finite values."""
    if not isinstance(frames, torch.Tensor):
        raise TypeError(f"explore: {call} must return a torch.Tensor, got {type(frames).__name__}")
    if frames.dim() == 0 or frames.shape[0] != rows or (trailing is not None and frames.shape[1:] != trailing):
        expected = f"[{rows}, ...]" if trailing is None else str((rows, *trailing))
        raise ArgumentError("explore", "render", f"{call} must return a tensor {expected}, got shape "
                                                 f"{tuple(frames.shape)}")
    if not bool(torch.isfinite(frames).all()):
        raise ArgumentError("explore", "render", f"{call} returned NaN or inf values")
    return frames


def _distance_callable(distance: object, where: str) -> Distance:
    if isinstance(distance, str):
        if distance != "pixel":
            raise ArgumentError(where, "distance", f"must be 'pixel' or a callable, got {distance!r}")
        return pixel_distance
    if not callable(distance):
        raise TypeError(f"{where}: distance must be 'pixel' or a callable, got {type(distance).__name__}")
    return distance


def _checked(values: object, count: int, where: str) -> torch.Tensor:
    """The distance callable's answer as ``count`` finite, non-negative float64 values."""
    if not isinstance(values, torch.Tensor):
        raise TypeError(f"{where}: the distance must return a torch.Tensor, got {type(values).__name__}")
    if values.numel() != count:
        raise ArgumentError(where, "distance", f"must return {count} values, got shape {tuple(values.shape)}")
    values = values.detach().reshape(count).to(device="cpu", dtype=torch.float64)
    if not torch.isfinite(values).all() or (values < 0).any():
        raise ArgumentError(where, "distance", f"must return finite values >= 0, got {values.tolist()}")
    return values
