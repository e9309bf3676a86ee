"""Attribute control by embedding arithmetic: Embedding Delta, Alpha Blend, Multi Attribute Blend.

Conditioning lists are handled entry by entry (entry i of the neutral meets entry i of the
delta); pooled outputs follow the arithmetic, attention masks admit what the blend uses (see
``attributes.blended_mask``), every other key (guidance, reference latents, areas, ControlNet...)
is carried from the neutral/base entry. Inputs are never modified.
"""

import torch

from comfy_api.latest import io

from ..inbetween import attributes, tokens
from .conditioning_nodes import TOKEN_ALIGNMENT_TOOLTIP
from .delta_type import DeltaEntry, DeltaIO, EmbeddingDelta, encoder_family
from .errors import engine_errors, input_error
from .prompt_pair_nodes import EncodePromptPair
from .schedule_type import ScheduleIO

CATEGORY = "inbetween/attributes"
ALPHA_RANGE = {"min": -10.0, "max": 10.0, "step": 0.01}


def _signature(embedding: torch.Tensor, options: dict) -> tuple[int, int | None]:
    pooled = options.get("pooled_output")
    return embedding.shape[-1], None if pooled is None else pooled.shape[-1]


def _aligned(node: str, index: int, named: list[tuple[str, torch.Tensor]], alignment: str) -> list[torch.Tensor]:
    try:
        return tokens.align_many([x for _, x in named], alignment, tuple(name for name, _ in named))
    except tokens.TokenCountMismatch as err:
        raise input_error(node, "token_alignment", f"entry {index}: {err}. Encode the prompts with "
                          f"{EncodePromptPair.DISPLAY_NAME} (one CLIP, matched token layout), or set token_alignment "
                          "to truncate or repeat_last") from err


def _aligned_mask(mask, count: int):
    """A [1, tokens] attention mask cut or extended to ``count`` tokens the way its embedding was
    (truncate keeps the first tokens, repeat_last repeats the last one). None stays None."""
    if mask is None or mask.shape[-1] >= count:
        return None if mask is None else mask[:, :count]
    return torch.cat([mask, mask[:, -1:].expand(-1, count - mask.shape[-1])], dim=1)


def _check_delta(node: str, conditioning: list, delta: EmbeddingDelta, input_name: str) -> None:
    if len(delta.entries) != len(conditioning):
        raise input_error(node, input_name, f"{delta.name()} has {len(delta.entries)} entries but the conditioning has "
                                            f"{len(conditioning)}; make both from conditionings combined the same way")
    for index, (embedding, options) in enumerate(conditioning):
        if _signature(embedding, options) != delta.signature:
            raise input_error(node, input_name, f"{delta.name()} was made for {delta.encoder}, but entry {index} of the "
                              f"conditioning comes from {encoder_family(*_signature(embedding, options))}; use a delta "
                              "made with this text encoder")


