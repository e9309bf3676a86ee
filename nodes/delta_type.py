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

from .comfy_values import encoder_family

DeltaIO = io.Custom("EMBEDDING_DELTA")

FILE_FORMAT = "comfyui-inbetween/embedding-delta"
FILE_VERSION = "1"


class DeltaFileError(ValueError):
    """A file that is not a readable embedding delta; the message names the file and the problem."""


@dataclass(frozen=True)
class DeltaEntry:
    """One conditioning entry's delta: tokens ``[1, T, D]``, pooled ``[1, P]`` or None, target mask ``[1, T]`` or None."""

    tokens: torch.Tensor
    pooled: torch.Tensor | None = None
    target_mask: torch.Tensor | None = None


@dataclass(frozen=True)
class AttributeDelta:
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
                     source: str) -> "AttributeDelta":
        """The delta a file holds; :class:`DeltaFileError` for a foreign file or a damaged one."""
        metadata = metadata or {}
        if metadata.get("format") != FILE_FORMAT:
            raise DeltaFileError(f"{source} is not an embedding delta saved by this pack (its metadata has "
                                 f"format={metadata.get('format')!r}, expected {FILE_FORMAT!r})")
        if metadata.get("version") != FILE_VERSION:
            raise DeltaFileError(f"{source} has format version {metadata.get('version')!r}; this pack reads "
                                 f"version {FILE_VERSION}")
        try:
            counts, recorded = _recorded_layout(metadata)
            delta = cls(tuple(_entry(tensors, index, count) for index, count in enumerate(counts)),
                        metadata.get("neutral_text", ""), metadata.get("target_text", ""), source)
        except ValueError as err:
            raise DeltaFileError(f"{source}: this file is not a valid embedding delta: {err}") from err
        if delta.signature != recorded:
            raise DeltaFileError(f"{source}: this file is not a valid embedding delta: its tensors are "
                                 f"{encoder_family(*delta.signature)} but its metadata says "
                                 f"{encoder_family(*recorded)}")
        return delta


def _recorded_layout(metadata: dict[str, str]) -> tuple[list[int], tuple[int, int | None]]:
    """Token counts per entry and (token width, pooled width) from the metadata; ValueError says what is wrong."""
    try:
        counts = json.loads(metadata["token_counts"])
        token_width = int(metadata["token_width"])
        pooled_width = int(metadata["pooled_width"]) if metadata["pooled_width"] else None
    except KeyError as err:
        raise ValueError(f"metadata key {err.args[0]!r} is missing") from err
    except (ValueError, TypeError) as err:  # bad JSON, int() of text that is no number, or of a non-string
        raise ValueError(f"metadata token_counts/token_width/pooled_width cannot be read: {err}") from err
    if (not isinstance(counts, list) or not counts
            or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in counts)):
        raise ValueError(f"metadata token_counts must list one positive token count per entry, got {counts!r}")
    return counts, (token_width, pooled_width)


def _entry(tensors: dict[str, torch.Tensor], index: int, count: int) -> DeltaEntry:
    """Entry ``index``: tokens ``[1, count, width]``; pooled ``[1, width]`` and target mask ``[1, count]`` optional."""
    if f"entry.{index}.tokens" not in tensors:
        raise ValueError(f"entry {index} has no tokens tensor ('entry.{index}.tokens')")
    return DeltaEntry(_tensor(tensors, index, "tokens", (1, count, None)),
                      _tensor(tensors, index, "pooled", (1, None)),
                      _tensor(tensors, index, "target_mask", (1, count), floating=False))


def _tensor(tensors: dict[str, torch.Tensor], index: int, key: str, shape: tuple, floating: bool = True):
    """``entry.<index>.<key>`` (None when absent), checked against ``shape`` (None: any size) and dtype."""
    value = tensors.get(f"entry.{index}.{key}")
    if value is None:
        return None
    fits = value.dim() == len(shape) and all(want in (None, got) for got, want in zip(value.shape, shape))
    if not fits or (floating and not value.is_floating_point()):
        wanted = "[" + ", ".join("width" if n is None else str(n) for n in shape) + "]"
        raise ValueError(f"entry {index}: expected {'a floating ' if floating else 'a '}{key} tensor of shape "
                         f"{wanted}, found a {value.dtype} tensor of shape {tuple(value.shape)}")
    if floating and not bool(torch.isfinite(value).all()):
        raise ValueError(f"entry {index}: {key} holds NaN or inf")
    return value
