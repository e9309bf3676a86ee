"""Token-layout alignment of two embedding sequences ``[B, tokens, dim]``.

Embedding arithmetic (``e_a + t (e_b - e_a)``) needs both sequences to have the same token
count. Chunked CLIP encoders give 77 tokens per 75-word chunk, so a long and a short prompt
give 154 vs 77 tokens. Padding with zeros would be wrong (CLIP's pad embeddings are not zero,
and the model has never seen zero tokens), so the default is to refuse, and the explicit
alternatives keep only real encoder outputs.

Alignment moves tokens, it computes nothing with them, so NaN or inf values pass through
unchanged (the arithmetic that follows rejects them). Errors: a non-tensor or a non-str
``alignment`` raises ``TypeError``; everything else :class:`~inbetween.errors.ArgumentError`,
named on the sequence to fix (``b`` of :func:`align_tokens`; ``sequences`` with ``index`` for
:func:`align_many`), or on ``alignment`` / ``names``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Optional

import torch

from .errors import ArgumentError
from .validation import check_tensor

TOKEN_ALIGNMENTS: tuple[str, ...] = ("error", "truncate", "repeat_last")

# Which public argument (and element index) holds sequence i.
_Blame = Callable[[int], tuple[str, Optional[int]]]


class TokenCountMismatch(ArgumentError):
    """Two sequences have different token counts and no alignment was chosen.

    ``counts`` are the two token counts and ``names`` the callers' names for the two
    sequences; ``argument`` (and ``index``) name the second one, the sequence to re-encode.
    """

    def __init__(self, function: str, argument: str, index: Optional[int], names: tuple[str, str],
                 counts: tuple[int, int]):
        super().__init__(function, argument, f"{names[0]} has {counts[0]} tokens but {names[1]} has {counts[1]}",
                         index=index)
        self.names = names
        self.counts = counts


def align_tokens(a: torch.Tensor, b: torch.Tensor, alignment: str = "error",
                 names: tuple[str, str] = ("a", "b")) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``a, b`` with equal token counts (dim 1); see :func:`align_many`."""
    first, second = _align("align_tokens", [a, b], alignment, names, lambda i: ("ab"[i], None))
    return first, second


def align_many(sequences: Sequence[torch.Tensor], alignment: str = "error",
               names: Optional[Sequence[str]] = None) -> list[torch.Tensor]:
    """Return the sequences with one common token count (dim 1).

    - ``error``: raise :class:`TokenCountMismatch` naming the first two differing counts.
    - ``truncate``: all cut to ``n = min(n_i)`` tokens, ``x[:, :n]``.
    - ``repeat_last``: each shorter one extended with copies of its own last token ``x[:, -1]``
      to ``n = max(n_i)`` (for CLIP that is an end/pad embedding it really produced).

    Sequences that already have the common count are returned as they are; nothing is
    modified in place. ``names`` label the sequences in messages (default ``sequence i``).
    """
    return _align("align_many", list(sequences), alignment, names, lambda i: ("sequences", i))


def _align(where: str, sequences: list, alignment: str, names: Optional[Sequence[str]],
           blame: _Blame) -> list[torch.Tensor]:
    if not isinstance(alignment, str):
        raise TypeError(f"{where}: alignment must be a str, got {type(alignment).__name__}")
    if alignment not in TOKEN_ALIGNMENTS:
        raise ArgumentError(where, "alignment", f"must be one of {TOKEN_ALIGNMENTS}, got {alignment!r}")
    names = tuple(names) if names is not None else tuple(f"sequence {i}" for i in range(len(sequences)))
    if not sequences or len(names) != len(sequences):
        raise ArgumentError(where, "names", f"must hold one name per sequence ({len(sequences)}), got {len(names)}")
    for i, x in enumerate(sequences):
        argument, index = blame(i)
        check_tensor(x, names[i], where)
        if x.dim() != 3 or x.shape[1] == 0:
            raise ArgumentError(where, argument, f"{names[i]} must be a [batch, tokens, dim] tensor with tokens >= 1, "
                                                 f"got shape {tuple(x.shape)}", index=index)
        if x.shape[2] != sequences[0].shape[2]:
            raise ArgumentError(where, argument, f"{names[0]} has embedding width {sequences[0].shape[2]} but "
                                                 f"{names[i]} has {x.shape[2]}; they come from different text "
                                                 "encoders", index=index)
    counts = [x.shape[1] for x in sequences]
    if len(set(counts)) == 1:
        return list(sequences)
    if alignment == "error":
        other = next(i for i, n in enumerate(counts) if n != counts[0])
        raise TokenCountMismatch(where, *blame(other), (names[0], names[other]), (counts[0], counts[other]))
    if alignment == "truncate":
        n = min(counts)
        return [x[:, :n] for x in sequences]
    n = max(counts)
    return [_repeat_last(x, n) for x in sequences]


def _repeat_last(x: torch.Tensor, tokens: int) -> torch.Tensor:
    missing = tokens - x.shape[1]
    if missing == 0:
        return x
    return torch.cat([x, x[:, -1:].expand(-1, missing, -1)], dim=1)
