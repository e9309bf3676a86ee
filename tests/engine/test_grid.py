"""Image grid layout, checked cell by cell."""

import math

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


@pytest.mark.parametrize("images, kwargs, argument, detail", [
    (torch.zeros(3, 4, 3), {}, "images", "must be a non-empty [N, H, W, C] batch, got (3, 4, 3)"),
    (torch.zeros(0, 4, 4, 3), {}, "images", "must be a non-empty [N, H, W, C] batch, got (0, 4, 4, 3)"),
    (_frames(2), {"columns": -1}, "columns", "must be an int >= 0, got -1"),
    (_frames(2), {"padding": -2}, "padding", "must be an int >= 0, got -2"),
    (_frames(2), {"pad_value": math.nan}, "pad_value", "must be finite, got nan"),
    (_frames(2), {"pad_value": -math.inf}, "pad_value", "must be finite, got -inf"),
])
def test_rejects_bad_values(argument_error, images, kwargs, argument, detail):
    with argument_error("image_grid", argument, detail):
        image_grid(images, **kwargs)


def test_rejects_wrong_types():
    with pytest.raises(TypeError, match="image_grid: images must be a torch.Tensor, got list"):
        image_grid([[0.0]])
    with pytest.raises(TypeError, match="image_grid: columns must be an int >= 0, got float 2.0"):
        image_grid(_frames(2), columns=2.0)
    with pytest.raises(TypeError, match="image_grid: pad_value must be a real number, got NoneType None"):
        image_grid(_frames(2), pad_value=None)


def test_non_finite_pixels_pass_through():
    frames = _frames(2)
    frames[1, 0, 0, 0] = math.nan
    grid = image_grid(frames, columns=2)
    assert torch.isnan(grid[0, 0, 4, 0]) and torch.isfinite(grid).sum() == grid.numel() - 1
