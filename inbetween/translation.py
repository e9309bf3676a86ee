"""Latent translation: a window sliding from latent ``a`` into latent ``b``.

From "Exploring the latent space of text-to-image diffusion models" (the source of the
normalized-lerp and slerp comparison as well).

For latents ``a, b`` of width W joined along the width, ``z = [a | b]`` (width 2W), the
translation operator is ``T(z; s) = z[..., s : s + W]`` for an offset ``s`` in ``0..W``:
``s = 0`` is ``a``, ``s = W`` is ``b``, and in between the image content moves sideways.
The variant that mixes the two in one slice keeps every column where it is and only
switches its source, ``C(a, b; s) = [a[..., : W - s] | b[..., W - s :]]``: a wipe from ``a``
to ``b`` without the sideways motion (and without the style drift that comes with it).
"""

from __future__ import annotations

import torch

from .validation import describe

TRANSLATION_MODES: tuple[str, ...] = ("slide", "wipe")


def offsets_from_coefficients(coefficients, width: int) -> list[int]:
    """Column offsets ``s_k = round(t_k * W)`` for coefficients t_k in [0, 1].

    A Beta schedule then spaces the window positions the way it spaces interpolation frames.
    ``t = 0`` gives offset 0 (``a``) and ``t = 1`` gives ``W`` (``b``) exactly.
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"offsets_from_coefficients: width must be an int >= 1, got {describe(width)}")
    values = [float(t) for t in (coefficients.tolist() if isinstance(coefficients, torch.Tensor) else coefficients)]
    if not values:
        raise ValueError("offsets_from_coefficients: coefficients are empty; give at least one")
    for index, value in enumerate(values):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"offsets_from_coefficients: coefficient {index} is {value!r}; "
                             "a window position needs t in [0, 1]")
    return [int(round(value * width)) for value in values]


def translate(a: torch.Tensor, b: torch.Tensor, offsets, mode: str = "slide") -> torch.Tensor:
    """One frame per offset: ``T([a | b]; s)`` for ``mode="slide"``, ``C(a, b; s)`` for ``"wipe"``.

    ``a`` and ``b`` are ``[1, ..., W]`` tensors of equal shape (the last dim is the width);
    the result is ``[len(offsets), ..., W]`` with the inputs' dtype and device. Frames are
    copies of input columns, so offset 0 reproduces ``a`` and offset W reproduces ``b`` exactly.
    """
    if mode not in TRANSLATION_MODES:
        raise ValueError(f"translate: mode must be one of {TRANSLATION_MODES}, got {mode!r}")
    for label, x in (("a", a), ("b", b)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"translate: {label} must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() < 2 or x.numel() == 0:
            raise ValueError(f"translate: {label} must be a non-empty [1, ..., W] tensor, got shape {tuple(x.shape)}")
        if x.shape[0] != 1:
            raise ValueError(f"translate: {label} must hold one latent (batch 1), got batch {x.shape[0]}")
    if a.shape != b.shape:
        raise ValueError(f"translate: a has shape {tuple(a.shape)} but b has shape {tuple(b.shape)}")
    width = a.shape[-1]
    offsets = list(offsets)
    if not offsets:
        raise ValueError("translate: offsets are empty; give at least one")
    for index, offset in enumerate(offsets):
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= width:
            raise ValueError(f"translate: offset {index} must be an int in [0, {width}], got {describe(offset)}")

    b = b.to(a)
    if mode == "slide":
        joined = torch.cat([a, b], dim=-1)
        frames = [joined[..., s : s + width] for s in offsets]
    else:
        frames = [torch.cat([a[..., : width - s], b[..., width - s :]], dim=-1) for s in offsets]
    return torch.cat(frames, dim=0)
