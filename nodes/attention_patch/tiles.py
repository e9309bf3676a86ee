"""Attention over tiles: patches that move parts of each image into the batch (HyperTile).

HyperTile's ``attn1_patch`` rearranges the queries ``[B, (nh h nw w), C] -> [(B nh nw), (h w), C]``
and leaves keys and values ``[B, tokens, C]``; the host's attention then views them with the queries'
batch (``k.view(q.shape[0], -1, heads, dim)``). Row ``b * tiles + m`` is tile m of model row b, so a
sequence's rows are no longer contiguous. Regrouped tile-major, ``[(tiles B), ...]``, every tile is a
copy of the model batch's layout: AID then runs per tile, tile m of an in-between frame against tile
m of the endpoints, on the keys the host's attention would use.
"""

from __future__ import annotations

import torch
from einops import rearrange

from ..errors import InbetweenInputError
from .config import NODE_NAME


def tile_count(q: torch.Tensor, rows: int) -> int:
    """How many tiles each of the model's ``rows`` became in this layer (1 when the batch is untouched)."""
    if q.shape[0] % rows:
        raise InbetweenInputError(NODE_NAME, "model", f"an attention layer got a batch of {q.shape[0]} rows for a model "
                                              f"batch of {rows}; a patch before AID regrouped the batch in a way AID "
                                              "cannot follow (HyperTile-style tiling keeps whole multiples)")
    return q.shape[0] // rows


def tile_major(x: torch.Tensor, rows: int, tiles: int) -> torch.Tensor:
    """``[(rows tiles), T, C]`` (or untiled ``[rows, T * tiles, C]``, viewed as the host does) to ``[(tiles rows), T, C]``."""
    x = x.reshape(rows * tiles, -1, x.shape[-1])
    return rearrange(x, "(rows tiles) t c -> (tiles rows) t c", tiles=tiles)


def row_major(x: torch.Tensor, rows: int, tiles: int) -> torch.Tensor:
    """Inverse of :func:`tile_major`: back to the layer's ``[(rows tiles), T, C]``."""
    return rearrange(x, "(tiles rows) t c -> (rows tiles) t c", tiles=tiles)

