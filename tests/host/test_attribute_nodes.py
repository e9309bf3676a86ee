"""Attribute control in the real host: prompt-pair encoding with ComfyUI's tokenizers and CLIP, Embedding Delta,
Alpha Blend, Multi Attribute Blend and the delta library, on the real tiny CLIP and on conditionings of the real
shapes of SD1.x, SDXL, SD3, Flux and Qwen-Image-Edit; sampling with ComfyUI's KSampler."""

import copy
import types

import pytest
import torch

from node_calls import alpha_blend as _alpha
from node_calls import embedding_delta as _delta
from node_calls import multi_blend

LONG_PROMPT = " ".join(["a very detailed painting of a quiet harbour town at dawn"] * 9)


def _encode(clip, text):
    import nodes as comfy_nodes

    return comfy_nodes.CLIPTextEncode().encode(clip, text)[0]


def _pair(n, clip, neutral, target, target_2="", target_3=""):
    return n.prompt_pair_nodes.EncodePromptPair.execute(clip, neutral, target, target_2, target_3).args


def _multi(n, base, pairs, alignment="error"):
    return multi_blend(n, base, dict(enumerate(pairs, start=1)), alignment)


def _schedule(n, frames, start=0.0, end=1.5):
    return n.schedule_nodes.BetaCoefficientSchedule.execute(
        frames=frames, preset="uniform", steps=20, alpha=1.0, beta=1.0, start=start, end=end).args[0]


def _assert_same_conditioning(a, b):
    assert len(a) == len(b)
    for (emb_a, opts_a), (emb_b, opts_b) in zip(a, b):
        assert torch.equal(emb_a, emb_b) and opts_a.keys() == opts_b.keys()
        for key, value in opts_a.items():
            other = opts_b[key]
            if isinstance(value, torch.Tensor):
                assert torch.equal(value, other), key
            elif isinstance(value, list):
                assert all(torch.equal(x, y) for x, y in zip(value, other)), key
            else:
                assert value == other, key


# Encode Prompt Pair ------------------------------------------------------------------------------

def test_prompt_pair_pads_the_short_clip_prompt_with_an_encoded_empty_chunk(n, tiny_clip):
    plain_short, plain_long, plain_empty = (_encode(tiny_clip, t) for t in ("a cat", LONG_PROMPT, ""))
    assert plain_short[0][0].shape[1] == 77 and plain_long[0][0].shape[1] == 154
    neutral, target, extra, unused = _pair(n, tiny_clip, "a cat", LONG_PROMPT, "a dog")
    for cond in (neutral, target, extra, unused):
        assert cond[0][0].shape == (1, 154, 768)
    # The prompt's own chunk and pooled output are what CLIPTextEncode gives; the added chunk is the empty prompt's.
    assert torch.equal(neutral[0][0][:, :77], plain_short[0][0])
    assert torch.equal(neutral[0][0][:, 77:], plain_empty[0][0])
    assert torch.equal(neutral[0][1]["pooled_output"], plain_short[0][1]["pooled_output"])
    assert torch.equal(target[0][0], plain_long[0][0])
    assert torch.equal(unused[0][0][:, :77], plain_empty[0][0])


def _tokenizer_host(tokenizer):
    """ComfyUI's own CLIP.tokenize bound to a real tokenizer: the encoders behind these cannot be built small."""
    import comfy.sd

    host = types.SimpleNamespace(tokenizer=tokenizer, tokenizer_options={})
    host.tokenize = types.MethodType(comfy.sd.CLIP.tokenize, host)
    return host


