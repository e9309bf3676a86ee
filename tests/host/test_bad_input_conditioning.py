"""Bad and extreme conditionings into Conditioning Interpolation Batch and the Adaptive Beta Schedule's shared
conditioning path: empty and multi-entry conditionings, batches, token counts, encoders, pooled outputs, masks,
NaN, half precision, long schedules. Each is an input error naming node, input, expected and got, or documented
behaviour; inputs stay untouched."""

import math

import pytest
import torch

from bad_input import expect_input_error, untouched
from node_calls import conditioning as _cond

BATCH = "Conditioning Interpolation Batch"
ADAPTIVE = "Adaptive Beta Schedule"


def _schedule(n, frames):
    return n.schedule_nodes.BetaCoefficientSchedule.execute(frames, "uniform", 20, 1.0, 1.0, 0.0, 1.0).args[0]


def _batch(n, a, b, frames=3, alignment="error", guide=None, method="lerp"):
    return n.conditioning_nodes.ConditioningInterpolationBatch.execute(a, b, _schedule(n, frames), method, alignment,
                                                                       guide).args[0]


BAD_CONDITIONINGS = [
    ([], r"expected a CONDITIONING \(a non-empty list of \[tensor, dict\] entries\), got list \[\]"),
    ({"samples": 1}, r"expected a CONDITIONING .*got dict"),
    ([[torch.zeros(1, 77, 768)]], r"entry 0: expected a \[tensor, dict\] pair, got list"),
    ([[torch.zeros(77, 768), {}]], r"entry 0's embedding \[batch, tokens, width\] must be a non-empty 3-D floating "
                                   r"tensor, got a torch.float32 tensor of shape \(77, 768\)"),
    ([[torch.zeros(2, 77, 768), {"pooled_output": torch.zeros(2, 768)}]],
     r"entry 0: expected one prompt \(batch 1\) per entry, got batch 2"),
    ([[torch.full((1, 77, 768), math.nan), {"pooled_output": torch.zeros(1, 768)}]],
     r"entry 0's embedding .*must be finite, got 59136 NaN/inf value\(s\)"),
    ([[torch.zeros(1, 77, 768), {"pooled_output": torch.zeros(2, 768)}]],
     r"entry 0: expected a pooled_output of batch 1 like its embedding, got \(2, 768\)"),
    ([[torch.zeros(1, 77, 768), {"pooled_output": torch.zeros(1, 768), "attention_mask": torch.ones(1, 70)}]],
     r"entry 0: expected an attention_mask of shape \[1 or 1, 77\], got a torch.float32 tensor of shape \(1, 70\)"),
]


@pytest.mark.parametrize("bad, shown", BAD_CONDITIONINGS)
@pytest.mark.parametrize("which", ["conditioning_a", "conditioning_b", "guide"])
def test_bad_conditionings_name_their_input(n, bad, shown, which):
    good = _cond(1)
    inputs = {"conditioning_a": good, "conditioning_b": _cond(2), "guide": _cond(3), which: bad}
    with untouched(inputs):
        expect_input_error(lambda: _batch(n, inputs["conditioning_a"], inputs["conditioning_b"], guide=inputs["guide"]),
                           BATCH, which, shown)


def test_empty_conditionings_are_an_error_not_an_empty_result(n):
    expect_input_error(lambda: _batch(n, [], []), BATCH, "conditioning_a", r"non-empty list.*got list \[\]")


def test_entry_counts_encoders_and_pooled_outputs_must_match(n):
    a = _cond(1)
    expect_input_error(lambda: _batch(n, a, a + _cond(2)), BATCH, "conditioning_b",
                       r"has 2 entries but conditioning_a has 1")
    expect_input_error(lambda: _batch(n, a, _cond(2), guide=a + a), BATCH, "guide",
                       r"has 2 entries but conditioning_a has 1")
    expect_input_error(lambda: _batch(n, a, _cond(2, width=2048, pooled=1280)), BATCH, "conditioning_b",
                       r"entry 0 comes from SDXL \(CLIP-L \+ CLIP-G\), width 2048, pooled 1280 but conditioning_a from "
                       r"SD1\.x \(CLIP-L\), width 768, pooled 768; encode both with the same text encoder")
    expect_input_error(lambda: _batch(n, a, _cond(2, pooled=None)), BATCH, "conditioning_b",
                       r"comes from unknown encoder \(width 768, no pooled output\) but conditioning_a from SD1\.x")
    expect_input_error(lambda: _batch(n, a, _cond(2, tokens=154)), BATCH, "token_alignment",
                       r"entry 0: conditioning_a has 77 tokens but conditioning_b has 154\. Encode the prompts with "
                       r"Encode Prompt Pair")


def test_multi_entry_conditionings_interpolate_entry_by_entry(n):
    a = _cond(1) + _cond(2, guidance=2.0)
    b = _cond(3) + _cond(4)
    with untouched(a, b):
        out = _batch(n, a, b, frames=4)
    assert len(out) == 2
    for (rows, options), (emb_a, _), (emb_b, _) in zip(out, a, b):
        assert rows.shape == (4, 77, 768)
        assert torch.equal(rows[0], emb_a[0]) and torch.equal(rows[-1], emb_b[0])
    assert out[1][1]["guidance"] == 2.0 and "guidance" not in out[0][1]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_conditionings_keep_their_dtype(n, dtype):
    a, b = _cond(1, dtype=dtype), _cond(2, dtype=dtype)
    rows, options = _batch(n, a, b)[0]
    assert rows.dtype == dtype and options["pooled_output"].dtype == dtype
    assert torch.equal(rows[0], a[0][0][0]) and torch.equal(rows[-1], b[0][0][0])
    # Documented: B (and the guide) are brought to A's dtype.
    mixed, _ = _batch(n, a, _cond(2))[0]
    assert mixed.dtype == dtype


