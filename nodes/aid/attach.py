"""Which model family a patch attaches to, and what ``layers`` means there."""

from __future__ import annotations

from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

from ..errors import InbetweenInputError
from . import dit
from .config import NODE_NAME, AIDConfig
from .joint import JointAttentionOverride
from .unet import AIDAttentionReplace, patch_unet

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
    if dit.family_blocks(diffusion_model) is not None:
        return dit.patch_transformer(model, diffusion_model, config, TOKENS[self_attention, cross_attention])
    kind = type(diffusion_model)
    raise InbetweenInputError(NODE_NAME, "model", f"{kind.__name__} ({kind.__module__}) is not supported; AID works "
                                                  f"on SD1.x, SD2.x and SDXL UNets and on {dit.SUPPORTED}")


def has_aid_patch(model) -> bool:
    """Whether ``model`` (a ModelPatcher) already carries an AID patch, on a UNet or a transformer."""
    options = model.model_options.get("transformer_options", {})
    replaces = options.get("patches_replace", {})
    return isinstance(options.get(dit.OVERRIDE), JointAttentionOverride) or any(
        isinstance(patch, AIDAttentionReplace) for layer in replaces.values() for patch in layer.values())
