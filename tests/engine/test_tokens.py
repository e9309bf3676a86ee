"""Token alignment: exact slices and repeats of real tokens, never zero padding."""

import pytest
import torch

from inbetween import ArgumentError
from inbetween.tokens import TokenCountMismatch, align_many, align_tokens


def _seq(tokens, seed, dim=4):
    return torch.randn(2, tokens, dim, generator=torch.Generator().manual_seed(seed))


def test_equal_counts_pass_through():
    a, b = _seq(5, 0), _seq(5, 1)
    out_a, out_b = align_tokens(a, b)
    assert out_a is a and out_b is b


def test_error_names_both_counts_and_blames_the_second():
    with pytest.raises(TokenCountMismatch) as info:
        align_tokens(_seq(77, 0), _seq(154, 1), names=("neutral", "target"))
    error = info.value
    assert isinstance(error, ArgumentError)
    assert (error.function, error.argument, error.index) == ("align_tokens", "b", None)
    assert error.detail == "neutral has 77 tokens but target has 154"
    assert error.counts == (77, 154) and error.names == ("neutral", "target")


def test_truncate_keeps_leading_tokens():
    a, b = _seq(3, 0), _seq(6, 1)
    out_a, out_b = align_tokens(a, b, "truncate")
    assert torch.equal(out_a, a) and torch.equal(out_b, b[:, :3])


def test_repeat_last_extends_with_own_last_token():
    a, b = _seq(3, 0), _seq(6, 1)
    out_a, out_b = align_tokens(a, b, "repeat_last")
    assert out_a.shape == (2, 6, 4) and torch.equal(out_b, b)
    assert torch.equal(out_a[:, :3], a)
    for k in range(3, 6):
        assert torch.equal(out_a[:, k], a[:, 2])
    assert (out_a != 0).all(), "no zero padding"


def test_inputs_untouched():
    a, b = _seq(3, 0), _seq(6, 1)
    a_copy, b_copy = a.clone(), b.clone()
    align_tokens(a, b, "repeat_last")
    align_tokens(a, b, "truncate")
    assert torch.equal(a, a_copy) and torch.equal(b, b_copy)


def test_width_mismatch_and_bad_alignment(argument_error):
    with argument_error("align_tokens", "b", "a has embedding width 4 but b has 8; they come from different text "
                                             "encoders"):
        align_tokens(_seq(3, 0), _seq(3, 1, dim=8), "truncate")
    with argument_error("align_tokens", "alignment", "must be one of ('error', 'truncate', 'repeat_last'), "
                                                     "got 'zero_pad'"):
        align_tokens(_seq(3, 0), _seq(3, 1), "zero_pad")
    with argument_error("align_tokens", "a", "a must be a [batch, tokens, dim] tensor with tokens >= 1, got shape "
                                             "(3, 4)"):
        align_tokens(torch.zeros(3, 4), _seq(3, 1))
    with argument_error("align_many", "names", "must hold one name per sequence (2), got 1"):
        align_many([_seq(3, 0), _seq(3, 1)], names=("x",))
    with pytest.raises(TypeError, match="align_tokens: b must be a torch.Tensor, got list"):
        align_tokens(_seq(3, 0), [[0.0]])
    with pytest.raises(TypeError, match="align_tokens: alignment must be a str, got NoneType"):
        align_tokens(_seq(3, 0), _seq(3, 1), None)


def test_non_finite_tokens_pass_through():
    a = _seq(3, 0)
    a[0, 1, 2] = float("nan")
    out_a, _ = align_tokens(a, _seq(5, 1), "repeat_last")
    assert torch.isnan(out_a[0, 1, 2]) and int(torch.isnan(out_a).sum()) == 1


def test_align_many_uses_common_count():
    a, b, g = _seq(3, 0), _seq(6, 1), _seq(4, 2)
    assert [x.shape[1] for x in align_many([a, b, g], "truncate")] == [3, 3, 3]
    out = align_many([a, b, g], "repeat_last")
    assert [x.shape[1] for x in out] == [6, 6, 6]
    assert torch.equal(out[2][:, 4:], g[:, 3:4].expand(-1, 2, -1))
    with pytest.raises(TokenCountMismatch, match="x has 3 tokens but z has 4") as info:
        align_many([a, a, g], names=("x", "y", "z"))
    assert (info.value.function, info.value.argument, info.value.index) == ("align_many", "sequences", 2)