@pytest.mark.parametrize("family", ["flux", "sd3", "qwen_image"])
def test_prompt_pair_pads_long_sequence_encoders_with_their_pad_token(n, family):
    import comfy.text_encoders.flux
    import comfy.text_encoders.qwen_image
    import comfy.text_encoders.sd3_clip

    tokenizer = {"flux": comfy.text_encoders.flux.FluxTokenizer, "sd3": comfy.text_encoders.sd3_clip.SD3Tokenizer,
                 "qwen_image": comfy.text_encoders.qwen_image.QwenImageTokenizer}[family]()
    host = _tokenizer_host(tokenizer)
    # Flux's T5 already pads to 256 tokens: only a prompt longer than that makes the lengths differ.
    long = " ".join(["portrait of a woman with long wavy red hair, smiling warmly"] * (40 if family == "flux" else 9))
    texts = ["portrait of a woman", long]
    plain = [host.tokenize(text) for text in texts]
    matched = n.prompt_pair_nodes.matched_tokens(host, texts)
    for key in plain[0]:
        lengths = {sum(len(chunk) for chunk in tokens[key]) for tokens in matched}
        assert len(lengths) == 1, (key, lengths)
        assert matched[1][key] == plain[1][key], "the longest prompt is unchanged"
        own = [pair for chunk in plain[0][key] for pair in chunk]
        padded = [pair for chunk in matched[0][key] for pair in chunk]
        assert padded[: len(own)] == own
    sequence = {"flux": "t5xxl", "sd3": "t5xxl", "qwen_image": "qwen25_7b"}[family]
    pad = {"t5xxl": 0, "qwen25_7b": 151643}[sequence]
    short, longest = matched[0][sequence][0], plain[1][sequence][0]
    assert len(short) == len(longest) > len(plain[0][sequence][0])
    assert {token for token, _ in short[len(plain[0][sequence][0]):]} == {pad}


# Embedding Delta and Alpha Blend on the real tiny CLIP ------------------------------------------------

@pytest.fixture(scope="module")
def smile(n, tiny_clip):
    neutral, target, _, _ = _pair(n, tiny_clip, "portrait of a woman, neutral expression",
                                  "portrait of a woman, smiling")
    return neutral, target, _delta(n, neutral, target)


def test_alpha_zero_and_one_reproduce_neutral_and_target(n, smile):
    neutral, target, delta = smile
    _assert_same_conditioning(_alpha(n, neutral, delta, 0.0), neutral)
    _assert_same_conditioning(_alpha(n, neutral, delta, 1.0), target)
    for strategy in ("last_tokens", "direction"):
        _assert_same_conditioning(_alpha(n, neutral, delta, 0.0, strategy), neutral)


def test_schedule_gives_one_entry_of_batch_n(n, smile):
    neutral, target, delta = smile
    schedule = _schedule(n, 4)
    out = _alpha(n, neutral, delta, schedule=schedule)
    assert len(out) == 1
    rows, options = out[0]
    assert rows.shape == (4, 77, 768) and options["pooled_output"].shape == (4, 768)
    assert torch.equal(rows[0], neutral[0][0][0])
    for k, alpha in enumerate(schedule.coefficients):
        expected = (neutral[0][0].double() + alpha * (target[0][0].double() - neutral[0][0].double())).float()
        assert torch.equal(rows[k : k + 1], expected)
        pooled_n, pooled_t = neutral[0][1]["pooled_output"].double(), target[0][1]["pooled_output"].double()
        assert torch.equal(options["pooled_output"][k : k + 1], (pooled_n + alpha * (pooled_t - pooled_n)).float())


def test_last_tokens_and_direction_on_real_embeddings(n, smile):
    neutral, target, delta = smile
    rows = _alpha(n, neutral, delta, 1.3, "last_tokens", count=5)[0][0]
    assert torch.equal(rows[:, :72], neutral[0][0][:, :72])
    assert not torch.equal(rows[:, 72:], neutral[0][0][:, 72:])
    rows, options = _alpha(n, neutral, delta, -0.5, "direction", magnitude=4.0)[0]
    offset = rows.double() - neutral[0][0].double()
    torch.testing.assert_close(offset.norm().item(), 2.0, rtol=1e-5, atol=0)  # float32 rounding of the rows
    assert "pooled_output" in options


def test_inputs_are_not_mutated(n, smile):
    neutral, target, delta = smile
    neutral[0][1]["guidance"] = 2.0
    before = copy.deepcopy(neutral), copy.deepcopy(target), copy.deepcopy(delta.entries)
    try:
        for strategy in ("all_tokens", "last_tokens", "direction"):
            out = _alpha(n, neutral, delta, 0.7, strategy, schedule=_schedule(n, 3))
            out[0][1]["pooled_output"].add_(1.0)
            out[0][0].add_(1.0)
            out[0][1]["guidance"] = 9.0
        _multi(n, neutral, [(delta, 0.5), (delta, -1.0)])[0][0].add_(1.0)
        _delta(n, neutral, target).entries[0].tokens.add_(1.0)
        _assert_same_conditioning(neutral, before[0])
        _assert_same_conditioning(target, before[1])
        assert torch.equal(delta.entries[0].tokens, before[2][0].tokens)
        assert torch.equal(delta.entries[0].pooled, before[2][0].pooled)
    finally:
        del neutral[0][1]["guidance"]


