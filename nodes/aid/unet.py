"""AID on UNet models (SD1.x, SD2.x, SDXL): replace patches on the ``attn1``/``attn2`` layers of every transformer block.

ComfyUI calls a replace patch with the projected ``q, k, v`` of the whole model batch,
``[chunks * N, tokens, heads * head_dim]``; row ``c * N + j`` is frame j of chunk c. What the
patch does in this model call was decided by the model-call wrapper (:mod:`.model_call`); how it
carries other packs' patches is :mod:`.replace`.

A patch set after AID by a plain assignment would replace AID's on that key, so the frames would
depend on the order of the nodes: Self-Attention Guidance sets ``("middle", 0, 0)`` on the model,
Perturbed Attention Guidance sets ``("middle", 0)`` in the options of its own extra model call. Before
every model call AID takes such keys back, wrapping what it finds, in that call's own options: the
result is the same in either order and no model is changed.
"""

from __future__ import annotations

import comfy.ldm.modules.attention as comfy_attention
from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel
from comfy.patcher_extension import WrappersMP

from .config import AIDConfig
from .model_call import add_wrappers
from .replace import AIDAttentionReplace

__all__ = ["AIDAttentionReplace", "patch_unet"]

REATTACH_KEY = "inbetween_aid_unet"

# (block_name, block_number) -> number of transformer blocks in it
Blocks = dict[tuple[str, int], int]


def transformer_blocks(diffusion_model: UNetModel) -> Blocks:
    """Every UNet block with transformers, keyed as ComfyUI's ``transformer_options["block"]``."""
    blocks = {}
    groups = [("input", diffusion_model.input_blocks), ("middle", [diffusion_model.middle_block]),
              ("output", diffusion_model.output_blocks)]
    for name, group in groups:
        for number, block in enumerate(group):
            depth = sum(len(layer.transformer_blocks) for layer in block
                        if isinstance(layer, comfy_attention.SpatialTransformer))
            if depth:
                blocks[(name, number)] = depth
    return blocks


def _attach(entries: dict, config: AIDConfig, layer: str, block: tuple[str, int], depth: int, active: bool) -> None:
    """AID on ``block``'s block-wide key and each of its per-index keys in ``entries`` (``layer``'s replace patches)."""
    block_wide = entries[block] = AIDAttentionReplace.over(config, layer, entries.get(block), active=active)
    for index in range(depth):
        key = (*block, index)
        entries[key] = AIDAttentionReplace.over(config, layer, entries.get(key), block_wide, active)


def _block_keys(block: tuple[str, int], depth: int) -> list:
    return [block] + [(*block, index) for index in range(depth)]


def _keys(blocks: Blocks) -> list:
    return [key for block, depth in blocks.items() for key in _block_keys(block, depth)]


def _owned(entries: dict, block: tuple[str, int], depth: int) -> bool:
    return all(isinstance(entries.get(key), AIDAttentionReplace) for key in _block_keys(block, depth))


class ReattachPerCall:
    """``WrappersMP.APPLY_MODEL`` wrapper: AID takes back the keys that patches set after it replaced.

    Where every key is still AID's, the call's options pass unchanged. Rebuilt options are kept per set of
    patches found, so a compiled model sees the same patch objects on every call.
    """

    CACHED = 8

    def __init__(self, config: AIDConfig, layers: dict[str, bool], blocks: Blocks):
        self.config, self.layers, self.blocks = config, layers, blocks
        self.rebuilt: dict[tuple, tuple[list, dict]] = {}  # ids of the found patches -> (them, AID's)

    def __deepcopy__(self, memo):
        return ReattachPerCall(self.config, self.layers, self.blocks)  # clones need no cache of old patches

    def __call__(self, executor, x, t, c_concat=None, c_crossattn=None, control=None, transformer_options={},
                 **kwargs):
        replaces = transformer_options.get("patches_replace", {})
        if not all(_owned(replaces.get(layer, {}), block, depth) for layer in self.layers for block, depth
                   in self.blocks.items()):
            taken_back = self._taken_back(replaces)
            replaces = {**replaces, **{layer: {**replaces.get(layer, {}), **taken_back[layer]} for layer in self.layers}}
            transformer_options = {**transformer_options, "patches_replace": replaces}
        return executor(x, t, c_concat, c_crossattn, control, transformer_options, **kwargs)

    def _taken_back(self, replaces: dict) -> dict[str, dict]:
        """AID's patches on every key it claims, over what was found there (layer -> key -> patch)."""
        found = [replaces.get(layer, {}).get(key) for layer in self.layers for key in _keys(self.blocks)]
        cache_key = tuple(id(patch) for patch in found)  # the found patches stay alive in the entry: ids stay theirs
        if cache_key not in self.rebuilt:
            if len(self.rebuilt) >= self.CACHED:
                self.rebuilt.pop(next(iter(self.rebuilt)))
            taken_back = {}
            for layer, active in self.layers.items():
                entries = {key: replaces.get(layer, {}).get(key) for key in _keys(self.blocks)}
                for block, depth in self.blocks.items():
                    if not _owned(entries, block, depth):
                        _attach(entries, self.config, layer, block, depth, active)
                taken_back[layer] = entries
            self.rebuilt[cache_key] = (found, taken_back)
        return self.rebuilt[cache_key][1]


def patch_unet(model, diffusion_model: UNetModel, config: AIDConfig, self_attention: bool, cross_attention: bool):
    """A clone of ``model`` with AID replace patches on the chosen attention layers of every block."""
    patched = model.clone()  # model_options deep-copied: nothing below reaches the input model
    add_wrappers(patched, config)
    blocks = transformer_blocks(diffusion_model)
    replaces = patched.model_options.setdefault("transformer_options", {}).setdefault("patches_replace", {})
    # A layer this patch leaves plain keeps an earlier AID patch's keys, inactive, with what they carry.
    layers = {name: active for name, active in (("attn1", self_attention), ("attn2", cross_attention))
              if active or _has_aid(replaces.get(name, {}))}
    for layer, active in layers.items():
        entries = replaces.setdefault(layer, {})
        for block, depth in blocks.items():
            _attach(entries, config, layer, block, depth, active)
    patched.remove_wrappers_with_key(WrappersMP.APPLY_MODEL, REATTACH_KEY)
    patched.add_wrapper_with_key(WrappersMP.APPLY_MODEL, REATTACH_KEY, ReattachPerCall(config, layers, blocks))
    return patched


def _has_aid(entries: dict) -> bool:
    return any(isinstance(patch, AIDAttentionReplace) for patch in entries.values())
