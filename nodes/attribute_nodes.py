"""Attribute control by embedding arithmetic: Embedding Delta, Alpha Blend, Multi Attribute Blend.

Conditioning lists are handled entry by entry (entry i of the neutral meets entry i of the
delta); pooled outputs follow the arithmetic, attention masks admit what the blend uses (see
``attributes.blended_mask``), every other key (guidance, reference latents, areas, ControlNet...)
is carried from the neutral/base entry. Inputs are never modified.
"""

from collections.abc import Sequence

import torch

from comfy_api.latest import io

from ..inbetween import attributes
from .comfy_values import (Entry, aligned_mask, aligned_tokens, check_same_encoder, encoder_family, entry_with, finite,
                           paired, read_conditioning, token_alignment_input)
from .delta_type import AttributeDelta, DeltaEntry, DeltaIO
from .errors import InbetweenInputError, engine_errors
from .schedule_type import ScheduleIO, sweep_coefficients

CATEGORY = "inbetween/attributes"
ALPHA_RANGE = {"min": -10.0, "max": 10.0, "step": 0.01}


def _check_delta(node: str, conditioning: Sequence[Entry], delta: AttributeDelta, input_name: str) -> None:
    if len(delta.entries) != len(conditioning):
        raise InbetweenInputError(node, input_name, f"{delta.name()} has {len(delta.entries)} entries but the "
                                                    f"conditioning has {len(conditioning)}; make both from "
                                                    "conditionings combined the same way")
    for entry in conditioning:
        if entry.signature != delta.signature:
            raise InbetweenInputError(node, input_name, f"{delta.name()} was made for {delta.encoder}, but entry "
                                                        f"{entry.index} of the conditioning comes from "
                                                        f"{encoder_family(*entry.signature)}; use a delta made with "
                                                        "this text encoder")


def _blended_entry(entry: Entry, rows: torch.Tensor, pooled: torch.Tensor | None, changes: Sequence[DeltaEntry],
                   factors: Sequence[torch.Tensor]) -> list:
    """The output entry: the blend's rows and pooled output, the mask admitting what the blend uses, other keys carried."""
    count = rows.shape[1]
    mask = attributes.blended_mask(aligned_mask(entry.attention_mask, count),
                                   [aligned_mask(change.target_mask, count) for change in changes], factors)
    return entry_with(entry.options, rows, pooled_output=pooled, attention_mask=mask)


class EmbeddingDelta(io.ComfyNode):
    """delta = target - neutral, per conditioning entry, pooled output included."""

    DISPLAY_NAME = "Embedding Delta"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenEmbeddingDelta",
            display_name=cls.DISPLAY_NAME,
            category=CATEGORY,
            description=(
                "The attribute direction delta = target - neutral (as in PixelSmile), token embeddings and pooled "
                "output, with its text encoder. Feed Alpha Blend or Multi Attribute Blend, or save it."
            ),
            inputs=[
                io.Conditioning.Input("neutral", tooltip="Neutral prompt (e.g. 'neutral expression')."),
                io.Conditioning.Input("target", tooltip="Target prompt (e.g. 'smiling'), same text encoder; "
                                                        "Encode Prompt Pair makes the token layouts match."),
                token_alignment_input(),
                io.String.Input("neutral_text", default="", optional=True,
                                tooltip="Optional: the neutral prompt's text, kept in the delta's metadata."),
                io.String.Input("target_text", default="", optional=True,
                                tooltip="Optional: the target prompt's text, kept in the delta's metadata."),
            ],
            outputs=[DeltaIO.Output(display_name="delta", tooltip="The embedding delta."),
                     io.String.Output(display_name="summary", tooltip="Encoder, token counts and delta norms.")],
        )

    @classmethod
    def execute(cls, neutral, target, token_alignment, neutral_text="", target_text="") -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        pairs = paired(node, read_conditioning(node, "neutral", neutral, batch_one=True),
                       read_conditioning(node, "target", target, batch_one=True))
        entries = []
        for entry_n, entry_t in pairs:
            check_same_encoder(node, entry_n, entry_t)
            tokens_n, tokens_t = aligned_tokens(node, entry_n.index, [("neutral", entry_n.tokens),
                                                                      ("target", entry_t.tokens)], token_alignment)
            pooled = None if entry_n.pooled is None else attributes.embedding_delta(entry_n.pooled, entry_t.pooled)
            mask = aligned_mask(entry_t.attention_mask, tokens_t.shape[1])
            entries.append(DeltaEntry(attributes.embedding_delta(tokens_n, tokens_t), pooled,
                                      None if mask is None else mask.clone()))
        delta = AttributeDelta(tuple(entries), neutral_text, target_text)
        return io.NodeOutput(delta, delta.summary())


