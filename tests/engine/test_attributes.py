"""Attribute arithmetic (seed 000) against hand-worked cases, NumPy float64 references and properties."""

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from inbetween.attributes import (BLEND_STRATEGIES, add_scaled, blend, blend_factors, blended_mask, combine,
                                  embedding_delta)

FAST = settings(max_examples=40, deadline=None)
LOW_PRECISION = [torch.float32, torch.float16, torch.bfloat16]


def randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


# Values an encoder produces: zero or of magnitude 2^-20 .. 8, so any two are within 2^29 of each other
# (the documented condition for an exact float64 delta of float32 inputs).
ENCODER_VALUES = st.one_of(st.just(0.0), st.floats(2.0**-20, 8.0, width=32), st.floats(-8.0, -(2.0**-20), width=32))


def _pair(shape=(1, 6, 5)):
    return st.tuples(*(arrays(np.float32, shape, elements=ENCODER_VALUES) for _ in range(2)))


# --- hand-worked cases ----------------------------------------------------------------------------


def test_hand_case_all_tokens_last_tokens_and_direction():
    neutral = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
    target = torch.tensor([[[1.0, 2.0], [3.0, 8.0], [2.0, 6.0]]])
    delta = embedding_delta(neutral, target)
    assert delta.dtype == torch.float64
    assert torch.equal(delta, torch.tensor([[[0.0, 0.0], [0.0, 4.0], [-3.0, 0.0]]], dtype=torch.float64))

    out = blend(neutral, delta, 0.5)
    assert torch.equal(out, torch.tensor([[[1.0, 2.0], [3.0, 6.0], [3.5, 6.0]]]))
    out = blend(neutral, delta, [2.0, -1.0])
    assert torch.equal(out, torch.tensor([[[1.0, 2.0], [3.0, 12.0], [-1.0, 6.0]],
                                          [[1.0, 2.0], [3.0, 0.0], [8.0, 6.0]]]))
    # Only the last token moves; the middle token's +4 is ignored.
    out = blend(neutral, delta, 1.0, "last_tokens", last_tokens=1)
    assert torch.equal(out, torch.tensor([[[1.0, 2.0], [3.0, 4.0], [2.0, 6.0]]]))
    # ||delta|| = 5 (a 3-4-5 triangle): magnitude 10 doubles the delta, alpha 0.5 gives it back.
    out = blend(neutral, delta, 0.5, "direction", magnitude=10.0)
    assert torch.equal(out, target)
    assert torch.equal(blend_factors(delta, [1.0, -2.0], "direction", 10.0),
                       torch.tensor([2.0, -4.0], dtype=torch.float64))


def test_hand_case_multi_attribute_and_pooled():
    base = torch.tensor([[1.0, 1.0, 1.0]])
    smile = torch.tensor([[[0.5, 0.0, -1.0]]]).reshape(1, 3)
    age = torch.tensor([[2.0, 4.0, 0.0]])
    assert torch.equal(combine(base, [smile, age], [2.0, 0.25]), torch.tensor([[2.5, 2.0, -1.0]]))
    assert torch.equal(combine(base, [], []), base)
    # Pooled outputs [B, dim] take the same factors as the tokens.
    assert torch.equal(add_scaled(base, age, torch.tensor([0.5, -1.0], dtype=torch.float64)),
                       torch.tensor([[2.0, 3.0, 1.0], [-1.0, -3.0, 1.0]]))


# --- properties -----------------------------------------------------------------------------------


@FAST
@given(pair=_pair(), dtype=st.sampled_from(LOW_PRECISION), strategy=st.sampled_from(BLEND_STRATEGIES))
def test_alpha_zero_reproduces_neutral_bit_for_bit(pair, dtype, strategy):
    neutral, target = (torch.from_numpy(x).to(dtype) for x in pair)
    delta = embedding_delta(neutral, target)
    if strategy == "direction" and not delta.any():
        return
    out = blend(neutral, delta, [0.0, 0.7, 0.0], strategy, last_tokens=3, magnitude=2.5)
    assert out.dtype == dtype and out.shape == (3, *neutral.shape[1:])
    assert torch.equal(out[0], neutral[0]) and torch.equal(out[2], neutral[0])


