"""Encode several prompts with one CLIP so that their token layouts match exactly.

Embedding arithmetic needs equal token counts. ComfyUI's tokenizers give, per encoder key
(``clip.tokenize(text)`` -> ``{"l": [[(token, weight), ...], ...], "t5xxl": [[...]]}``):

- chunked CLIP encoders: a list of fixed-size chunks (77 tokens per 75 words), so a long prompt
  has more chunks than a short one (154 vs 77 tokens). Each chunk is encoded on its own, so the
  shorter prompt gets extra chunks made by the tokenizer from the empty prompt: they encode to
  what CLIP gives for an empty prompt (real start/end/pad embeddings, never zeros), and the
  prompt's own chunks are unchanged.
- one long sequence per prompt (T5, LLM encoders such as Qwen2.5-VL): the shorter ones are
  tokenized again with the tokenizer's own ``<embedding_key>_min_length`` option (the option
  ComfyUI's T5TokenizerOptions sets), so they are padded with the encoder's own pad token,
  exactly as the encoder pads every short prompt; encoders that mask padding mask these too.
"""

from __future__ import annotations

from comfy_api.latest import io

from .comfy_values import ENCODE_PROMPT_PAIR, paired, read_conditioning, read_images, stacked_entry
from .errors import InbetweenInputError

DISPLAY_NAME = ENCODE_PROMPT_PAIR


def _sub_tokenizer(clip, key: str):
    """The per-encoder tokenizer behind a token key: ComfyUI names it ``key`` or ``clip_<key>``."""
    for name in (key, f"clip_{key}"):
        tokenizer = getattr(clip.tokenizer, name, None)
        if hasattr(tokenizer, "embedding_key"):
            return tokenizer
    return None


def matched_tokens(clip, texts: list[str], node: str = DISPLAY_NAME, **tokenize_kwargs) -> list[dict]:
    """``clip.tokenize`` of every text, made equal in chunk count and token count per encoder key."""
    tokenized = [clip.tokenize(text, **tokenize_kwargs) for text in texts]
    for key in tokenized[0]:
        lists = [tokens[key] for tokens in tokenized]
        chunk_sizes = {len(chunk) for chunks in lists for chunk in chunks}
        if len(chunk_sizes) == 1:
            most = max(len(chunks) for chunks in lists)
            if any(len(chunks) < most for chunks in lists):
                empty = clip.tokenize("", **tokenize_kwargs)[key][0]
                for tokens in tokenized:
                    tokens[key] = tokens[key] + [list(empty) for _ in range(most - len(tokens[key]))]
        elif all(len(chunks) == 1 for chunks in lists):
            _pad_single_sequences(clip, key, texts, tokenized, node, tokenize_kwargs)
        else:
            sizes = [[len(chunk) for chunk in chunks] for chunks in lists]
            raise InbetweenInputError(node, "clip", f"tokenizer '{key}' gives chunks of sizes {sizes}: neither fixed-size "
                                            "chunks nor one sequence per prompt, so the layouts cannot be matched")
    return tokenized


def _pad_single_sequences(clip, key, texts, tokenized, node, tokenize_kwargs) -> None:
    longest = max(len(tokens[key][0]) for tokens in tokenized)
    tokenizer = _sub_tokenizer(clip, key)
    if tokenizer is None:
        raise InbetweenInputError(node, "clip", f"cannot find the tokenizer for '{key}' to pad its prompts to {longest} tokens")
    options = {f"{tokenizer.embedding_key}_min_length": longest}
    for index, text in enumerate(texts):
        if len(tokenized[index][key][0]) < longest:
            padded = clip.tokenize(text, tokenizer_options=options, **tokenize_kwargs)[key]
            if len(padded) != 1 or len(padded[0]) != longest:
                raise InbetweenInputError(node, "clip", f"tokenizer '{key}' ignored min_length={longest} "
                                                f"(gave {[len(c) for c in padded]} tokens)")
            tokenized[index][key] = padded