def test_attention_masks_follow_the_token_alignment(n, pack):
    """One mask rule for every node: a mask is cut or extended (last value repeated) the way its embedding is;
    the batch admits every token any prompt admits (a prompt without a mask admits all)."""
    mask = torch.zeros(1, 77, dtype=torch.long)
    mask[:, :10] = 1
    a, b = _cond(1, attention_mask=mask), _cond(2, tokens=154)
    with untouched(a, b):
        _, options = _batch(n, a, b, alignment="repeat_last")[0]
        assert torch.equal(options["attention_mask"], torch.ones(1, 154, dtype=torch.long))
        _, options = _batch(n, a, _cond(2, tokens=154, attention_mask=torch.zeros(1, 154, dtype=torch.long)),
                            alignment="truncate")[0]
        assert torch.equal(options["attention_mask"], mask)
        _, options = _batch(n, a, _cond(2, attention_mask=torch.zeros(1, 77, dtype=torch.long)))[0]
        assert torch.equal(options["attention_mask"], mask)
    aligned = pack.nodes.comfy_values.aligned_mask(mask, 80)
    assert torch.equal(aligned[:, :77], mask) and torch.equal(aligned[:, 77:], torch.zeros(1, 3, dtype=torch.long))


def test_long_schedules_grow_linearly_in_the_inputs_dtype(n):
    rows, options = _batch(n, _cond(1, tokens=8, width=16, pooled=8), _cond(2, tokens=8, width=16, pooled=8),
                           frames=4096)[0]
    assert rows.shape == (4096, 8, 16) and rows.dtype == torch.float32
    assert options["pooled_output"].shape == (4096, 8) and options["pooled_output"].dtype == torch.float32


def _adaptive(n, model, positive_a, positive_b, negative, guide=None, cfg=5.0):
    return n.adaptive_nodes.AdaptiveBetaSchedule.execute(
        model=model, vae=None, positive_a=positive_a, positive_b=positive_b, negative=negative, seed=0, steps=2,
        cfg=cfg, sampler_name="euler", scheduler="normal", width=64, height=64, frames=3, exploration_budget=3,
        attention="AID outer", aid_end_percent=0.5, token_alignment="error", distance="pixel", guide=guide)


def test_adaptive_schedule_names_its_own_inputs_before_sampling(n, tiny_model):
    """The adaptive node builds its batches with the same shared function; errors name positive_a/positive_b."""
    a, b = _cond(1), _cond(2)
    expect_input_error(lambda: _adaptive(n, tiny_model, a, a + b, b), ADAPTIVE, "positive_b",
                       r"has 2 entries but positive_a has 1")
    expect_input_error(lambda: _adaptive(n, tiny_model, [], b, b), ADAPTIVE, "positive_a", r"non-empty list")
    expect_input_error(lambda: _adaptive(n, tiny_model, a, _cond(2, tokens=154), b), ADAPTIVE, "token_alignment",
                       r"positive_a has 77 tokens but positive_b has 154")
    expect_input_error(lambda: _adaptive(n, tiny_model, a, b, []), ADAPTIVE, "negative", r"non-empty list")
    expect_input_error(lambda: _adaptive(n, tiny_model, a, b, b, cfg=math.nan), ADAPTIVE, "cfg",
                       r"expected a finite number, got nan")


@pytest.fixture(scope="module")
def tiny_sd3():
    import tiny_models

    return tiny_models.build_sd3_model_patcher(seed=0)


def test_adaptive_schedule_names_a_model_and_prompts_of_different_families(n, tiny_model, tiny_sd3):
    """An SD3 model with SD1.5 prompts (and the other way round): the conditioning's width against the model's,
    before sampling, not the model's own shape error from inside the sampler."""
    sd3_width = n.comfy_values.model_text_width(tiny_sd3)
    assert n.comfy_values.model_text_width(tiny_model) == 768 and sd3_width not in (None, 768)
    sd15 = [_cond(seed) for seed in range(3)]
    expect_input_error(lambda: _adaptive(n, tiny_sd3, *sd15), ADAPTIVE, "positive_a",
                       r"entry 0 comes from SD1.x \(CLIP-L\), width 768, pooled 768 but the model reads prompts of "
                       rf"width {sd3_width}; encode the prompts with this model's text encoder")
    wide = _cond(3, width=sd3_width)
    expect_input_error(lambda: _adaptive(n, tiny_model, sd15[0], sd15[1], wide), ADAPTIVE, "negative",
                       rf"entry 0 comes from .*width {sd3_width}.* but the model reads prompts of width 768")
    expect_input_error(lambda: _adaptive(n, tiny_model, sd15[0], sd15[1], sd15[2], guide=wide), ADAPTIVE, "guide",
                       r"but the model reads prompts of width 768")
