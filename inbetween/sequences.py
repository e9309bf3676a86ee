"""Sequences of interpolated embeddings: one row per schedule coefficient, optionally guided (PAID)."""

from __future__ import annotations

import torch

from .interpolation import interpolate


def interpolate_sequence(a: torch.Tensor, b: torch.Tensor, t, method: str = "lerp",
                         guide: torch.Tensor | None = None) -> torch.Tensor:
    """Rows ``k = 0 .. N-1`` of ``[N, ...]`` for a vector ``t`` of N coefficients.

    Without a guide, row k is ``interpolate(a, b, t_k, method)``: text-embedding interpolation,
    the baseline of the AID paper. With a guide ``g`` (PAID, prompt-guided AID) the end rows
    stay the interpolation at ``t_0`` and ``t_{N-1}`` (``a`` and ``b`` for a schedule on
    [0, 1]) and every in-between row is ``g`` itself; the AID attention then blends in the
    endpoints' keys and values by ``t_k``.

    ``a``, ``b`` and ``guide`` are ``[1, ...]`` tensors of one shape (embeddings ``[1, tokens,
    dim]`` or pooled outputs ``[1, dim]``); the result has their dtype and device.
    """
    count = t.numel() if isinstance(t, torch.Tensor) else len(t) if hasattr(t, "__len__") else 1
    if count < 2 or (isinstance(t, torch.Tensor) and t.dim() != 1):
        raise ValueError(f"interpolate_sequence: t must be a vector of at least 2 coefficients, got {t!r}")
    rows = interpolate(a, b, t, method)
    if guide is None:
        return rows
    if not isinstance(guide, torch.Tensor) or guide.shape[1:] != a.shape[1:] or guide.shape[0] != 1:
        shape = tuple(guide.shape) if isinstance(guide, torch.Tensor) else type(guide).__name__
        raise ValueError(f"interpolate_sequence: guide must have shape {(1, *a.shape[1:])} like a, got {shape}")
    inner = guide.to(rows).expand(rows.shape[0] - 2, *rows.shape[1:])
    return torch.cat([rows[:1], inner, rows[-1:]], dim=0)
