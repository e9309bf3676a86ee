"""AID on diffusion transformers: joint text-image attention, reached through ComfyUI's attention override.

Flux (dev, schnell, Kontext; Flux 2 dev and Klein, which ComfyUI builds with the same class), Chroma and Chroma
Radiance (Flux's blocks; Radiance's image tokens are patches of pixels, not of a latent, which AID treats alike)
and Qwen-Image (and Edit) join ``[text; image]`` in every block; SD3 / SD3.5
joins ``[context; x]`` and SD3.5's MMDiT-X adds an image-only attention in some blocks. Every attention of
these models passes ComfyUI's ``wrap_attn``, which hands it to ``transformer_options
["optimized_attention_override"]``: :class:`JointAttentionOverride` computes the host's attention (through the
override that was set before, if any) and puts AID on the in-between rows. A block wrapper
(:class:`JointBlockLayout`, a ``patches_replace["dit"]`` entry, chaining what was there) tells the block's
attentions how their sequence splits, ``[text; image]`` or the image tokens alone, so the endpoint tokens to
join can be chosen: image tokens (the transformer reading of self-attention), text tokens (cross-attention)
or all.
"""

from __future__ import annotations

from typing import NamedTuple

from comfy.ldm.chroma.model import Chroma
from comfy.ldm.chroma_radiance.model import ChromaRadiance
from comfy.ldm.flux.model import Flux
from comfy.ldm.modules.diffusionmodules.mmdit import OpenAISignatureMMDITWrapper
from comfy.ldm.qwen_image.model import QwenImageTransformer2DModel

from ...inbetween.aid import additive_bias
from ..errors import InbetweenInputError
from . import layer
from .config import NODE_NAME, AIDConfig
from .plan import plan_of
from .wrappers import add_wrappers

OVERRIDE = "optimized_attention_override"
LAYOUT_KEY = "inbetween_aid_layout"
TOKEN_CHOICES = ("all", "image", "text")


def _flux_blocks(model: Flux | Chroma) -> list[tuple[str, int, bool]]:
    if any(getattr(block, "flipped_img_txt", False) for block in model.double_blocks):
        raise InbetweenInputError(NODE_NAME, "model", "this Flux-type model joins [image; text] in its double "
                                                      "blocks; AID supports the [text; image] order of Flux")
    return ([("double_block", i, False) for i in range(len(model.double_blocks))]
            + [("single_block", i, True) for i in range(len(model.single_blocks))])


def _qwen_blocks(model: QwenImageTransformer2DModel) -> list[tuple[str, int, bool]]:
    return [("double_block", i, False) for i in range(len(model.transformer_blocks))]


def _sd3_blocks(model: OpenAISignatureMMDITWrapper) -> list[tuple[str, int, bool]]:
    return [("double_block", i, False) for i in range(len(model.joint_blocks))]


# Model class -> the dit block keys ComfyUI looks up, and whether the block gets text and image joined.
FAMILIES = {Flux: _flux_blocks, Chroma: _flux_blocks, ChromaRadiance: _flux_blocks,
            QwenImageTransformer2DModel: _qwen_blocks, OpenAISignatureMMDITWrapper: _sd3_blocks}
SUPPORTED = ("Flux (dev, schnell, Kontext), Flux 2 (dev, Klein), Chroma, Chroma Radiance, Qwen-Image (and Edit), "
             "SD3 / SD3.5, Z-Image (and Turbo), Wan 2.1 (T2V, I2V), Wan 2.2 (TI2V 5B, A14B T2V / I2V)")


def family_blocks(diffusion_model) -> list[tuple[str, int, bool]] | None:
    """The dit blocks of a supported transformer, or None when it is not one."""
    for cls, blocks in FAMILIES.items():
        if type(diffusion_model) is cls:
            return blocks(diffusion_model)
    return None


def patch_transformer(model, diffusion_model, config: AIDConfig, tokens: str):
    """A clone of ``model`` whose joint attentions interpolate (``tokens``: which endpoint tokens join)."""
    blocks = family_blocks(diffusion_model)
    patched = model.clone()
    add_wrappers(patched, config)
    install_override(patched, JointAttentionOverride, tokens)
    options = patched.model_options["transformer_options"]
    existing = options.get("patches_replace", {}).get("dit", {})
    for name, index, joined in blocks:
        wrapped = existing.get((name, index))
        if isinstance(wrapped, JointBlockLayout):
            wrapped = wrapped.previous
        patched.set_model_patch_replace(JointBlockLayout((name, index), joined, wrapped), "dit", name, index)
    return patched


