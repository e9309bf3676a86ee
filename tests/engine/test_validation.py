"""Tests of inbetween.validation: accepted values come back converted; a wrong type raises TypeError,
a rejected value an ArgumentError that names the function and the parameter and shows what arrived."""

import math
import re
from fractions import Fraction

import numpy as np
import pytest

import torch

from inbetween.validation import (
    check_coefficients,
    check_finite,
    check_frame_count,
    check_integer,
    check_like,
    check_positive,
    check_real,
    check_tensor,
    check_unit_interval,
    describe,
)


def test_describe_shows_type_and_value():
    assert describe(7.0) == "float 7.0"
    assert describe("7") == "str '7'"
    assert describe(None) == "NoneType None"


@pytest.mark.parametrize("value", [0, -3, 2.5, np.float32(0.25), np.int64(4), Fraction(1, 4)])
def test_check_real_accepts_real_numbers(value):
    result = check_real(value, "x", "f")
    assert type(result) is float and result == float(value)


@pytest.mark.parametrize(
    "value,message",
    [
        (True, "f: x must be a real number, got bool True"),
        ("1", "f: x must be a real number, got str '1'"),
        (1j, "f: x must be a real number, got complex 1j"),
    ],
)
def test_check_real_rejects_wrong_types(value, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        check_real(value, "x", "f")


@pytest.mark.parametrize("value", [math.nan, -math.inf, math.inf])
def test_check_real_rejects_non_finite_values(argument_error, value):
    with argument_error("f", "x", f"must be finite, got {value!r}"):
        check_real(value, "x", "f")
    with argument_error("f", "weights", f"must be finite, got {value!r}", index=2):
        check_real(value, "weights", "f", index=2)


def test_check_positive(argument_error):
    assert check_positive(1e-300, "alpha", "f") == 1e-300
    for value in (0, 0.0, -1):
        with argument_error("f", "alpha", f"must be > 0, got {float(value)!r}"):
            check_positive(value, "alpha", "f")


def test_check_unit_interval(argument_error):
    assert check_unit_interval(0, "p", "f") == 0.0
    assert check_unit_interval(1, "p", "f") == 1.0
    for value in (-1e-300, 1.0000000000000002):
        with argument_error("f", "p", f"must be in [0, 1], got {value!r}"):
            check_unit_interval(value, "p", "f")


def test_check_frame_count():
    assert check_frame_count(2, "frames", "f") == 2
    result = check_frame_count(np.int64(9), "frames", "f")
    assert type(result) is int and result == 9


@pytest.mark.parametrize("value", [1, -5])
def test_check_frame_count_rejects_small_counts(argument_error, value):
    with argument_error("f", "frames", f"must be an int >= 2, got {value}"):
        check_frame_count(value, "frames", "f")


@pytest.mark.parametrize(
    "value,message",
    [
        (True, "f: frames must be an int >= 2, got bool True"),
        (7.0, "f: frames must be an int >= 2, got float 7.0"),
        (None, "f: frames must be an int >= 2, got NoneType None"),
    ],
)
def test_check_frame_count_rejects_wrong_types(value, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        check_frame_count(value, "frames", "f")


def test_check_integer_has_its_own_minimum(argument_error):
    assert check_integer(0, "padding", "f", 0) == 0
    with argument_error("f", "padding", "must be an int >= 0, got -1"):
        check_integer(-1, "padding", "f", 0)


@pytest.mark.parametrize(
    "value,expected",
    [(0.5, ([0.5], False)), (torch.tensor(2), ([2.0], False)), ([0, 0.5], ([0.0, 0.5], True)),
     (torch.tensor([1.0]), ([1.0], True)), ((0.25,), ([0.25], True))],
)
def test_check_coefficients_accepts_scalars_and_vectors(value, expected):
    assert check_coefficients(value, "t", "f") == expected


def test_check_coefficients_names_the_bad_element(argument_error):
    with argument_error("f", "t", "must be finite, got nan", index=1):
        check_coefficients([0.0, math.nan], "t", "f")
    with argument_error("f", "t", "must be finite, got inf"):
        check_coefficients(math.inf, "t", "f")
    with argument_error("f", "t", "is empty; give at least one value"):
        check_coefficients([], "t", "f")


def test_check_tensor_and_check_finite(argument_error):
    x = torch.zeros(2, 3)
    assert check_tensor(x, "x", "f") is x
    assert check_tensor(x.long(), "x", "f", floating=False) is not None
    with pytest.raises(TypeError, match="f: x must have a floating dtype, got torch.int64"):
        check_tensor(x.long(), "x", "f")
    check_finite(x, "x", "f")
    check_finite(torch.full((2,), math.nan, device="meta"), "x", "f")  # no values to check
    with argument_error("f", "x", "must hold only finite values, got 2 NaN and 1 infinite of 6 values"):
        check_finite(torch.tensor([math.nan, math.nan, -math.inf, 0.0, 1.0, 2.0]), "x", "f")


def test_check_like_names_the_second_tensor(argument_error):
    a = torch.zeros(2)
    check_like(a, "a", torch.ones(3), "b", "f")  # shapes are the caller's business
    with argument_error("f", "b", "must have dtype torch.float32 like a, got torch.float16"):
        check_like(a, "a", a.half(), "b", "f")
    with argument_error("f", "b", "must be on device cpu like a, got meta"):
        check_like(a, "a", a.to("meta"), "b", "f")
