"""AID on Wan 2.1 / 2.2 video transformers: a row of the batch is a whole clip ``[C, T, H, W]``.

Wan's blocks run self-attention over a clip's video tokens and cross-attention to its text as separate
attention calls, as a UNet does (``WanSelfAttention``, ``WanT2VCrossAttention``); image-to-video models
(``WanI2VCrossAttention``) make two cross-attention calls, the CLIP image tokens first, then the text. Every
call passes ComfyUI's ``wrap_attn``, so AID takes the same attention override as on the other transformers,
and every block has a ``patches_replace["dit"][("double_block", i)]`` hook, where :class:`WanBlockCalls`
tells the override which block it is in and counts the block's attention calls: the first is the
self-attention, the next the cross-attentions in the order the block's class makes them. The order is the
model code's, fixed per class, and the counting needs no tensor.

``layers`` means what it says here: ``self`` joins the end clips' video tokens to an in-between clip's
self-attention, ``cross`` the end clips' text keys/values (and CLIP image keys/values on I2V) to its
cross-attention, ``self + cross`` both.

The Wan variants whose blocks or sequences differ (VACE, camera control, S2V, HuMo, Animate) are refused by
name: their extra blocks and inputs are not covered by a test.
"""

from __future__ import annotations

from comfy.ldm.wan.model import WanI2VCrossAttention, WanModel

from ..errors import InbetweenInputError
from .config import NODE_NAME, AIDConfig
from .schedule_parts import add_schedule_wrapper
from .transformer import JointAttentionOverride, install_override
from .wrappers import add_wrappers

CALLS_KEY = "inbetween_aid_wan_block"
# The tokens choice of the node's ``layers`` -> the attentions of a Wan block that interpolate.
ROLES = {"all": {"self", "cross", "image_cross"}, "image": {"self"}, "text": {"cross", "image_cross"}}
VARIANTS = {"VaceWanModel": "Wan VACE", "CameraWanModel": "Wan camera control", "WanModel_S2V": "Wan 2.2 S2V",
            "HumoWanModel": "Wan HuMo", "AnimateWanModel": "Wan 2.2 Animate"}


def is_wan(diffusion_model) -> bool:
    return isinstance(diffusion_model, WanModel)


def patch_wan(model, diffusion_model, config: AIDConfig, tokens: str):
    """A clone of ``model`` whose Wan attentions interpolate (``tokens``: ``all``, ``image`` = self-attention,
    ``text`` = cross-attention)."""
    kind = type(diffusion_model)
    if kind is not WanModel:
        name = VARIANTS.get(kind.__name__, f"{kind.__name__} ({kind.__module__})")
        raise InbetweenInputError(NODE_NAME, "model", f"{name} is not supported; AID works on Wan 2.1 T2V / I2V and "
                                                      "Wan 2.2 TI2V 5B / A14B")
    patched = model.clone()
    add_wrappers(patched, config)
    add_schedule_wrapper(patched)  # Wan 2.2 A14B: two models, two samplers, one schedule
    install_override(patched, WanAttentionOverride, tokens)
    existing = patched.model_options["transformer_options"].get("patches_replace", {}).get("dit", {})
    for index, block in enumerate(diffusion_model.blocks):
        roles = ("self", "image_cross", "cross") if isinstance(block.cross_attn, WanI2VCrossAttention) \
            else ("self", "cross")
        wrapped = existing.get(("double_block", index))
        if isinstance(wrapped, WanBlockLayout):
            wrapped = wrapped.previous
        patched.set_model_patch_replace(WanBlockLayout(index, roles, wrapped), "dit", "double_block", index)
    return patched


class WanBlockCalls:
    """The attention calls of one run of block ``index``: ``roles`` in the order the block makes them."""

    def __init__(self, index: int, roles: tuple[str, ...]):
        self.index, self.roles, self.done = index, roles, 0

    def next_role(self) -> str | None:
        """The role of the block's next attention call (``None`` past the block's own: another patch's)."""
        role = self.roles[self.done] if self.done < len(self.roles) else None
        self.done += 1
        return role


class WanBlockLayout:
    """``patches_replace["dit"]`` block wrapper: gives the block's attentions a fresh :class:`WanBlockCalls`.
    A wrapper that was on the block before is called in turn."""

    def __init__(self, index: int, roles: tuple[str, ...], previous=None):
        self.index, self.roles, self.previous = index, roles, previous

    def __call__(self, args: dict, extra: dict) -> dict:
        options = {**args["transformer_options"], CALLS_KEY: WanBlockCalls(self.index, self.roles)}
        args = {**args, "transformer_options": options}
        if self.previous is not None:
            return self.previous(args, extra)
        return extra["original_block"](args)


class WanAttentionOverride(JointAttentionOverride):
    """AID's attention override on Wan: each attention of a block is its self-attention or one of its
    cross-attentions; those ``tokens`` selects join all the end clips' keys/values (every key of that attention:
    a clip's video tokens, its text, its CLIP image tokens)."""

    def site(self, options: dict, q, k):
        calls = options.get(CALLS_KEY)
        if calls is None:
            return None
        role = calls.next_role()
        if role not in ROLES[self.tokens] or (role == "self" and k.shape[2] != q.shape[2]):
            return None
        return ("double_block", calls.index, role), slice(None)