class AlphaBlend(io.ComfyNode):
    """e = e_neutral + alpha * delta, one alpha or one per row from a schedule."""

    DISPLAY_NAME = "Alpha Blend"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenAlphaBlend",
            display_name=cls.DISPLAY_NAME,
            category=CATEGORY,
            description=(
                "Attribute control: neutral + alpha * delta (0 = neutral exactly, 1 = target, above 1 exaggerates, "
                "below 0 the opposite). With a schedule, one alpha per row: a whole intensity series in one run."
            ),
            inputs=[
                io.Conditioning.Input("neutral", tooltip="The conditioning to move: the delta's neutral prompt, or "
                                                         "another prompt from the same text encoder."),
                DeltaIO.Input("delta", tooltip="From Embedding Delta or Load Embedding Delta."),
                io.Float.Input("alpha", default=1.0, **ALPHA_RANGE,
                               tooltip="Intensity: 0 = neutral, 1 = target, 1.5 = exaggerated, -1 = opposite. "
                                       "Ignored when a schedule is connected."),
                io.Combo.Input("strategy", options=list(attributes.BLEND_STRATEGIES), default="all_tokens",
                               tooltip="all_tokens: every token moves (PixelSmile's default). last_tokens: only the "
                                       "last token_count tokens move. direction: the delta's unit direction times "
                                       "magnitude."),
                io.Int.Input("token_count", default=7, min=1, max=65536,
                             tooltip="last_tokens only: how many tokens at the end move."),
                io.Float.Input("magnitude", default=10.0, min=0.001, max=100000.0, step=0.01,
                               tooltip="direction only: the norm of the offset at alpha = 1 (Frobenius norm over all "
                                       "tokens; Embedding Delta's summary shows the delta's own norm)."),
                token_alignment_input(),
                ScheduleIO.Input("schedule", optional=True,
                                 tooltip="Optional: one alpha per row (e.g. Beta Coefficient Schedule with start 0, "
                                         "end 1.5); the latent batch must have as many rows."),
            ],
            outputs=[io.Conditioning.Output(tooltip="One entry per neutral entry; batch N with a schedule.")],
        )

    @classmethod
    def execute(cls, neutral, delta, alpha, strategy, token_count, magnitude, token_alignment,
                schedule=None) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        entries = read_conditioning(node, "neutral", neutral)
        _check_delta(node, entries, delta, "delta")
        alphas = list(sweep_coefficients(node, schedule)) if schedule is not None else finite(node, "alpha", alpha)
        magnitude = finite(node, "magnitude", magnitude)
        out = []
        for entry, change in zip(entries, delta.entries):
            if schedule is not None and entry.tokens.shape[0] not in (1, len(schedule)):
                raise InbetweenInputError(node, "neutral", f"entry {entry.index}: expected batch 1 or {len(schedule)} "
                                                           f"(the schedule's frames), got batch {entry.tokens.shape[0]}")
            rows, tokens_delta = aligned_tokens(node, entry.index, [("neutral", entry.tokens),
                                                                    ("delta", change.tokens)], token_alignment)
            with engine_errors(node, last_tokens="token_count", delta="delta"):
                factors = attributes.blend_factors(tokens_delta, alphas, strategy, magnitude)
                rows = attributes.blend(rows, tokens_delta, alphas, strategy, last_tokens=token_count,
                                        magnitude=magnitude)
            factors = factors.expand(rows.shape[0])
            pooled = None if change.pooled is None else attributes.add_scaled(entry.pooled, change.pooled, factors)
            out.append(_blended_entry(entry, rows, pooled, [change], [factors]))
        return io.NodeOutput(out)


class MultiAttributeBlend(io.ComfyNode):
    """e = e_base + sum_i w_i * delta_i for up to four deltas; chain it for more."""

    DISPLAY_NAME = "Multi Attribute Blend"
    PAIRS = 4

    @classmethod
    def define_schema(cls):
        weights = [io.Float.Input(f"weight_{i}", default=1.0 if i == 1 else 0.5, **ALPHA_RANGE,
                                  tooltip=f"Weight of delta_{i} (ignored when delta_{i} is not connected).")
                   for i in range(1, cls.PAIRS + 1)]
        deltas = [DeltaIO.Input(f"delta_{i}", optional=True, tooltip=f"Attribute delta {i} (optional).")
                  for i in range(1, cls.PAIRS + 1)]
        return io.Schema(
            node_id="InbetweenMultiAttributeBlend",
            display_name=cls.DISPLAY_NAME,
            category=CATEGORY,
            description=(
                "Several attributes at once: base + w1 * delta_1 + w2 * delta_2 + ... (pooled outputs too). Up to four "
                "deltas here; feed the output into another Multi Attribute Blend for more."
            ),
            inputs=[io.Conditioning.Input("base", tooltip="The conditioning the deltas are added to (usually their "
                                                          "shared neutral prompt).")]
                   + weights
                   + [token_alignment_input()]
                   + deltas,
            outputs=[io.Conditioning.Output(tooltip="One entry per base entry, the base's batch.")],
        )

    @classmethod
    def execute(cls, base, token_alignment, **inputs) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        entries = read_conditioning(node, "base", base)
        connected = [i for i in range(1, cls.PAIRS + 1) if inputs.get(f"delta_{i}") is not None]
        deltas = [inputs[f"delta_{i}"] for i in connected]
        for i, delta in zip(connected, deltas):
            _check_delta(node, entries, delta, f"delta_{i}")
        weights = [finite(node, f"weight_{i}", inputs[f"weight_{i}"]) for i in connected]
        factors = [torch.tensor([weight], dtype=torch.float64) for weight in weights]
        out = []
        for entry in entries:
            changes = [delta.entries[entry.index] for delta in deltas]
            named = [("base", entry.tokens)] + [(f"delta_{i}", change.tokens) for i, change in zip(connected, changes)]
            rows, *token_deltas = aligned_tokens(node, entry.index, named, token_alignment)
            rows = attributes.combine(rows, token_deltas, weights)
            pooled = None if entry.pooled is None else attributes.combine(entry.pooled,
                                                                          [c.pooled for c in changes], weights)
            out.append(_blended_entry(entry, rows, pooled, changes, factors))
        return io.NodeOutput(out)
