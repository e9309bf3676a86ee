"""Video morphs from stills: which stills each clip joins, and the joined video without repeated boundaries.

N stills ``s_0 .. s_{N-1}`` make the clips ``c_i = (s_i -> s_{i+1})`` for ``i = 0 .. N-2``; a loop adds
``c_{N-1} = (s_{N-1} -> s_0)``, so R = N - 1 clips (N for a loop). Clip i of L frames
``c_i[0] .. c_i[L-1]`` starts at its first still and ends at its second, so neighbouring clips show the same still
twice (``c_i[L-1]`` and ``c_{i+1}[0]``). Joined, each boundary is shown once:

    video = c_0[0 : L-1] ++ c_1[0 : L-1] ++ ... ++ c_{R-1}[0 : L-1] (++ c_{R-1}[L-1] unless a loop)

``R (L - 1) + 1`` frames, ``(N - 1)(L - 1) + 1``; a loop ``N (L - 1)``: its last clip's last frame is the first
clip's first, which the video starts with (played in a loop, it follows the last frame).

Which copy of a boundary stays: the next clip's first frame. Wan's first-last-frame conditioning gives a clip's
first picture as a whole latent frame (its 4 mask channels all "given"), its last picture as one channel of four of
the last latent frame (the causal VAE packs frames 4k-3 .. 4k into latent frame k), so a clip's first frame is the
closer copy of its still. Only the last clip's end has no successor and stays.

Errors: wrong types raise ``TypeError``; counts these functions cannot use raise
:class:`~inbetween.errors.ArgumentError` naming ``stills``, ``frames`` or ``clip_length``.
"""

from __future__ import annotations

import torch

from .errors import ArgumentError
from .validation import check_integer, check_tensor


def clip_pairs(stills: int, loop: bool) -> list[tuple[int, int]]:
    """The (first still, last still) of every clip: ``(i, i + 1)`` for ``i < N - 1``, and ``(N - 1, 0)`` for a loop.

    At least 2 stills: one still makes no clip (a loop of one would be a still standing still).
    """
    where = "clip_pairs"
    count = check_integer(stills, "stills", where, 0)
    if not isinstance(loop, bool):
        raise TypeError(f"{where}: loop must be a bool, got {type(loop).__name__}")
    if count < 2:
        raise ArgumentError(where, "stills", f"needs at least 2 stills to make a clip, got {count}")
    pairs = [(i, i + 1) for i in range(count - 1)]
    return pairs + [(count - 1, 0)] if loop else pairs


def joined_length(clips: int, clip_length: int, loop: bool) -> int:
    """Frames of the joined video: ``R (L - 1) + 1`` for R clips of L frames, ``R (L - 1)`` for a loop."""
    return clips * (clip_length - 1) + (0 if loop else 1)


def join_clips(frames: torch.Tensor, clip_length: int, loop: bool) -> torch.Tensor:
    """``frames`` ``[R * L, ...]`` (R clips of L frames one after the other, as VAE Decode gives a batch of clips)
    joined with every shared boundary frame once (module docstring): each clip without its last frame, then the last
    clip's last frame unless ``loop``. Returns a new tensor; ``frames`` is not changed."""
    where = "join_clips"
    frames = check_tensor(frames, "frames", where)
    length = check_integer(clip_length, "clip_length", where, 2)
    if not isinstance(loop, bool):
        raise TypeError(f"{where}: loop must be a bool, got {type(loop).__name__}")
    total = frames.shape[0] if frames.dim() else 0
    if total == 0 or total % length:
        raise ArgumentError(where, "frames", f"expected whole clips of clip_length {length} frames (a multiple of "
                                             f"{length}), got {total} frames")
    clips = frames.reshape(total // length, length, *frames.shape[1:])
    body = clips[:, :-1].reshape(-1, *frames.shape[1:])
    return body.clone() if loop else torch.cat([body, clips[-1, -1:]])