@FAST
@given(pair=_pair(), dtype=st.sampled_from(LOW_PRECISION))
def test_alpha_one_reproduces_target_bit_for_bit(pair, dtype):
    neutral, target = (torch.from_numpy(x).to(dtype) for x in pair)
    out = blend(neutral, embedding_delta(neutral, target), 1.0)
    assert torch.equal(out, target)


def test_alpha_one_reaches_target_for_encoder_like_values():
    neutral, target = randn(1, 77, 768, seed=1), randn(1, 77, 768, seed=2)
    assert torch.equal(blend(neutral, embedding_delta(neutral, target), [1.0])[0], target[0])


@FAST
@given(pair=_pair((1, 9, 4)), count=st.integers(1, 9), alpha=st.floats(-3.0, 3.0))
def test_last_tokens_leaves_earlier_tokens_bit_identical(pair, count, alpha):
    neutral, target = (torch.from_numpy(x) for x in pair)
    delta = embedding_delta(neutral, target)
    out = blend(neutral, delta, alpha, "last_tokens", last_tokens=count)
    assert torch.equal(out[:, : 9 - count], neutral[:, : 9 - count])
    expected = neutral.double().numpy()[:, -count:] + alpha * delta.numpy()[:, -count:]
    np.testing.assert_array_equal(out[:, -count:].numpy(), expected.astype(np.float32))


@FAST
@given(pair=_pair((1, 7, 5)), alphas=st.lists(st.floats(-3.0, 3.0), min_size=1, max_size=4),
       magnitude=st.floats(0.01, 100.0))
def test_direction_has_the_requested_norm(pair, alphas, magnitude):
    neutral, target = (torch.from_numpy(x).double() for x in pair)
    delta = embedding_delta(neutral, target)
    if not delta.any():
        return
    out = blend(neutral, delta, alphas, "direction", magnitude=magnitude)
    norms = torch.linalg.vector_norm((out - neutral).reshape(len(alphas), -1), dim=1)
    expected = torch.tensor([abs(a) * magnitude for a in alphas], dtype=torch.float64)
    torch.testing.assert_close(norms, expected, rtol=1e-12, atol=1e-12)
    # It points along the delta: the offset is a positive multiple of it for alpha > 0.
    for row, a in zip(out - neutral, alphas):
        torch.testing.assert_close(row, delta[0] * (a * magnitude / delta.norm()), rtol=1e-12, atol=1e-12)


@FAST
@given(base=arrays(np.float32, (2, 4, 3), elements=ENCODER_VALUES),
       deltas=st.lists(arrays(np.float64, (1, 4, 3), elements=st.floats(-4.0, 4.0)), min_size=1, max_size=5),
       data=st.data())
def test_multi_attribute_equals_the_hand_sum(base, deltas, data):
    weights = data.draw(st.lists(st.floats(-3.0, 3.0), min_size=len(deltas), max_size=len(deltas)))
    expected = base.astype(np.float64)
    for delta, weight in zip(deltas, weights):
        expected = expected + weight * delta
    out = combine(torch.from_numpy(base), [torch.from_numpy(d) for d in deltas], weights)
    assert out.dtype == torch.float32
    np.testing.assert_array_equal(out.numpy(), expected.astype(np.float32))


def test_vector_alpha_rows_equal_single_blends():
    neutral, target = randn(1, 77, 768, seed=3), randn(1, 77, 768, seed=4)
    delta = embedding_delta(neutral, target)
    alphas = [-1.0, 0.0, 0.3, 1.5]
    for strategy in BLEND_STRATEGIES:
        rows = blend(neutral, delta, alphas, strategy, last_tokens=7, magnitude=3.0)
        for k, alpha in enumerate(alphas):
            assert torch.equal(rows[k : k + 1], blend(neutral, delta, alpha, strategy, last_tokens=7, magnitude=3.0))


def test_scalar_alpha_keeps_a_batched_neutral():
    neutral, delta = randn(3, 5, 4, seed=5), randn(1, 5, 4, seed=6, dtype=torch.float64)
    out = blend(neutral, delta, 0.5)
    assert out.shape == (3, 5, 4)
    torch.testing.assert_close(out, (neutral.double() + 0.5 * delta).float(), rtol=0, atol=0)


