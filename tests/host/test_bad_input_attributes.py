"""Bad and extreme inputs to the attribute nodes (Embedding Delta, Alpha Blend, Multi Attribute Blend, Encode Prompt
Pair): NaN widgets, token counts, batches, empty and multi-entry conditionings, masks, half precision. Each is an
input error naming node, input, expected and got, or documented behaviour; inputs stay untouched."""

import math

import pytest
import torch

from bad_input import expect_input_error, untouched
from node_calls import alpha_blend as _alpha
from node_calls import conditioning as _cond
from node_calls import embedding_delta as _delta
from node_calls import multi_blend as _multi

DELTA, ALPHA, MULTI, PAIR = "Embedding Delta", "Alpha Blend", "Multi Attribute Blend", "Encode Prompt Pair"


def _schedule(n, frames):
    return n.schedule_nodes.BetaCoefficientSchedule.execute(frames, "uniform", 20, 1.0, 1.0, 0.0, 1.5).args[0]


@pytest.fixture(scope="module")
def smile(n):
    neutral, target = _cond(1), _cond(2)
    return neutral, target, _delta(n, neutral, target)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_widgets_name_their_input(n, smile, value):
    neutral, _, delta = smile
    with untouched(neutral, delta):
        expect_input_error(lambda: _alpha(n, neutral, delta, alpha=value), ALPHA, "alpha",
                           rf"expected a finite number, got {value!r}")
        expect_input_error(lambda: _alpha(n, neutral, delta, strategy="direction", magnitude=value), ALPHA,
                           "magnitude", rf"expected a finite number, got {value!r}")
        expect_input_error(lambda: _multi(n, neutral, {1: (delta, 1.0), 3: (delta, value)}), MULTI, "weight_3",
                           rf"expected a finite number, got {value!r}")
    # An unconnected delta's weight is not read at all.
    inputs = {"weight_1": 0.5, "weight_2": value, "weight_3": 0.0, "weight_4": 0.0, "delta_1": delta}
    n.attribute_nodes.MultiAttributeBlend.execute(neutral, "error", **inputs)


def test_engine_argument_errors_map_to_the_node_inputs(n, smile):
    neutral, target, delta = smile
    expect_input_error(lambda: _alpha(n, neutral, delta, strategy="last_tokens", count=78), ALPHA, "token_count",
                       r"must be an int in \[1, 77\].*got 78")
    zero = _delta(n, neutral, neutral)
    expect_input_error(lambda: _alpha(n, neutral, zero, strategy="direction"), ALPHA, "delta",
                       r"is zero \(neutral and target are identical\)")


def test_conditioning_shapes_name_their_input(n, smile):
    neutral, target, delta = smile
    expect_input_error(lambda: _delta(n, [], target), DELTA, "neutral", r"non-empty list.*got list \[\]")
    expect_input_error(lambda: _delta(n, neutral, _cond(2, batch=2)), DELTA, "target",
                       r"expected one prompt \(batch 1\) per entry, got batch 2")
    expect_input_error(lambda: _delta(n, neutral, _cond(2, pooled=None)), DELTA, "target",
                       r"comes from unknown encoder \(width 768, no pooled output\) but neutral from SD1\.x")
    expect_input_error(lambda: _alpha(n, [], delta), ALPHA, "neutral", r"non-empty list")
    expect_input_error(lambda: _alpha(n, _cond(3, batch=3), delta, schedule=_schedule(n, 5)), ALPHA, "neutral",
                       r"entry 0: expected batch 1 or 5 \(the schedule's frames\), got batch 3")
    expect_input_error(lambda: _multi(n, [[torch.zeros(1, 77, 768), "pooled"]], {1: (delta, 1.0)}), MULTI, "base",
                       r"entry 0: expected a \[tensor, dict\] pair, got list")
    expect_input_error(lambda: _multi(n, neutral, {2: (_delta(n, neutral + neutral, target + target), 1.0)}), MULTI,
                       "delta_2", r"delta has 2 entries but the conditioning has 1")
    expect_input_error(lambda: _multi(n, neutral, {1: (delta, 1.0), 2: (_delta(n, _cond(5, tokens=154),
                                                                             _cond(6, tokens=154)), 1.0)}),
                       MULTI, "token_alignment", r"entry 0: base has 77 tokens but delta_2 has 154\. Encode the "
                                                 r"prompts with Encode Prompt Pair")


