"""Text-embedding interpolation as one batched conditioning, shared by Conditioning Interpolation Batch and
Adaptive Beta Schedule (each passes its own node name; the entries know their input names).

Row k of every entry is the interpolation of A and B at ``t_k`` (pooled outputs too); with a guide
(PAID) the in-between rows are the guide. Other keys come from A; the attention mask admits every
token any of the prompts admits, after the token alignment.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..inbetween import sequences
from .comfy_values import Entry, aligned_mask, aligned_tokens, check_same_encoder, entry_with, paired
from .errors import engine_errors
from .schedule_type import InterpSchedule


def interpolation_batch(node: str, a: Sequence[Entry], b: Sequence[Entry], schedule: InterpSchedule, method: str,
                        token_alignment: str, guide: Sequence[Entry] | None = None) -> list:
    """One output entry per input entry, each of batch ``len(schedule)``; entries are read with batch 1."""
    t = schedule.as_tensor()
    out = []
    for entries in paired(node, a, b, *([guide] if guide is not None else [])):
        first = entries[0]
        for other in entries[1:]:
            check_same_encoder(node, first, other)
        named = [(entry.input, entry.tokens.to(first.tokens)) for entry in entries]
        aligned = aligned_tokens(node, first.index, named, token_alignment)
        pooled = None
        with engine_errors(node, t="schedule"):
            rows = sequences.interpolate_sequence(aligned[0], aligned[1], t, method, guide=_guide(aligned))
            if first.pooled is not None:
                pooled = sequences.interpolate_sequence(*[entry.pooled.to(first.pooled) for entry in entries[:2]], t,
                                                        method, guide=_guide([e.pooled.to(first.pooled)
                                                                              for e in entries]))
        mask = _union([aligned_mask(entry.attention_mask, rows.shape[1]) for entry in entries])
        out.append(entry_with(first.options, rows, pooled_output=pooled, attention_mask=mask))
    return out


def _guide(values: list):
    return values[2] if len(values) == 3 else None


def _union(masks: list) -> torch.Tensor | None:
    """Every token some prompt admits (a prompt without a mask admits all); None when no prompt has a mask."""
    present = [mask for mask in masks if mask is not None]
    if not present:
        return None
    filled = [torch.ones_like(present[0]) if mask is None else mask.to(present[0]) for mask in masks]
    return torch.stack(filled).amax(dim=0)