def test_inputs_unchanged():
    neutral, target = randn(1, 6, 4, seed=7), randn(1, 6, 4, seed=8)
    copies = neutral.clone(), target.clone()
    delta = embedding_delta(neutral, target)
    delta_copy = delta.clone()
    for strategy in BLEND_STRATEGIES:
        out = blend(neutral, delta, [0.0, 1.0], strategy, last_tokens=2, magnitude=1.0)
        out.add_(1.0)  # the result shares no memory with the inputs
    combine(neutral, [delta, delta], [1.0, -2.0]).add_(1.0)
    assert torch.equal(neutral, copies[0]) and torch.equal(target, copies[1]) and torch.equal(delta, delta_copy)


def test_blended_mask_rows():
    neutral = torch.tensor([[1, 1, 0, 0]])
    target = torch.tensor([[1, 1, 1, 0]])
    factors = torch.tensor([0.0, 0.5, -1.0], dtype=torch.float64)
    assert torch.equal(blended_mask(neutral, [target], [factors]),
                       torch.tensor([[1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 0]]))
    # Multi-attribute: a delta with weight 0 adds nothing, so its target's mask is not admitted.
    other = torch.tensor([[1, 1, 1, 1]])
    weights = [torch.tensor([1.0], dtype=torch.float64), torch.tensor([0.0], dtype=torch.float64)]
    assert torch.equal(blended_mask(neutral, [target, other], weights), torch.tensor([[1, 1, 1, 0]]))
    assert blended_mask(None, [None], [factors]) is None
    assert torch.equal(blended_mask(None, [target], [factors[:1]]), torch.tensor([[1, 1, 1, 1]]))


NEUTRAL = randn(1, 4, 3, seed=9)
DELTA = randn(1, 4, 3, seed=10, dtype=torch.float64)
ZERO = torch.zeros(1, 4, 3, dtype=torch.float64)


def _nan(x):
    x = x.clone()
    x[0, 1, 2] = float("nan")
    return x


@pytest.mark.parametrize("call, function, argument, index, detail", [
    (lambda: blend(NEUTRAL, ZERO, 1.0, "direction", magnitude=1.0), "blend", "delta", None,
     "is zero (neutral and target are identical), so it has no direction; use all_tokens or encode two different "
     "prompts"),
    (lambda: blend(NEUTRAL, DELTA, 1.0, "tail"), "blend", "strategy", None,
     "must be one of ('all_tokens', 'last_tokens', 'direction'), got 'tail'"),
    (lambda: blend(NEUTRAL, DELTA, 1.0, "last_tokens", last_tokens=5), "blend", "last_tokens", None,
     "must be an int in [1, 4] (the token count), got 5"),
    (lambda: blend(NEUTRAL, DELTA, 1.0, "last_tokens"), "blend", "last_tokens", None,
     "the last_tokens strategy needs the number of tokens to move, got None"),
    (lambda: blend(NEUTRAL, DELTA, 1.0, "direction", magnitude=0.0), "blend", "magnitude", None,
     "must be > 0, got 0.0"),
    (lambda: blend(NEUTRAL, DELTA, 1.0, "direction", magnitude=float("nan")), "blend", "magnitude", None,
     "must be finite, got nan"),
    (lambda: blend(NEUTRAL, DELTA, 1.0, "direction"), "blend", "magnitude", None,
     "the direction strategy needs a magnitude > 0, got None"),
    (lambda: blend(NEUTRAL, randn(1, 5, 3, dtype=torch.float64), 1.0), "blend", "delta", None,
     "must have shape (1, 4, 3) to match neutral, got (1, 5, 3)"),
    (lambda: blend(randn(2, 4, 3), DELTA, [0.0, 1.0, 2.0]), "blend", "neutral", None,
     "must have batch 1 or 3 to match 3 factors, got batch 2"),
    (lambda: blend(NEUTRAL, DELTA, float("nan")), "blend", "alpha", None, "must be finite, got nan"),
    (lambda: blend(NEUTRAL, DELTA, [0.0, float("inf")]), "blend", "alpha", 1, "must be finite, got inf"),
    (lambda: blend(_nan(NEUTRAL), DELTA, 0.5), "blend", "neutral", None,
     "must hold only finite values, got 1 NaN and 0 infinite of 12 values"),
    (lambda: blend(NEUTRAL, _nan(DELTA), 0.5), "blend", "delta", None,
     "must hold only finite values, got 1 NaN and 0 infinite of 12 values"),
    (lambda: blend_factors(DELTA, [1.0, float("nan")]), "blend_factors", "alpha", 1, "must be finite, got nan"),
    (lambda: embedding_delta(NEUTRAL, randn(1, 5, 3)), "embedding_delta", "target", None,
     "must have shape (1, 4, 3) like neutral, got (1, 5, 3)"),
    (lambda: embedding_delta(randn(2, 4, 3), randn(2, 4, 3)), "embedding_delta", "neutral", None,
     "must have batch 1 (one prompt), got shape (2, 4, 3)"),
    (lambda: embedding_delta(NEUTRAL, _nan(NEUTRAL)), "embedding_delta", "target", None,
     "must hold only finite values, got 1 NaN and 0 infinite of 12 values"),
    (lambda: add_scaled(NEUTRAL, DELTA, torch.tensor([float("nan")])), "add_scaled", "factors", None,
     "must hold only finite values, got 1 NaN and 0 infinite of 1 values"),
    (lambda: add_scaled(NEUTRAL, DELTA, torch.zeros(2, 2)), "add_scaled", "factors", None,
     "must be a non-empty vector, got shape (2, 2)"),
    (lambda: combine(NEUTRAL, [DELTA, DELTA], [1.0]), "combine", "weights", None,
     "must hold one weight per delta (2), got 1"),
    (lambda: combine(NEUTRAL, [DELTA, DELTA], [1.0, float("nan")]), "combine", "weights", 1, "must be finite, got nan"),
    (lambda: combine(NEUTRAL, [DELTA, randn(1, 4, 2)], [1.0, 1.0]), "combine", "deltas", 1,
     "must have shape (1, 4, 3) to match base, got (1, 4, 2)"),
    (lambda: combine(NEUTRAL, [_nan(DELTA)], [1.0]), "combine", "deltas", 0,
     "must hold only finite values, got 1 NaN and 0 infinite of 12 values"),
    (lambda: combine(_nan(NEUTRAL), [DELTA], [1.0]), "combine", "base", None,
     "must hold only finite values, got 1 NaN and 0 infinite of 12 values"),
])
def test_bad_values_name_the_argument(argument_error, call, function, argument, index, detail):
    with argument_error(function, argument, detail, index):
        call()


