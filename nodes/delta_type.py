"""The EMBEDDING_DELTA value passed between nodes, and its .safetensors file format.

A delta is ``target - neutral`` for every entry of a conditioning (float64, batch 1), the pooled
delta where the encoder has a pooled output, the target's attention mask where the encoder
masks padding, and where it came from. Which encoder made it is told by its widths: the token
width and the pooled width (or none) together tell apart every text-encoder family ComfyUI
ships that the pack is tested with, so a delta never meets a conditioning of another encoder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch

from comfy_api.latest import io

DeltaIO = io.Custom("EMBEDDING_DELTA")

FILE_FORMAT = "comfyui-inbetween/embedding-delta"
FILE_VERSION = "1"

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


class DeltaFileError(ValueError):
    """A file that is not a readable embedding delta; the message names the file and the problem."""


def encoder_family(token_width: int, pooled_width: int | None) -> str:
    name = ENCODER_FAMILIES.get((token_width, pooled_width))
    pooled = f"pooled {pooled_width}" if pooled_width is not None else "no pooled output"
    return f"{name}, width {token_width}, {pooled}" if name else f"unknown encoder (width {token_width}, {pooled})"


@dataclass(frozen=True)
class DeltaEntry:
    """One conditioning entry's delta: tokens ``[1, T, D]``, pooled ``[1, P]`` or None, target mask ``[1, T]`` or None."""

    tokens: torch.Tensor
    pooled: torch.Tensor | None = None
    target_mask: torch.Tensor | None = None


@dataclass(frozen=True)
class EmbeddingDelta:
    """Frozen so one delta can feed many nodes (and the cache) without anyone changing it for the others.

    ``source`` is the file a loaded delta came from, so messages can name it.
    """

    entries: tuple[DeltaEntry, ...]
    neutral_text: str = ""
    target_text: str = ""
    source: str = ""

    @property
    def signature(self) -> tuple[int, int | None]:
        first = self.entries[0]
        return first.tokens.shape[-1], None if first.pooled is None else first.pooled.shape[-1]

    @property
    def encoder(self) -> str:
        return encoder_family(*self.signature)

    def name(self) -> str:
        return f"delta '{self.source}'" if self.source else "delta"

    def summary(self) -> str:
        lines = [f"embedding delta for {self.encoder}"]
        if self.source:
            lines.append(f"file: {self.source}")
        if self.neutral_text or self.target_text:
            lines.append(f"neutral: {self.neutral_text!r}\ntarget: {self.target_text!r}")
        for index, entry in enumerate(self.entries):
            norm = torch.linalg.vector_norm(entry.tokens).item()
            line = f"entry {index}: {entry.tokens.shape[1]} tokens, |delta| = {norm:.4g}"
            if entry.pooled is not None:
                line += f", |pooled delta| = {torch.linalg.vector_norm(entry.pooled).item():.4g}"
            lines.append(line)
        return "\n".join(lines)

    # file format -------------------------------------------------------------------------------
    def to_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        """Tensors and string metadata for ``safetensors.torch.save_file``."""
        tensors = {}
        for index, entry in enumerate(self.entries):
            for key in ("tokens", "pooled", "target_mask"):
                value = getattr(entry, key)
                if value is not None:
                    tensors[f"entry.{index}.{key}"] = value.detach().to("cpu").contiguous()
        token_width, pooled_width = self.signature
        metadata = {
            "format": FILE_FORMAT, "version": FILE_VERSION, "encoder": self.encoder,
            "token_width": str(token_width), "pooled_width": "" if pooled_width is None else str(pooled_width),
            "token_counts": json.dumps([e.tokens.shape[1] for e in self.entries]),
            "neutral_text": self.neutral_text, "target_text": self.target_text,
        }
        return tensors, metadata

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None,
                     source: str) -> "EmbeddingDelta":
        metadata = metadata or {}
        if metadata.get("format") != FILE_FORMAT:
            raise DeltaFileError(f"{source} is not an embedding delta saved by this pack (its metadata has "
                                 f"format={metadata.get('format')!r}, expected {FILE_FORMAT!r})")
        if metadata.get("version") != FILE_VERSION:
            raise DeltaFileError(f"{source} has format version {metadata.get('version')!r}; this pack reads "
                                 f"version {FILE_VERSION}")
        counts = json.loads(metadata["token_counts"])
        entries = []
        for index, count in enumerate(counts):
            tokens = tensors.get(f"entry.{index}.tokens")
            if tokens is None or tokens.dim() != 3 or tokens.shape[:2] != (1, count):
                shape = None if tokens is None else tuple(tokens.shape)
                raise DeltaFileError(f"{source}: entry {index} should hold tokens of shape [1, {count}, width], "
                                     f"found {shape}")
            entries.append(DeltaEntry(tokens, tensors.get(f"entry.{index}.pooled"),
                                      tensors.get(f"entry.{index}.target_mask")))
        if not entries:
            raise DeltaFileError(f"{source} holds no entries")
        delta = cls(tuple(entries), metadata.get("neutral_text", ""), metadata.get("target_text", ""), source)
        recorded = (int(metadata["token_width"]), int(metadata["pooled_width"]) if metadata["pooled_width"] else None)
        if delta.signature != recorded:
            raise DeltaFileError(f"{source}: tensors are {encoder_family(*delta.signature)} but the metadata says "
                                 f"{encoder_family(*recorded)}; the file is damaged")
        return delta
