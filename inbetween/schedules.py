"""Interpolation coefficient schedules: which t each frame of a sequence gets.

The AID paper places frames at quantiles of a Beta(alpha, beta) distribution,
``t_k = BetaInvCDF(alpha, beta)(k / (n - 1))``: alpha = beta > 1 packs frames near t = 0.5,
where text-embedding interpolation changes fastest; alpha = beta = 1 is uniform spacing.
The Beta CDF and its inverse are implemented here in float64 with the standard library only.
"""

from __future__ import annotations

import math
import statistics
import sys

import torch

from .validation import check_frame_count, check_positive, check_real, check_unit_interval

# Lentz's method stops when a factor is within this of 1; a few ulps of float64.
_CF_TOLERANCE = 4 * sys.float_info.epsilon
# Terms needed grow like sqrt(max(a, b)): ~300 at 1e4, ~3000 at 1e8.
_CF_MAX_TERMS = 100_000
# Lentz's method replaces exact zeros by this to avoid division by zero.
_CF_TINY = 1e-300
_ROOT_RELATIVE_TOLERANCE = 4 * sys.float_info.epsilon
# Bisection alone needs ~11 geometric + ~53 arithmetic halvings; Newton only shortens that.
_ROOT_MAX_ITERATIONS = 500
_SMALLEST_NORMAL = sys.float_info.min
# Newton's stopping rule leaves the root within a few ulps; the final walk never needs more.
_SETTLE_MAX_ULPS = 64


def beta_cdf(x: float, a: float, b: float) -> float:
    """Regularized incomplete beta function ``I_x(a, b)``, the CDF of Beta(a, b) at ``x``.

    ``I_x(a, b) = x^a (1 - x)^b / (a B(a, b)) * 1 / (1 + d_1 / (1 + d_2 / (1 + ...)))`` with

    ``d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1))``,
    ``d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m))``,

    ``log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b)``. The continued fraction is
    evaluated by the modified Lentz method; it converges fast for ``x < (a + 1) / (a + b + 2)``,
    and beyond that the symmetry ``I_x(a, b) = 1 - I_{1-x}(b, a)`` is used. Absolute error
    below 1e-12 for a, b in [0.01, 1e4] (the lgamma difference in log B dominates).
    """
    x = check_unit_interval(x, "x", "beta_cdf")
    a = check_positive(a, "a", "beta_cdf")
    b = check_positive(b, "b", "beta_cdf")
    return _regularized_beta(x, a, b, _log_beta(a, b))


def beta_quantile(p: float, a: float, b: float) -> float:
    """Inverse of :func:`beta_cdf` in ``x``: the x in [0, 1] with ``I_x(a, b) = p``.

    Newton's method ``x <- x - (I_x(a, b) - p) / pdf(x)``, with
    ``pdf(x) = x^(a-1) (1 - x)^(b-1) / B(a, b)``, inside a bracket [lo, hi] that always holds
    the root; a bisection step replaces any Newton step that leaves the bracket or fails to
    halve the step before last, so convergence never depends on the starting point. The
    bisection is geometric while hi > 4 lo, so quantiles as small as 1e-300 (tiny a) take
    tens of steps, not a thousand. ``p = 0`` gives 0 and ``p = 1`` gives 1 exactly; a quantile
    below the smallest normal float (~2.2e-308) is returned as 0. Non-decreasing in p wherever
    p values differ by more than the CDF's own rounding error (about 1e-13 for a, b near 500),
    which covers every schedule grid k / (n - 1).
    """
    p = check_unit_interval(p, "p", "beta_quantile")
    a = check_positive(a, "a", "beta_quantile")
    b = check_positive(b, "b", "beta_quantile")
    return _beta_quantile(p, a, b, _log_beta(a, b))


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
    log_norm = _log_beta(alpha, beta)
    quantiles = [_beta_quantile(k / (frames - 1), alpha, beta, log_norm) for k in range(frames)]
    return _scaled(quantiles, start, end)


def uniform_schedule(frames: int, start: float = 0.0, end: float = 1.0) -> torch.Tensor:
    """Evenly spaced coefficients, a float64 tensor of length ``frames``.

    ``t_k = start + (end - start) * k / (frames - 1)``, first exactly ``start``, last exactly
    ``end``.
    """
    frames = check_frame_count(frames, "frames", "uniform_schedule")
    start = check_real(start, "start", "uniform_schedule")
    end = check_real(end, "end", "uniform_schedule")
    return _scaled([k / (frames - 1) for k in range(frames)], start, end)


def _scaled(unit: list[float], start: float, end: float) -> torch.Tensor:
    """Map values from [0, 1] to [start, end], pinning the ends (start + (end - start) may round)."""
    values = [start + (end - start) * u for u in unit]
    values[0], values[-1] = start, end
    return torch.tensor(values, dtype=torch.float64)


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _log_density(x: float, a: float, b: float, log_norm: float) -> float:
    return (a - 1.0) * math.log(x) + (b - 1.0) * math.log1p(-x) - log_norm


def _regularized_beta(x: float, a: float, b: float, log_norm: float) -> float:
    if x == 0.0:
        return 0.0
    if x == 1.0:
        return 1.0
    # x^a (1 - x)^b / B(a, b); symmetric under (x, a, b) -> (1 - x, b, a).
    front = math.exp(a * math.log(x) + b * math.log1p(-x) - log_norm)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _continued_fraction(x, a, b) / a
    return 1.0 - front * _continued_fraction(1.0 - x, b, a) / b


