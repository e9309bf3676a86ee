"""Reading ComfyUI's LATENT, CONDITIONING, IMAGE and CLIP_VISION_OUTPUT values, and float widgets, for every node of
the pack.

Each reader checks what the engine will rely on and raises :class:`InbetweenInputError` naming
the node, the input, what was expected and what arrived; it returns views of the input, never
copies it and never changes it. Outputs are built as new dicts (:func:`entry_with`), so an
input's dict is never mutated either.

- LATENT: ``{"samples": [B, C, H, W] or [B, C, T, H, W] (video), "noise_mask"?, "batch_index"?, ...}``.
  Noise masks are read the way ComfyUI's sampler reads them (``comfy.utils.reshape_mask`` to the
  samples' shape), so masks of any size blend and slide with the samples.
- CONDITIONING: ``[[tokens [B, T, D], {"pooled_output": [B, P]?, "attention_mask": [B, T]?, ...}], ...]``.
  Entry i of one conditioning meets entry i of another; token counts are aligned by one rule
  (:func:`aligned_tokens`) and attention masks follow it (:func:`aligned_mask`). After Apply Style Model
  (Flux Redux) the mask is instead a joint text + image bias ``[B, Q, Q]`` (``read_conditioning(joint_mask=True)``).
- CLIP_VISION_OUTPUT: an object whose ``last_hidden_state`` ``[images, tokens, width]`` style models read (Wan's
  image-to-video models read its ``penultimate_hidden_states``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

import comfy.model_management
import comfy.utils
from comfy_api.latest import io

from ..inbetween import tokens
from .errors import InbetweenInputError

ENCODE_PROMPT_PAIR = "Encode Prompt Pair"

TOKEN_ALIGNMENT_TOOLTIP = (
    "Prompts of different token counts (77 vs 154): error stops with both counts; truncate keeps the longer one's "
    "first tokens; repeat_last repeats the shorter one's last token. Never zero padding."
)

# (token width, pooled width) -> family name, for messages. Widths are what ComfyUI's encoders output:
# SD3 pads CLIP-L+G (2048) to T5's 4096 and concatenates along the tokens; Flux pools CLIP-L only.
ENCODER_FAMILIES = {
    (768, 768): "SD1.x (CLIP-L)",
    (1024, 1024): "SD2.x (OpenCLIP-H)",
    (2048, 1280): "SDXL (CLIP-L + CLIP-G)",
    (4096, 2048): "SD3 (CLIP-L + CLIP-G + T5-XXL)",
    (4096, 768): "Flux (T5-XXL, CLIP-L pooled)",
    (3584, None): "Qwen-Image (Qwen2.5-VL 7B)",
}


def token_alignment_input() -> io.Combo.Input:
    return io.Combo.Input("token_alignment", options=list(tokens.TOKEN_ALIGNMENTS), default="error",
                          tooltip=TOKEN_ALIGNMENT_TOOLTIP)


def describe(value: object) -> str:
    """What arrived, for messages: a tensor's dtype and shape, otherwise the type and a short repr."""
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


# widgets ------------------------------------------------------------------------------------------

def finite(node: str, input: str, value: object) -> float:
    """A FLOAT widget's value. ComfyUI's min/max check lets NaN through (every comparison is false)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InbetweenInputError(node, input, f"expected a number, got {describe(value)}")
    result = float(value)
    if not math.isfinite(result):
        raise InbetweenInputError(node, input, f"expected a finite number, got {result!r}")
    return result


def whole_numbers(node: str, input: str, text: object, maximum: int | None = None) -> list[int]:
    """A STRING widget listing whole numbers separated by commas, spaces or new lines ("8, 8, 12"); [] when empty.
    ``maximum``: the largest number taken (a text widget has no max of its own), as an INT widget's max."""
    if not isinstance(text, str):
        raise InbetweenInputError(node, input, f"expected text, got {describe(text)}")
    values = []
    for item in text.replace(",", " ").split():
        try:
            values.append(int(item))
        except ValueError:
            raise InbetweenInputError(node, input, f"expected whole numbers separated by commas, got {item!r} in "
                                                   f"{text!r}") from None
        if maximum is not None and values[-1] > maximum:
            raise InbetweenInputError(node, input, f"expected numbers of at most {maximum}, got {values[-1]} (number "
                                                   f"{len(values)} of {text!r})")
    return values


