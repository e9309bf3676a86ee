"""The UNet AID layers recomputed from the paper's formulas, on q/k/v captured in real sampling: :class:`Recorder`
stands in front of a replace patch; :func:`expected` recomputes its output in float64 from the definitions, written
apart from the pack's code."""

import math

import torch


class Recorder:
    """Stands in front of a replace patch and keeps what it was given and what it returned."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __call__(self, q, k, v, options):
        out = self.inner(q, k, v, options)
        self.calls.append(dict(q=q.clone(), k=k.clone(), v=v.clone(), out=out.clone(), heads=options["n_heads"],
                               chunks=list(options.get("cond_or_uncond") or [0])))
        return out


def _softmax_attention(q, k, v):
    """[T, H, D] x [S, H, D] -> [T, H, D], float64, straight from the definition."""
    scores = torch.einsum("thd,shd->hts", q, k) / math.sqrt(q.shape[-1])
    return torch.einsum("hts,shd->thd", torch.softmax(scores, dim=-1), v)


def expected(call, coefficients, mode, fused, uncond):
    """The whole layer output recomputed from the paper's formulas on the captured q, k, v.

    ``coefficients``: a two-endpoint schedule's (frame j between the first and last frame at ``t_j``), or for
    keyframes ``{frame: (keyframe A's frame, keyframe B's frame, t)}`` for every in-between frame.
    """
    heads, frames = call["heads"], call["q"].shape[0] // len(call["chunks"])
    inbetweens = coefficients if isinstance(coefficients, dict) else {
        j: (0, frames - 1, coefficients[j]) for j in range(1, frames - 1)}
    q, k, v = (call[x].double().unflatten(-1, (heads, -1)) for x in ("q", "k", "v"))  # [B, T, H, D]
    out = torch.stack([_softmax_attention(q[r], k[r], v[r]) for r in range(q.shape[0])])
    for c, kind in enumerate(call["chunks"]):
        if kind == 1 and not uncond:
            continue
        for frame, (frame_a, frame_b, t) in inbetweens.items():
            row, a, b = c * frames + frame, c * frames + frame_a, c * frames + frame_b
            if mode == "outer":
                key_sets = [(k[a], v[a]), (k[b], v[b])]
                if fused:
                    key_sets = [(torch.cat([k[row], kk]), torch.cat([v[row], vv])) for kk, vv in key_sets]
                (ka, va), (kb, vb) = key_sets
                out[row] = (1 - t) * _softmax_attention(q[row], ka, va) + t * _softmax_attention(q[row], kb, vb)
            else:
                kt, vt = (1 - t) * k[a] + t * k[b], (1 - t) * v[a] + t * v[b]
                if fused:
                    kt, vt = torch.cat([k[row], kt]), torch.cat([v[row], vt])
                out[row] = _softmax_attention(q[row], kt, vt)
    return out.flatten(-2)


def expected_inversion(call, behaviour, spans=None):
    """A picture morph's inversion layer from FreeMorph's definitions on the captured q, k, v (one chunk): every row,
    ends included, gets the rows' mean attention output (``rows_mean``) or the mean of its attention to the first and
    to the last row (``ends_mean``).

    ``spans``: a story's ``[(keyframe frame a, keyframe frame b, in-between frames)]``; each row then gets the same
    within every span holding it (its rows: a, b and the in-betweens; its ends: a and b), averaged over those spans.
    """
    heads = call["heads"]
    q, k, v = (call[x].double().unflatten(-1, (heads, -1)) for x in ("q", "k", "v"))  # [B, T, H, D]
    rows = q.shape[0]
    spans = [(0, rows - 1, range(1, rows - 1))] if spans is None else spans
    own = [_softmax_attention(q[r], k[r], v[r]) for r in range(rows)]
    out = []
    for r in range(rows):
        values = []
        for a, b, inbetweens in spans:
            members = {a, b, *inbetweens}
            if r not in members:
                continue
            if behaviour == "rows_mean":
                values.append(sum(own[j] for j in members) / len(members))
            else:
                values.append((_softmax_attention(q[r], k[a], v[a]) + _softmax_attention(q[r], k[b], v[b])) / 2)
        out.append(sum(values) / len(values))
    return torch.stack(out).flatten(-2)
