"""The AID model patch: what AID Attention Patch puts on a model, and how one model call runs through it.

A model call's path (every hop a file of this package, the math in ``inbetween/aid.py``):

1. :mod:`.wrappers` - ``ModelCallWrapper``, a ``comfy.patcher_extension`` ``APPLY_MODEL`` wrapper, reads the
   sampler's step, the chunks (``cond_or_uncond``) and the device once per call, outside the compiled model,
   and puts the call's plan in ``transformer_options``; with ``max_rows`` it carries the call out in parts.
2. :mod:`.plan` - the plan itself (``CallPlan``): which rows interpolate, between which endpoints, at which
   coefficients; which endpoints' keys/values a part keeps for the next. Pure, plain values.
3. the adapter of the model's family, which reaches its attention layers:

   * :mod:`.unet` (SD1.x, SD2.x, SDXL): ``attn1``/``attn2`` **replace patches** on every transformer block.
     They receive each layer's q, k, v with the block's identity, and they are where IP-Adapter, Self- and
     Perturbed-Attention Guidance put their own patches: AID sits on those keys and carries what it finds
     there, in either order (:mod:`.stacking` for IPAdapter_plus's protocol, :mod:`.tiles` for HyperTile).
   * :mod:`.wan` (Wan 2.1 / 2.2; a row is a clip): the same override; self- and cross-attention are separate
     calls there, told apart by their order in the block, which a ``dit`` block wrapper counts.
   * :mod:`.zimage` (Z-Image): the same override; a ``DIFFUSION_MODEL`` wrapper tells the joint sequence's
     split and the model's own ``block_index`` the layer, since Lumina 2 has no ``dit`` block hook.
   * :mod:`.transformer` (Flux, Qwen-Image, SD3/SD3.5): transformers have no per-attention replace patches
     (``patches_replace["dit"]`` takes a whole block), but every attention passes ComfyUI's ``wrap_attn`` and
     its single-slot ``optimized_attention_override``, which AID takes, chaining the one that was set; a
     ``dit`` block wrapper tells each attention how its joint ``[text; image]`` sequence splits.

4. :mod:`.layer` - the core both adapters share: AID on the in-between rows, the endpoints' keys/values kept
   for later parts, the rows put back among the host's own output.

:mod:`.config` holds the validated settings. ``.wrappers.SamplingChecks`` (``OUTER_SAMPLE``) checks once per
sampling what the layers cannot see (batch sizes, shared noise, Self-Attention Guidance with ``max_rows``).
"""

from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

from ..errors import InbetweenInputError
from . import transformer, wan, zimage
from .config import NODE_NAME, AIDConfig
from .plan import plan_of, with_plan
from .transformer import JointAttentionOverride, layout_of
from .unet import AIDAttentionReplace, patch_unet
from .wrappers import WRAPPER_KEY, ModelCallWrapper

__all__ = ["NODE_NAME", "AIDConfig", "aid_config", "has_aid_patch", "layout_of", "patch_model", "plan_of", "with_plan"]

# On a transformer, self-attention reads as the endpoints' image tokens, cross-attention as their text.
TOKENS = {(True, True): "all", (True, False): "image", (False, True): "text"}


def patch_model(model, config: AIDConfig, self_attention: bool, cross_attention: bool):
    """A clone of ``model`` (a ModelPatcher) that samples ``[A, in-betweens, B]`` with AID."""
    if model.model_options.get("context_handler") is not None:
        raise InbetweenInputError(NODE_NAME, "model", "context windows are set on this model; they slice the latent "
                                                      "batch, but AID needs every frame of the sequence in one model "
                                                      "call")
    diffusion_model = model.get_model_object("diffusion_model")
    if isinstance(diffusion_model, UNetModel):
        return patch_unet(model, diffusion_model, config, self_attention, cross_attention)
    if transformer.family_blocks(diffusion_model) is not None:
        return transformer.patch_transformer(model, diffusion_model, config, TOKENS[self_attention, cross_attention])
    if wan.is_wan(diffusion_model):
        return wan.patch_wan(model, diffusion_model, config, TOKENS[self_attention, cross_attention])
    if zimage.is_z_image(diffusion_model):
        return zimage.patch_z_image(model, diffusion_model, config, TOKENS[self_attention, cross_attention])
    if zimage.is_lumina(diffusion_model):
        raise InbetweenInputError(NODE_NAME, "model", "Lumina 2 (and NewBie) is not supported; of its architecture "
                                                      "AID works on Z-Image and Z-Image Turbo")
    kind = type(diffusion_model)
    raise InbetweenInputError(NODE_NAME, "model", f"{kind.__name__} ({kind.__module__}) is not supported; AID works "
                                                  f"on SD1.x, SD2.x and SDXL UNets and on {transformer.SUPPORTED}")


def has_aid_patch(model) -> bool:
    """Whether ``model`` (a ModelPatcher) already carries an AID patch, on a UNet or a transformer."""
    options = model.model_options.get("transformer_options", {})
    replaces = options.get("patches_replace", {})
    return isinstance(options.get(transformer.OVERRIDE), JointAttentionOverride) or any(
        isinstance(patch, AIDAttentionReplace) for layer in replaces.values() for patch in layer.values())


def aid_config(model) -> AIDConfig | None:
    """The settings of the AID patch on ``model`` (a ModelPatcher), ``None`` without one: read from the model-call
    wrapper the patch registered (``WrappersMP.APPLY_MODEL``, key :data:`.wrappers.WRAPPER_KEY`)."""
    from comfy.patcher_extension import WrappersMP

    wrappers = model.wrappers.get(WrappersMP.APPLY_MODEL, {}).get(WRAPPER_KEY, [])
    return next((wrapper.config for wrapper in wrappers if isinstance(wrapper, ModelCallWrapper)), None)
