"""Keyframed sequences: the layout of frames and spans, and every frame's value."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from inbetween.errors import ArgumentError
from inbetween.interpolation import interpolate
from inbetween.keyframes import (beta_keyframes, interpolate_keyframes, keyframe_layout, span_mean_weights,
                                 two_endpoints)
from inbetween.schedules import beta_schedule


def _values(keyframes, shape=(6, 8), seed=0):
    return torch.randn(keyframes, *shape, generator=torch.Generator().manual_seed(seed))


def test_an_open_layout_by_hand():
    layout = keyframe_layout([[0.0, 0.5, 1.0], [0.0, 0.25, 0.75, 1.0]])
    assert layout.keyframes == 3 and layout.frames == 6 and not layout.loop
    assert layout.keyframe_frames == (0, 2, 5)
    assert layout.span_frames == (range(1, 2), range(3, 5))
    assert layout.coefficients == (0.0, 0.5, 0.0, 0.25, 0.75, 1.0)
    assert [(span.a, span.b) for span in layout.spans] == [(0, 1), (1, 2)]
    assert layout.spans[1].weights == (0.25, 0.75)


def test_a_loop_returns_to_the_first_keyframe_without_repeating_it():
    layout = keyframe_layout([[0.0, 0.5, 1.0]] * 3, loop=True)
    assert layout.keyframes == 3 and layout.frames == 6
    assert layout.keyframe_frames == (0, 2, 4)
    assert layout.span_frames[-1] == range(5, 6)
    assert (layout.spans[-1].a, layout.spans[-1].b) == (2, 0)
    values = _values(3)
    frames = interpolate_keyframes(values, layout, "slerp")
    assert frames.shape[0] == 6
    for j, frame in enumerate(layout.keyframe_frames):
        assert torch.equal(frames[frame], values[j])
    # The closing in-between is half way from the last keyframe back to the first; frame 0 follows it.
    torch.testing.assert_close(frames[5], interpolate(values[2:3], values[0:1], 0.5, "slerp")[0], rtol=0, atol=0)


def test_weights_are_relative_to_the_span_ends():
    layout = two_endpoints([0.0, 0.3, 0.9, 1.5])
    assert layout.is_two_endpoints
    torch.testing.assert_close(torch.tensor(layout.spans[0].weights), torch.tensor([0.2, 0.6]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", ["lerp", "slerp", "normalized_lerp"])
def test_every_frame_interpolates_its_own_span(method):
    layout = beta_keyframes(4, [3, 4, 2], 2.0, 2.0)
    values = _values(4)
    frames = interpolate_keyframes(values, layout, method)
    assert frames.shape == (layout.frames, 6, 8) and layout.frames == 3 + 4 + 2 + 1
    for s, span in enumerate(layout.spans):
        start = layout.keyframe_frames[s]
        for i, c in enumerate(span.coefficients[:-1]):
            expected = interpolate(values[span.a : span.a + 1], values[span.b : span.b + 1], c, method)[0]
            torch.testing.assert_close(frames[start + i], expected, rtol=0, atol=0)
    assert torch.equal(frames[-1], values[-1])


def test_two_endpoints_give_the_two_endpoint_sequence():
    a, b = _values(1, seed=1), _values(1, seed=2)
    t = [0.0, 0.1, 0.6, 1.5]
    frames = interpolate_keyframes(torch.cat([a, b]), two_endpoints(t), "lerp")
    torch.testing.assert_close(frames, interpolate(a, b, t, "lerp"), rtol=0, atol=0)


def test_beta_keyframes_use_the_beta_prior_in_every_span():
    layout = beta_keyframes(3, [5, 5, 5], 7.0, 7.0, loop=True)
    expected = tuple(beta_schedule(6, 7.0, 7.0).tolist())
    assert all(span.coefficients == expected for span in layout.spans)
    assert layout.frames == 15 and layout.keyframe_frames == (0, 5, 10)


def test_a_guide_per_segment_or_one_for_all():
    layout = beta_keyframes(3, [3, 3], 1.0, 1.0)
    values, guides = _values(3), _values(2, seed=5)
    frames = interpolate_keyframes(values, layout, "lerp", guides=guides)
    for s, frames_of_span in enumerate(layout.span_frames):
        for n in frames_of_span:
            assert torch.equal(frames[n], guides[s])
    one = interpolate_keyframes(values, layout, "lerp", guides=guides[:1])
    assert all(torch.equal(one[n], guides[0]) for n in layout.span_frames[1])
    for j, n in enumerate(layout.keyframe_frames):
        assert torch.equal(frames[n], values[j]) and torch.equal(one[n], values[j])


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(2, 6), min_size=1, max_size=5), loop=st.booleans())
def test_frame_counts_and_keyframe_positions(counts, loop):
    keyframes = len(counts) if loop else len(counts) + 1
    if keyframes < 2:
        return
    layout = beta_keyframes(keyframes, counts, 3.0, 3.0, loop)
    assert layout.frames == sum(counts) + (0 if loop else 1)
    assert len(layout.coefficients) == layout.frames
    # Every frame is a keyframe or an in-between of exactly one span.
    covered = sorted([*layout.keyframe_frames, *(n for frames in layout.span_frames for n in frames)])
    assert covered == list(range(layout.frames))
    for j, n in enumerate(layout.keyframe_frames):
        assert layout.coefficients[n] == 0.0 or (not loop and j == keyframes - 1)


def test_span_mean_weights_by_hand():
    """Open, 3 keyframes at frames 0, 2, 5: spans {0, 1, 2} and {2, 3, 4, 5}. Frame 2 belongs to both: half of
    each span's mean."""
    layout = keyframe_layout([[0.0, 0.5, 1.0], [0.0, 0.25, 0.75, 1.0]])
    assert layout.span_members == ((0, 1, 2), (2, 3, 4, 5))
    third, quarter = 1 / 3, 1 / 4
    expected = [[third, third, third, 0, 0, 0]] * 2 + [[third / 2, third / 2, third / 2 + quarter / 2] + [quarter / 2] * 3] \
        + [[0, 0, quarter, quarter, quarter, quarter]] * 3
    torch.testing.assert_close(torch.tensor(span_mean_weights(layout), dtype=torch.float64), torch.tensor(expected, dtype=torch.float64),
                               rtol=0, atol=1e-15)


