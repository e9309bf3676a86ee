"""Image grid layout, checked cell by cell."""

import pytest
import torch

from inbetween.grid import image_grid


def _frames(n, h=3, w=4):
    return torch.stack([torch.full((h, w, 3), float(k)) for k in range(n)])


def test_layout_and_padding():
    frames = _frames(5)
    grid = image_grid(frames, columns=3, padding=1, pad_value=-1.0)
    assert grid.shape == (1, 2 * 3 + 1, 3 * 4 + 2, 3)
    for k in range(5):
        top, left = (k // 3) * 4, (k % 3) * 5
        assert torch.equal(grid[0, top : top + 3, left : left + 4], frames[k])
    assert (grid[0, 3, :] == -1).all() and (grid[0, :, 4] == -1).all()
    assert (grid[0, 4:, 10:] == -1).all(), "the empty sixth cell holds pad_value"


def test_auto_columns_and_single_frame():
    assert image_grid(_frames(7)).shape == (1, 3 * 3, 3 * 4, 3)
    single = _frames(1)
    assert torch.equal(image_grid(single), single)


def test_rejects_bad_input():
    with pytest.raises(ValueError, match=r"non-empty \[N, H, W, C\] batch, got \(3, 4, 3\)"):
        image_grid(torch.zeros(3, 4, 3))
    with pytest.raises(ValueError, match="columns and padding must be >= 0"):
        image_grid(_frames(2), columns=-1)