def test_token_count_mismatch_names_both_counts_and_the_pair_node(n, tiny_clip):
    short, long = _encode(tiny_clip, "a cat"), _encode(tiny_clip, LONG_PROMPT)
    with pytest.raises(ValueError, match=r"Embedding Delta: input 'token_alignment': entry 0: neutral has 77 tokens "
                                         r"but target has 154\. Encode the prompts with Encode Prompt Pair"):
        _delta(n, short, long)
    delta = _delta(n, short, long, "truncate")
    assert delta.entries[0].tokens.shape == (1, 77, 768)
    long_delta = _delta(n, long, long)
    with pytest.raises(ValueError, match=r"Alpha Blend: input 'token_alignment': entry 0: neutral has 77 tokens but "
                                         r"delta has 154\. Encode the prompts with Encode Prompt Pair"):
        _alpha(n, short, long_delta)
    rows = _alpha(n, short, long_delta, 0.5, alignment="repeat_last")[0][0]
    assert rows.shape == (1, 154, 768)
    assert torch.equal(rows[:, 77:], short[0][0][:, -1:].expand(-1, 77, -1)), "a zero delta adds nothing"


def test_entries_are_blended_one_by_one_or_rejected(n, smile):
    neutral, target, _ = smile
    two_n, two_t = neutral + target, target + neutral
    delta = _delta(n, two_n, two_t)
    out = _alpha(n, two_n, delta, 1.0)
    _assert_same_conditioning(out, two_t)
    with pytest.raises(ValueError, match=r"Alpha Blend: input 'delta': delta has 2 entries but the conditioning has 1"):
        _alpha(n, neutral, delta)
    with pytest.raises(ValueError, match=r"Embedding Delta: input 'target': has 2 entries but neutral has 1"):
        _delta(n, neutral, two_t)


def test_alpha_zero_samples_exactly_like_the_neutral(n, smile, tiny_model, tiny_clip):
    import nodes as comfy_nodes

    neutral, _, delta = smile
    negative = _encode(tiny_clip, "")
    latent = {"samples": torch.zeros(1, 4, 8, 8)}

    def sample(positive):
        return comfy_nodes.common_ksampler(tiny_model, 11, 3, 5.0, "euler", "normal", positive, negative,
                                           latent)[0]["samples"]

    plain, blended = sample(neutral), sample(_alpha(n, neutral, delta, 0.0))
    assert torch.equal(plain, blended)
    assert not torch.equal(plain, sample(_alpha(n, neutral, delta, 1.0))), "the delta does change the image"


def test_sdxl_test_checkpoint_loads_as_sdxl(test_sdxl_checkpoint):
    """What CheckpointLoaderSimple calls: the multi-attribute workflow really runs on an SDXL-family model."""
    import comfy.model_base
    import comfy.sd
    import comfy.sdxl_clip
    import comfy.supported_models

    model, clip, vae, _ = comfy.sd.load_checkpoint_guess_config(str(test_sdxl_checkpoint), output_vae=True,
                                                                output_clip=True)
    assert isinstance(model.model, comfy.model_base.SDXL)
    assert isinstance(model.model.model_config, comfy.supported_models.SDXL)
    assert isinstance(clip.cond_stage_model, comfy.sdxl_clip.SDXLClipModel) and vae is not None
    neutral = _encode(clip, "a man")
    assert neutral[0][0].shape == (1, 77, 2048) and neutral[0][1]["pooled_output"].shape == (1, 1280)


# Real encoder shapes ------------------------------------------------------------------------------

