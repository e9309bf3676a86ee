"""AID on joint text-image attention (MM-DiT transformers: Flux, Qwen-Image, SD3).

Every attention of these models passes ComfyUI's ``wrap_attn``, which hands it to
``transformer_options["optimized_attention_override"]``: :class:`JointAttentionOverride` computes the
host's attention on the whole batch (through the override that was set before, if any), then puts
AID on the in-between rows. A block wrapper (:class:`JointBlockLayout`, a ``patches_replace["dit"]``
entry) tells the block's attentions how their sequence splits: ``[text; image]`` joint attention, or
the image tokens alone (SD3.5's second attention), so the endpoint tokens to join can be chosen:
image tokens (the transformer reading of self-attention), text tokens (cross-attention) or all.
"""

from __future__ import annotations

from typing import NamedTuple

from ...inbetween.aid import additive_bias
from .config import AIDConfig
from .layer import backend_for, heads_first, heads_last, interpolate_rows
from .step import INACTIVE, STEP_KEY

LAYOUT_KEY = "inbetween_aid_layout"
TOKEN_CHOICES = ("all", "image", "text")


class Layout(NamedTuple):
    """A block's joint sequence: ``text`` tokens, then ``image`` tokens (reference-image tokens included);
    ``block`` is the block's dit key, ``(name, index)``."""

    text: int
    image: int
    block: tuple[str, int]


class JointBlockLayout:
    """``patches_replace["dit"]`` block wrapper: passes the block's :class:`Layout` to its attentions.

    ``joined`` blocks (Flux single blocks) receive text and image already joined as ``img``; their text
    length is the conditioning's. A wrapper that was on the block before is called in turn.
    """

    def __init__(self, block: tuple[str, int], joined: bool, previous=None):
        self.block = block
        self.joined = joined
        self.previous = previous

    def __call__(self, args: dict, extra: dict) -> dict:
        options = args["transformer_options"]
        if self.joined:
            text = options.get(STEP_KEY, INACTIVE).text_tokens
            layout = Layout(text, args["img"].shape[1] - text, self.block)
        else:
            layout = Layout(args["txt"].shape[1], args["img"].shape[1], self.block)
        args = {**args, "transformer_options": {**options, LAYOUT_KEY: layout}}
        if self.previous is not None:
            return self.previous(args, extra)
        return extra["original_block"](args)


class JointAttentionOverride:
    """``optimized_attention_override``: the host's attention, then AID on the in-between rows.

    ``tokens`` picks which endpoint tokens join on a joint sequence (see :data:`TOKEN_CHOICES`); an
    image-only attention joins the endpoints' image tokens unless only text was asked for. Attention
    that is neither (no layout, or another length) stays plain. A mask (Qwen-Image's text padding, Flux
    Redux's ``attn_bias``) is carried: each row's own keys keep its own mask, each endpoint's keys bring
    the endpoint's.
    """

    def __init__(self, config: AIDConfig, tokens: str, previous=None):
        self.config = config
        self.tokens = tokens
        self.previous = previous

    def _attend(self, func, *args, **kwargs):
        if self.previous is not None:
            return self.previous(func, *args, **kwargs)
        return func(*args, **kwargs)

    def __call__(self, func, *args, **kwargs):
        base = self._attend(func, *args, **kwargs)
        options = kwargs.get("transformer_options") or {}
        step, layout = options.get(STEP_KEY, INACTIVE), options.get(LAYOUT_KEY)
        q, k, v = args[:3]
        heads = args[3] if len(args) > 3 else kwargs["heads"]
        mask = args[4] if len(args) > 4 else kwargs.get("mask")
        if not step.active or layout is None:
            return base
        skip_reshape, skip_output = kwargs.get("skip_reshape", False), kwargs.get("skip_output_reshape", False)
        q, k, v = (x if skip_reshape else heads_first(x, heads) for x in (q, k, v))  # [B, H, T, D]
        endpoint_tokens = self._endpoint_tokens(q.shape[2], layout)
        if endpoint_tokens is None:
            return base
        passed = {key: value for key, value in kwargs.items()
                  if key not in ("heads", "mask", "skip_reshape", "skip_output_reshape")}
        bias = None if mask is None else additive_bias(mask, q.dtype)

        def joined(q, k, v, bias):  # [B, H, T, D] in and out, through the same backend and override chain
            return self._attend(func, q, k, v, heads, mask=bias, skip_reshape=True, skip_output_reshape=True,
                                **passed)

        # A block's attentions differ by their length (SD3.5's second attention holds the image alone).
        layer = (*layout.block, q.shape[2])
        return interpolate_rows(q, k, v, base, step, self.config, backend_for(q, step, joined, bias is not None),
                                (lambda rows: rows) if skip_output else heads_last, layer, endpoint_tokens,
                                bias=bias)

    def _endpoint_tokens(self, length: int, layout: Layout) -> slice | None:
        if length == layout.text + layout.image:
            return {"all": slice(None), "image": slice(layout.text, None), "text": slice(0, layout.text)}[self.tokens]
        if length == layout.image and self.tokens != "text":
            return slice(None)  # an image-only attention: self-attention
        return None