def install_override(patched, override_class, *settings) -> None:
    """Put ``override_class(*settings, previous)`` in ``patched``'s (a fresh clone's) attention override slot,
    chaining the override that was there; a second AID patch replaces the first instead of stacking on it."""
    options = patched.model_options.setdefault("transformer_options", {})
    previous = options.get(OVERRIDE)
    if isinstance(previous, JointAttentionOverride):
        previous = previous.previous
    options[OVERRIDE] = override_class(*settings, previous)


class Layout(NamedTuple):
    """A block's joint sequence: ``text`` tokens, then ``image`` tokens (reference-image tokens included);
    ``block`` is the block's dit key, ``(name, index)``."""

    text: int
    image: int
    block: tuple[str, int]


def layout_of(transformer_options: dict) -> Layout | None:
    """The layout of the block these ``transformer_options`` belong to (``None`` outside a patched block)."""
    return transformer_options.get(LAYOUT_KEY)


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
            text = plan_of(options).text_tokens
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

    def __init__(self, tokens: str, previous=None):
        self.tokens = tokens
        self.previous = previous

    def site(self, options: dict, q, k) -> tuple[tuple, slice] | None:
        """Where this attention is, when AID applies to it: the layer's name among the model's (for endpoints kept
        across a split call) and which endpoint tokens join; ``None`` keeps it plain. ``q``, ``k``: ``[B, H, T, D]``."""
        layout = self.layout(options)
        tokens = None if layout is None else self._endpoint_tokens(q.shape[2], layout)
        # A block's attentions differ by their length (SD3.5's second attention holds the image alone).
        return None if tokens is None else ((*layout.block, q.shape[2]), tokens)

    def layout(self, options: dict) -> Layout | None:
        """The layout of the attention's block (a family without ``dit`` block hooks tells it another way)."""
        return layout_of(options)

    def _attend(self, func, *args, **kwargs):
        if self.previous is not None:
            return self.previous(func, *args, **kwargs)
        return func(*args, **kwargs)

    def __call__(self, func, *args, **kwargs):
        options = kwargs.get("transformer_options") or {}
        plan = plan_of(options)
        heads = args[3] if len(args) > 3 else kwargs["heads"]
        skip_reshape, skip_output = kwargs.get("skip_reshape", False), kwargs.get("skip_output_reshape", False)
        q, k, v = (x if skip_reshape else layer.heads_first(x, heads) for x in args[:3])  # [B, H, T, D]
        site = self.site(options, q, k) if plan.active else None
        if site is None:
            return self._attend(func, *args, **kwargs)
        name, endpoint_tokens = site
        mask = args[4] if len(args) > 4 else kwargs.get("mask")
        bias = None if mask is None else additive_bias(mask, q.dtype)
        if layer.rows_apart(plan, func if self.previous is None else None, q.device):
            host_pieces, base = [(rows, self._attend_rows(func, args, kwargs, rows)) for rows in plan.host_rows], None
        else:
            host_pieces, base = [], self._attend(func, *args, **kwargs)
        passed = {key: value for key, value in kwargs.items()
                  if key not in ("heads", "mask", "skip_reshape", "skip_output_reshape")}
        host = layer.host_attention(lambda *a, **kw: self._attend(func, *a, **kw), heads, **passed)
        pieces = [(rows, out if skip_output else layer.heads_last(out)) for rows, out
                  in layer.interpolate(plan, name, q, k, v, host, bias, endpoint_tokens)]
        return layer.splice(pieces + host_pieces, base)

    def _attend_rows(self, func, args: tuple, kwargs: dict, rows: slice):
        """The host's attention on rows ``rows`` of the call's batch: q, k, v and a per-row mask cut."""
        batch = args[0].shape[0]

        def cut(mask):
            return mask if mask is None or mask.dim() < 3 or mask.shape[0] != batch else mask[rows]

        args = (*(x[rows] for x in args[:3]), *args[3:4], *(cut(mask) for mask in args[4:5]), *args[5:])
        if "mask" in kwargs:
            kwargs = {**kwargs, "mask": cut(kwargs["mask"])}
        return self._attend(func, *args, **kwargs)

    def _endpoint_tokens(self, length: int, layout: Layout) -> slice | None:
        if length == layout.text + layout.image:
            return {"all": slice(None), "image": slice(layout.text, None), "text": slice(0, layout.text)}[self.tokens]
        if length == layout.image and self.tokens != "text":
            return slice(None)  # an image-only attention: self-attention
        return None

