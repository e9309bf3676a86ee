"""The AID model patch: attention replace patches on every transformer block of a ComfyUI UNet.

ComfyUI calls an ``attn1``/``attn2`` replace patch with the projected ``q, k, v`` of the whole
model batch, ``[chunks * N, tokens, heads * head_dim]``; ``cond_or_uncond`` names the chunks
(0 = positive, 1 = negative) and row ``c * N + j`` is frame j of chunk c. For each active chunk
the in-between rows get AID attention (``inbetween.aid``); every other row gets exactly the
attention the unpatched model computes, so the endpoint frames are plain generations.
"""

from dataclasses import dataclass

import torch

import comfy.ldm.modules.attention as comfy_attention
from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

from ...inbetween import aid
from ..errors import input_error

NODE_NAME = "AID Attention Patch"
POSITIVE, NEGATIVE = 0, 1


@dataclass(frozen=True)
class AIDConfig:
    coefficients: tuple[float, ...]
    mode: str = "outer"
    fused: bool = True
    start_percent: float = 0.0
    end_percent: float = 0.5
    apply_to_uncond: bool = False

    @property
    def frames(self) -> int:
        return len(self.coefficients)

    def active_at(self, options: dict) -> bool:
        """Whether the current step lies in [start, end) of the sampling steps (the reference's warmup window).

        The step is the position of the current sigma in ``sample_sigmas``; a sigma between two
        steps (multi-stage samplers) belongs to the earlier one.
        """
        sigma, schedule = options.get("sigmas"), options.get("sample_sigmas")
        if sigma is None or schedule is None or len(schedule) < 2:
            return True
        current = float(sigma.max())
        step = int((schedule[:-1] >= current * (1 - 1e-5)).sum()) - 1
        fraction = max(step, 0) / (len(schedule) - 1)
        return self.start_percent <= fraction < self.end_percent

    def chunk_is_active(self, kind: int) -> bool:
        return kind == POSITIVE or (kind == NEGATIVE and self.apply_to_uncond)


class AIDAttentionReplace:
    """Replace patch for one attention layer (self or cross) of one transformer block.

    ``wrapped`` is the replace patch that was on this block before (IP-Adapter sets these). It is
    still called on the whole batch; what it adds on top of plain attention is kept on the
    in-between rows: ``out_i = AID_i + (wrapped_i - plain_i)``, exact for additive adapters.
    """

    def __init__(self, config: AIDConfig, wrapped=None):
        self.config = config
        self.wrapped = wrapped

    def __call__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, options: dict) -> torch.Tensor:
        heads = options["n_heads"]
        chunks = list(options.get("cond_or_uncond") or [POSITIVE])
        self._check_batch(q.shape[0], chunks, options)
        frames = self.config.frames
        active = [c for c, kind in enumerate(chunks) if self.config.chunk_is_active(kind)]
        if not active or frames < 3 or not self.config.active_at(options):
            return self._base(q, k, v, heads, options)

        in_between = torch.cat([torch.arange(c * frames + 1, (c + 1) * frames - 1) for c in active]).to(q.device)
        if self.wrapped is not None:
            out = self.wrapped(q, k, v, options).clone()
            added = out[in_between] - self._plain(q[in_between], k[in_between], v[in_between], heads, options)
        else:
            out = q.new_empty(q.shape[0], q.shape[1], v.shape[-1])
            keep = torch.ones(q.shape[0], dtype=torch.bool, device=q.device)
            keep[in_between] = False
            out[keep] = self._plain(q[keep], k[keep], v[keep], heads, options)
            added = None

        t = torch.tensor(self.config.coefficients[1:-1], dtype=torch.float32, device=q.device)
        rows = []
        for c in active:
            chunk = slice(c * frames, (c + 1) * frames)
            # [N, tokens, H*D] -> [N, H, tokens, D]
            q_c, k_c, v_c = (_heads_first(x[chunk], heads) for x in (q, k, v))
            rows.append(_heads_last(aid.interpolated_attention(q_c, k_c, v_c, t, self.config.mode, self.config.fused)))
        interpolated = torch.cat(rows)
        out[in_between] = interpolated if added is None else interpolated + added
        return out

    def _check_batch(self, batch: int, chunks: list, options: dict) -> None:
        if options.get("context_window") is not None:
            raise input_error(NODE_NAME, "model", "context windows slice the latent batch, but AID needs every frame "
                                                  "of the sequence in one model call; remove the context window node")
        if batch % len(chunks) or batch // len(chunks) != self.config.frames:
            raise input_error(NODE_NAME, "schedule", f"schedule has {self.config.frames} frames but the latent batch "
                                                     f"has {batch // max(len(chunks), 1)}; use a latent of batch "
                                                     f"{self.config.frames} (e.g. Shared Noise Latent with this schedule)")

    def _base(self, q, k, v, heads, options):
        if self.wrapped is not None:
            return self.wrapped(q, k, v, options)
        return self._plain(q, k, v, heads, options)

    @staticmethod
    def _plain(q, k, v, heads, options):
        """The attention the unpatched block computes (same function, override and precision)."""
        return comfy_attention.optimized_attention(q, k, v, heads, attn_precision=options.get("attn_precision"),
                                                   transformer_options=options)


def _heads_first(x: torch.Tensor, heads: int) -> torch.Tensor:
    rows, tokens, width = x.shape
    return x.reshape(rows, tokens, heads, width // heads).transpose(1, 2)


def _heads_last(x: torch.Tensor) -> torch.Tensor:
    rows, heads, tokens, dim = x.shape
    return x.transpose(1, 2).reshape(rows, tokens, heads * dim)


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


def patch_model(model, config: AIDConfig, self_attention: bool, cross_attention: bool):
    """A clone of ``model`` with AID replace patches on the chosen attention layers of every block."""
    diffusion_model = model.get_model_object("diffusion_model")
    if not isinstance(diffusion_model, UNetModel):
        kind = type(diffusion_model)
        raise input_error(NODE_NAME, "model", f"{kind.__name__} ({kind.__module__}) is not supported; AID works on "
                                              "SD1.x, SD2.x and SDXL UNet models")
    if model.model_options.get("context_handler") is not None:
        raise input_error(NODE_NAME, "model", "context windows are set on this model; they slice the latent batch, "
                                              "but AID needs every frame of the sequence in one model call")
    patched = model.clone()
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


def has_aid_patch(model) -> bool:
    """Whether ``model`` (a ModelPatcher) already carries AID attention patches."""
    replaces = model.model_options.get("transformer_options", {}).get("patches_replace", {})
    return any(isinstance(patch, AIDAttentionReplace) for layer in replaces.values() for patch in layer.values())
