"""Interpolation coefficient schedules: which t each frame of a sequence gets.

The AID paper places frames at quantiles of a Beta(alpha, beta) distribution,
``t_k = BetaInvCDF(alpha, beta)(k / (n - 1))``: alpha = beta > 1 packs frames near t = 0.5,
where text-embedding interpolation changes fastest; alpha = beta = 1 is uniform spacing.
The Beta CDF and its inverse are SciPy's (``scipy.stats.beta``, Boost's incomplete beta
function, the one ComfyUI itself calls), in float64.

Errors: a non-number raises ``TypeError``; NaN, inf or an out-of-range value raises
:class:`~inbetween.errors.ArgumentError` naming ``x``, ``p``, ``a``, ``b``, ``frames``,
``alpha``, ``beta``, ``start`` or ``end``.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats

from .validation import check_frame_count, check_positive, check_real, check_unit_interval


def beta_cdf(x: float, a: float, b: float) -> float:
    """Regularized incomplete beta function ``I_x(a, b)``, the CDF of Beta(a, b) at ``x``.

    ``I_x(a, b) = integral_0^x s^(a-1) (1 - s)^(b-1) ds / B(a, b)``, with
    ``B(a, b) = Gamma(a) Gamma(b) / Gamma(a + b)``. 0 at x = 0 and 1 at x = 1 exactly.
    """
    x = check_unit_interval(x, "x", "beta_cdf")
    a = check_positive(a, "a", "beta_cdf")
    b = check_positive(b, "b", "beta_cdf")
    return float(stats.beta.cdf(x, a, b))


def beta_quantile(p: float, a: float, b: float) -> float:
    """Inverse of :func:`beta_cdf` in ``x``: the x in [0, 1] with ``I_x(a, b) = p``.

    ``p = 0`` gives 0 and ``p = 1`` gives 1 exactly.
    """
    p = check_unit_interval(p, "p", "beta_quantile")
    a = check_positive(a, "a", "beta_quantile")
    b = check_positive(b, "b", "beta_quantile")
    return float(_quantiles(np.array([p]), a, b)[0])


def beta_schedule(frames: int, alpha: float, beta: float, start: float = 0.0, end: float = 1.0) -> torch.Tensor:
    """Beta-prior coefficients of the AID paper, a float64 tensor of length ``frames``.

    ``u_k = BetaInvCDF(alpha, beta)(k / (frames - 1))`` for k = 0 .. frames - 1, then
    ``t_k = start + (end - start) * u_k``. The first value is exactly ``start`` and the last
    exactly ``end``. Non-decreasing when start <= end. Beta(1, 1) gives
    :func:`uniform_schedule`; alpha = beta gives a schedule symmetric about the middle.
    """
    frames = check_frame_count(frames, "frames", "beta_schedule")
    alpha = check_positive(alpha, "alpha", "beta_schedule")
    beta = check_positive(beta, "beta", "beta_schedule")
    start = check_real(start, "start", "beta_schedule")
    end = check_real(end, "end", "beta_schedule")
    return _scaled(_quantiles(np.arange(frames) / (frames - 1), alpha, beta), start, end)


def uniform_schedule(frames: int, start: float = 0.0, end: float = 1.0) -> torch.Tensor:
    """Evenly spaced coefficients, a float64 tensor of length ``frames``.

    ``t_k = start + (end - start) * k / (frames - 1)``, first exactly ``start``, last exactly
    ``end``.
    """
    frames = check_frame_count(frames, "frames", "uniform_schedule")
    start = check_real(start, "start", "uniform_schedule")
    end = check_real(end, "end", "uniform_schedule")
    return _scaled(np.arange(frames) / (frames - 1), start, end)


def _quantiles(p: np.ndarray, a: float, b: float) -> np.ndarray:
    """``stats.beta.ppf`` with its ends pinned to 0 and 1 and made non-decreasing in p.

    Near a quantile of 1 floats are 1.1e-16 apart, and the inverse's last-ulp rounding can
    order two close quantiles the wrong way; a running maximum restores the order.
    """
    u = np.maximum.accumulate(stats.beta.ppf(p, a, b))
    u[p == 0.0], u[p == 1.0] = 0.0, 1.0
    return u


def _scaled(unit: np.ndarray, start: float, end: float) -> torch.Tensor:
    """Map values from [0, 1] to [start, end], pinning the ends (start + (end - start) may round)."""
    values = start + (end - start) * unit
    values[0], values[-1] = start, end
    return torch.from_numpy(values)
