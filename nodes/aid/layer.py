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

import comfy.ldm.modules.attention as comfy_attention

from ...inbetween import aid
from .config import AIDConfig
from .model_call import AIDStep

# (q, k, v) [B, T, H*D] -> [B, T, H*D]: the attention the unpatched layer computes.
Attention = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def host_attention(heads: int, options: dict) -> Attention:
    """ComfyUI's ``optimized_attention`` with this layer's heads, precision and options (so its override too)."""
    def attention(q, k, v):
        return comfy_attention.optimized_attention(q, k, v, heads, attn_precision=options.get("attn_precision"),
                                                   transformer_options=options)
    return attention


def backend_for(q: torch.Tensor, heads: int, step: AIDStep, options: dict):
    """The log-sum-exp kernel for q's device, dtype and head size, else the host's attention on joined keys."""
    name = aid.choose_lse_kernel(q.device.type, q.dtype, q.shape[-1] // heads, step.cuda_capability)
    if name is not None:
        return aid.LogSumExpAttention(aid.LSE_KERNELS[name])

    def joined(q, k, v):  # [B, H, T, D] in and out: the user's backend (xformers, sage, flash...) on joined keys
        return comfy_attention.optimized_attention(q, k, v, heads, attn_precision=options.get("attn_precision"),
                                                   skip_reshape=True, skip_output_reshape=True,
                                                   transformer_options=options)
    return aid.JoinedKeyAttention(joined)


def _heads_first(x: torch.Tensor, heads: int) -> torch.Tensor:
    """``[N, T, H*D] -> [N, H, T, D]``."""
    rows, tokens, width = x.shape
    return x.reshape(rows, tokens, heads, width // heads).transpose(1, 2)


def _heads_last(x: torch.Tensor) -> torch.Tensor:
    """``[N, H, T, D] -> [N, T, H*D]``."""
    rows, heads, tokens, dim = x.shape
    return x.transpose(1, 2).reshape(rows, tokens, heads * dim)


def interpolate_rows(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, base: torch.Tensor,
                     step: AIDStep, config: AIDConfig, options: dict, additive: bool = False) -> torch.Tensor:
    """``base`` (the layer's output on the whole batch) with AID on the in-between rows of ``step``.

    q ``[B, Tq, H*D]``, k and v ``[B, Tk, H*D]``, base ``[B, Tq, H*Dv]``. With ``additive``, base came
    from another pack's patch (IP-Adapter style) and what it adds to plain attention is kept on the
    in-between rows: ``out_i = AID_i + (base_i - plain_i)``, exact for additive adapters.
    """
    if not step.sequences:
        return base
    plain = host_attention(heads, options)
    pieces, done = [], 0
    for first, stop in step.sequences:
        rows = slice(first, stop)  # [A, in-betweens, B] of one chunk
        q_s, k_s, v_s = (_heads_first(x[rows], heads) for x in (q, k, v))
        mid = _heads_last(aid.interpolated_attention(q_s, k_s, v_s, step.t, config.mode, config.fused,
                                                     backend_for(q, heads, step, options)))
        inner = slice(first + 1, stop - 1)
        if additive:
            mid = mid + (base[inner] - plain(q[inner], k[inner], v[inner]))
        pieces += [base[done : first + 1], mid]
        done = stop - 1
    pieces.append(base[done:])
    return torch.cat(pieces)
