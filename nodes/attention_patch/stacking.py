"""The stacking protocol of IPAdapter_plus (cubiq/ComfyUI_IPAdapter_plus, ``CrossAttentionPatch.py``), so that
an IP-Adapter applied after AID stacks onto AID's patch instead of failing or being hidden.

When an IP-Adapter node finds a replace patch already on its key, it does not set its own: it calls
``patch.add(callback, **kwargs)`` on what is there (its ``Attn2Replace`` stacks adapters this way). Its
``Attn2Replace`` then computes, per layer call::

    out = attention(q, k, v)
    for each added (callback, kwargs) whose kwargs["sigma_end"] <= sigma <= kwargs["sigma_start"]:
        out = out + callback(out, q, k, v, extra_options, **kwargs)

where ``sigma`` is ``extra_options["sigmas"][0]``. :class:`AddedAttention` does exactly that on top of what
the layer computes without it, so AID then IP-Adapter gives the frames IP-Adapter then AID gives.
"""

from __future__ import annotations

import torch


class AddedAttention:
    """Callbacks added to an AID patch with ``add``, applied in the order they came."""

    def __init__(self, added=()):
        self.added = list(added)

    def add(self, callback, **kwargs) -> None:
        self.added.append((callback, kwargs))

    def __bool__(self) -> bool:
        return bool(self.added)

    def __call__(self, out: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                 options: dict) -> torch.Tensor:
        dtype = q.dtype
        # A host read per layer call, as IPAdapter_plus's own patch makes; only paid while callbacks are stacked.
        sigma = options["sigmas"].detach().cpu()[0].item() if "sigmas" in options else float("inf")
        for callback, kwargs in self.added:
            if kwargs.get("sigma_end", -float("inf")) <= sigma <= kwargs.get("sigma_start", float("inf")):
                out = out + callback(out, q, k, v, options, **kwargs)
        return out.to(dtype=dtype)
