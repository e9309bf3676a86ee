"""Interpolation between two batch-first tensors (latents, noise, embeddings).

Calling convention shared by :func:`lerp`, :func:`normalized_lerp`, :func:`slerp` and
:func:`interpolate`:

* ``a`` and ``b`` are floating tensors ``[B, ...]`` of one dtype and device, with equal
  trailing shapes; their batch sizes are equal or one of them is 1 (it is broadcast).
* ``t`` is a scalar (Python number or 0-d tensor) or a vector (sequence of numbers or 1-D
  tensor). Values outside [0, 1] extrapolate.
* Scalar ``t``: the output has the broadcast batch size and every row uses ``t``.
* Vector ``t`` of length N: ``a`` and ``b`` have batch 1 or N, the output has batch N and row
  k interpolates ``a[k or 0]`` and ``b[k or 0]`` at ``t[k]``.
* The output has the dtype and device of the inputs; the arithmetic runs in float32 (float64
  for float64 inputs). Working memory is a small multiple of the output in that dtype (``a``
  and ``b`` of batch 1 are broadcast, never copied per row), so it grows linearly with N and
  no float64 copy of a float32 batch is made. Rows with ``t == 0`` are bit-exact copies of
  ``a`` and rows with ``t == 1`` of ``b``, for every method and dtype. Inputs are never
  modified and the output never shares memory with them.

Errors: a wrong type (not a tensor, a non-floating tensor, ``t`` not numbers) raises
``TypeError``. A value the functions cannot use raises :class:`~inbetween.errors.ArgumentError`
naming ``a``, ``b``, ``t`` or ``method``: an empty or 0-d tensor, mismatched shapes, batches,
dtypes or devices (named on ``b``, the second of the pair), a non-finite ``t`` (with its index
for a vector), and NaN or inf anywhere in ``a`` or ``b``: interpolating through NaN would
silently give NaN frames, so the inputs are checked with one ``isfinite`` pass each.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .errors import ArgumentError
from .validation import Coefficients, check_coefficients, check_finite, check_like, check_tensor

_Rows = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def lerp(a: torch.Tensor, b: torch.Tensor, t: Coefficients) -> torch.Tensor:
    """Linear interpolation ``out = (1 - t) * a + t * b``.

    Evaluated as ``a + t * (b - a)`` (equal in exact arithmetic), which returns ``a`` exactly
    when ``a == b``. For independent N(0, 1) inputs the result has variance
    ``(1 - t)^2 + t^2`` < 1 inside (0, 1): noise interpolated this way loses contrast.
    """
    return _interpolate_rows("lerp", a, b, t, _lerp_rows)


def normalized_lerp(a: torch.Tensor, b: torch.Tensor, t: Coefficients) -> torch.Tensor:
    """Variance-preserving linear interpolation.

    ``out = ((1 - t) * a + t * b) / sqrt((1 - t)^2 + t^2)``

    For independent N(0, 1) inputs, ``(1 - t) a + t b`` has variance ``(1 - t)^2 + t^2``;
    dividing by its square root gives N(0, 1) again, so interpolated noise stays in
    distribution. The denominator is at least ``sqrt(1/2)`` for every real ``t``.
    """
    return _interpolate_rows("normalized_lerp", a, b, t, _normalized_lerp_rows)


def slerp(a: torch.Tensor, b: torch.Tensor, t: Coefficients) -> torch.Tensor:
    """Spherical linear interpolation, per flattened batch row.

    ``theta = arccos(clamp(<a, b> / (|a| |b|), -1, 1))``

    ``out = sin((1 - t) theta) / sin(theta) * a + sin(t theta) / sin(theta) * b``

    The coefficients multiply the raw rows, so rows of equal norm keep that norm for every
    ``t`` (the path is the great circle through them). ``theta`` is evaluated as
    ``2 * atan2(|a/|a| - b/|b||, |a/|a| + b/|b||)``, equal to the arccos form in exact
    arithmetic but accurate near 0 and pi, where arccos loses half the digits.

    Where ``sin(theta) < sqrt(eps)`` of the compute dtype (parallel or antiparallel rows) or
    a row has zero norm, that row falls back to :func:`lerp`: near 0 the two agree to working
    precision, and at pi (or for a zero row) the great circle is undefined. Hence no NaN for
    finite inputs, and ``slerp(a, a, t) == a`` exactly.
    """
    return _interpolate_rows("slerp", a, b, t, _slerp_rows)


def _lerp_rows(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    # In place on the one full-size product, so a long t costs one output-sized buffer.
    return (t * (b - a)).add_(a)


def _normalized_lerp_rows(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return _lerp_rows(a, b, t).div_(torch.sqrt((1 - t) ** 2 + t**2))


def _slerp_rows(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    # a and b keep their own batch (1 or N); only the result has one row per coefficient.
    a_flat = a.reshape(a.shape[0], -1)
    b_flat = b.reshape(b.shape[0], -1)
    t = t.reshape(-1, 1)

    norm_a = torch.linalg.vector_norm(a_flat, dim=1, keepdim=True)
    norm_b = torch.linalg.vector_norm(b_flat, dim=1, keepdim=True)
    unit_a = a_flat / torch.where(norm_a > 0, norm_a, 1.0)
    unit_b = b_flat / torch.where(norm_b > 0, norm_b, 1.0)
    theta = 2 * torch.atan2(
        torch.linalg.vector_norm(unit_a - unit_b, dim=1, keepdim=True),
        torch.linalg.vector_norm(unit_a + unit_b, dim=1, keepdim=True),
    )
    sin_theta = torch.sin(theta)

    threshold = math.sqrt(torch.finfo(a.dtype).eps)
    use_lerp = (norm_a == 0) | (norm_b == 0) | (sin_theta < threshold)
    safe_sin = torch.where(use_lerp, 1.0, sin_theta)
    spherical = ((torch.sin((1 - t) * theta) / safe_sin) * a_flat).addcmul_(torch.sin(t * theta) / safe_sin, b_flat)
    out = torch.where(use_lerp, _lerp_rows(a_flat, b_flat, t), spherical)
    return out.reshape(out.shape[0], *a.shape[1:])


_METHODS: dict[str, _Rows] = {
    "lerp": _lerp_rows,
    "normalized_lerp": _normalized_lerp_rows,
    "slerp": _slerp_rows,
}

INTERPOLATION_METHODS: tuple[str, ...] = tuple(_METHODS)


def interpolate(a: torch.Tensor, b: torch.Tensor, t: Coefficients, method: str) -> torch.Tensor:
    """Interpolate with the method named ``method``, one of :data:`INTERPOLATION_METHODS`."""
    return _interpolate("interpolate", a, b, t, method)


def _interpolate(where: str, a: torch.Tensor, b: torch.Tensor, t: Coefficients, method: str) -> torch.Tensor:
    """:func:`interpolate` on behalf of the public function ``where`` (its errors name that function)."""
    if not isinstance(method, str):
        raise TypeError(f"{where}: method must be a str, got {type(method).__name__}")
    if method not in _METHODS:
        raise ArgumentError(where, "method", f"must be one of {INTERPOLATION_METHODS}, got {method!r}")
    return _interpolate_rows(where, a, b, t, _METHODS[method])


def _interpolate_rows(where: str, a: torch.Tensor, b: torch.Tensor, t: Coefficients, rows: _Rows) -> torch.Tensor:
    """Validate, run ``rows`` in the compute dtype over broadcast batches, pin endpoints."""
    _check_pair(where, a, b)
    values, is_vector = check_coefficients(t, "t", where)
    batch = _output_batch(where, a, b, values, is_vector)

    compute = torch.float64 if a.dtype == torch.float64 else torch.float32
    # One coefficient per output row (or one for all), shaped to broadcast over the row's dims.
    t_column = torch.tensor(values, dtype=compute, device=a.device).reshape(-1, *([1] * (a.dim() - 1)))
    # Broadcasting gives ``batch`` rows, and every rows function returns a fresh tensor.
    out = rows(a.to(compute), b.to(compute), t_column).to(a.dtype)

    # Rounding in the compute dtype can move an endpoint by an ulp; endpoints must be the inputs.
    for value, source in ((0.0, a), (1.0, b)):
        pinned = [k for k in range(batch) if values[k if is_vector else 0] == value]
        if pinned:
            out[pinned] = source.expand(batch, *source.shape[1:])[pinned]
    return out


def _check_pair(where: str, a: object, b: object) -> None:
    for label, x in (("a", a), ("b", b)):
        check_tensor(x, label, where)
        if x.dim() == 0:
            raise ArgumentError(where, label, "must be batch-first [B, ...], got a 0-d tensor")
        if x.numel() == 0:
            raise ArgumentError(where, label, f"must not be empty, got shape {tuple(x.shape)}")
    check_like(a, "a", b, "b", where)
    if a.shape[1:] != b.shape[1:]:
        raise ArgumentError(where, "b", f"must have shape [*, {', '.join(map(str, a.shape[1:]))}] to match a, "
                                        f"got {tuple(b.shape)} (a is {tuple(a.shape)})")
    if a.shape[0] != b.shape[0] and 1 not in (a.shape[0], b.shape[0]):
        raise ArgumentError(where, "b", f"must have batch {a.shape[0]} like a, or 1, got batch {b.shape[0]}")
    check_finite(a, "a", where)
    check_finite(b, "b", where)


def _output_batch(where: str, a: torch.Tensor, b: torch.Tensor, values: list[float], is_vector: bool) -> int:
    if not is_vector:
        return max(a.shape[0], b.shape[0])
    frames = len(values)
    for label, x in (("a", a), ("b", b)):
        if x.shape[0] not in (1, frames):
            raise ArgumentError(where, label, f"must have batch 1 or {frames} to match the {frames} values of t, "
                                              f"got batch {x.shape[0]}")
    return frames
