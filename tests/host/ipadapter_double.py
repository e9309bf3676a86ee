"""A test double of IPAdapter_plus's public patch protocol, for host tests (the pack is not on any registry).

Read from cubiq/ComfyUI_IPAdapter_plus at commit 9d076a3 (``IPAdapterPlus.py``: ``set_model_patch_replace``
and the end of ``ipadapter_execute``; ``CrossAttentionPatch.py``: ``Attn2Replace``, ``ipadapter_attention``).
Reproduced as the pack does it:

* registration: one ``attn2`` replace patch per cross-attention layer, on ``(block, number)`` keys for
  SD1.5 and ``(block, number, index)`` keys for SDXL, ``module_key`` numbered ``1, 3, 5, ...`` in that
  order, the middle block as ``("middle", 1[, index])`` (a key ComfyUI never reads: it names the middle
  block ``("middle", 0)``);
* stacking: the options dicts are copied, a free key gets a new ``Attn2Replace``, an occupied key gets
  ``.add(callback, **kwargs)`` on whatever patch is there;
* the patch: the host's attention, then, for every stacked callback whose ``sigma_end <= sigma <=
  sigma_start`` (``sigma = extra_options["sigmas"][0]``), ``out + callback(...)``, cast back to q's dtype;
* the callback: attention of the layer's queries to the image tokens projected by the adapter's
  ``to_k_ip``/``to_v_ip`` for this ``module_key`` (cond or uncond per ``cond_or_uncond`` chunk), times
  ``weight``: an additive term;
* ``to()``: accepts devices and dtypes and returns the patch (the pack keeps per-device copies for
  multi-GPU; here the calls are recorded so tests can see that they arrive).

Left out: image encoding (the image embedding is given), weight types, masks, batched images,
multi-GPU copies. Block numbers come from the model, because the test UNets are smaller than the
SD1.5 and SDXL UNets whose numbers the pack hard-codes.
"""

import torch

import comfy.ldm.modules.attention as comfy_attention
from comfy.ldm.modules.attention import optimized_attention


class Attn2Replace:
    """IPAdapter_plus's stacking replace patch. Calls are counted on the class: ComfyUI deep-copies patches."""

    callback_calls = 0
    to_calls: list = []

    def __init__(self, callback=None, **kwargs):
        self.callback = [callback]
        self.kwargs = [kwargs]

    def add(self, callback, **kwargs):
        self.callback.append(callback)
        self.kwargs.append(kwargs)
        for key, value in kwargs.items():
            setattr(self, key, value)

    def __call__(self, q, k, v, extra_options):
        dtype = q.dtype
        out = optimized_attention(q, k, v, extra_options["n_heads"])
        sigma = extra_options["sigmas"].detach().cpu()[0].item() if "sigmas" in extra_options else 999999999.9
        for i, callback in enumerate(self.callback):
            if self.kwargs[i]["sigma_end"] <= sigma <= self.kwargs[i]["sigma_start"]:
                out = out + callback(out, q, k, v, extra_options, **self.kwargs[i])
        return out.to(dtype=dtype)

    def to(self, device, *args, **kwargs):
        type(self).to_calls.append(device)
        return self


def ipadapter_attention(out, q, k, v, extra_options, module_key="", ipadapter=None, weight=1.0, cond=None,
                        uncond=None, **kwargs):
    Attn2Replace.callback_calls += 1
    dtype = q.dtype
    batch_prompt = q.shape[0] // len(extra_options["cond_or_uncond"])
    projections = ipadapter.to_kvs
    k_cond, k_uncond, v_cond, v_uncond = (projections[f"{module_key}_to_{kv}_ip"](embeds).repeat(batch_prompt, 1, 1)
                                          for kv, embeds in (("k", cond), ("k", uncond), ("v", cond), ("v", uncond)))
    ip_k = torch.cat([(k_cond, k_uncond)[i] for i in extra_options["cond_or_uncond"]], dim=0)
    ip_v = torch.cat([(v_cond, v_uncond)[i] for i in extra_options["cond_or_uncond"]], dim=0)
    out_ip = optimized_attention(q, ip_k, ip_v, extra_options["n_heads"]) * weight
    return out_ip.to(dtype=dtype)


def set_model_patch_replace(model, patch_kwargs, key):
    to = model.model_options["transformer_options"].copy()
    to["patches_replace"] = to.get("patches_replace", {}).copy()
    to["patches_replace"]["attn2"] = to["patches_replace"].get("attn2", {}).copy()
    if key not in to["patches_replace"]["attn2"]:
        to["patches_replace"]["attn2"][key] = Attn2Replace(ipadapter_attention, **patch_kwargs)
        model.model_options["transformer_options"] = to
    else:
        to["patches_replace"]["attn2"][key].add(ipadapter_attention, **patch_kwargs)


class IPAdapterWeights(torch.nn.Module):
    """Random image-token projections, one pair per cross-attention layer, keyed as the pack keys them."""

    def __init__(self, layers, embed_dim: int, seed: int):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.to_kvs = torch.nn.ModuleDict()
        for number, attn2 in enumerate(layers):
            for kv, projection in (("k", attn2.to_k), ("v", attn2.to_v)):
                linear = torch.nn.Linear(embed_dim, projection.out_features, bias=False)
                with torch.no_grad():
                    linear.weight.copy_(torch.randn(linear.weight.shape, generator=generator) / embed_dim ** 0.5)
                self.to_kvs[f"{number * 2 + 1}_to_{kv}_ip"] = linear


def _cross_attention_keys(diffusion_model, sdxl: bool):
    """The keys the pack registers, in its order, each with its attn2 layer (its module_key follows this order)."""
    keyed = []
    groups = [("input", diffusion_model.input_blocks), ("output", diffusion_model.output_blocks),
              ("middle", [diffusion_model.middle_block])]
    for name, blocks in groups:
        for number, block in enumerate(blocks):
            transformers = [t for layer in block if isinstance(layer, comfy_attention.SpatialTransformer)
                            for t in layer.transformer_blocks]
            if not transformers:
                continue
            number = 1 if name == "middle" else number
            if sdxl:
                keyed += [((name, number, index), t.attn2) for index, t in enumerate(transformers)]
            else:
                keyed.append(((name, number), transformers[0].attn2))
    return keyed


def apply_ipadapter(model, image_embeds: torch.Tensor, weight: float = 1.0, seed: int = 0, start_at: float = 0.0,
                    end_at: float = 1.0):
    """What the pack's IPAdapterAdvanced does to a model, given the image embedding ``[1, tokens, dim]``."""
    import comfy.model_base

    model = model.clone()
    sdxl = isinstance(model.model, comfy.model_base.SDXL)
    keyed = _cross_attention_keys(model.get_model_object("diffusion_model"), sdxl)
    ipadapter = IPAdapterWeights([attn2 for _, attn2 in keyed], image_embeds.shape[-1], seed)
    sampling = model.get_model_object("model_sampling")
    patch_kwargs = {"ipadapter": ipadapter, "weight": weight, "cond": image_embeds,
                    "uncond": torch.zeros_like(image_embeds), "sigma_start": sampling.percent_to_sigma(start_at),
                    "sigma_end": sampling.percent_to_sigma(end_at)}
    for number, (key, _) in enumerate(keyed):
        patch_kwargs["module_key"] = str(number * 2 + 1)
        set_model_patch_replace(model, patch_kwargs, key)
    return model
