"""The transformer AID layers recomputed from the paper's formulas, on q/k/v (and mask) captured in real sampling.

:class:`OverrideRecorder` stands in front of the AID override and keeps what every attention received and
returned; :func:`expected` recomputes that attention in float64 straight from the definitions, written apart
from the pack's code: plain ``softmax(q k^T / sqrt(d) + mask) v`` for plain rows, the AID formulas for the
in-between rows, each key set scored with its own row's mask (inner mode weighs a blended key by
``(1-t) exp(mask_A) + t exp(mask_B)``).
"""

import math

import torch


def heads_first(x, heads, skip):
    return x if skip else x.reshape(x.shape[0], x.shape[1], heads, -1).transpose(1, 2)


class OverrideRecorder:
    """Stands in front of the AID override and keeps each attention's inputs, mask, options and output."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __call__(self, func, *args, **kwargs):
        out = self.inner(func, *args, **kwargs)
        heads = args[3] if len(args) > 3 else kwargs["heads"]
        mask = args[4] if len(args) > 4 else kwargs.get("mask")
        q, k, v = (heads_first(x, heads, kwargs.get("skip_reshape")) for x in args[:3])
        out_h = heads_first(out, heads, kwargs.get("skip_output_reshape"))
        # The options as they are at this call: a model may set block_index in place for its next layer.
        self.calls.append(dict(q=q.clone(), k=k.clone(), v=v.clone(), out=out_h.clone(),
                               mask=None if mask is None else mask.clone(),
                               options=dict(kwargs["transformer_options"])))
        return out


def mask_as_bias(mask, rows, tq, tk):
    """A mask as ComfyUI's attention reads it (2-D: every row; 3-D: per row; boolean keeps True), as a float64
    bias ``[rows, 1 | H, tq, tk]``."""
    if mask is None:
        return torch.zeros(rows, 1, tq, tk, dtype=torch.float64)
    if mask.dtype == torch.bool:
        mask = torch.where(mask, 0.0, -math.inf)
    mask = mask.double()
    if mask.dim() == 2:
        mask = mask[None]
    if mask.dim() == 3:
        mask = mask[:, None]
    return mask.expand(rows, -1, tq, tk)


def softmax_attention(q, k, v, bias=None):
    """[H, T, D] x [H, S, D] (bias [H | 1, T, S]) -> [H, T, D] in float64, straight from the definition."""
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    return torch.softmax(scores if bias is None else scores + bias, dim=-1) @ v


def expected(call, weights, mode, fused, tokens, patch, layout=None, chosen=None):
    """The layer output recomputed from the paper's formulas on the captured joint q, k, v and mask (float64);
    ``patch`` is the pack's attention_patch package, whose plan says which chunks interpolate in this call and
    whose layout how the sequence splits. ``weights``: a two-endpoint schedule's in-between weights, or for
    keyframes ``{frame: (keyframe A's frame, keyframe B's frame, t)}`` for every in-between frame.
    ``layout``: the joint sequence's split as the test knows it, for a family whose blocks do not carry one;
    ``chosen``: the endpoint keys that join, where the test knows them without a layout (Wan's separate
    attentions: all of them)."""
    q, k, v = (call[x].double() for x in ("q", "k", "v"))
    bias = mask_as_bias(call["mask"], q.shape[0], q.shape[2], k.shape[2])
    out = torch.stack([softmax_attention(q[r], k[r], v[r], bias[r]) for r in range(q.shape[0])])
    plan = patch.plan_of(call["options"])
    layout = layout or patch.layout_of(call["options"])
    length = q.shape[2]
    if chosen is not None:
        pass
    elif layout is None:
        return out
    elif length == layout.text + layout.image:
        chosen = {"all": slice(None), "image": slice(layout.text, None), "text": slice(0, layout.text)}[tokens]
    elif length == layout.image and tokens != "text":
        chosen = slice(None)
    else:
        return out
    frames = q.shape[0] // len(call["options"].get("cond_or_uncond") or [0])
    inbetweens = weights if isinstance(weights, dict) else {
        j + 1: (0, frames - 1, w) for j, w in enumerate(weights)}
    for chunk in sorted({segment.first // frames for segment in plan.segments}):
        for frame, (frame_a, frame_b, t) in inbetweens.items():
            row, a, b = (chunk * frames + f for f in (frame, frame_a, frame_b))
            (ka, va, ba), (kb, vb, bb) = ((k[r][:, chosen], v[r][:, chosen], bias[r][..., chosen]) for r in (a, b))
            own = (k[row], v[row], bias[row])
            if mode == "outer":
                sets = [(ka, va, ba), (kb, vb, bb)]
                if fused:
                    sets = [tuple(torch.cat([mine, theirs], -2 if i < 2 else -1) for i, (mine, theirs)
                                  in enumerate(zip(own, other))) for other in sets]
                out[row] = (1 - t) * softmax_attention(q[row], *sets[0]) + t * softmax_attention(q[row], *sets[1])
            else:
                blend = ((1 - t) * ka + t * kb, (1 - t) * va + t * vb,
                         torch.log((1 - t) * torch.exp(ba) + t * torch.exp(bb)))
                if fused:
                    blend = tuple(torch.cat([mine, theirs], -2 if i < 2 else -1) for i, (mine, theirs)
                                  in enumerate(zip(own, blend)))
                out[row] = softmax_attention(q[row], *blend)
    return out


def expected_inversion(call, behaviour):
    """A picture morph's inversion on a joint attention from FreeMorph's definitions (float64, one chunk, all of the
    ends' tokens): every row gets the rows' mean attention (``rows_mean``) or the mean of its attention to the first and
    to the last row (``ends_mean``)."""
    q, k, v = (call[x].double() for x in ("q", "k", "v"))
    bias = mask_as_bias(call["mask"], q.shape[0], q.shape[2], k.shape[2])
    rows, last = q.shape[0], q.shape[0] - 1
    if behaviour == "rows_mean":
        mean = torch.stack([softmax_attention(q[r], k[r], v[r], bias[r]) for r in range(rows)]).mean(dim=0)
        return mean.expand(rows, *mean.shape)
    return torch.stack([(softmax_attention(q[r], k[0], v[0], bias[0]) + softmax_attention(q[r], k[last], v[last],
                                                                                          bias[last])) / 2
                        for r in range(rows)])
