"""AID on Z-Image (ComfyUI's Lumina 2 ``NextDiT`` with Z-Image's modulation and pad tokens, v0.12 on).

Z-Image runs one joint attention over ``[caption; image]`` per row in its main layers, as Flux's single
blocks do, but ComfyUI gives it no ``patches_replace["dit"]`` block hook. What the attention needs is found
two other ways:

* the **split**: a ``DIFFUSION_MODEL`` wrapper (:class:`CaptionImageSplit`) reads the call's caption and
  latent sizes once per model call (``max_rows`` parts included) and puts the token counts in
  ``transformer_options``. Z-Image pads both parts with learned pad tokens to a multiple of
  ``pad_tokens_multiple`` (32) and masks nothing, so the caption part is the caption padded (its pad tokens
  are caption tokens: they join with the text), the image part the latent's patches padded;
* the **block**: the model sets ``transformer_options["block_type"] = "double"`` and ``["block_index"]`` on
  the options of the call before each main layer, which :class:`ZImageAttentionOverride` reads at the
  attention, as the block key of the layer's kept endpoints under ``max_rows``.

The refiners stay plain. The context refiner is the caption alone refining itself: part of reading the text,
which Conditioning Interpolation Batch already interpolated; the endpoints' refined captions join in every
main layer when ``layers`` takes cross-attention. The noise refiner is the image alone, before the text is
seen: at the first step every row holds the same shared noise, where AID changes nothing, and what the rows
differ by later comes from the main layers, which interpolate. The wrapper drops any ``block_type`` left in
the options it is given, so only what the main layers set counts.

Z-Image Omni (SigLIP image features) and reference latents put more parts in the sequence: refused by name.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from comfy.patcher_extension import WrappersMP

from ..errors import InbetweenInputError
from .config import NODE_NAME, AIDConfig
from .transformer import JointAttentionOverride, Layout, install_override
from .wrappers import add_wrappers

SPLIT_KEY = "inbetween_aid_caption_image"
WRAPPER_KEY = "inbetween_aid_z_image"


class CaptionImage(NamedTuple):
    """Tokens of a main layer's joint sequence: the padded caption, then the padded image."""

    caption: int
    image: int


def is_z_image(diffusion_model) -> bool:
    """A Lumina 2 ``NextDiT`` built for Z-Image (it has pad tokens; Lumina 2 and NewBie do not)."""
    try:
        from comfy.ldm.lumina.model import NextDiT
    except ImportError:
        return False
    return type(diffusion_model) is NextDiT and getattr(diffusion_model, "pad_tokens_multiple", None) is not None


def is_lumina(diffusion_model) -> bool:
    try:
        from comfy.ldm.lumina.model import NextDiT
    except ImportError:
        return False
    return type(diffusion_model) is NextDiT


def patch_z_image(model, diffusion_model, config: AIDConfig, tokens: str):
    """A clone of ``model`` whose Z-Image main layers interpolate (``tokens``: which endpoint tokens join)."""
    if getattr(diffusion_model, "siglip_embedder", None) is not None:
        raise InbetweenInputError(NODE_NAME, "model", "Z-Image Omni (SigLIP image features) is not supported; AID "
                                                      "works on Z-Image and Z-Image Turbo")
    patched = model.clone()
    add_wrappers(patched, config)
    install_override(patched, ZImageAttentionOverride, tokens)
    patched.remove_wrappers_with_key(WrappersMP.DIFFUSION_MODEL, WRAPPER_KEY)
    patched.add_wrapper_with_key(WrappersMP.DIFFUSION_MODEL, WRAPPER_KEY,
                                 CaptionImageSplit(diffusion_model.pad_tokens_multiple, diffusion_model.patch_size))
    return patched


class CaptionImageSplit:
    """``DIFFUSION_MODEL`` wrapper: the caption/image token counts of this call, from shapes (no tensor read)."""

    def __init__(self, multiple: int, patch_size: int):
        self.multiple, self.patch_size = multiple, patch_size

    def _padded(self, tokens: int) -> int:
        return tokens + (-tokens) % self.multiple

    def __call__(self, executor, x, timesteps, context, num_tokens, attention_mask=None, **kwargs):
        if kwargs.get("ref_latents") or kwargs.get("siglip_feats"):
            raise InbetweenInputError(NODE_NAME, "model", "reference latents on Z-Image (the Omni edit path) are not "
                                                          "supported; AID needs the plain [caption; image] sequence")
        caption = self._padded(context.shape[1]) if context is not None else self.multiple
        image = self._padded(math.ceil(x.shape[-2] / self.patch_size) * math.ceil(x.shape[-1] / self.patch_size))
        options = {key: value for key, value in (kwargs.get("transformer_options") or {}).items()
                   if key not in ("block_type", "block_index")}
        options[SPLIT_KEY] = CaptionImage(caption, image)
        return executor(x, timesteps, context, num_tokens, attention_mask, **{**kwargs, "transformer_options": options})


class ZImageAttentionOverride(JointAttentionOverride):
    """AID's attention override on Z-Image: the main layers' joint attention interpolates, the refiners stay
    plain (their options carry no ``block_type`` yet)."""

    def layout(self, options: dict) -> Layout | None:
        split = options.get(SPLIT_KEY)
        if split is None or options.get("block_type") != "double":
            return None
        return Layout(split.caption, split.image, ("double_block", options["block_index"]))
