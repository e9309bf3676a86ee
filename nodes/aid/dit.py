"""AID on diffusion transformers: which families are supported and how the patch attaches to them.

Flux (dev, schnell, Kontext) and Qwen-Image (and Edit) join ``[text; image]`` in every block; SD3 /
SD3.5 joins ``[context; x]`` and SD3.5's MMDiT-X adds an image-only attention in some blocks. The
patch puts a :class:`~.joint.JointBlockLayout` on each block (``patches_replace["dit"]``, chaining
what was there) and a :class:`~.joint.JointAttentionOverride` in ``transformer_options`` (chaining
the override that was set), on a clone.
"""

from __future__ import annotations

from comfy.ldm.flux.model import Flux
from comfy.ldm.modules.diffusionmodules.mmdit import OpenAISignatureMMDITWrapper
from comfy.ldm.qwen_image.model import QwenImageTransformer2DModel

from ..errors import InbetweenInputError
from .config import NODE_NAME, AIDConfig
from .joint import JointAttentionOverride, JointBlockLayout
from .model_call import add_wrappers

OVERRIDE = "optimized_attention_override"


def _flux_blocks(model: Flux) -> list[tuple[str, int, bool]]:
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
FAMILIES = {Flux: _flux_blocks, QwenImageTransformer2DModel: _qwen_blocks, OpenAISignatureMMDITWrapper: _sd3_blocks}
SUPPORTED = "Flux (dev, schnell, Kontext), Qwen-Image (and Edit), SD3 / SD3.5"


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
    options = patched.model_options.setdefault("transformer_options", {})
    previous = options.get(OVERRIDE)
    if isinstance(previous, JointAttentionOverride):
        previous = previous.previous  # a second AID patch replaces the first instead of stacking on it
    options[OVERRIDE] = JointAttentionOverride(config, tokens, previous)
    existing = options.get("patches_replace", {}).get("dit", {})
    for name, index, joined in blocks:
        wrapped = existing.get((name, index))
        if isinstance(wrapped, JointBlockLayout):
            wrapped = wrapped.previous
        patched.set_model_patch_replace(JointBlockLayout((name, index), joined, wrapped), "dit", name, index)
    return patched
