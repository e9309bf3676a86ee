"""Contact sheets: a batch of frames laid out row by row in one image."""

from __future__ import annotations

import math

import torch


def image_grid(images: torch.Tensor, columns: int = 0, padding: int = 0, pad_value: float = 1.0) -> torch.Tensor:
    """Tile ``images [N, H, W, C]`` into ``[1, rows*H + (rows-1)*p, cols*W + (cols-1)*p, C]``.

    Frame k sits at row ``k // cols``, column ``k % cols``; ``columns = 0`` picks
    ``ceil(sqrt(N))``. Cells without a frame and the ``p``-pixel gutters hold ``pad_value``.
    """
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[0] == 0:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"image_grid: images must be a non-empty [N, H, W, C] batch, got {shape}")
    if columns < 0 or padding < 0:
        raise ValueError(f"image_grid: columns and padding must be >= 0, got columns={columns}, padding={padding}")
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
