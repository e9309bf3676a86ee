"""Contact sheets: a batch of frames laid out row by row in one image."""

from __future__ import annotations

import math

import torch

from .errors import ArgumentError
from .validation import check_integer, check_real, check_tensor


def image_grid(images: torch.Tensor, columns: int = 0, padding: int = 0, pad_value: float = 1.0) -> torch.Tensor:
    """Tile ``images [N, H, W, C]`` into ``[1, rows*H + (rows-1)*p, cols*W + (cols-1)*p, C]``.

    Frame k sits at row ``k // cols``, column ``k % cols``; ``columns = 0`` picks
    ``ceil(sqrt(N))``. Cells without a frame and the ``p``-pixel gutters hold ``pad_value``.

    Pixels are copied, not computed with, so NaN or inf pixels pass through unchanged (a
    decoder's NaN frame stays visible in its cell). Errors: a non-tensor ``images`` or non-int
    ``columns``/``padding`` raise ``TypeError``; an empty or non-4-D batch, negative ``columns``
    or ``padding``, and a non-finite ``pad_value`` raise :class:`~inbetween.errors.ArgumentError`
    naming that argument.
    """
    where = "image_grid"
    check_tensor(images, "images", where, floating=False)
    if images.dim() != 4 or images.shape[0] == 0:
        raise ArgumentError(where, "images", f"must be a non-empty [N, H, W, C] batch, got {tuple(images.shape)}")
    columns = check_integer(columns, "columns", where, 0)
    padding = check_integer(padding, "padding", where, 0)
    pad_value = check_real(pad_value, "pad_value", where)
    count, height, width, channels = images.shape
    columns = min(columns or math.ceil(math.sqrt(count)), count)
    rows = math.ceil(count / columns)
    grid = images.new_full(
        (1, rows * height + (rows - 1) * padding, columns * width + (columns - 1) * padding, channels), pad_value
    )
    for k in range(count):
        top = (k // columns) * (height + padding)
        left = (k % columns) * (width + padding)
        grid[0, top : top + height, left : left + width] = images[k]
    return grid