def _check_finite(node: str, input: str, what: str, x: torch.Tensor) -> None:
    bad = int((~torch.isfinite(x)).sum())
    if bad:
        raise InbetweenInputError(node, input, f"{what} must be finite, got {bad} NaN/inf value(s) of {x.numel()}")


def _check_float_tensor(node: str, input: str, what: str, x: object, dims: Sequence[int]) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() not in dims or x.numel() == 0:
        wanted = " or ".join(f"{d}-D" for d in dims)
        raise InbetweenInputError(node, input, f"{what} must be a non-empty {wanted} floating tensor, "
                                               f"got {describe(x)}")
    _check_finite(node, input, what, x)
    return x


# LATENT -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Latent:
    """A read LATENT: ``samples`` ``[B, C, H, W]`` or ``[B, C, T, H, W]``, the optional keys as they came."""

    input: str
    samples: torch.Tensor
    noise_mask: torch.Tensor | None
    batch_index: tuple[int, ...] | None

    @property
    def batch(self) -> int:
        return self.samples.shape[0]

    def sampler_mask(self) -> torch.Tensor | None:
        """The noise mask as ComfyUI's sampler uses it: resized to the samples' shape (rows repeated)."""
        if self.noise_mask is None:
            return None
        return comfy.utils.reshape_mask(self.noise_mask.to(self.samples), self.samples.shape)


def read_latent(node: str, input: str, value: object) -> Latent:
    if not isinstance(value, Mapping) or "samples" not in value:
        raise InbetweenInputError(node, input, f"expected a LATENT (a dict with 'samples'), got {describe(value)}")
    samples = _check_float_tensor(node, input, "samples ([batch, channels, height, width], or with frames for "
                                               "video)", value["samples"], (4, 5))
    mask = value.get("noise_mask")
    if mask is not None:
        _check_float_tensor(node, input, "noise_mask", mask, (2, 3, 4, 5))
    index = value.get("batch_index")
    if index is not None:
        if (not isinstance(index, Sequence) or len(index) != samples.shape[0]
                or not all(isinstance(i, int) and not isinstance(i, bool) for i in index)):
            raise InbetweenInputError(node, input, f"batch_index must list one int per row ({samples.shape[0]}), "
                                                   f"got {describe(index)}")
        index = tuple(index)
    return Latent(input, samples, mask, index)


def check_latent_pair(node: str, a: Latent, b: Latent) -> None:
    """``b`` must hold latents of ``a``'s size; batches equal or one of them 1."""
    if a.samples.shape[1:] != b.samples.shape[1:]:
        # Other channels come from another VAE (4: SD1.x/SDXL, 16: SD3/Flux); another size from another picture size.
        fix = ("encode both with the same VAE" if a.samples.shape[1] != b.samples.shape[1]
               else "resize one of them first (e.g. both pictures with Upscale Image before VAE Encode)")
        raise InbetweenInputError(node, b.input, f"expected latents of shape {tuple(a.samples.shape[1:])} per row "
                                                 f"like {a.input}, got {tuple(b.samples.shape[1:])}; {fix}")
    if a.batch != b.batch and 1 not in (a.batch, b.batch):
        raise InbetweenInputError(node, b.input, f"expected batch 1 or {a.batch} (the batch of {a.input}), "
                                                 f"got batch {b.batch}")


# Empty latents are made as core Empty Latent Image makes them: 4 channels at 1/8 of the picture, marked with that
# ratio, so the sampler (ComfyUI v0.12 on) adapts them to the model's latent format (Flux 2: 128 channels at 1/16)
# and the picture has the size asked for. Older ComfyUI reads no mark and only has 1/8 models.
EMPTY_LATENT_RATIO = 8


