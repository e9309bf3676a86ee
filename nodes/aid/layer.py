"""AID in one attention layer, for every model family: the host's attention on the whole batch,
then the in-between rows of each interpolating sequence replaced by interpolated attention.

Running the host's own attention on the whole batch, exactly as the unpatched layer does, keeps
the endpoint rows bit-identical to plain sampling whatever kernel the host picks for that batch
size (cuDNN, flash, sage...), compiled or not. Rows are selected by contiguous slices, one per
sequence, so nothing on this path reads a tensor on the host.
"""

from __future__ import annotations

from typing import Callable, Hashable

import torch

from ...inbetween import aid
from ..errors import InbetweenInputError
from .config import NODE_NAME, AIDConfig
from .step import AIDStep, Kept

# (q, k, v) [B, H, T, D] -> [B, H, T, D]: a plain attention in the heads-first layout.
HeadsFirstAttention = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def backend_for(q: torch.Tensor, step: AIDStep, joined: HeadsFirstAttention):
    """The log-sum-exp kernel for q's (``[B, H, T, D]``) device, dtype and head size, else ``joined``
    (the host's attention, so the user's backend: xformers, sage, flash...) on joined keys."""
    name = aid.choose_lse_kernel(q.device.type, q.dtype, q.shape[-1], step.cuda_capability)
    if name is not None:
        return aid.LogSumExpAttention(aid.LSE_KERNELS[name])
    return aid.JoinedKeyAttention(joined)


def heads_first(x: torch.Tensor, heads: int) -> torch.Tensor:
    """``[N, T, H*D]`` (or ``[N, T, H, D]``, as SD3 passes its values) ``-> [N, H, T, D]``, a view."""
    return x.reshape(x.shape[0], x.shape[1], heads, -1).transpose(1, 2)


def heads_last(x: torch.Tensor) -> torch.Tensor:
    """``[N, H, T, D] -> [N, T, H*D]``."""
    rows, heads, tokens, dim = x.shape
    return x.transpose(1, 2).reshape(rows, tokens, heads * dim)


def interpolate_rows(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, base: torch.Tensor, step: AIDStep,
                     config: AIDConfig, backend, to_base: Callable[[torch.Tensor], torch.Tensor], layer: Hashable,
                     endpoint_tokens: slice = slice(None),
                     adapter_term: Callable[[slice], torch.Tensor] | None = None, tiles: int = 1) -> torch.Tensor:
    """``base`` (the layer's output on the whole batch, rows first) with AID on the in-between rows of ``step``.

    q ``[B, H, Tq, D]``, k and v ``[B, H, Tk, D]``; ``to_base`` turns AID's ``[M, H, Tq, D]`` rows into
    base's layout. ``adapter_term(rows)``, when base came from another pack's patch (IP-Adapter style),
    gives what that patch adds to plain attention on those rows; it is kept: ``out_i = AID_i + term_i``.
    ``tiles`` > 1: the batch is tile-major (tile m of row r at ``m * rows + r``, see :mod:`.tiles`) and
    every tile interpolates against the same tile of its endpoints. ``layer`` names this attention
    among the model's, for the endpoints' keys/values kept across the parts of a split model call.
    """
    rows = q.shape[0] // tiles
    # Endpoints of later parts of this model call, [tiles, H, Te, D]. A layer's key is unique in the model (UNet
    # block and index, dit block and length); an AID patch another patch wrapped may keep the same values twice.
    for row, kept in step.captures:
        step.kept[layer, kept] = tuple(x[row::rows, :, endpoint_tokens].clone() for x in (k, v))
    if not step.runs:
        return base
    pieces, done = [], 0
    for tile in range(tiles):
        for run in step.runs:
            first, stop = run.first + tile * rows, run.stop + tile * rows
            end_a, end_b = (_endpoint(end, tile, rows, k, v, step, layer, endpoint_tokens) for end in (run.a, run.b))
            mid = to_base(aid.attention_between(q[first:stop], (k[first:stop], v[first:stop]), end_a, end_b, run.t,
                                                config.mode, config.fused, backend))
            if adapter_term is not None:
                mid = mid + adapter_term(slice(first, stop))
            pieces += [base[done:first], mid]
            done = stop
    pieces.append(base[done:])
    return torch.cat(pieces)


def _endpoint(end, tile: int, rows: int, k: torch.Tensor, v: torch.Tensor, step: AIDStep, layer: Hashable,
              tokens: slice) -> tuple[torch.Tensor, torch.Tensor]:
    """The keys and values ``[1, H, Te, D]`` of endpoint ``end`` for ``tile``: a row of this batch, or kept."""
    if isinstance(end, Kept):
        kept = step.kept.get((layer, end))
        if kept is None:
            raise InbetweenInputError(NODE_NAME, "max_rows", f"attention layer {layer} ran for the in-between frames "
                                      "but not for their endpoints in this model call, so it has no endpoint "
                                      "keys/values to attend to; set max_rows to 0")
        return tuple(x[tile : tile + 1] for x in kept)
    row = end + tile * rows
    return k[row : row + 1, :, tokens], v[row : row + 1, :, tokens]
