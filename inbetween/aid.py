"""Attention Interpolation of Diffusion (AID, NeurIPS 2024), training-free.

Frames ``[A, t_1 .. t_{N-2}, B]`` are generated together. Inside every attention layer the
in-between row i (coefficient ``t``) has its own query ``Q_i`` and keys/values ``K_i, V_i``;
rows 0 and N-1 give the endpoints' ``K_A, V_A`` and ``K_B, V_B`` (same layer, same step).
``Attn(Q, K, V) = softmax(Q K^T / sqrt(d)) V`` and ``[X ; Y]`` joins along the token axis.

* outer, fused (AID-O, the default): ``(1-t) Attn(Q_i, [K_i;K_A], [V_i;V_A]) + t Attn(Q_i, [K_i;K_B], [V_i;V_B])``
* outer, pure:  ``(1-t) Attn(Q_i, K_A, V_A) + t Attn(Q_i, K_B, V_B)``
* inner, fused (AID-I): ``Attn(Q_i, [K_i;K_t], [V_i;V_t])`` with ``K_t = (1-t)K_A + tK_B``, ``V_t`` likewise
* inner, pure:  ``Attn(Q_i, K_t, V_t)``

Attention over joined keys is computed without joining them: an attention over key set j
gives ``O_j`` and the log-sum-exp ``L_j`` of its scores, and over the union

    ``Attn(Q, [K_1;K_2], [V_1;V_2]) = (e^{L_1} O_1 + e^{L_2} O_2) / (e^{L_1} + e^{L_2})``.

So fused outer needs three score blocks, against ``K_i``, ``K_A`` and ``K_B``, each computed
once (the naive form computes ``K_i`` twice). The endpoint blocks are shared by every
in-between row, so their queries are folded into one long query sequence against a single
copy of ``K_A`` (resp. ``K_B``): endpoint keys are never copied per row.

Tensors use the ``[batch, heads, tokens, head_dim]`` layout throughout.
"""

from __future__ import annotations

import math

import torch

AID_MODES: tuple[str, ...] = ("outer", "inner")


def attention_with_lse(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``O = softmax(q k^T / sqrt(d)) v`` and ``L = logsumexp(q k^T / sqrt(d))`` per query.

    q ``[B, H, Tq, D]``, k and v ``[B, H, Tk, D]`` -> O ``[B, H, Tq, D]`` in q's dtype and
    L ``[B, H, Tq]`` in float32. On CPU this is the kernel ``scaled_dot_product_attention``
    itself runs (so O matches SDPA bit for bit); elsewhere, or where that kernel is missing,
    an exact computation in query chunks keeps the score matrix small.
    """
    if q.device.type == "cpu" and hasattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu"):
        out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v)
        return out, lse.float()
    return _attention_with_lse_chunked(q, k, v)


def _attention_with_lse_chunked(q, k, v, max_scores: int = 1 << 26):
    scale = 1.0 / math.sqrt(q.shape[-1])
    batch, heads, tokens_q, _ = q.shape
    chunk = max(1, max_scores // max(1, batch * heads * k.shape[-2]))
    outs, lses = [], []
    for start in range(0, tokens_q, chunk):
        scores = torch.matmul(q[:, :, start : start + chunk].float(), k.float().transpose(-1, -2)) * scale
        lse = torch.logsumexp(scores, dim=-1)
        outs.append(torch.matmul(torch.exp(scores - lse.unsqueeze(-1)), v.float()).to(q.dtype))
        lses.append(lse)
    return torch.cat(outs, dim=2), torch.cat(lses, dim=2)


def merge_attention(parts: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Attention over the union of key sets from per-set results ``(O_j, L_j)``.

    ``O = sum_j w_j O_j`` with ``w_j = exp(L_j - logsumexp_j L_j)``: the softmax over all keys
    splits into per-set softmaxes weighted by each set's share of the total mass.
    """
    lses = torch.stack([lse for _, lse in parts])
    weights = torch.softmax(lses, dim=0).unsqueeze(-1)
    merged = sum(weights[j] * out.float() for j, (out, _) in enumerate(parts))
    return merged.to(parts[0][0].dtype)


def _fold_rows(x: torch.Tensor) -> torch.Tensor:
    """``[M, H, T, D] -> [1, H, M*T, D]``: M rows' queries as one sequence against shared keys."""
    rows, heads, tokens, dim = x.shape
    return x.transpose(0, 1).reshape(1, heads, rows * tokens, dim)


def _unfold_rows(x: torch.Tensor, rows: int) -> torch.Tensor:
    """Inverse of :func:`_fold_rows` for outputs ``[1, H, M*T, D]`` and log-sum-exps ``[1, H, M*T]``."""
    heads = x.shape[1]
    return x.reshape(heads, rows, -1, *x.shape[3:]).transpose(0, 1)


def interpolated_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, t, mode: str = "outer",
                           fused: bool = True) -> torch.Tensor:
    """AID attention of the in-between rows of one sequence (formulas in the module docstring).

    ``q`` ``[N, H, Tq, D]`` and ``k``, ``v`` ``[N, H, Tk, D]`` hold rows ``[A, ..., B]``;
    ``t`` holds the N-2 in-between coefficients. Returns ``[N-2, H, Tq, D]`` in q's dtype.
    """
    if mode not in AID_MODES:
        raise ValueError(f"interpolated_attention: mode must be one of {AID_MODES}, got {mode!r}")
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(f"interpolated_attention: q, k, v must be [rows, heads, tokens, head_dim], got "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    rows = q.shape[0]
    if rows < 3 or k.shape[0] != rows or v.shape[0] != rows:
        raise ValueError(f"interpolated_attention: need the same N >= 3 rows [A, in-betweens, B] in q, k, v, got "
                         f"{q.shape[0]}, {k.shape[0]}, {v.shape[0]}")
    t = torch.as_tensor(t, dtype=torch.float32, device=q.device).reshape(-1)
    if t.numel() != rows - 2:
        raise ValueError(f"interpolated_attention: {rows} rows have {rows - 2} in-betweens but t has {t.numel()} values")
    if not torch.isfinite(t).all():
        raise ValueError(f"interpolated_attention: t must be finite, got {t.tolist()}")

    middle = slice(1, rows - 1)
    q_mid, k_mid, v_mid = q[middle], k[middle], v[middle]
    t_out = t.reshape(-1, 1, 1, 1)  # one coefficient per in-between row, over [H, Tq, D]

    if mode == "outer":
        folded = _fold_rows(q_mid)
        out_a, lse_a = attention_with_lse(folded, k[:1], v[:1])
        out_b, lse_b = attention_with_lse(folded, k[-1:], v[-1:])
        part_a = (_unfold_rows(out_a, rows - 2), _unfold_rows(lse_a, rows - 2))
        part_b = (_unfold_rows(out_b, rows - 2), _unfold_rows(lse_b, rows - 2))
        if fused:
            own = attention_with_lse(q_mid, k_mid, v_mid)
            to_a, to_b = merge_attention([own, part_a]), merge_attention([own, part_b])
        else:
            to_a, to_b = part_a[0], part_b[0]
        return ((1 - t_out) * to_a.float() + t_out * to_b.float()).to(q.dtype)

    k_t = ((1 - t_out) * k[:1].float() + t_out * k[-1:].float()).to(k.dtype)
    v_t = ((1 - t_out) * v[:1].float() + t_out * v[-1:].float()).to(v.dtype)
    blend = attention_with_lse(q_mid, k_t, v_t)
    if not fused:
        return blend[0]
    return merge_attention([attention_with_lse(q_mid, k_mid, v_mid), blend])
