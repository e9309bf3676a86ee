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
    """Return ``a, b`` with equal token counts (dim 1).

    - ``error``: raise :class:`TokenCountMismatch` naming both counts.
    - ``truncate``: both cut to ``min(n_a, n_b)`` tokens, ``x[:, :n]``.
    - ``repeat_last``: the shorter one extended with copies of its own last token,
      ``x[:, n-1]`` repeated to ``max(n_a, n_b)`` (for CLIP that is an end/pad embedding it
      really produced).

    Equal counts return the inputs themselves; nothing is modified in place.
    """
    if alignment not in TOKEN_ALIGNMENTS:
        raise ValueError(f"align_tokens: alignment must be one of {TOKEN_ALIGNMENTS}, got {alignment!r}")
    for label, x in zip(names, (a, b)):
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[1] == 0:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"align_tokens: {label} must be a [batch, tokens, dim] tensor with tokens >= 1, got {shape}")
    if a.shape[2] != b.shape[2]:
        raise ValueError(f"align_tokens: {names[0]} has embedding width {a.shape[2]} but {names[1]} has "
                         f"{b.shape[2]}; they come from different text encoders")
    n_a, n_b = a.shape[1], b.shape[1]
    if n_a == n_b:
        return a, b
    if alignment == "error":
        raise TokenCountMismatch(names[0], n_a, names[1], n_b)
    if alignment == "truncate":
        n = min(n_a, n_b)
        return a[:, :n], b[:, :n]
    n = max(n_a, n_b)
    return _repeat_last(a, n), _repeat_last(b, n)


def _repeat_last(x: torch.Tensor, tokens: int) -> torch.Tensor:
    missing = tokens - x.shape[1]
    if missing == 0:
        return x
    return torch.cat([x, x[:, -1:].expand(-1, missing, -1)], dim=1)