def empty_latent(node: str, rows_input: str, rows: int, width: int, height: int) -> dict:
    """An empty LATENT of ``rows`` rows for a ``width`` x ``height`` picture; a batch larger than the memory free for
    it stops with an error naming ``rows_input`` (the size is said) before anything is allocated."""
    shape = [rows, 4, height // EMPTY_LATENT_RATIO, width // EMPTY_LATENT_RATIO]
    device = comfy.model_management.intermediate_device()
    size, free = math.prod(shape) * 4, comfy.model_management.get_free_memory(device)
    if size > free:
        raise InbetweenInputError(node, rows_input, f"{rows} frames of {width}x{height} need {size / 2**30:.1f} GiB "
                                                    f"for their latent, more than the {free / 2**30:.1f} GiB free on "
                                                    f"{device}; use fewer frames or a smaller picture")
    return {"samples": torch.zeros(shape, device=device), "downscale_ratio_spacial": EMPTY_LATENT_RATIO}


def latent_like(latent: dict, samples: torch.Tensor, noise_mask: torch.Tensor | None,
                 batch_index: list[int] | None = None) -> dict:
    """A new LATENT: ``latent``'s other keys carried, its samples, mask and batch_index replaced (None: none)."""
    out = {key: value for key, value in latent.items() if key not in ("samples", "batch_index", "noise_mask")}
    out["samples"] = samples
    if noise_mask is not None:
        out["noise_mask"] = noise_mask
    if batch_index is not None:
        out["batch_index"] = batch_index
    return out


def check_schedule_batch(node: str, frames: int, latent: Latent, single_ok: bool) -> None:
    """A latent meeting a schedule of ``frames`` coefficients has one row per frame (or one row, if ``single_ok``)."""
    allowed = (1, frames) if single_ok else (frames,)
    if latent.batch not in allowed:
        rows = " or ".join(str(n) for n in allowed)
        hint = "" if single_ok else " (e.g. Shared Noise Latent with this schedule)"
        raise InbetweenInputError(node, "schedule", f"schedule has {frames} frames but the latent batch has "
                                                    f"{latent.batch} ({latent.input}); expected a latent of batch "
                                                    f"{rows}{hint}")


def sampler_masks(a: Latent, b: Latent) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Both latents' sampler masks (a missing one is all ones: denoise everywhere), or None when neither has one."""
    mask_a, mask_b = a.sampler_mask(), b.sampler_mask()
    if mask_a is None and mask_b is None:
        return None
    mask_a = torch.ones_like(a.samples) if mask_a is None else mask_a
    mask_b = torch.ones_like(b.samples) if mask_b is None else mask_b
    return mask_a, mask_b.to(mask_a)


# IMAGE --------------------------------------------------------------------------------------------

def read_images(node: str, input: str, value: object, least: int = 1) -> torch.Tensor:
    """An IMAGE batch ``[N, H, W, C]`` of at least ``least`` frames, finite values."""
    images = _check_float_tensor(node, input, "the IMAGE batch [frames, height, width, channels]", value, (4,))
    if images.shape[0] < least:
        raise InbetweenInputError(node, input, f"expected at least {least} frames, got {images.shape[0]}")
    return images


# CLIP_VISION_OUTPUT -------------------------------------------------------------------------------

def read_clip_vision_output(node: str, input: str, value: object,
                            field: str = "last_hidden_state") -> torch.Tensor:
    """A CLIP_VISION_OUTPUT's ``field`` ``[images, tokens, width]``: ``last_hidden_state`` is what style models read,
    ``penultimate_hidden_states`` what Wan's image-to-video models read."""
    hidden = getattr(value, field, None)
    if hidden is None:
        raise InbetweenInputError(node, input, f"expected a CLIP_VISION_OUTPUT (CLIP Vision Encode's output), got "
                                               f"{describe(value)}" + ("" if field == "last_hidden_state" else
                                                                       f" (no {field})"))
    return _check_float_tensor(node, input, f"{field} [images, tokens, width]", hidden, (3,))


# CONDITIONING -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """Entry ``index`` of the conditioning at input ``input``: tokens ``[B, T, D]`` and its dict (not a copy)."""

    input: str
    index: int
    tokens: torch.Tensor
    options: Mapping

    @property
    def pooled(self) -> torch.Tensor | None:
        return self.options.get("pooled_output")

    @property
    def attention_mask(self) -> torch.Tensor | None:
        return self.options.get("attention_mask")

    @property
    def signature(self) -> tuple[int, int | None]:
        return signature(self.tokens, self.pooled)


def signature(token_rows: torch.Tensor, pooled: torch.Tensor | None) -> tuple[int, int | None]:
    """(token width, pooled width or None): tells the text-encoder families apart."""
    return token_rows.shape[-1], None if pooled is None else pooled.shape[-1]


def encoder_family(token_width: int, pooled_width: int | None) -> str:
    name = ENCODER_FAMILIES.get((token_width, pooled_width))
    pooled = f"pooled {pooled_width}" if pooled_width is not None else "no pooled output"
    return f"{name}, width {token_width}, {pooled}" if name else f"unknown encoder (width {token_width}, {pooled})"


def read_conditioning(node: str, input: str, value: object, batch_one: bool = False,
                      joint_mask: bool | None = False) -> tuple[Entry, ...]:
    """The entries of a CONDITIONING (at least one). ``batch_one``: every entry holds one prompt. ``joint_mask``: an
    attention mask is Apply Style Model's joint text + image bias rather than a text encoder's token mask; ``None``:
    as each entry says (joint where it carries Apply Style Model's ``attention_mask_img_shape``), for a node that
    hands the conditioning to a sampler as it is."""
    if not isinstance(value, (list, tuple)) or not value:
        raise InbetweenInputError(node, input, f"expected a CONDITIONING (a non-empty list of [tensor, dict] "
                                               f"entries), got {describe(value)}")
    entries = []
    for index, item in enumerate(value):
        if not isinstance(item, (list, tuple)) or len(item) != 2 or not isinstance(item[1], Mapping):
            raise InbetweenInputError(node, input, f"entry {index}: expected a [tensor, dict] pair, got "
                                                   f"{describe(item)}")
        where = f"entry {index}"
        rows = _check_float_tensor(node, input, f"{where}'s embedding [batch, tokens, width]", item[0], (3,))
        if batch_one and rows.shape[0] != 1:
            raise InbetweenInputError(node, input, f"{where}: expected one prompt (batch 1) per entry, got batch "
                                                   f"{rows.shape[0]}")
        pooled = item[1].get("pooled_output")
        if pooled is not None:
            _check_float_tensor(node, input, f"{where}'s pooled_output", pooled, (2,))
            if pooled.shape[0] != rows.shape[0]:
                raise InbetweenInputError(node, input, f"{where}: expected a pooled_output of batch {rows.shape[0]} "
                                                       f"like its embedding, got {tuple(pooled.shape)}")
        mask = item[1].get("attention_mask")
        if mask is not None:
            joint = "attention_mask_img_shape" in item[1] if joint_mask is None else joint_mask
            _check_attention_mask(node, input, where, rows, item[1], joint)
        entries.append(Entry(input, index, rows, item[1]))
    return tuple(entries)


def _check_attention_mask(node: str, input: str, where: str, rows: torch.Tensor, options: Mapping,
                          joint: bool) -> None:
    """A text encoder's mask is ``[1 or B, tokens]``. ComfyUI's Apply Style Model (Flux Redux) instead keeps a joint
    bias ``[1 or B, side, side]`` over the text tokens and ``attention_mask_img_shape`` (h, w) image tokens
    (``side = tokens + h * w``), which the model rescales to the latent's image tokens."""
    mask = options["attention_mask"]
    if joint:
        height, width = options.get("attention_mask_img_shape", (1, 1))
        side = rows.shape[1] + height * width
        trailing, shown = (side, side), f"{side}, {side}] (text tokens + attention_mask_img_shape {height}x{width})"
    else:
        trailing, shown = (rows.shape[1],), f"{rows.shape[1]}]"
    if (not isinstance(mask, torch.Tensor) or tuple(mask.shape[1:]) != trailing
            or mask.shape[0] not in (1, rows.shape[0])):
        joint_here = not joint and isinstance(mask, torch.Tensor) and mask.dim() == 3
        hint = ("; this is a joint text + image mask (Apply Style Model with strength_type attn_bias), which only "
                "Image Condition Interpolation Batch takes: use strength_type multiply here") if joint_here else ""
        raise InbetweenInputError(node, input, f"{where}: expected an attention_mask of shape [1 or {rows.shape[0]}, "
                                               f"{shown}, got {describe(mask)}{hint}")


def paired(node: str, first: Sequence[Entry], *others: Sequence[Entry]) -> list[tuple[Entry, ...]]:
    """Entry i of every conditioning together; they must have as many entries as ``first``."""
    for other in others:
        if len(other) != len(first):
            raise InbetweenInputError(node, other[0].input, f"has {len(other)} entries but {first[0].input} has "
                                                            f"{len(first)}; combine them the same way")
    return list(zip(first, *others))


def check_same_encoder(node: str, reference: Entry, other: Entry) -> None:
    if other.signature != reference.signature:
        raise InbetweenInputError(node, other.input, f"entry {other.index} comes from "
                                                     f"{encoder_family(*other.signature)} but {reference.input} from "
                                                     f"{encoder_family(*reference.signature)}; encode both with the "
                                                     "same text encoder")


# Where a model's config keeps the width of the prompt embeddings it reads (unet_config): the UNets' cross-attention,
# Flux/Chroma/Flux 2, Qwen-Image, Wan, Z-Image; SD3's in its context embedder's config.
MODEL_TEXT_WIDTH_KEYS = ("context_dim", "context_in_dim", "joint_attention_dim", "text_dim", "cap_feat_dim")


def model_text_width(model) -> int | None:
    """The width of the prompt embeddings a MODEL reads, from its config; None where the config does not say."""
    config = getattr(getattr(getattr(model, "model", None), "model_config", None), "unet_config", None) or {}
    for key in MODEL_TEXT_WIDTH_KEYS:
        if isinstance(config.get(key), int):
            return config[key]
    width = (config.get("context_embedder_config") or {}).get("params", {}).get("in_features")
    return width if isinstance(width, int) else None


def check_model_encoder(node: str, model, *conditionings: Sequence[Entry]) -> None:
    """Every entry is as wide as the prompts ``model`` reads: a prompt of another family (SD1.5's 768 into SD3's
    4096) is refused here, before sampling, instead of failing inside the model with its own shape error."""
    width = model_text_width(model)
    for entry in (entry for entries in conditionings for entry in entries):
        if width is not None and entry.tokens.shape[-1] != width:
            raise InbetweenInputError(node, entry.input, f"entry {entry.index} comes from "
                                                         f"{encoder_family(*entry.signature)} but the model reads "
                                                         f"prompts of width {width}; encode the prompts with this "
                                                         "model's text encoder")


def aligned_tokens(node: str, index: int, named: Sequence[tuple[str, torch.Tensor]],
                   alignment: str) -> list[torch.Tensor]:
    """Token rows of one entry index brought to one token count by ``alignment`` (``tokens.align_many``)."""
    try:
        return tokens.align_many([x for _, x in named], alignment, tuple(name for name, _ in named))
    except tokens.TokenCountMismatch as err:
        raise InbetweenInputError(node, "token_alignment", f"entry {index}: {err.detail}. Encode the prompts with "
                                  f"{ENCODE_PROMPT_PAIR} (one CLIP, matched token layout), or set token_alignment to "
                                  "truncate or repeat_last") from err


def aligned_mask(mask: torch.Tensor | None, count: int) -> torch.Tensor | None:
    """An attention mask ``[rows, T]`` brought to ``count`` tokens the way :func:`aligned_tokens` brings its
    embedding: truncate keeps the first tokens, repeat_last repeats the last one. None stays None."""
    if mask is None or mask.shape[-1] >= count:
        return None if mask is None else mask[:, :count]
    return torch.cat([mask, mask[:, -1:].expand(-1, count - mask.shape[-1])], dim=1)


def stacked_entry(node: str, entries: Sequence[Entry], token_alignment: str) -> list:
    """One entry whose rows are the rows of ``entries`` in order (keyframes): one text encoder, token counts aligned
    by ``token_alignment``, pooled outputs and attention masks stacked alike (a row without a mask admits every
    token). Other keys come from the first entry."""
    first = entries[0]
    for other in entries[1:]:
        check_same_encoder(node, first, other)
    aligned = aligned_tokens(node, first.index, [(entry.input, entry.tokens.to(first.tokens)) for entry in entries],
                             token_alignment)
    rows = torch.cat(aligned)
    pooled = None if first.pooled is None else torch.cat([entry.pooled.to(first.pooled) for entry in entries])
    masks = [aligned_mask(entry.attention_mask, rows.shape[1]) for entry in entries]
    mask = None
    if any(m is not None for m in masks):
        like = next(m for m in masks if m is not None)
        mask = torch.cat([torch.ones(x.shape[0], rows.shape[1]).to(like) if m is None else m.to(like).expand(
            x.shape[0], -1) for m, x in zip(masks, aligned)])
    return entry_with(first.options, rows, pooled_output=pooled, attention_mask=mask)


def entry_with(options: Mapping, rows: torch.Tensor, **changed: torch.Tensor | None) -> list:
    """A new entry ``[rows, dict]``: ``options``' keys carried, ``changed`` ones replaced (None: left as they were)."""
    return [rows, {**options, **{key: value for key, value in changed.items() if value is not None}}]
