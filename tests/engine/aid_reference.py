"""AID's formulas written naively (explicit concatenation, two softmaxes, one row at a time) in float64: the
reference the engine tests and benchmarks/gpu_check.py hold every backend to."""

import math

import torch


def naive_attention(q, k, v, bias=None):
    scores = q.double() @ k.double().transpose(-1, -2) / math.sqrt(q.shape[-1])
    if bias is not None:
        scores = scores + bias.double()
    return torch.softmax(scores, dim=-1) @ v.double()


def naive_aid(q, k, v, t, mode, fused, endpoint_tokens=slice(None), bias=None):
    """The formulas of the AID paper, one in-between row at a time, in float64.

    ``bias`` ``[N, H|1, Tq|1, Tk]``: each key set's scores get its own row's bias; inner mode weighs each
    blended key by ``(1-t) exp(bias_A) + t exp(bias_B)``.
    """
    if bias is None:
        bias = torch.zeros(q.shape[0], 1, 1, k.shape[2], dtype=torch.float64, device=q.device)
    bias = bias.double().expand(q.shape[0], -1, q.shape[2], -1)
    cat = lambda x, y: torch.cat([x, y], dim=-1)  # noqa: E731
    rows = []
    for i in range(1, q.shape[0] - 1):
        ti = float(t[i - 1])
        qi, ki, vi, bi = q[i : i + 1], k[i : i + 1], v[i : i + 1], bias[i : i + 1]
        ka, va, kb, vb = (x[:, :, endpoint_tokens] for x in (k[:1], v[:1], k[-1:], v[-1:]))
        ba, bb = bias[:1, ..., endpoint_tokens], bias[-1:, ..., endpoint_tokens]
        if mode == "outer":
            if fused:
                to_a = naive_attention(qi, torch.cat([ki, ka], dim=2), torch.cat([vi, va], dim=2), cat(bi, ba))
                to_b = naive_attention(qi, torch.cat([ki, kb], dim=2), torch.cat([vi, vb], dim=2), cat(bi, bb))
            else:
                to_a, to_b = naive_attention(qi, ka, va, ba), naive_attention(qi, kb, vb, bb)
            rows.append((1 - ti) * to_a + ti * to_b)
        else:
            kt, vt = (1 - ti) * ka + ti * kb, (1 - ti) * va + ti * vb
            bt = torch.log((1 - ti) * torch.exp(ba) + ti * torch.exp(bb))
            if fused:
                rows.append(naive_attention(qi, torch.cat([ki, kt], dim=2), torch.cat([vi, vt], dim=2), cat(bi, bt)))
            else:
                rows.append(naive_attention(qi, kt, vt, bt))
    return torch.cat(rows)


def padding_mask(rows=5, heads=1, tq=1, tk=9, seed=3, kind="additive"):
    """A key-padding mask of every row (a different number of padded keys per row, as prompts of different
    lengths give), in one of the forms attention receives: ComfyUI's additive ``-finfo.max`` (Qwen-Image), -inf, or
    boolean (True keeps)."""
    g = torch.Generator().manual_seed(seed)
    keep = torch.ones(rows, heads, tq, tk, dtype=torch.bool)
    for row in range(rows):
        keep[row, ..., tk - int(torch.randint(0, tk // 2 + 1, (), generator=g)) :] = False
    if kind == "bool":
        return keep
    fill = -torch.finfo(torch.float32).max if kind == "additive" else -float("inf")
    return torch.zeros(keep.shape).masked_fill(~keep, fill)
