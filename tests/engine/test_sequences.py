"""Interpolated embedding sequences, plain and guided (PAID)."""

import math

import pytest
import torch

from inbetween.interpolation import interpolate
from inbetween.sequences import interpolate_sequence

T = [0.0, 0.2, 0.5, 0.9, 1.0]


def _emb(seed, shape=(1, 7, 16)):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("method", ["lerp", "slerp", "normalized_lerp"])
def test_rows_are_the_interpolations(method):
    a, b = _emb(0), _emb(1)
    rows = interpolate_sequence(a, b, T, method)
    assert rows.shape == (5, 7, 16)
    for k, t in enumerate(T):
        torch.testing.assert_close(rows[k : k + 1], interpolate(a, b, t, method), rtol=0, atol=0)
    assert torch.equal(rows[0], a[0]) and torch.equal(rows[-1], b[0])


def test_guide_fills_in_betweens_and_keeps_endpoints():
    a, b, g = _emb(0), _emb(1), _emb(2)
    rows = interpolate_sequence(a, b, T, "lerp", guide=g)
    assert torch.equal(rows[0], a[0]) and torch.equal(rows[-1], b[0])
    for k in range(1, 4):
        assert torch.equal(rows[k], g[0])


def test_pooled_shapes_work_too():
    a, b, g = _emb(0, (1, 8)), _emb(1, (1, 8)), _emb(2, (1, 8))
    rows = interpolate_sequence(a, b, [0.0, 0.5, 1.0], "lerp", guide=g)
    assert rows.shape == (3, 8) and torch.equal(rows[1], g[0])


def test_bad_guide_and_short_t(argument_error):
    a, b = _emb(0), _emb(1)
    with argument_error("interpolate_sequence", "guide", "must have shape (1, 7, 16) like a, got (1, 8, 16)"):
        interpolate_sequence(a, b, T, "lerp", guide=_emb(2, (1, 8, 16)))
    with argument_error("interpolate_sequence", "guide", "must have dtype torch.float32 like a, got torch.float16"):
        interpolate_sequence(a, b, T, "lerp", guide=_emb(2).half())
    guide = _emb(2)
    guide[0, 3, 5] = math.nan
    with argument_error("interpolate_sequence", "guide", "...got 1 NaN and 0 infinite"):
        interpolate_sequence(a, b, T, "lerp", guide=guide)
    with argument_error("interpolate_sequence", "t", "must be a vector of at least 2 coefficients, got [0.5]"):
        interpolate_sequence(a, b, [0.5], "lerp")
    with argument_error("interpolate_sequence", "t", "must be a vector of at least 2 coefficients, got 0.5"):
        interpolate_sequence(a, b, 0.5, "lerp")


def test_errors_of_the_interpolation_name_this_function(argument_error):
    a, b = _emb(0), _emb(1)
    with argument_error("interpolate_sequence", "b", "...got (1, 8, 16)"):
        interpolate_sequence(a, _emb(1, (1, 8, 16)), T, "lerp")
    with argument_error("interpolate_sequence", "a", "...got 0 NaN and 112 infinite"):
        interpolate_sequence(torch.full_like(a, math.inf), b, T, "lerp")
    with argument_error("interpolate_sequence", "method", "...got 'cubic'"):
        interpolate_sequence(a, b, T, "cubic")
    with argument_error("interpolate_sequence", "t", "must be finite, got nan", index=1):
        interpolate_sequence(a, b, [0.0, math.nan, 1.0], "lerp")