@pytest.mark.parametrize("call, message", [
    (lambda: blend([[0.0]], DELTA, 1.0), "blend: neutral must be a torch.Tensor, got list"),
    (lambda: blend(NEUTRAL.long(), DELTA, 1.0), "blend: neutral must have a floating dtype, got torch.int64"),
    (lambda: blend(NEUTRAL, DELTA, True), "blend: alpha must be a number, a sequence of numbers or a tensor"),
    (lambda: blend(NEUTRAL, DELTA, 1.0, None), "blend: strategy must be a str, got NoneType"),
    (lambda: blend(NEUTRAL, DELTA, 1.0, "last_tokens", last_tokens=2.0),
     "blend: last_tokens must be an int, got float"),
    (lambda: combine(NEUTRAL, [DELTA], ["1"]), "combine: weights[0] must be a real number, got str '1'"),
    (lambda: combine(NEUTRAL, [None], [1.0]), "combine: deltas[0] must be a torch.Tensor, got NoneType"),
])
def test_wrong_types_raise_type_errors(call, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        call()


@pytest.mark.parametrize("strategy", BLEND_STRATEGIES)
def test_a_long_alpha_sweep_keeps_float64_to_bounded_chunks(float64_sizes, strategy):
    # 600 alphas over a [1, 77, 768] embedding: the float64 working copy of the whole batch would be
    # 284 MB; the chunks stay at 32 MiB (4M elements) while the rows equal the one-alpha blends.
    neutral, target = randn(1, 77, 768, seed=11), randn(1, 77, 768, seed=12)
    delta = embedding_delta(neutral, target)
    alphas = torch.linspace(-1.0, 2.0, 600, dtype=torch.float64)
    with float64_sizes as recorder:
        rows = blend(neutral, delta, alphas, strategy, last_tokens=5, magnitude=2.0)
    assert rows.shape == (600, 77, 768) and rows.dtype == torch.float32
    assert max(recorder.sizes) <= 1 << 22
    for k in (0, 299, 599):
        single = blend(neutral, delta, float(alphas[k]), strategy, last_tokens=5, magnitude=2.0)
        assert torch.equal(rows[k:k + 1], single)
