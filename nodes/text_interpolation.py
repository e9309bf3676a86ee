"""Text-embedding interpolation as one batched conditioning, shared by Conditioning Interpolation Batch, Keyframe
Conditioning Batch and Adaptive Beta Schedule (each passes its own node name; the entries know their input names).

Entry i of every source conditioning holds keyframe rows (A and B of batch 1 each for a pair; the K rows of one
conditioning for keyframes); the output's entry i has one row per frame of the schedule: the interpolation of
its segment's two keyframes at its coefficient (pooled outputs too), or with a guide (PAID) the guide on the
in-between rows. Other keys come from the first source; the attention mask admits every token any of the
prompts admits, after the token alignment.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..inbetween import keyframes as engine_keyframes
from .comfy_values import Entry, aligned_mask, aligned_tokens, check_same_encoder, entry_with, paired
from .errors import engine_errors
from .schedule_type import CONDITIONING_KEY, InterpSchedule, keyframes_of


def interpolation_batch(node: str, sources: Sequence[Sequence[Entry]], schedule: InterpSchedule, method: str,
                        token_alignment: str, guide: Sequence[Entry] | None = None, hint: str = "") -> list:
    """One output entry per source entry, each of batch ``len(schedule)``; the rows of entry i of ``sources``, in
    order, are the schedule's keyframes (``hint``: what to use instead when their count is wrong). ``guide``: batch
    1 (every segment) or one row per segment."""
    out = []
    count = len(sources)
    for entries in paired(node, *sources, *([guide] if guide is not None else [])):
        first = entries[0]
        for other in entries[1:]:
            check_same_encoder(node, first, other)
        named = [(entry.input, entry.tokens.to(first.tokens)) for entry in entries]
        aligned = aligned_tokens(node, first.index, named, token_alignment)
        values = torch.cat(aligned[:count])
        layout = keyframes_of(node, schedule, values.shape[0], f"{_names(entries[:count])} give", hint)
        guide_entry = entries[count] if guide is not None else None
        with engine_errors(node, t="schedule", guides="guide"):
            rows = engine_keyframes.interpolate_keyframes(values, layout, method,
                                                          guides=None if guide is None else aligned[count])
            pooled = None
            if first.pooled is not None:
                pooled_values = torch.cat([entry.pooled.to(first.pooled) for entry in entries[:count]])
                pooled = engine_keyframes.interpolate_keyframes(
                    pooled_values, layout, method, guides=None if guide_entry is None else
                    guide_entry.pooled.to(first.pooled))
        mask = _union([aligned_mask(entry.attention_mask, rows.shape[1]) for entry in entries], rows.shape[1])
        out.append(entry_with({**first.options, CONDITIONING_KEY: layout.signature}, rows, pooled_output=pooled,
                              attention_mask=mask))
    return out


def _names(entries: Sequence[Entry]) -> str:
    names = [entry.input for entry in entries]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _union(masks: list, tokens: int) -> torch.Tensor | None:
    """``[1, tokens]``: every token some prompt admits (a prompt without a mask admits all); None when no prompt has
    a mask."""
    present = [mask for mask in masks if mask is not None]
    if not present:
        return None
    filled = [torch.ones(1, tokens).to(present[0]) if mask is None else mask.to(present[0]) for mask in masks]
    return torch.cat(filled).amax(dim=0, keepdim=True)
