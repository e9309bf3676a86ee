"""Sequences of interpolated embeddings: one row per schedule coefficient, optionally guided (PAID)."""

from __future__ import annotations

from typing import Optional

import torch

from .errors import ArgumentError
from .interpolation import _interpolate
from .validation import Coefficients, check_coefficients, check_finite, check_like, check_tensor


def interpolate_sequence(a: torch.Tensor, b: torch.Tensor, t: Coefficients, method: str = "lerp",
                         guide: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Rows ``k = 0 .. N-1`` of ``[N, ...]`` for a vector ``t`` of N coefficients.

    Without a guide, row k is ``interpolate(a, b, t_k, method)``: text-embedding interpolation,
    the baseline of the AID paper. With a guide ``g`` (PAID, prompt-guided AID) the end rows
    stay the interpolation at ``t_0`` and ``t_{N-1}`` (``a`` and ``b`` for a schedule on
    [0, 1]) and every in-between row is ``g`` itself; the AID attention then blends in the
    endpoints' keys and values by ``t_k``.

    ``a``, ``b`` and ``guide`` are ``[1, ...]`` tensors of one shape, dtype and device
    (embeddings ``[1, tokens, dim]`` or pooled outputs ``[1, dim]``); the result has their
    dtype and device. Errors are those of :func:`~inbetween.interpolation.interpolate`, named
    for this function, plus ``t`` with fewer than 2 values and a ``guide`` of another shape,
    dtype or device, or holding NaN or inf (:class:`~inbetween.errors.ArgumentError` naming
    ``guide``).
    """
    where = "interpolate_sequence"
    values, is_vector = check_coefficients(t, "t", where)
    if not is_vector or len(values) < 2:
        raise ArgumentError(where, "t", f"must be a vector of at least 2 coefficients, got {t!r}")
    rows = _interpolate(where, a, b, values, method)
    if guide is None:
        return rows
    check_tensor(guide, "guide", where)
    if guide.shape[0] != 1 or guide.shape[1:] != a.shape[1:]:
        raise ArgumentError(where, "guide", f"must have shape {(1, *a.shape[1:])} like a, got {tuple(guide.shape)}")
    check_like(a, "a", guide, "guide", where)
    check_finite(guide, "guide", where)
    inner = guide.expand(rows.shape[0] - 2, *rows.shape[1:])
    return torch.cat([rows[:1], inner, rows[-1:]], dim=0)