class EncodePromptPair(io.ComfyNode):
    """Neutral and target prompts (plus up to two more) encoded with matching token layouts."""

    DISPLAY_NAME = DISPLAY_NAME

    @classmethod
    def define_schema(cls):
        prompt = "Keep it identical to the neutral prompt except for the attribute, so the delta is clean."
        return io.Schema(
            node_id="InbetweenEncodePromptPair",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/attributes",
            description=(
                "Encodes a neutral and a target prompt (and up to two more) with one CLIP so all get the same token "
                "count (77 vs 154 becomes 154 and 154), never zero padding. Feed the outputs to Embedding Delta."
            ),
            inputs=[
                io.Clip.Input("clip", tooltip="The text encoder; all prompts use it."),
                io.String.Input("neutral", multiline=True, dynamic_prompts=True, default="portrait photo of a woman, "
                                "neutral expression", tooltip="The neutral prompt (alpha = 0)."),
                io.String.Input("target", multiline=True, dynamic_prompts=True, default="portrait photo of a woman, "
                                "smiling", tooltip="The target prompt (alpha = 1). " + prompt),
                io.String.Input("target_2", multiline=True, dynamic_prompts=True, default="",
                                tooltip="Optional second attribute prompt for Multi Attribute Blend. " + prompt),
                io.String.Input("target_3", multiline=True, dynamic_prompts=True, default="",
                                tooltip="Optional third attribute prompt. " + prompt),
                io.Image.Input("image", optional=True,
                               tooltip="Optional image for vision-language encoders (Qwen-Image-Edit), part of every "
                                       "prompt as in TextEncodeQwenImageEdit. Scale it alike (about 1 megapixel); add "
                                       "its latent with ReferenceLatent."),
            ],
            outputs=[
                io.Conditioning.Output(display_name="neutral", tooltip="The neutral prompt, matched layout."),
                io.Conditioning.Output(display_name="target", tooltip="The target prompt, matched layout."),
                io.Conditioning.Output(display_name="target_2",
                                       tooltip="Second attribute prompt (the empty prompt when left empty)."),
                io.Conditioning.Output(display_name="target_3",
                                       tooltip="Third attribute prompt (the empty prompt when left empty)."),
            ],
        )

    @classmethod
    def execute(cls, clip, neutral, target, target_2, target_3, image=None) -> io.NodeOutput:
        if clip is None:
            raise InbetweenInputError(cls.DISPLAY_NAME, "clip", "no CLIP arrived; the checkpoint has no text encoder")
        kwargs = {} if image is None else {"images": [read_images(cls.DISPLAY_NAME, "image", image)[:, :, :, :3]]}
        tokenized = matched_tokens(clip, [neutral, target, target_2, target_3], **kwargs)
        return io.NodeOutput(*(clip.encode_from_tokens_scheduled(tokens) for tokens in tokenized))


class EncodeKeyframePrompts(io.ComfyNode):
    """Keyframe prompts, one a line, encoded with one CLIP into one conditioning of one row per keyframe."""

    DISPLAY_NAME = "Encode Keyframe Prompts"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenEncodeKeyframePrompts",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/conditioning",
            description=(
                "One prompt a line, each a keyframe, encoded with one CLIP to the same token layout (as Encode "
                "Prompt Pair does): one conditioning with a row per keyframe, for Keyframe Conditioning Batch."
            ),
            inputs=[
                io.Clip.Input("clip", tooltip="The text encoder; all prompts use it."),
                io.String.Input("prompts", multiline=True, dynamic_prompts=True,
                                default="a lighthouse on a cliff, spring morning\na lighthouse on a cliff, summer "
                                        "noon\na lighthouse on a cliff, autumn evening\na lighthouse on a cliff, "
                                        "winter night",
                                tooltip="One keyframe prompt a line, in order; empty lines are skipped."),
            ],
            outputs=[
                io.Conditioning.Output(display_name="keyframes", tooltip="One row per prompt, matched layout."),
                io.Int.Output(display_name="count", tooltip="The number of keyframes (the prompts)."),
            ],
        )

    @classmethod
    def execute(cls, clip, prompts) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        if clip is None:
            raise InbetweenInputError(node, "clip", "no CLIP arrived; the checkpoint has no text encoder")
        texts = [line.strip() for line in prompts.splitlines() if line.strip()]
        if len(texts) < 2:
            raise InbetweenInputError(node, "prompts", f"expected at least 2 prompts, one a line, got {len(texts)}")
        encoded = [read_conditioning(node, "prompts", clip.encode_from_tokens_scheduled(tokens), batch_one=True)
                   for tokens in matched_tokens(clip, texts, node)]
        return io.NodeOutput([stacked_entry(node, rows, "error") for rows in paired(node, *encoded)], len(texts))