def test_span_mean_weights_of_a_loop_wrap_to_the_first_keyframe():
    """Loop, 2 keyframes at frames 0, 2 of 4: spans {0, 1, 2} and {2, 3, 0}; both keyframes hold the same 5 frames."""
    layout = keyframe_layout([[0.0, 0.5, 1.0], [0.0, 0.5, 1.0]], loop=True)
    assert layout.span_members == ((0, 1, 2), (0, 2, 3))
    weights = torch.tensor(span_mean_weights(layout), dtype=torch.float64)
    torch.testing.assert_close(weights[1], torch.tensor([1 / 3, 1 / 3, 1 / 3, 0], dtype=torch.float64))
    torch.testing.assert_close(weights[0], torch.tensor([1 / 3, 1 / 6, 1 / 3, 1 / 6], dtype=torch.float64))
    torch.testing.assert_close(weights[0], weights[2])


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(2, 6), min_size=1, max_size=5), loop=st.booleans())
def test_span_mean_weights_average_each_frames_spans(counts, loop):
    """Every row sums to 1 and reaches only frames of the spans holding its frame; two endpoints are FreeMorph's mean
    of every frame."""
    keyframes = len(counts) if loop else len(counts) + 1
    if keyframes < 2:
        return
    layout = beta_keyframes(keyframes, counts, 3.0, 3.0, loop)
    weights = torch.tensor(span_mean_weights(layout), dtype=torch.float64)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(layout.frames, dtype=torch.float64))
    for i in range(layout.frames):
        reach = set().union(*(span for span in layout.span_members if i in span))
        assert {j for j in range(layout.frames) if weights[i, j] > 0} == reach
    if layout.is_two_endpoints:
        torch.testing.assert_close(weights, torch.full_like(weights, 1 / layout.frames), rtol=0, atol=1e-15)


def test_bad_layouts_are_named():
    with pytest.raises(ArgumentError, match="segment 2 has 1 frame") as err:
        beta_keyframes(3, [4, 1], 2.0, 2.0)
    assert err.value.argument == "segment_frames" and err.value.index == 1
    with pytest.raises(ArgumentError, match="segment 2 has -3 frame") as err:  # not an unnamed segment_frames[1]
        beta_keyframes(3, [4, -3], 2.0, 2.0)
    assert err.value.argument == "segment_frames" and err.value.index == 1
    with pytest.raises(TypeError, match=r"segment_frames\[1\] must be an int, got float 2.0"):
        beta_keyframes(3, [4, 2.0], 2.0, 2.0)
    with pytest.raises(ArgumentError, match="make 3 segments, but 2"):
        beta_keyframes(3, [4, 4], 2.0, 2.0, loop=True)
    with pytest.raises(ArgumentError, match="keyframes"):
        beta_keyframes(1, [], 2.0, 2.0)
    with pytest.raises(ArgumentError, match="span 0 has 1 coefficient"):
        keyframe_layout([[0.0]])
    with pytest.raises(ArgumentError, match="at least 2 span"):
        keyframe_layout([[0.0, 0.5, 1.0]], loop=True)
    layout = beta_keyframes(3, [3, 3], 2.0, 2.0)
    with pytest.raises(ArgumentError, match="one row per keyframe \\(3\\)") as err:
        interpolate_keyframes(_values(2), layout)
    assert err.value.argument == "values"
    with pytest.raises(ArgumentError, match="one per segment \\(2\\)") as err:
        interpolate_keyframes(_values(3), layout, guides=_values(3))
    assert err.value.argument == "guides"


def test_inputs_are_not_modified():
    values = _values(3)
    before = values.clone()
    interpolate_keyframes(values, beta_keyframes(3, [3, 3, 3], 2.0, 2.0, loop=True), "slerp")
    assert torch.equal(values, before)
