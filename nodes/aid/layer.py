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

# (q, k, v, bias) [B, H, T, D] -> [B, H, T, D]: a plain attention in the heads-first layout, with an additive
# bias [B|1, H|1, Tq|1, Tk] or None.
HeadsFirstAttention = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def backend_for(q: torch.Tensor, step: AIDStep, joined: HeadsFirstAttention, masked: bool = False):
    """The log-sum-exp kernel for q's (``[B, H, T, D]``) device, dtype and head size (and a mask, when
    ``masked``), else ``joined`` (the host's attention, so the user's backend: xformers, sage, flash...) on
    joined keys."""
    name = aid.choose_lse_kernel(q.device.type, q.dtype, q.shape[-1], step.cuda_capability, masked)
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
                     adapter_term: Callable[[slice], torch.Tensor] | None = None, tiles: int = 1,
                     bias: torch.Tensor | None = None) -> torch.Tensor:
    """``base`` (the layer's output on the whole batch, rows first) with AID on the in-between rows of ``step``.

    q ``[B, H, Tq, D]``, k and v ``[B, H, Tk, D]``; ``to_base`` turns AID's ``[M, H, Tq, D]`` rows into
    base's layout. ``adapter_term(rows)``, when base came from another pack's patch (IP-Adapter style),
    gives what that patch adds to plain attention on those rows; it is kept: ``out_i = AID_i + term_i``.
    ``tiles`` > 1: the batch is tile-major (tile m of row r at ``m * rows + r``, see :mod:`.tiles`) and
    every tile interpolates against the same tile of its endpoints. ``layer`` names this attention
    among the model's, for the endpoints' keys/values kept across the parts of a split model call.
    ``bias``: the attention's additive mask ``[B|1, H|1, Tq|1, Tk]`` (as ``inbetween.aid.additive_bias`` makes it),
    or ``None``; each row's own keys keep its own rows of it, each endpoint's keys bring the endpoint's.
    """
    rows = q.shape[0] // tiles
    # Endpoints of later parts of this model call, [tiles, H, Te, D]. A layer's key is unique in the model (UNet
    # block and index, dit block and length); an AID patch another patch wrapped may keep the same values twice.
    # Clones: a view would keep the whole batch's tensors alive until the model call ends.
    for row, kept in step.captures:
        endpoint = slice(row, None, rows)
        own_bias = _bias_rows(bias, endpoint)
        step.kept[layer, kept] = aid.KeySet(k[endpoint, :, endpoint_tokens].clone(),
                                            v[endpoint, :, endpoint_tokens].clone(),
                                            None if own_bias is None else own_bias[..., endpoint_tokens].clone())
    if not step.runs:
        return base
    pieces, done = [], 0
    for tile in range(tiles):
        for run in step.runs:
            first, stop = run.first + tile * rows, run.stop + tile * rows
            end_a, end_b = (_endpoint(end, tile, rows, k, v, bias, step, layer, endpoint_tokens)
                            for end in (run.a, run.b))
            own = aid.KeySet(k[first:stop], v[first:stop], _bias_rows(bias, slice(first, stop)))
            mid = to_base(aid.attention_between(q[first:stop], own, end_a, end_b, run.t, config.mode, config.fused,
                                                backend))
            if adapter_term is not None:
                mid = mid + adapter_term(slice(first, stop))
            pieces += [base[done:first], mid]
            done = stop
    pieces.append(base[done:])
    return torch.cat(pieces)


def _bias_rows(bias: torch.Tensor | None, rows: slice) -> torch.Tensor | None:
    """Rows ``rows`` of a per-row bias; a bias of one row serves every row."""
    return bias if bias is None or bias.shape[0] == 1 else bias[rows]


def _endpoint(end, tile: int, rows: int, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None, step: AIDStep,
              layer: Hashable, tokens: slice) -> aid.KeySet:
    """The keys, values ``[1, H, Te, D]`` and bias of endpoint ``end`` for ``tile``: a row of this batch, or kept."""
    if isinstance(end, Kept):
        kept = step.kept.get((layer, end))
        if kept is None:
            raise InbetweenInputError(NODE_NAME, "max_rows", f"attention layer {layer} ran for the in-between frames "
                                      "but not for their endpoints in this model call, so it has no endpoint "
                                      "keys/values to attend to; set max_rows to 0")
        return aid.KeySet(*(None if x is None else x[tile : tile + 1] if x.shape[0] > 1 else x for x in kept))
    row = slice(end + tile * rows, end + tile * rows + 1)
    endpoint_bias = _bias_rows(bias, row)
    return aid.KeySet(k[row, :, tokens], v[row, :, tokens],
                      None if endpoint_bias is None else endpoint_bias[..., tokens])