def _continued_fraction(x: float, a: float, b: float) -> float:
    """``1 / (1 + d_1 / (1 + d_2 / ...))`` by the modified Lentz method (see :func:`beta_cdf`)."""

    def guarded(value: float) -> float:
        return value if abs(value) >= _CF_TINY else _CF_TINY

    c = 1.0
    d = 1.0 / guarded(1.0 - (a + b) * x / (a + 1.0))
    result = d
    for m in range(1, _CF_MAX_TERMS):
        even = m * (b - m) * x / ((a + 2 * m - 1.0) * (a + 2 * m))
        d = 1.0 / guarded(1.0 + even * d)
        c = guarded(1.0 + even / c)
        result *= d * c
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1.0))
        d = 1.0 / guarded(1.0 + odd * d)
        c = guarded(1.0 + odd / c)
        factor = d * c
        result *= factor
        if abs(factor - 1.0) < _CF_TOLERANCE:
            return result
    raise ArithmeticError(f"beta_cdf: continued fraction did not converge for x={x!r}, a={a!r}, b={b!r}")


def _beta_quantile(p: float, a: float, b: float, log_norm: float) -> float:
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return 1.0
    cdf_at_half = _regularized_beta(0.5, a, b, log_norm)
    if p <= cdf_at_half:
        return _solve_below_half(p, a, b, log_norm)
    if p > 0.5:
        # Root above 1/2, where floats are 1.1e-16 apart: solve for the distance from 1 instead
        # (1 - p is exact for p > 1/2), and 1 - y rounds monotonically, so schedules stay
        # non-decreasing to the last ulp.
        return 1.0 - _solve_below_half(1.0 - p, b, a, log_norm)
    # Root above 1/2 but p < 1/2: 1 - p would round away p's relative precision; solve directly.
    return _solve(p, a, b, log_norm, 0.5, 1.0)


def _solve_below_half(p: float, a: float, b: float, log_norm: float) -> float:
    """Root of ``I_x(a, b) = p`` when it lies in [0, 1/2]."""
    if _regularized_beta(_SMALLEST_NORMAL, a, b, log_norm) >= p:
        return 0.0
    return _solve(p, a, b, log_norm, _SMALLEST_NORMAL, 0.5)


def _solve(p: float, a: float, b: float, log_norm: float, lo: float, hi: float) -> float:
    """Root of ``I_x(a, b) = p`` in [lo, hi], given ``I_lo(a, b) < p <= I_hi(a, b)``."""
    x = _initial_guess(p, a, b, lo, hi)
    last_step = step_before_last = hi - lo
    for _ in range(_ROOT_MAX_ITERATIONS):
        error = _regularized_beta(x, a, b, log_norm) - p
        if error == 0.0:
            return _settle(x, p, a, b, log_norm)
        if error < 0.0:
            lo = x
        else:
            hi = x
        newton = x - error * _exp_or_inf(-_log_density(x, a, b, log_norm))
        if lo < newton < hi and abs(newton - x) <= 0.5 * step_before_last:
            candidate = newton
        else:
            candidate = math.sqrt(lo) * math.sqrt(hi) if hi > 4.0 * lo else 0.5 * (lo + hi)
            if not lo < candidate < hi:
                return _settle(hi, p, a, b, log_norm)  # lo and hi are adjacent floats
        step_before_last, last_step = last_step, abs(candidate - x)
        if last_step <= _ROOT_RELATIVE_TOLERANCE * candidate:
            return _settle(candidate, p, a, b, log_norm)
        x = candidate
    raise ArithmeticError(f"beta_quantile: no convergence for p={p!r}, a={a!r}, b={b!r}")


def _settle(x: float, p: float, a: float, b: float, log_norm: float) -> float:
    """The smallest float whose computed ``I_x(a, b)`` reaches p, by ulp steps from a converged x.

    Newton stops a few ulps from it, on either side; always answering this one float keeps the
    quantile non-decreasing in p even near 1, where a single ulp can span a whole schedule step.
    """
    if _regularized_beta(x, a, b, log_norm) < p:
        for _ in range(_SETTLE_MAX_ULPS):
            x = math.nextafter(x, 1.0)
            if _regularized_beta(x, a, b, log_norm) >= p:
                break
        return x
    for _ in range(_SETTLE_MAX_ULPS):
        below = math.nextafter(x, 0.0)
        if _regularized_beta(below, a, b, log_norm) < p:
            break
        x = below
    return x


def _initial_guess(p: float, a: float, b: float, lo: float, hi: float) -> float:
    """Normal approximation ``mean + z_p * sd`` when it falls inside (lo, hi), else the midpoint."""
    mean = a / (a + b)
    sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1.0)))
    guess = mean + statistics.NormalDist().inv_cdf(p) * sd
    return guess if lo < guess < hi else 0.5 * (lo + hi)


def _exp_or_inf(value: float) -> float:
    # A huge 1/pdf only means "Newton step far out of the bracket"; bisection takes over.
    try:
        return math.exp(value)
    except OverflowError:
        return math.inf
