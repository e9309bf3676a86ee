"""AID in one attention layer, for every model family: the host's attention on the whole batch,
then the in-between rows of each interpolating sequence replaced by interpolated attention.

Running the host's own attention on the whole batch, exactly as the unpatched layer does, keeps
the endpoint rows bit-identical to plain sampling whatever kernel the host picks for that batch
size (cuDNN, flash, sage...), compiled or not. Rows are selected by contiguous slices, one per
sequence, so nothing on this path reads a tensor on the host.
"""

from __future__ import annotations

from typing import Callable

import torch

from ...inbetween import aid
from .config import AIDConfig
from .model_call import AIDStep

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
                     config: AIDConfig, backend, to_base: Callable[[torch.Tensor], torch.Tensor],
                     endpoint_tokens: slice = slice(None),
                     adapter_term: Callable[[slice], torch.Tensor] | None = None) -> torch.Tensor:
    """``base`` (the layer's output on the whole batch, rows first) with AID on the in-between rows of ``step``.

    q ``[B, H, Tq, D]``, k and v ``[B, H, Tk, D]``; ``to_base`` turns AID's ``[M, H, Tq, D]`` rows into
    base's layout. ``adapter_term(rows)``, when base came from another pack's patch (IP-Adapter style),
    gives what that patch adds to plain attention on those rows; it is kept: ``out_i = AID_i + term_i``.
    """
    if not step.sequences:
        return base
    pieces, done = [], 0
    for first, stop in step.sequences:
        rows = slice(first, stop)  # [A, in-betweens, B] of one chunk
        mid = to_base(aid.interpolated_attention(q[rows], k[rows], v[rows], step.t, config.mode, config.fused,
                                                 backend, endpoint_tokens))
        if adapter_term is not None:
            mid = mid + adapter_term(slice(first + 1, stop - 1))
        pieces += [base[done : first + 1], mid]
        done = stop - 1
    pieces.append(base[done:])
    return torch.cat(pieces)
