"""AID on UNet models (SD1.x, SD2.x, SDXL): replace patches on the ``attn1``/``attn2`` layers of every transformer block.

ComfyUI calls a replace patch with the projected ``q, k, v`` of the whole model batch,
``[chunks * N, tokens, heads * head_dim]``; row ``c * N + j`` is frame j of chunk c, and the call's
:class:`~.plan.CallPlan` in the options says which rows interpolate.

ComfyUI keeps one replace patch per key, so AID sits on the key and carries what other packs put there, in
either order:

* before AID: the patch on the key is ``wrapped`` and still computes the whole batch; the in-between rows keep
  what it adds to plain attention (``out_i = AID_i + (patched_i - plain_i)``);
* after AID, stacking (IPAdapter_plus calls ``add`` on the patch it finds, :mod:`.stacking`): passed on to the
  wrapped patch when that stacks, else kept by AID's;
* the block-wide key ``(block, number)``, which ComfyUI only reads where ``(block, number, index)`` is free: AID
  claims both, and each per-index patch falls back to the block-wide one, so what is put on either key is used,
  as it would be without AID;
* a patch set after AID by a plain assignment would replace AID's on that key, so the frames would depend on
  the order of the nodes: Self-Attention Guidance sets ``("middle", 0, 0)`` on the model, Perturbed Attention
  Guidance sets ``("middle", 0)`` in the options of its own extra model call. Before every model call AID takes
  such keys back, wrapping what it finds, in that call's own options (:class:`ReattachPerCall`): the result is
  the same in either order and no model is changed.

HyperTile moves tiles of each image into the batch (:mod:`.tiles`): AID then runs per tile. ComfyUI moves
patches between devices with ``to()`` and loads the models they name with ``models()``; both pass through to
the wrapped patch.
"""

from __future__ import annotations

import torch

import comfy.ldm.modules.attention as comfy_attention
from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel
from comfy.patcher_extension import WrappersMP

from . import layer
from .config import AIDConfig
from .plan import plan_of
from .stacking import AddedAttention
from .tiles import row_major, tile_count, tile_major
from .wrappers import add_wrappers

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
            depth = sum(len(module.transformer_blocks) for module in block
                        if isinstance(module, comfy_attention.SpatialTransformer))
            if depth:
                blocks[(name, number)] = depth
    return blocks


def _attach(entries: dict, attention: str, block: tuple[str, int], depth: int, active: bool) -> None:
    """AID on ``block``'s block-wide key and each of its per-index keys in ``entries`` (``attention``'s replace
    patches: attn1 or attn2)."""
    block_wide = entries[block] = AIDAttentionReplace.over(attention, entries.get(block), active=active)
    for index in range(depth):
        key = (*block, index)
        entries[key] = AIDAttentionReplace.over(attention, entries.get(key), block_wide, active)


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

    def __init__(self, attentions: dict[str, bool], blocks: Blocks):
        self.attentions, self.blocks = attentions, blocks
        self.rebuilt: dict[tuple, tuple[list, dict]] = {}  # ids of the found patches -> (them, AID's)

    def __deepcopy__(self, memo):
        return ReattachPerCall(self.attentions, self.blocks)  # clones need no cache of old patches

    def __call__(self, executor, x, t, c_concat=None, c_crossattn=None, control=None, transformer_options={},
                 **kwargs):
        replaces = transformer_options.get("patches_replace", {})
        if not all(_owned(replaces.get(attention, {}), block, depth) for attention in self.attentions
                   for block, depth in self.blocks.items()):
            taken_back = self._taken_back(replaces)
            replaces = {**replaces, **{attention: {**replaces.get(attention, {}), **taken_back[attention]}
                                       for attention in self.attentions}}
            transformer_options = {**transformer_options, "patches_replace": replaces}
        return executor(x, t, c_concat, c_crossattn, control, transformer_options, **kwargs)

    def _taken_back(self, replaces: dict) -> dict[str, dict]:
        """AID's patches on every key it claims, over what was found there (attn1/attn2 -> key -> patch)."""
        found = [replaces.get(attention, {}).get(key) for attention in self.attentions for key in _keys(self.blocks)]
        cache_key = tuple(id(patch) for patch in found)  # the found patches stay alive in the entry: ids stay theirs
        if cache_key not in self.rebuilt:
            if len(self.rebuilt) >= self.CACHED:
                self.rebuilt.pop(next(iter(self.rebuilt)))
            taken_back = {}
            for attention, active in self.attentions.items():
                entries = {key: replaces.get(attention, {}).get(key) for key in _keys(self.blocks)}
                for block, depth in self.blocks.items():
                    if not _owned(entries, block, depth):
                        _attach(entries, attention, block, depth, active)
                taken_back[attention] = entries
            self.rebuilt[cache_key] = (found, taken_back)
        return self.rebuilt[cache_key][1]