# (tokens, width, pooled width, extra keys): what ComfyUI's encoders put in a conditioning entry.
FAMILIES = {
    "sd1": (77, 768, 768),
    "sdxl": (77, 2048, 1280),
    "sd3": (154, 4096, 2048),  # CLIP-L+G padded to 4096, then T5's 77 tokens
    "flux": (512, 4096, 768),
    "qwen_image_edit": (96, 3584, None),
}


def _conditioning(family, seed):
    tokens, width, pooled = FAMILIES[family]
    generator = torch.Generator().manual_seed(seed)
    options = {}
    if pooled is not None:
        options["pooled_output"] = torch.randn(1, pooled, generator=generator)
    if family == "flux":
        options["guidance"] = 3.5
    if family == "qwen_image_edit":
        options["reference_latents"] = [torch.randn(1, 16, 32, 32, generator=generator)]
    return [[torch.randn(1, tokens, width, generator=generator), options]]


def _with_mask(conditioning, real_tokens):
    mask = torch.zeros(1, conditioning[0][0].shape[1], dtype=torch.long)
    mask[:, :real_tokens] = 1
    return [[conditioning[0][0], {**conditioning[0][1], "attention_mask": mask}]]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_real_shapes_alpha_blend(n, family):
    neutral, target = _conditioning(family, 1), _conditioning(family, 2)
    before = copy.deepcopy(neutral)
    delta = _delta(n, neutral, target)
    _assert_same_conditioning(_alpha(n, neutral, delta, 0.0), neutral)
    one = _alpha(n, neutral, delta, 1.0)
    assert torch.equal(one[0][0], target[0][0])
    if FAMILIES[family][2] is not None:
        assert torch.equal(one[0][1]["pooled_output"], target[0][1]["pooled_output"])
    rows, options = _alpha(n, neutral, delta, schedule=_schedule(n, 5))[0]
    tokens, width, pooled = FAMILIES[family]
    assert rows.shape == (5, tokens, width)
    if pooled is not None:
        assert options["pooled_output"].shape == (5, pooled)
    for key in ("guidance", "reference_latents"):
        if key in neutral[0][1]:
            assert options[key] is neutral[0][1][key], f"{key} is carried from the neutral"
    _assert_same_conditioning(neutral, before)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_real_shapes_multi_attribute_equals_the_hand_sum(n, family):
    base, smile, age, glasses = (_conditioning(family, seed) for seed in (3, 4, 5, 6))
    deltas = [_delta(n, base, other) for other in (smile, age, glasses)]
    weights = [0.7, 0.5, -1.25]
    out = _multi(n, base, list(zip(deltas, weights)))
    for key, pick in (("tokens", lambda c: c[0][0]), ("pooled", lambda c: c[0][1].get("pooled_output"))):
        if pick(base) is None:
            continue
        expected = pick(base).double()
        for other, weight in zip((smile, age, glasses), weights):
            expected = expected + weight * (pick(other).double() - pick(base).double())
        assert torch.equal(pick(out), expected.float()), key
    for key in ("guidance", "reference_latents"):
        if key in base[0][1]:
            assert out[0][1][key] is base[0][1][key]
    _assert_same_conditioning(_multi(n, base, [(deltas[0], 0.0)]), base)


def test_qwen_attention_masks_follow_the_blend(n):
    # Encode Prompt Pair pads the shorter Qwen prompt with masked pad tokens; ComfyUI drops all-ones masks.
    neutral = _with_mask(_conditioning("qwen_image_edit", 1), real_tokens=90)
    target = _conditioning("qwen_image_edit", 2)
    delta = _delta(n, neutral, target)
    assert delta.entries[0].target_mask is None
    rows, options = _alpha(n, neutral, delta, schedule=_schedule(n, 3, 0.0, 1.0))[0]
    mask = options["attention_mask"]
    assert mask.shape == (3, 96)
    assert torch.equal(mask[0], neutral[0][1]["attention_mask"][0]), "alpha 0 keeps the neutral's mask"
    assert bool(mask[1:].all()), "rows that move admit the target's extra words"
    # The other way round: the target is the padded one, its mask is kept in the delta.
    delta = _delta(n, target, neutral)
    assert torch.equal(delta.entries[0].target_mask, neutral[0][1]["attention_mask"])
    # A neutral without a mask admits every token already.
    assert torch.equal(_alpha(n, target, delta, 1.0)[0][1]["attention_mask"], torch.ones(1, 96, dtype=torch.long))


