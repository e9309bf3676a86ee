"""Latent translation: window slides and wipes checked element by element against their definition."""

import math
import re

import pytest
import torch

from inbetween.translation import offsets_from_coefficients, translate


def _pair(width=6):
    a = torch.arange(2 * 3 * width, dtype=torch.float32).reshape(1, 2, 3, width)
    return a, -1.0 - a


def test_slide_matches_the_window_definition():
    a, b = _pair()
    joined = torch.cat([a, b], dim=-1)
    frames = translate(a, b, [0, 1, 4, 6])
    assert frames.shape == (4, 2, 3, 6)
    for row, s in enumerate([0, 1, 4, 6]):
        for col in range(6):
            torch.testing.assert_close(frames[row, ..., col], joined[0, ..., s + col], rtol=0, atol=0)


def test_wipe_keeps_columns_in_place():
    a, b = _pair()
    frames = translate(a, b, [0, 2, 6], mode="wipe")
    for row, s in enumerate([0, 2, 6]):
        for col in range(6):
            source = a if col < 6 - s else b
            torch.testing.assert_close(frames[row, ..., col], source[0, ..., col], rtol=0, atol=0)


@pytest.mark.parametrize("mode", ["slide", "wipe"])
def test_endpoints_reproduce_inputs(mode):
    a, b = _pair(8)
    frames = translate(a, b, [0, 8], mode=mode)
    assert torch.equal(frames[0], a[0]) and torch.equal(frames[1], b[0])


def test_inputs_untouched_and_dtype_kept():
    a, b = _pair()
    a, b = a.half(), b.half()
    a_copy, b_copy = a.clone(), b.clone()
    frames = translate(a, b, [3])
    assert frames.dtype == torch.float16
    assert torch.equal(a, a_copy) and torch.equal(b, b_copy)
    frames[0].fill_(0)
    assert torch.equal(a, a_copy), "output must not share memory with the inputs"


def test_offsets_from_coefficients():
    assert offsets_from_coefficients([0.0, 0.25, 0.5, 1.0], 8) == [0, 2, 4, 8]
    assert offsets_from_coefficients(torch.tensor([0.0, 1.0], dtype=torch.float64), 64) == [0, 64]


@pytest.mark.parametrize(
    "call, function, argument, index, detail",
    [
        (lambda a, b: translate(a, b[..., :5], [0]), "translate", "b", None,
         "must have shape (1, 2, 3, 6) like a, got (1, 2, 3, 5)"),
        (lambda a, b: translate(a, b, [7]), "translate", "offsets", 0, "must be in [0, 6] (the width), got 7"),
        (lambda a, b: translate(a, b, [0, -1]), "translate", "offsets", 1, "must be in [0, 6] (the width), got -1"),
        (lambda a, b: translate(a, b, []), "translate", "offsets", None, "is empty; give at least one offset"),
        (lambda a, b: translate(torch.cat([a, a]), b, [0]), "translate", "a", None,
         "must be one non-empty latent [1, ..., W], got shape (2, 2, 3, 6)"),
        (lambda a, b: translate(a, b.index_fill(3, torch.tensor([2]), math.nan), [0]), "translate", "b", None,
         "must hold only finite values, got 6 NaN and 0 infinite of 36 values"),
        (lambda a, b: translate(a, b, [0], mode="zoom"), "translate", "mode", None,
         "must be one of ('slide', 'wipe'), got 'zoom'"),
        (lambda a, b: offsets_from_coefficients([0.0, 1.5], 6), "offsets_from_coefficients", "coefficients", 1,
         "must be in [0, 1] for a window position, got 1.5"),
        (lambda a, b: offsets_from_coefficients([0.0, math.nan], 6), "offsets_from_coefficients", "coefficients", 1,
         "must be finite, got nan"),
        (lambda a, b: offsets_from_coefficients([0.5], 0), "offsets_from_coefficients", "width", None,
         "must be an int >= 1, got 0"),
    ],
)
def test_bad_values_name_the_argument(argument_error, call, function, argument, index, detail):
    a, b = _pair()
    with argument_error(function, argument, detail, index):
        call(a, b)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda a, b: translate(a, [0.0], [0]), "translate: b must be a torch.Tensor, got list"),
        (lambda a, b: translate(a, b, [0.5]), "translate: offsets[0] must be an int, got float 0.5"),
        (lambda a, b: translate(a, b, [True]), "translate: offsets[0] must be an int, got bool True"),
        (lambda a, b: translate(a, b, [0], mode=None), "translate: mode must be a str, got NoneType"),
        (lambda a, b: offsets_from_coefficients([0.5], 6.0), "offsets_from_coefficients: width must be an int >= 1"),
    ],
)
def test_wrong_types_raise_type_errors(call, message):
    a, b = _pair()
    with pytest.raises(TypeError, match=re.escape(message)):
        call(a, b)