def patch_unet(model, diffusion_model: UNetModel, config: AIDConfig, self_attention: bool, cross_attention: bool):
    """A clone of ``model`` with AID replace patches on the chosen attention layers of every block."""
    patched = model.clone()  # model_options deep-copied: nothing below reaches the input model
    add_wrappers(patched, config)
    blocks = transformer_blocks(diffusion_model)
    replaces = patched.model_options.setdefault("transformer_options", {}).setdefault("patches_replace", {})
    # A layer this patch leaves plain keeps an earlier AID patch's keys, inactive, with what they carry.
    attentions = {name: active for name, active in (("attn1", self_attention), ("attn2", cross_attention))
                  if active or _has_aid(replaces.get(name, {}))}
    for attention, active in attentions.items():
        entries = replaces.setdefault(attention, {})
        for block, depth in blocks.items():
            _attach(entries, attention, block, depth, active)
    patched.remove_wrappers_with_key(WrappersMP.APPLY_MODEL, REATTACH_KEY)
    patched.add_wrapper_with_key(WrappersMP.APPLY_MODEL, REATTACH_KEY, ReattachPerCall(attentions, blocks))
    return patched


def _has_aid(entries: dict) -> bool:
    return any(isinstance(patch, AIDAttentionReplace) for patch in entries.values())


class AIDAttentionReplace:
    """Replace patch for one attention layer (self or cross) on one key of a UNet block.

    ``attention``: attn1 or attn2. ``wrapped``: the patch on this key before AID. ``fallback``: for an ``(block, number,
    index)`` key, AID's patch on ``(block, number)``, which carries what other packs put on the block-wide key.
    ``added``: callbacks stacked with ``add`` after AID. ``active`` False: the layer is not interpolated (a
    second AID node chose other layers than the first) and the patch only carries what it holds.
    """

    def __init__(self, attention: str, wrapped=None, fallback: AIDAttentionReplace | None = None,
                 added: AddedAttention | None = None, active: bool = True):
        self.attention = attention
        self.wrapped = wrapped
        self.fallback = fallback
        self.added = added or AddedAttention()
        self.active = active

    @classmethod
    def over(cls, attention: str, previous, fallback: AIDAttentionReplace | None = None,
             active: bool = True) -> AIDAttentionReplace:
        """AID on a key of ``attention`` (attn1, attn2) that held ``previous``; an earlier AID patch is replaced,
        keeping what it carried."""
        if isinstance(previous, cls):
            return cls(attention, previous.wrapped, fallback, AddedAttention(previous.added.added), active)
        return cls(attention, previous, fallback, active=active)

    def __call__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, options: dict) -> torch.Tensor:
        heads = options["n_heads"]
        plain = _plain_attention(heads, options)
        others = self.others(q, k, v, options)
        # Without the wrapper's plan (a model call outside ComfyUI's sampling path) the layer stays plain.
        plan = plan_of(options)
        if not (self.active and plan.active):
            return plain(q, k, v) if others is None else others
        rows = plan.batch
        tiles = tile_count(q, rows)
        host_pieces, base = [], None
        host_function = None if options.get("optimized_attention_override") else comfy_attention.optimized_attention
        if others is None and tiles == 1 and layer.rows_apart(plan, host_function, q.device):
            host_pieces = [(rows_, plain(q[rows_], k[rows_], v[rows_])) for rows_ in plan.host_rows]
        else:
            base = plain(q, k, v) if others is None else others
        if tiles > 1:
            q, k, v, base = (tile_major(x, rows, tiles) for x in (q, k, v, base))
        q_h, k_h, v_h = (layer.heads_first(x, heads) for x in (q, k, v))
        host = layer.host_attention(comfy_attention.optimized_attention, heads,
                                    attn_precision=options.get("attn_precision"), transformer_options=options)
        name = (self.attention, *options["block"], options["block_index"])
        pieces = []
        for tile in range(tiles):
            batch = slice(tile * rows, (tile + 1) * rows)
            for where, out in layer.interpolate(plan, name if tiles == 1 else (*name, tile), q_h[batch], k_h[batch],
                                                v_h[batch], host):
                where, out = layer.shifted(where, tile * rows), layer.heads_last(out)
                if others is not None:  # what the other patches add to plain attention, kept on these rows
                    out = out + (base[where] - plain(q[where], k[where], v[where]))
                pieces.append((where, out))
        out = layer.splice(pieces + host_pieces, base)
        return out if tiles == 1 else row_major(out, rows, tiles)

    def others(self, q, k, v, options) -> torch.Tensor | None:
        """What the other packs' patches on this key make of the layer; ``None`` where there are none."""
        if self.wrapped is not None:
            out = self.wrapped(q, k, v, options)
        elif self.fallback is not None:
            out = self.fallback.others(q, k, v, options)
        else:
            out = None
        if self.added:
            out = self.added(_plain_attention(options["n_heads"], options)(q, k, v) if out is None else out,
                             q, k, v, options)
        return out

    def add(self, callback, **kwargs) -> None:
        """IPAdapter_plus's stacking call (see :mod:`.stacking`)."""
        if hasattr(self.wrapped, "add"):
            self.wrapped.add(callback, **kwargs)
        else:
            self.added.add(callback, **kwargs)

    def to(self, *args, **kwargs) -> AIDAttentionReplace:
        if hasattr(self.wrapped, "to"):
            self.wrapped = self.wrapped.to(*args, **kwargs)
        return self

    def models(self) -> list:
        return self.wrapped.models() if hasattr(self.wrapped, "models") else []


def _plain_attention(heads: int, options: dict):
    """ComfyUI's ``optimized_attention`` as the unpatched block calls it (its override and precision too)."""
    def attention(q, k, v):
        return comfy_attention.optimized_attention(q, k, v, heads, attn_precision=options.get("attn_precision"),
                                                   transformer_options=options)
    return attention