class EmbeddingDeltaNode(io.ComfyNode):
    """delta = target - neutral, per conditioning entry, pooled output included."""

    DISPLAY_NAME = "Embedding Delta"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenEmbeddingDelta",
            display_name=cls.DISPLAY_NAME,
            category=CATEGORY,
            description=(
                "The attribute direction delta = target - neutral (textual latent interpolation, as in PixelSmile): "
                "token embeddings and pooled "
                "output, with the encoder it came from. Feed it to Alpha Blend or Multi Attribute Blend, or save it."
            ),
            inputs=[
                io.Conditioning.Input("neutral", tooltip="Neutral prompt (e.g. 'neutral expression')."),
                io.Conditioning.Input("target", tooltip="Target prompt (e.g. 'smiling'), same text encoder; "
                                                        "Encode Prompt Pair makes the token layouts match."),
                io.Combo.Input("token_alignment", options=list(tokens.TOKEN_ALIGNMENTS), default="error",
                               tooltip=TOKEN_ALIGNMENT_TOOLTIP),
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
        if len(neutral) != len(target):
            raise input_error(node, "target", f"has {len(target)} entries but neutral has {len(neutral)}")
        entries = []
        for index, ((emb_n, opts_n), (emb_t, opts_t)) in enumerate(zip(neutral, target)):
            for name, embedding in (("neutral", emb_n), ("target", emb_t)):
                if embedding.shape[0] != 1:
                    raise input_error(node, name, f"entry {index} has batch {embedding.shape[0]}; expected one "
                                                  "prompt (batch 1)")
            if _signature(emb_n, opts_n) != _signature(emb_t, opts_t):
                raise input_error(node, "target", f"entry {index} comes from {encoder_family(*_signature(emb_t, opts_t))}"
                                  f" but neutral from {encoder_family(*_signature(emb_n, opts_n))}; encode both with "
                                  "the same text encoder")
            aligned_n, aligned_t = _aligned(node, index, [("neutral", emb_n), ("target", emb_t)], token_alignment)
            pooled = None
            if opts_n.get("pooled_output") is not None:
                pooled = attributes.embedding_delta(opts_n["pooled_output"], opts_t["pooled_output"])
            mask = _aligned_mask(opts_t.get("attention_mask"), aligned_t.shape[1])
            entries.append(DeltaEntry(attributes.embedding_delta(aligned_n, aligned_t), pooled,
                                      None if mask is None else mask.clone()))
        delta = EmbeddingDelta(tuple(entries), neutral_text, target_text)
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
                "Continuous attribute control: neutral + alpha * delta. 0 = neutral (bit for bit), 1 = target, above 1 "
                "exaggerates, below 0 goes the opposite way. With a schedule, one conditioning of batch N with one "
                "alpha per row, so a whole intensity series samples in one pass with the same seed."
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
                                       "last token_count tokens move, earlier ones stay exactly the neutral's (for "
                                       "CLIP the last tokens are padding, which carries the whole prompt). direction: "
                                       "the delta's unit direction times magnitude, whatever the prompts' distance."),
                io.Int.Input("token_count", default=7, min=1, max=65536,
                             tooltip="last_tokens only: how many tokens at the end move."),
                io.Float.Input("magnitude", default=10.0, min=0.001, max=100000.0, step=0.01,
                               tooltip="direction only: the norm of the offset at alpha = 1 (Frobenius norm over all "
                                       "tokens; Embedding Delta's summary shows the delta's own norm)."),
                io.Combo.Input("token_alignment", options=list(tokens.TOKEN_ALIGNMENTS), default="error",
                               tooltip=TOKEN_ALIGNMENT_TOOLTIP),
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
        _check_delta(node, neutral, delta, "delta")
        alphas = list(schedule.coefficients) if schedule is not None else float(alpha)
        out = []
        for index, ((embedding, options), entry) in enumerate(zip(neutral, delta.entries)):
            emb, change = _aligned(node, index, [("neutral", embedding), ("delta", entry.tokens)], token_alignment)
            with engine_errors(node, "token_count" if strategy == "last_tokens" else "delta"):
                rows = attributes.blend(emb, change, alphas, strategy, last_tokens=token_count, magnitude=magnitude)
                factors = attributes.blend_factors(change, alphas, strategy, magnitude)
            factors = factors.expand(rows.shape[0])
            result = dict(options)
            if entry.pooled is not None:
                result["pooled_output"] = attributes.add_scaled(options["pooled_output"], entry.pooled, factors)
            mask = attributes.blended_mask(_aligned_mask(options.get("attention_mask"), emb.shape[1]),
                                           [_aligned_mask(entry.target_mask, emb.shape[1])], [factors])
            if mask is not None:
                result["attention_mask"] = mask
            out.append([rows, result])
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
                   + [io.Combo.Input("token_alignment", options=list(tokens.TOKEN_ALIGNMENTS), default="error",
                                     tooltip=TOKEN_ALIGNMENT_TOOLTIP)]
                   + deltas,
            outputs=[io.Conditioning.Output(tooltip="One entry per base entry, the base's batch.")],
        )

    @classmethod
    def execute(cls, base, token_alignment, **inputs) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        pairs = [(f"delta_{i}", inputs.get(f"delta_{i}"), inputs[f"weight_{i}"]) for i in range(1, cls.PAIRS + 1)]
        pairs = [(name, delta, weight) for name, delta, weight in pairs if delta is not None]
        for name, delta, _ in pairs:
            _check_delta(node, base, delta, name)
        weights = [weight for _, _, weight in pairs]
        out = []
        for index, (embedding, options) in enumerate(base):
            entries = [delta.entries[index] for _, delta, _ in pairs]
            named = [("base", embedding)] + [(name, entry.tokens) for (name, _, _), entry in zip(pairs, entries)]
            emb, *changes = _aligned(node, index, named, token_alignment)
            result = dict(options)
            with engine_errors(node, "base"):
                rows = attributes.combine(emb, changes, weights)
                if options.get("pooled_output") is not None:
                    result["pooled_output"] = attributes.combine(options["pooled_output"],
                                                                 [entry.pooled for entry in entries], weights)
            factors = [torch.tensor([weight], dtype=torch.float64) for weight in weights]
            masks = [_aligned_mask(entry.target_mask, emb.shape[1]) for entry in entries]
            mask = attributes.blended_mask(_aligned_mask(options.get("attention_mask"), emb.shape[1]), masks, factors)
            if mask is not None:
                result["attention_mask"] = mask
            out.append([rows, result])
        return io.NodeOutput(out)
