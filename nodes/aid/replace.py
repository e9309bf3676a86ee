"""AID's replace patch for one UNet attention layer, and how it composes with other packs' patches.

ComfyUI keeps one replace patch per key, so AID sits on the key and carries what other packs put
there, in either order:

* before AID: the patch on the key is ``wrapped`` and still computes the whole batch;
* after AID, stacking (IPAdapter_plus calls ``add`` on the patch it finds): passed on to the wrapped
  patch when that stacks, else kept in :class:`~.stacking.AddedAttention`;
* the block-wide key ``(block, number)``, which ComfyUI only reads where ``(block, number, index)`` is
  free: AID claims both, and each per-index patch falls back to the block-wide one, so what is put on
  either key is used, as it would be without AID.

ComfyUI moves patches between devices with ``to()`` and loads the models they name with ``models()``;
both pass through to the wrapped patch.
"""

from __future__ import annotations

import torch

import comfy.ldm.modules.attention as comfy_attention

from .config import AIDConfig
from .layer import backend_for, heads_first, heads_last, interpolate_rows
from .step import INACTIVE, STEP_KEY
from .stacking import AddedAttention
from .tiles import row_major, tile_count, tile_major


class AIDAttentionReplace:
    """Replace patch for one attention layer (self or cross) on one key of a UNet block.

    ``layer``: attn1 or attn2. ``wrapped``: the patch on this key before AID. ``fallback``: for an ``(block, number, index)`` key,
    AID's patch on ``(block, number)``, which carries what other packs put on the block-wide key.
    ``added``: callbacks stacked with ``add`` after AID. ``active`` False: the layer is not interpolated (a
    second AID node chose other layers than the first) and the patch only carries what it holds.
    """

    def __init__(self, config: AIDConfig, layer: str, wrapped=None, fallback: AIDAttentionReplace | None = None,
                 added: AddedAttention | None = None, active: bool = True):
        self.config = config
        self.layer = layer
        self.wrapped = wrapped
        self.fallback = fallback
        self.added = added or AddedAttention()
        self.active = active

    @classmethod
    def over(cls, config: AIDConfig, layer: str, previous, fallback: AIDAttentionReplace | None = None,
             active: bool = True) -> AIDAttentionReplace:
        """AID with ``config`` on a key of ``layer`` (attn1, attn2) that held ``previous``; an earlier AID patch
        is replaced, keeping what it carried."""
        if isinstance(previous, cls):
            return cls(config, layer, previous.wrapped, fallback, AddedAttention(previous.added.added), active)
        return cls(config, layer, previous, fallback, active=active)

    def __call__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, options: dict) -> torch.Tensor:
        heads = options["n_heads"]
        plain = host_attention(heads, options)
        others = self.others(q, k, v, options)
        base = plain(q, k, v) if others is None else others
        # Without the wrapper's step (a model call outside ComfyUI's sampling path) the layer stays plain.
        step = options.get(STEP_KEY, INACTIVE)
        if not (self.active and step.active):
            return base
        rows = step.batch
        tiles = tile_count(q, rows)
        if tiles > 1:
            q, k, v, base = (tile_major(x, rows, tiles) for x in (q, k, v, base))
        q_h, k_h, v_h = (heads_first(x, heads) for x in (q, k, v))

        def joined(q, k, v, bias):  # [B, H, T, D] in and out; UNet attention layers get no mask
            return comfy_attention.optimized_attention(q, k, v, heads, mask=bias,
                                                       attn_precision=options.get("attn_precision"),
                                                       skip_reshape=True, skip_output_reshape=True,
                                                       transformer_options=options)

        def adapter_term(rows):  # what the other patches add to plain attention, kept on the in-between rows
            return base[rows] - plain(q[rows], k[rows], v[rows])

        layer = (self.layer, *options["block"], options["block_index"])
        out = interpolate_rows(q_h, k_h, v_h, base, step, self.config, backend_for(q_h, step, joined), heads_last,
                               layer, adapter_term=None if others is None else adapter_term, tiles=tiles)
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
            out = self.added(host_attention(options["n_heads"], options)(q, k, v) if out is None else out,
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


def host_attention(heads: int, options: dict):
    """ComfyUI's ``optimized_attention`` as the unpatched block calls it (its override and precision too)."""
    def attention(q, k, v):
        return comfy_attention.optimized_attention(q, k, v, heads, attn_precision=options.get("attn_precision"),
                                                   transformer_options=options)
    return attention