def test_delta_from_another_encoder_is_rejected(n):
    sdxl = _delta(n, _conditioning("sdxl", 1), _conditioning("sdxl", 2))
    with pytest.raises(ValueError, match=r"Alpha Blend: input 'delta': delta was made for SDXL \(CLIP-L \+ CLIP-G\), "
                                         r"width 2048, pooled 1280, but entry 0 of the conditioning comes from "
                                         r"SD1\.x \(CLIP-L\), width 768, pooled 768"):
        _alpha(n, _conditioning("sd1", 3), sdxl)
    with pytest.raises(ValueError, match=r"Multi Attribute Blend: input 'delta_1': delta was made for SDXL"):
        _multi(n, _conditioning("flux", 3), [(sdxl, 1.0)])
    with pytest.raises(ValueError, match=r"Embedding Delta: input 'target': entry 0 comes from Flux"):
        _delta(n, _conditioning("sd3", 1), _conditioning("flux", 2))


# Delta library ----------------------------------------------------------------------------------

def test_folder_is_registered_under_models(n):
    import os

    import folder_paths

    paths, extensions = folder_paths.folder_names_and_paths["embedding_deltas"]
    assert os.path.join(folder_paths.models_dir, "embedding_deltas") in paths and ".safetensors" in extensions


@pytest.mark.parametrize("family", ["sd1", "qwen_image_edit"])
def test_save_load_round_trip_is_bit_exact(n, delta_folder, family):
    library = n.delta_library_nodes
    neutral = _conditioning(family, 1)
    if family == "qwen_image_edit":
        neutral = _with_mask(neutral, 90)
    target = _with_mask(_conditioning(family, 2), 93) if family == "qwen_image_edit" else _conditioning(family, 2)
    delta = n.attribute_nodes.EmbeddingDelta.execute(neutral, target, "error", "neutral expression",
                                                         "smiling").args[0]
    name = library.SaveEmbeddingDelta.execute(delta, "expressions/smile").args[0]
    assert name == "expressions/smile_00001_.safetensors" and (delta_folder / name).is_file()
    assert library.SaveEmbeddingDelta.execute(delta, "expressions/smile").args[0].endswith("_00002_.safetensors")
    loaded, summary = library.LoadEmbeddingDelta.execute(name).args
    assert loaded.source == name and (loaded.neutral_text, loaded.target_text) == ("neutral expression", "smiling")
    for original, back in zip(delta.entries, loaded.entries):
        for key in ("tokens", "pooled", "target_mask"):
            a, b = getattr(original, key), getattr(back, key)
            assert (a is None and b is None) or (a.dtype == b.dtype and torch.equal(a, b)), key
    assert name in summary and "smiling" in summary
    _assert_same_conditioning(_alpha(n, neutral, loaded, 0.8), _alpha(n, neutral, delta, 0.8))
    assert name in library.LoadEmbeddingDelta.define_schema().inputs[0].options


def test_loaded_delta_for_another_encoder_and_foreign_files_are_named(n, delta_folder):
    import safetensors.torch

    library = n.delta_library_nodes
    name = library.SaveEmbeddingDelta.execute(_delta(n, _conditioning("flux", 1), _conditioning("flux", 2)),
                                              "flux_smile").args[0]
    loaded = library.LoadEmbeddingDelta.execute(name).args[0]
    with pytest.raises(ValueError, match=rf"Alpha Blend: input 'delta': delta '{name}' was made for Flux .* comes "
                                         r"from SDXL"):
        _alpha(n, _conditioning("sdxl", 3), loaded)
    safetensors.torch.save_file({"emb_params": torch.zeros(2, 768)}, str(delta_folder / "textual_inversion.safetensors"))
    with pytest.raises(ValueError, match=r"Load Embedding Delta: input 'delta_name': textual_inversion\.safetensors is "
                                         r"not an embedding delta saved by this pack"):
        library.LoadEmbeddingDelta.execute("textual_inversion.safetensors")
    with pytest.raises(ValueError, match=r"Save Embedding Delta: input 'filename_prefix'"):
        library.SaveEmbeddingDelta.execute(loaded, "../../escape")
