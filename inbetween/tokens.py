"""Token-layout alignment of two embedding sequences ``[B, tokens, dim]``.

Embedding arithmetic (``e_a + t (e_b - e_a)``) needs both sequences to have the same token
count. Chunked CLIP encoders give 77 tokens per 75-word chunk, so a long and a short prompt
give 154 vs 77 tokens. Padding with zeros would be wrong (CLIP's pad embeddings are not zero,
and the model has never seen zero tokens), so the default is to refuse, and the explicit
alternatives keep only real encoder outputs.
"""

from __future__ import annotations

import torch

TOKEN_ALIGNMENTS: tuple[str, ...] = ("error", "truncate", "repeat_last")


class TokenCountMismatch(ValueError):
    """Two sequences have different token counts and no alignment was chosen."""

    def __init__(self, first: str, first_count: int, second: str, second_count: int):
        self.counts = (first_count, second_count)
        super().__init__(f"{first} has {first_count} tokens but {second} has {second_count}")


def align_tokens(a: torch.Tensor, b: torch.Tensor, alignment: str = "error",
                 names: tuple[str, str] = ("a", "b")) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``a, b`` with equal token counts (dim 1); see :func:`align_many`."""
    first, second = align_many([a, b], alignment, names)
    return first, second


def align_many(sequences: list[torch.Tensor], alignment: str = "error",
               names: tuple[str, ...] | None = None) -> list[torch.Tensor]:
    """Return the sequences with one common token count (dim 1).

    - ``error``: raise :class:`TokenCountMismatch` naming the first two differing counts.
    - ``truncate``: all cut to ``n = min(n_i)`` tokens, ``x[:, :n]``.
    - ``repeat_last``: each shorter one extended with copies of its own last token ``x[:, -1]``
      to ``n = max(n_i)`` (for CLIP that is an end/pad embedding it really produced).

    Sequences that already have the common count are returned as they are; nothing is
    modified in place.
    """
    names = tuple(names) if names is not None else tuple(f"sequence {i}" for i in range(len(sequences)))
    if alignment not in TOKEN_ALIGNMENTS:
        raise ValueError(f"align_tokens: alignment must be one of {TOKEN_ALIGNMENTS}, got {alignment!r}")
    if not sequences or len(names) != len(sequences):
        raise ValueError(f"align_tokens: need one name per sequence, got {len(names)} names for {len(sequences)}")
    for label, x in zip(names, sequences):
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[1] == 0:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"align_tokens: {label} must be a [batch, tokens, dim] tensor with tokens >= 1, got {shape}")
    first = sequences[0]
    for label, x in zip(names[1:], sequences[1:]):
        if x.shape[2] != first.shape[2]:
            raise ValueError(f"align_tokens: {names[0]} has embedding width {first.shape[2]} but {label} has "
                             f"{x.shape[2]}; they come from different text encoders")
    counts = [x.shape[1] for x in sequences]
    if len(set(counts)) == 1:
        return list(sequences)
    if alignment == "error":
        other = next(i for i, n in enumerate(counts) if n != counts[0])
        raise TokenCountMismatch(names[0], counts[0], names[other], counts[other])
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