def test_a_batched_neutral_blends_row_by_row(n, smile):
    """Documented: without a schedule a neutral of batch N gives batch N, every row moved by alpha."""
    _, _, delta = smile
    neutral = _cond(7, batch=3)
    with untouched(neutral, delta):
        rows, options = _alpha(n, neutral, delta, 0.0)[0]
    assert torch.equal(rows, neutral[0][0]) and torch.equal(options["pooled_output"], neutral[0][1]["pooled_output"])


def test_multi_entry_conditionings_blend_entry_by_entry(n):
    neutral, target = _cond(1) + _cond(2, guidance=3.0), _cond(3) + _cond(4)
    delta = _delta(n, neutral, target)
    with untouched(neutral, target, delta):
        out = _alpha(n, neutral, delta, 1.0)
        multi = _multi(n, neutral, {1: (delta, 1.0)})
    for result in (out, multi):
        assert [torch.equal(rows, t[0]) for (rows, _), t in zip(result, target)] == [True, True]
        assert result[1][1]["guidance"] == 3.0


def test_masks_follow_the_token_alignment_in_every_node(n, pack):
    """The same mask rule as Conditioning Interpolation Batch: a mask is cut or extended like its embedding."""
    mask = torch.zeros(1, 77, dtype=torch.long)
    mask[:, :20] = 1
    neutral = _cond(1, pooled=None, width=3584, attention_mask=mask)
    target = _cond(2, pooled=None, width=3584, tokens=90)
    delta = _delta(n, neutral, target, "repeat_last")
    aligned = pack.nodes.comfy_values.aligned_mask(mask, 90)
    assert delta.entries[0].target_mask is None
    rows, options = _alpha(n, neutral, delta, 0.0, alignment="repeat_last")[0]
    assert rows.shape == (1, 90, 3584) and torch.equal(options["attention_mask"], aligned)
    _, options = _multi(n, neutral, {1: (delta, 0.0)}, alignment="repeat_last")[0]
    assert torch.equal(options["attention_mask"], aligned)
    _, options = _alpha(n, neutral, _delta(n, target, target), 0.0, alignment="truncate")[0]
    assert torch.equal(options["attention_mask"], mask)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_conditionings_keep_their_dtype(n, dtype):
    neutral, target = _cond(1, dtype=dtype), _cond(2, dtype=dtype)
    delta = _delta(n, neutral, target)
    zero, one = _alpha(n, neutral, delta, 0.0)[0], _alpha(n, neutral, delta, 1.0)[0]
    assert zero[0].dtype == dtype and torch.equal(zero[0], neutral[0][0]) and torch.equal(one[0], target[0][0])
    assert _multi(n, neutral, {1: (delta, 0.5)})[0][0].dtype == dtype


def test_long_schedules(n):
    neutral, target = _cond(1, tokens=8, width=16, pooled=8), _cond(2, tokens=8, width=16, pooled=8)
    rows, options = _alpha(n, neutral, _delta(n, neutral, target), schedule=_schedule(n, 4096))[0]
    assert rows.shape == (4096, 8, 16) and rows.dtype == torch.float32
    assert options["pooled_output"].shape == (4096, 8)


def test_encode_prompt_pair_bad_inputs(n, tiny_clip):
    node = n.prompt_pair_nodes.EncodePromptPair
    expect_input_error(lambda: node.execute(None, "a", "b", "", ""), PAIR, "clip", r"no CLIP arrived")
    image = torch.full((1, 8, 8, 3), math.nan)
    with untouched(image):
        expect_input_error(lambda: node.execute(tiny_clip, "a", "b", "", "", image), PAIR, "image",
                           r"must be finite, got 192 NaN/inf value\(s\)")
