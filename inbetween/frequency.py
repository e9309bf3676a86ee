"""Low frequencies of one latent with the high frequencies of another (FreeMorph's Fourier noise injection).

FreeMorph gives every in-between frame of a picture morph the high frequencies of one shared noise: the
in-betweens then share their fine structure, and the morph does not flicker. With ``X = shift(FFT2(x))`` and
``Y = shift(FFT2(y))`` over the last two axes (``shift`` moves the zero frequency to index ``(H // 2, W // 2)``),
a centred window ``M`` of ``2 k_h x 2 k_w`` frequencies (rows ``H//2 - k_h .. H//2 + k_h - 1``, columns likewise)
keeps ``x``'s, the rest comes from ``y``:

    ``out = Re(IFFT2(unshift(M X + (1 - M) Y)))``.

The window is FreeMorph's, half-open on the positive side, so it is not symmetric in frequency and the inverse
transform is not exactly real: its real part is the result, as there. ``keep`` is the window's half-width as a
fraction of half the size: ``k = round(keep * (size // 2))``; FreeMorph's 42 of a 96-wide latent is 0.875
(``k = 42``), its first in-between's 44 is 0.917. ``keep = 1`` keeps every frequency of ``x``, ``0`` none.
"""

from __future__ import annotations

import torch

from .errors import ArgumentError
from .validation import check_like, check_tensor, check_unit_interval


def window_half_widths(height: int, width: int, keep: float) -> tuple[int, int]:
    """``(k_h, k_w)``: ``round(keep * (size // 2))`` for each axis (module docstring)."""
    keep = check_unit_interval(keep, "keep", "window_half_widths")
    return round(keep * (height // 2)), round(keep * (width // 2))


def replace_high_frequencies(x: torch.Tensor, y: torch.Tensor, keep: float) -> torch.Tensor:
    """``x``'s frequencies inside the centred window of half-width fraction ``keep``, ``y``'s outside (module
    docstring), over the last two axes of ``x`` ``[..., H, W]``; ``y`` broadcasts to ``x``. Computed in float32
    (float64 for float64 input), returned in ``x``'s dtype. Neither input is modified."""
    where = "replace_high_frequencies"
    check_tensor(x, "x", where)
    check_tensor(y, "y", where)
    if x.dim() < 2:
        raise ArgumentError(where, "x", f"needs at least two axes [..., H, W], got shape {tuple(x.shape)}")
    check_like(x, "x", y, "y", where)
    try:
        fits = torch.broadcast_shapes(y.shape, x.shape) == x.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ArgumentError(where, "y", f"must broadcast to x's shape {tuple(x.shape)}, got {tuple(y.shape)}")
    height, width = x.shape[-2:]
    k_h, k_w = window_half_widths(height, width, keep)
    compute = torch.float64 if x.dtype == torch.float64 else torch.float32
    axes = (-2, -1)
    x_freq = torch.fft.fftshift(torch.fft.fftn(x.to(compute), dim=axes), dim=axes)
    y_freq = torch.fft.fftshift(torch.fft.fftn(y.to(compute), dim=axes), dim=axes)
    window = torch.zeros(height, width, dtype=torch.bool, device=x.device)
    window[height // 2 - k_h : height // 2 + k_h, width // 2 - k_w : width // 2 + k_w] = True
    mixed = torch.where(window, x_freq, y_freq)
    return torch.fft.ifftn(torch.fft.ifftshift(mixed, dim=axes), dim=axes).real.to(x.dtype)
