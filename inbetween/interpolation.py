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
  for float64 inputs). Rows with ``t == 0`` are bit-exact copies of ``a`` and rows with
  ``t == 1`` of ``b``, for every method and dtype. Inputs are never modified and the output
  never shares memory with them.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Union

import torch

from .validation import describe

Coefficients = Union[float, int, torch.Tensor, Sequence[float]]


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


_METHODS: dict[str, Callable[[torch.Tensor, torch.Tensor, Coefficients], torch.Tensor]] = {
    "lerp": lerp,
    "normalized_lerp": normalized_lerp,
    "slerp": slerp,
}

INTERPOLATION_METHODS: tuple[str, ...] = tuple(_METHODS)


def interpolate(a: torch.Tensor, b: torch.Tensor, t: Coefficients, method: str) -> torch.Tensor:
    """Interpolate with the method named ``method``, one of :data:`INTERPOLATION_METHODS`."""
    if not isinstance(method, str) or method not in _METHODS:
        raise ValueError(f"interpolate: method must be one of {INTERPOLATION_METHODS}, got {method!r}")
    return _METHODS[method](a, b, t)


def _lerp_rows(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return a + t * (b - a)


def _normalized_lerp_rows(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return _lerp_rows(a, b, t) / torch.sqrt((1 - t) ** 2 + t**2)


def _slerp_rows(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    batch = a.shape[0]
    a_flat = a.reshape(batch, -1)
    b_flat = b.reshape(batch, -1)
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
    spherical = (torch.sin((1 - t) * theta) / safe_sin) * a_flat + (torch.sin(t * theta) / safe_sin) * b_flat
    return torch.where(use_lerp, _lerp_rows(a_flat, b_flat, t), spherical).reshape(a.shape)


def _interpolate_rows(
    name: str,
    a: torch.Tensor,
    b: torch.Tensor,
    t: Coefficients,
    rows: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """Validate, broadcast to the output batch, run ``rows`` in the compute dtype, pin endpoints."""
    _check_pair(name, a, b)
    values, is_vector = _coefficients(name, t)
    batch = _output_batch(name, a, b, values, is_vector)

    a_rows = a.expand(batch, *a.shape[1:])
    b_rows = b.expand(batch, *b.shape[1:])
    compute = torch.float64 if a.dtype == torch.float64 else torch.float32
    # One coefficient per output row (or one for all), shaped to broadcast over the row's dims.
    t_column = torch.tensor(values, dtype=compute, device=a.device).reshape(-1, *([1] * (a.dim() - 1)))

    out = rows(a_rows.to(compute), b_rows.to(compute), t_column).to(a.dtype)
    # Rounding in the compute dtype can move an endpoint by an ulp; endpoints must be the inputs.
    return torch.where(t_column == 0, a_rows, torch.where(t_column == 1, b_rows, out))


def _check_pair(name: str, a: object, b: object) -> None:
    for label, x in (("a", a), ("b", b)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name}: {label} must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"{name}: {label} must have a floating dtype, got {x.dtype}")
        if x.dim() == 0:
            raise ValueError(f"{name}: {label} must be batch-first [B, ...], got a 0-d tensor")
        if x.numel() == 0:
            raise ValueError(f"{name}: {label} is empty, shape {tuple(x.shape)}")
    if a.dtype != b.dtype:
        raise TypeError(f"{name}: a has dtype {a.dtype} but b has dtype {b.dtype}")
    if a.device != b.device:
        raise ValueError(f"{name}: a is on device {a.device} but b is on device {b.device}")
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"{name}: a has shape {tuple(a.shape)} but b has shape {tuple(b.shape)}")
    if a.shape[0] != b.shape[0] and 1 not in (a.shape[0], b.shape[0]):
        raise ValueError(
            f"{name}: a has batch {a.shape[0]} but b has batch {b.shape[0]}; "
            "batches must be equal or one of them 1"
        )


def _coefficients(name: str, t: object) -> tuple[list[float], bool]:
    """``t`` as a list of finite floats, and whether it was a vector (sequence or 1-D tensor)."""
    if isinstance(t, torch.Tensor):
        if t.dtype == torch.bool or t.is_complex():
            raise TypeError(f"{name}: t must hold real numbers, got a tensor of dtype {t.dtype}")
        if t.dim() > 1:
            raise ValueError(f"{name}: t must be a scalar or 1-D, got a tensor of shape {tuple(t.shape)}")
        values, is_vector = [float(v) for v in t.reshape(-1).tolist()], t.dim() == 1
    elif isinstance(t, numbers.Real) and not isinstance(t, bool):
        values, is_vector = [float(t)], False
    elif isinstance(t, Sequence) and not isinstance(t, (str, bytes)):
        for index, value in enumerate(t):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{name}: t[{index}] must be a real number, got {describe(value)}")
        values, is_vector = [float(v) for v in t], True
    else:
        raise TypeError(f"{name}: t must be a number, a sequence of numbers or a tensor, got {describe(t)}")

    if not values:
        raise ValueError(f"{name}: t is empty; give at least one coefficient")
    for index, value in enumerate(values):
        if not math.isfinite(value):
            where = f"t[{index}]" if is_vector else "t"
            raise ValueError(f"{name}: {where} must be finite, got {value!r}")
    return values, is_vector


def _output_batch(name: str, a: torch.Tensor, b: torch.Tensor, values: list[float], is_vector: bool) -> int:
    if not is_vector:
        return max(a.shape[0], b.shape[0])
    frames = len(values)
    for label, x in (("a", a), ("b", b)):
        if x.shape[0] not in (1, frames):
            raise ValueError(
                f"{name}: t has {frames} values but {label} has batch {x.shape[0]}; "
                f"with a vector t, a and b need batch 1 or {frames}"
            )
    return frames
