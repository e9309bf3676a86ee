"""Nodes that build interpolated CONDITIONING batches."""

import torch

from comfy_api.latest import io

from ..inbetween import interpolation, sequences, tokens
from .errors import engine_errors, input_error
from .schedule_type import ScheduleIO

TOKEN_ALIGNMENT_TOOLTIP = (
    "What to do when the prompts encode to different token counts (e.g. 77 vs 154 for CLIP): "
    "error (default) stops with both counts; truncate keeps the first tokens of the longer one; "
    "repeat_last extends the shorter one with its own last token. Never zero padding: CLIP's pad "
    "embeddings are not zero."
)


def _entry_batch_one(node: str, input_name: str, index: int, embedding: torch.Tensor) -> None:
    if embedding.shape[0] != 1:
        raise input_error(node, input_name, f"entry {index} has batch {embedding.shape[0]}; expected one prompt "
                                            f"(batch 1) per conditioning entry")


def _aligned_masks(masks: list, alignment: str, names: tuple[str, ...]):
    """Attention masks follow the token alignment; the result admits every token any prompt uses."""
    present = [m for m in masks if m is not None]
    if not present:
        return None
    filled = [m if m is not None else torch.ones_like(present[0]) for m in masks]
    aligned = tokens.align_many([m.unsqueeze(-1).to(torch.float32) for m in filled], alignment, names)
    union = torch.stack([m.squeeze(-1) for m in aligned]).amax(dim=0)
    return union.to(present[0].dtype)


class ConditioningInterpolationBatch(io.ComfyNode):
    """Text-embedding interpolation as one batched conditioning (the AID paper's baseline), or PAID's guide."""

    DISPLAY_NAME = "Conditioning Interpolation Batch"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenConditioningInterpolationBatch",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/conditioning",
            description=(
                "One conditioning of batch N from A to B: row k is the interpolation at t_k (pooled outputs too), "
                "so a whole sequence samples in one pass. With a guide (PAID) the in-between rows carry the guide "
                "prompt and the end rows stay A and B. Other keys (masks, ControlNet, guidance...) come from A."
            ),
            inputs=[
                io.Conditioning.Input("conditioning_a", tooltip="Prompt at t = 0."),
                io.Conditioning.Input("conditioning_b", tooltip="Prompt at t = 1, encoded with the same text encoder."),
                ScheduleIO.Input("schedule", tooltip="One coefficient per frame; the latent batch must have as many rows."),
                io.Combo.Input("method", options=list(interpolation.INTERPOLATION_METHODS), default="lerp",
                               tooltip="lerp: plain text-embedding interpolation (the usual baseline). slerp: along "
                                       "the great circle per prompt. normalized_lerp: lerp rescaled to keep variance."),
                io.Combo.Input("token_alignment", options=list(tokens.TOKEN_ALIGNMENTS), default="error",
                               tooltip=TOKEN_ALIGNMENT_TOOLTIP),
                io.Conditioning.Input("guide", optional=True,
                                      tooltip="Optional guide prompt (PAID): the in-between rows use it instead of "
                                              "the interpolation of A and B."),
            ],
            outputs=[io.Conditioning.Output(tooltip="One entry per input entry, each of batch N (one row per frame).")],
        )

    @classmethod
    def execute(cls, conditioning_a, conditioning_b, schedule, method, token_alignment, guide=None) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        if len(conditioning_a) != len(conditioning_b):
            raise input_error(node, "conditioning_b", f"has {len(conditioning_b)} entries but conditioning_a has "
                                                      f"{len(conditioning_a)}; combine them the same way")
        if guide is not None and len(guide) != len(conditioning_a):
            raise input_error(node, "guide", f"has {len(guide)} entries but conditioning_a has {len(conditioning_a)}")
        t = schedule.as_tensor()
        out = []
        for index, ((emb_a, opts_a), (emb_b, opts_b)) in enumerate(zip(conditioning_a, conditioning_b)):
            emb_g, opts_g = guide[index] if guide is not None else (None, {})
            named = [("conditioning_a", emb_a), ("conditioning_b", emb_b)] + ([("guide", emb_g)] if guide else [])
            for name, embedding in named:
                _entry_batch_one(node, name, index, embedding)
            names = tuple(name for name, _ in named)
            try:
                aligned = tokens.align_many([e.to(emb_a) for _, e in named], token_alignment, names)
            except tokens.TokenCountMismatch as err:
                raise input_error(node, "token_alignment", f"entry {index}: {err}. Encode the prompts together with "
                                  "Encode Prompt Pair so their token layouts match, or set token_alignment to "
                                  "truncate or repeat_last") from err
            except ValueError as err:
                raise input_error(node, "conditioning_b", str(err)) from err
            with engine_errors(node, "schedule"):
                rows = sequences.interpolate_sequence(aligned[0], aligned[1], t, method,
                                                      guide=aligned[2] if guide else None)

            options = dict(opts_a)
            pooled = [opts.get("pooled_output") for opts in (opts_a, opts_b, opts_g)][: len(named)]
            if any(p is not None for p in pooled):
                missing = [name for name, p in zip(names, pooled) if p is None]
                if missing:
                    present = next(name for name, p in zip(names, pooled) if p is not None)
                    raise input_error(node, missing[0], f"entry {index} has no pooled_output but {present} has one; "
                                      "encode all prompts with the same text encoder")
                with engine_errors(node, "conditioning_b"):
                    options["pooled_output"] = sequences.interpolate_sequence(
                        pooled[0], pooled[1].to(pooled[0]), t, method,
                        guide=pooled[2].to(pooled[0]) if guide else None)
            masks = [opts.get("attention_mask") for opts in (opts_a, opts_b, opts_g)][: len(named)]
            mask = _aligned_masks(masks, token_alignment, names)
            if mask is not None:
                options["attention_mask"] = mask
            out.append([rows, options])
        return io.NodeOutput(out)
