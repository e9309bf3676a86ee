"""Token alignment: exact slices and repeats of real tokens, never zero padding."""

import pytest
import torch

from inbetween.tokens import TokenCountMismatch, align_tokens


def _seq(tokens, seed, dim=4):
    return torch.randn(2, tokens, dim, generator=torch.Generator().manual_seed(seed))


def test_equal_counts_pass_through():
    a, b = _seq(5, 0), _seq(5, 1)
    out_a, out_b = align_tokens(a, b)
    assert out_a is a and out_b is b


def test_error_names_both_counts():
    with pytest.raises(TokenCountMismatch, match="neutral has 77 tokens but target has 154") as info:
        align_tokens(_seq(77, 0), _seq(154, 1), names=("neutral", "target"))
    assert info.value.counts == (77, 154)


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


def test_width_mismatch_and_bad_alignment():
    with pytest.raises(ValueError, match="embedding width 4 but b has 8"):
        align_tokens(_seq(3, 0), _seq(3, 1, dim=8), "truncate")
    with pytest.raises(ValueError, match="alignment must be one of"):
        align_tokens(_seq(3, 0), _seq(3, 1), "zero_pad")
    with pytest.raises(ValueError, match=r"a must be a \[batch, tokens, dim\] tensor"):
        align_tokens(torch.zeros(3, 4), _seq(3, 1))


def test_align_many_uses_common_count():
    from inbetween.tokens import align_many

    a, b, g = _seq(3, 0), _seq(6, 1), _seq(4, 2)
    assert [x.shape[1] for x in align_many([a, b, g], "truncate")] == [3, 3, 3]
    out = align_many([a, b, g], "repeat_last")
    assert [x.shape[1] for x in out] == [6, 6, 6]
    assert torch.equal(out[2][:, 4:], g[:, 3:4].expand(-1, 2, -1))
    with pytest.raises(TokenCountMismatch, match="x has 3 tokens but z has 4"):
        align_many([a, a, g], names=("x", "y", "z"))
