"""Bad and extreme inputs to Beta Coefficient Schedule, Keyframe Schedule, Image Grid and Interpolation Metrics: NaN widgets (NaN
passes ComfyUI's min/max check), NaN images, wrong shapes, single frames, very large frame counts."""

import math

import pytest
import torch

from bad_input import expect_input_error, untouched

SCHEDULE, GRID, METRICS = "Beta Coefficient Schedule", "Image Grid", "Interpolation Metrics"
KEYFRAMES = "Keyframe Schedule"


def _beta(n, frames=5, preset="custom", alpha=2.0, beta=2.0, start=0.0, end=1.0):
    return n.schedule_nodes.BetaCoefficientSchedule.execute(frames, preset, 20, alpha, beta, start, end).args


@pytest.mark.parametrize("name", ["alpha", "beta", "start", "end"])
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_schedule_non_finite_widgets_name_their_input(n, name, value):
    expect_input_error(lambda: _beta(n, **{name: value}), SCHEDULE, name, rf"expected a finite number, got {value!r}")


def test_schedule_engine_errors_name_the_widget(n):
    expect_input_error(lambda: _beta(n, alpha=0.0), SCHEDULE, "alpha", r"must be > 0, got 0\.0")
    expect_input_error(lambda: _beta(n, frames=1), SCHEDULE, "frames", r"got 1")


def test_schedule_of_many_frames(n):
    schedule = _beta(n, frames=4096, preset="classic")[0]
    values = schedule.coefficients
    assert len(values) == 4096 and values[0] == 0.0 and values[-1] == 1.0
    assert list(values) == sorted(values)


def _keyframes(n, segment_frames, keyframes=3):
    return n.schedule_nodes.KeyframeSchedule.execute(keyframes, 8, False, "uniform", 20, 1.0, 1.0,
                                                     segment_frames=segment_frames).args[0]


@pytest.mark.parametrize("segment_frames, shown", [
    # A negative count is refused like 0 and 1, by the node's input (once a raw engine error on segment_frames[1]).
    ("4, -3", r"segment 2 has -3 frame\(s\); a segment needs at least 2"),
    # frames_per_segment's bound holds for the text input too (once it ran out of memory).
    ("100000000, 4", r"expected numbers of at most 4096, got 100000000 \(number 1 of '100000000, 4'\)"),
    ("4, 4097", r"at most 4096, got 4097 \(number 2"),
])
def test_keyframe_segment_frames_out_of_range_name_the_input(n, segment_frames, shown):
    expect_input_error(lambda: _keyframes(n, segment_frames), KEYFRAMES, "segment_frames", shown)


def test_keyframe_segment_frames_at_the_bound(n):
    schedule = _keyframes(n, "4096, 2")
    assert len(schedule.coefficients) == 4096 + 2 + 1
    assert n.schedule_nodes.MAX_SEGMENT_FRAMES == 4096
    bound = n.schedule_nodes.KeyframeSchedule.define_schema().inputs[1]
    assert bound.id == "frames_per_segment" and bound.max == n.schedule_nodes.MAX_SEGMENT_FRAMES


def _grid(n, images, columns=0, padding=2, pad_value=1.0):
    return n.image_nodes.ImageGrid.execute(images, columns, padding, pad_value).args[0]


@pytest.mark.parametrize("value", [math.nan, -math.inf])
def test_grid_pad_value_must_be_finite(n, value):
    expect_input_error(lambda: _grid(n, torch.rand(2, 4, 4, 3), pad_value=value), GRID, "pad_value",
                       rf"expected a finite number, got {value!r}")


@pytest.mark.parametrize("images, shown", [
    (torch.rand(4, 4, 3), r"must be a non-empty 4-D floating tensor, got a torch.float32 tensor of shape \(4, 4, 3\)"),
    (torch.rand(0, 4, 4, 3), r"non-empty 4-D .*shape \(0, 4, 4, 3\)"),
    (torch.full((2, 4, 4, 3), math.nan), r"must be finite, got 96 NaN/inf value\(s\) of 96"),
    ([torch.rand(4, 4, 3)], r"got list"),
])
def test_image_batches_that_are_not_images(n, images, shown):
    with untouched(images):
        expect_input_error(lambda: _grid(n, images), GRID, "images", shown)
        expect_input_error(lambda: n.metrics_nodes.InterpolationMetrics.execute(images, "pixel"), METRICS, "images",
                           shown)


def test_grid_of_many_frames_and_half_precision(n):
    images = torch.rand(300, 2, 2, 3).to(torch.float16)
    grid = _grid(n, images, padding=0)
    assert grid.shape == (1, 2 * 17, 2 * 18, 3)  # 18 columns, 17 rows and grid.dtype == torch.float16
    assert torch.equal(grid[0, :2, :2], images[0])


def test_metrics_of_one_frame_and_of_a_still_sequence(n):
    expect_input_error(lambda: n.metrics_nodes.InterpolationMetrics.execute(torch.rand(1, 4, 4, 3), "pixel"),
                       METRICS, "images", r"expected at least 2 frames, got 1")
    # Documented: identical frames have distance 0 everywhere; smoothness is 1 (every step the same size).
    smoothness, consistency, largest, _, _, total, pdv, ppl, closing = n.metrics_nodes.InterpolationMetrics.execute(
        torch.zeros(3, 4, 4, 3), "pixel").args
    assert (smoothness, consistency, largest, total, pdv, ppl, closing) == (1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
