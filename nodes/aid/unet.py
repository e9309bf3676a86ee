"""AID on UNet models (SD1.x, SD2.x, SDXL): ``attn1``/``attn2`` replace patches on every transformer block.

ComfyUI calls a replace patch with the projected ``q, k, v`` of the whole model batch,
``[chunks * N, tokens, heads * head_dim]``; row ``c * N + j`` is frame j of chunk c. What the
patch does in this model call was decided by the model-call wrapper (:mod:`.model_call`).
"""

from __future__ import annotations

import torch

import comfy.ldm.modules.attention as comfy_attention
from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

from .config import AIDConfig
from .layer import backend_for, heads_first, heads_last, interpolate_rows
from .model_call import INACTIVE, STEP_KEY, add_wrappers


class AIDAttentionReplace:
    """Replace patch for one attention layer (self or cross) of one transformer block.

    ``wrapped`` is the replace patch that was on this block before (IP-Adapter sets these): it still
    computes the whole batch, and what it adds is kept on the in-between rows.
    """

    def __init__(self, config: AIDConfig, wrapped=None):
        self.config = config
        self.wrapped = wrapped

    def __call__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, options: dict) -> torch.Tensor:
        heads = options["n_heads"]
        plain = _host_attention(heads, options)
        base = self.wrapped(q, k, v, options) if self.wrapped is not None else plain(q, k, v)
        # Without the wrapper's step (a model call outside ComfyUI's sampling path) the layer stays plain.
        step = options.get(STEP_KEY, INACTIVE)
        if not step.sequences:
            return base
        q_h, k_h, v_h = (heads_first(x, heads) for x in (q, k, v))

        def joined(q, k, v):  # [B, H, T, D] in and out
            return comfy_attention.optimized_attention(q, k, v, heads, attn_precision=options.get("attn_precision"),
                                                       skip_reshape=True, skip_output_reshape=True,
                                                       transformer_options=options)

        adapter_term = None
        if self.wrapped is not None:
            def adapter_term(rows):
                return base[rows] - plain(q[rows], k[rows], v[rows])
        return interpolate_rows(q_h, k_h, v_h, base, step, self.config, backend_for(q_h, step, joined), heads_last,
                                adapter_term=adapter_term)


def _host_attention(heads: int, options: dict):
    """ComfyUI's ``optimized_attention`` as the unpatched block calls it (its override and precision too)."""
    def attention(q, k, v):
        return comfy_attention.optimized_attention(q, k, v, heads, attn_precision=options.get("attn_precision"),
                                                   transformer_options=options)
    return attention


def transformer_blocks(diffusion_model: torch.nn.Module) -> list[tuple[str, int, int]]:
    """Keys ``(block_name, block_number, transformer_index)`` of every transformer block of a UNet."""
    keys = []
    groups = [("input", diffusion_model.input_blocks), ("middle", [diffusion_model.middle_block]),
              ("output", diffusion_model.output_blocks)]
    for name, blocks in groups:
        for number, block in enumerate(blocks):
            for layer in block:
                if isinstance(layer, comfy_attention.SpatialTransformer):
                    keys.extend((name, number, index) for index in range(len(layer.transformer_blocks)))
    return keys


def patch_unet(model, diffusion_model: UNetModel, config: AIDConfig, self_attention: bool, cross_attention: bool):
    """A clone of ``model`` with AID replace patches on the chosen attention layers of every block."""
    patched = model.clone()
    add_wrappers(patched, config)
    existing = patched.model_options.get("transformer_options", {}).get("patches_replace", {})
    for name, wanted in (("attn1", self_attention), ("attn2", cross_attention)):
        if not wanted:
            continue
        for block_name, number, index in transformer_blocks(diffusion_model):
            previous = existing.get(name, {})
            wrapped = previous.get((block_name, number, index), previous.get((block_name, number)))
            if isinstance(wrapped, AIDAttentionReplace):
                wrapped = wrapped.wrapped  # a second AID patch replaces the first instead of stacking on it
            patched.set_model_patch_replace(AIDAttentionReplace(config, wrapped), name, block_name, number, index)
    return patched

