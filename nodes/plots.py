"""Small chart images (ComfyUI IMAGE tensors) so users can look at numbers instead of reading them."""

import numpy as np
import torch
from PIL import Image, ImageDraw

_BACKGROUND = (24, 24, 28)
_GRID = (70, 70, 80)
_LINE = (120, 190, 255)
_POINT = (255, 200, 90)
_TEXT = (220, 220, 220)
_BAR = (120, 190, 255)


def schedule_curve_image(values: list[float], title: str, size: tuple[int, int] = (512, 320)) -> torch.Tensor:
    """Coefficient t_k against frame k as an IMAGE of shape [1, H, W, 3] in [0, 1]."""
    width, height = size
    margin_left, margin_right, margin_top, margin_bottom = 48, 16, 28, 28
    image = Image.new("RGB", size, _BACKGROUND)
    draw = ImageDraw.Draw(image)

    low, high = min(values + [0.0]), max(values + [1.0])
    span = high - low or 1.0
    plot_w = width - margin_left - margin_right
    plot_h = height - margin_top - margin_bottom

    def to_xy(index: int, value: float) -> tuple[float, float]:
        x = margin_left + plot_w * index / max(len(values) - 1, 1)
        y = margin_top + plot_h * (1.0 - (value - low) / span)
        return x, y

    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        value = low + span * fraction
        _, y = to_xy(0, value)
        draw.line([(margin_left, y), (width - margin_right, y)], fill=_GRID)
        draw.text((4, y - 6), f"{value:.2f}", fill=_TEXT)

    points = [to_xy(k, v) for k, v in enumerate(values)]
    draw.line(points, fill=_LINE, width=2)
    for x, y in points:
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=_POINT)
    draw.text((margin_left, 6), title, fill=_TEXT)
    draw.text((margin_left, height - margin_bottom + 8), f"frame 0 .. {len(values) - 1}", fill=_TEXT)

    array = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(array).unsqueeze(0)


def distance_chart_image(distances: list[float], title: str, size: tuple[int, int] = (512, 320)) -> torch.Tensor:
    """Adjacent distances as bars and the cumulative distance as a line, against the frame index.

    The bar for frames k -> k + 1 sits between them (left axis); the line is the distance travelled
    from frame 0 (right axis), so an even sequence draws equal bars and a straight line.
    Returns an IMAGE of shape [1, H, W, 3] in [0, 1].
    """
    width, height = size
    margin_left, margin_right, margin_top, margin_bottom = 52, 60, 28, 28
    image = Image.new("RGB", size, _BACKGROUND)
    draw = ImageDraw.Draw(image)
    frames = len(distances) + 1
    cumulative = [0.0]
    for d in distances:
        cumulative.append(cumulative[-1] + d)
    bar_top = max(distances) or 1.0
    line_top = cumulative[-1] or 1.0
    plot_w = width - margin_left - margin_right
    plot_h = height - margin_top - margin_bottom

    def x_at(index: float) -> float:
        return margin_left + plot_w * index / (frames - 1)

    def y_at(fraction: float) -> float:
        return margin_top + plot_h * (1.0 - fraction)

    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = y_at(fraction)
        draw.line([(margin_left, y), (width - margin_right, y)], fill=_GRID)
        draw.text((4, y - 6), f"{bar_top * fraction:.3g}", fill=_BAR)
        draw.text((width - margin_right + 4, y - 6), f"{line_top * fraction:.3g}", fill=_POINT)

    half_bar = 0.35 * plot_w / (frames - 1)
    for k, d in enumerate(distances):
        centre = x_at(k + 0.5)
        draw.rectangle([centre - half_bar, y_at(d / bar_top), centre + half_bar, y_at(0.0)], fill=_BAR)
    points = [(x_at(k), y_at(c / line_top)) for k, c in enumerate(cumulative)]
    draw.line(points, fill=_POINT, width=2)
    for x, y in points:
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=_POINT)
    draw.text((margin_left, 6), title, fill=_TEXT)
    draw.text((margin_left, height - margin_bottom + 8),
              f"frame 0 .. {frames - 1}   bars: adjacent distance (left)   line: cumulative (right)", fill=_TEXT)

    array = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(array).unsqueeze(0)
