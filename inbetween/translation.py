"""Latent translation: a window sliding from latent ``a`` into latent ``b``.

From "Exploring the latent space of text-to-image diffusion models" (the source of the
normalized-lerp and slerp comparison as well).

For latents ``a, b`` of width W joined along the width, ``z = [a | b]`` (width 2W), the
translation operator is ``T(z; s) = z[..., s : s + W]`` for an offset ``s`` in ``0..W``:
``s = 0`` is ``a``, ``s = W`` is ``b``, and in between the image content moves sideways.
The variant that mixes the two in one slice keeps every column where it is and only
switches its source, ``C(a, b; s) = [a[..., : W - s] | b[..., W - s :]]``: a wipe from ``a``
to ``b`` without the sideways motion (and without the style drift that comes with it).

Errors: wrong types raise ``TypeError``; values these functions cannot use raise
:class:`~inbetween.errors.ArgumentError` naming ``coefficients``, ``width``, ``a``, ``b``,
``offsets`` or ``mode`` (with ``index`` for one coefficient or offset). Latents holding NaN or
inf are rejected like everywhere else: a slide would carry them into every frame.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch

from .errors import ArgumentError
from .validation import Coefficients, check_coefficients, check_finite, check_integer, check_tensor, describe

TRANSLATION_MODES: tuple[str, ...] = ("slide", "wipe")


def offsets_from_coefficients(coefficients: Coefficients, width: int) -> list[int]:
    """Column offsets ``s_k = round(t_k * W)`` for coefficients t_k in [0, 1].

    A Beta schedule then spaces the window positions the way it spaces interpolation frames.
    ``t = 0`` gives offset 0 (``a``) and ``t = 1`` gives ``W`` (``b``) exactly.
    """
    where = "offsets_from_coefficients"
    width = check_integer(width, "width", where, 1)
    values, is_vector = check_coefficients(coefficients, "coefficients", where)
    for index, value in enumerate(values):
        if not 0.0 <= value <= 1.0:
            raise ArgumentError(where, "coefficients", f"must be in [0, 1] for a window position, got {value!r}",
                                index=index if is_vector else None)
    return [int(round(value * width)) for value in values]


def translate(a: torch.Tensor, b: torch.Tensor, offsets: Sequence[int], mode: str = "slide") -> torch.Tensor:
    """One frame per offset: ``T([a | b]; s)`` for ``mode="slide"``, ``C(a, b; s)`` for ``"wipe"``.

    ``a`` and ``b`` are ``[1, ..., W]`` tensors of equal shape (the last dim is the width); ``b``
    is converted to ``a``'s dtype and device, and the result is ``[len(offsets), ..., W]`` in
    those. Frames are copies of input columns, so offset 0 reproduces ``a`` and offset W
    reproduces ``b`` exactly.
    """
    where = "translate"
    if not isinstance(mode, str):
        raise TypeError(f"{where}: mode must be a str, got {type(mode).__name__}")
    if mode not in TRANSLATION_MODES:
        raise ArgumentError(where, "mode", f"must be one of {TRANSLATION_MODES}, got {mode!r}")
    for label, x in (("a", a), ("b", b)):
        check_tensor(x, label, where, floating=False)
        if x.dim() < 2 or x.numel() == 0 or x.shape[0] != 1:
            raise ArgumentError(where, label, f"must be one non-empty latent [1, ..., W], got shape {tuple(x.shape)}")
        check_finite(x, label, where)
    if a.shape != b.shape:
        raise ArgumentError(where, "b", f"must have shape {tuple(a.shape)} like a, got {tuple(b.shape)}")
    width = a.shape[-1]
    offsets = _offsets(where, offsets, width)

    b = b.to(a)
    if mode == "slide":
        joined = torch.cat([a, b], dim=-1)
        frames = [joined[..., s : s + width] for s in offsets]
    else:
        frames = [torch.cat([a[..., : width - s], b[..., width - s :]], dim=-1) for s in offsets]
    return torch.cat(frames, dim=0)


def _offsets(where: str, offsets: object, width: int) -> list[int]:
    if isinstance(offsets, (str, bytes)) or not isinstance(offsets, Sequence):
        raise TypeError(f"{where}: offsets must be a sequence of ints, got {describe(offsets)}")
    if not offsets:
        raise ArgumentError(where, "offsets", "is empty; give at least one offset")
    for index, offset in enumerate(offsets):
        if isinstance(offset, bool) or not isinstance(offset, numbers.Integral):
            raise TypeError(f"{where}: offsets[{index}] must be an int, got {describe(offset)}")
        if not 0 <= offset <= width:
            raise ArgumentError(where, "offsets", f"must be in [0, {width}] (the width), got {offset!r}", index=index)
    return [int(offset) for offset in offsets]
