"""Clips between stills: the pairs each clip joins and the joined video, checked frame by frame."""

import pytest
import torch

from inbetween.clips import clip_pairs, join_clips, joined_length
from inbetween.errors import ArgumentError


def test_pairs_follow_the_stills_and_a_loop_closes_them():
    assert clip_pairs(2, False) == [(0, 1)]
    assert clip_pairs(4, False) == [(0, 1), (1, 2), (2, 3)]
    assert clip_pairs(4, True) == [(0, 1), (1, 2), (2, 3), (3, 0)]
    assert clip_pairs(2, True) == [(0, 1), (1, 0)]


@pytest.mark.parametrize("stills", [0, 1])
def test_fewer_than_two_stills_are_named(stills):
    with pytest.raises(ArgumentError, match="at least 2 stills") as err:
        clip_pairs(stills, True)
    assert err.value.argument == "stills"


def _clips(count, length):
    """Clip c's frame f holds the number 100 c + f in every pixel: which frame landed where is readable."""
    ids = torch.tensor([[100.0 * c + f for f in range(length)] for c in range(count)]).reshape(-1)
    return ids[:, None, None, None].expand(-1, 2, 3, 3).contiguous()


@pytest.mark.parametrize("loop", [False, True])
@pytest.mark.parametrize("count, length", [(1, 5), (3, 5), (4, 9), (2, 2)])
def test_each_boundary_frame_once(count, length, loop):
    frames = _clips(count, length)
    before = frames.clone()
    joined = join_clips(frames, length, loop)
    # Written out: every clip but its last frame, the last clip's last frame only when the video does not loop.
    want = [100.0 * c + f for c in range(count) for f in range(length - 1)]
    if not loop:
        want.append(100.0 * (count - 1) + length - 1)
    assert joined[:, 0, 0, 0].tolist() == want
    assert joined.shape == (joined_length(count, length, loop), 2, 3, 3)
    assert joined.shape[0] == count * (length - 1) + (0 if loop else 1)
    assert torch.equal(frames, before)
    assert joined.data_ptr() != frames.data_ptr()


@pytest.mark.parametrize("frames", [7, 0])
def test_frames_that_are_not_whole_clips_are_named(frames):
    with pytest.raises(ArgumentError, match=f"multiple of 5\\), got {frames} frames") as err:
        join_clips(torch.zeros(frames, 2, 2, 3), 5, False)
    assert err.value.argument == "frames"


def test_clip_length_of_one_is_named():
    with pytest.raises(ArgumentError) as err:
        join_clips(torch.zeros(4, 2, 2, 3), 1, False)
    assert err.value.argument == "clip_length"
