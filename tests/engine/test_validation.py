"""Tests of inbetween.validation: accepted values come back converted, rejected ones raise errors
that name the function and the parameter and show what arrived."""

import math
import re
from fractions import Fraction

import numpy as np
import pytest

from inbetween.validation import check_frame_count, check_positive, check_real, check_unit_interval, describe


def test_describe_shows_type_and_value():
    assert describe(7.0) == "float 7.0"
    assert describe("7") == "str '7'"
    assert describe(None) == "NoneType None"


@pytest.mark.parametrize("value", [0, -3, 2.5, np.float32(0.25), np.int64(4), Fraction(1, 4)])
def test_check_real_accepts_real_numbers(value):
    result = check_real(value, "x", "f")
    assert type(result) is float and result == float(value)


@pytest.mark.parametrize(
    "value,error,message",
    [
        (True, TypeError, "f: x must be a real number, got bool True"),
        ("1", TypeError, "f: x must be a real number, got str '1'"),
        (1j, TypeError, "f: x must be a real number, got complex 1j"),
        (math.nan, ValueError, "f: x must be finite, got nan"),
        (-math.inf, ValueError, "f: x must be finite, got -inf"),
    ],
)
def test_check_real_rejects(value, error, message):
    with pytest.raises(error, match=re.escape(message)):
        check_real(value, "x", "f")


def test_check_positive():
    assert check_positive(1e-300, "alpha", "f") == 1e-300
    for value in (0, 0.0, -1):
        with pytest.raises(ValueError, match=re.escape(f"f: alpha must be > 0, got {float(value)!r}")):
            check_positive(value, "alpha", "f")


def test_check_unit_interval():
    assert check_unit_interval(0, "p", "f") == 0.0
    assert check_unit_interval(1, "p", "f") == 1.0
    for value in (-1e-300, 1.0000000000000002):
        with pytest.raises(ValueError, match=re.escape(f"f: p must be in [0, 1], got {value!r}")):
            check_unit_interval(value, "p", "f")


def test_check_frame_count():
    assert check_frame_count(2, "frames", "f") == 2
    result = check_frame_count(np.int64(9), "frames", "f")
    assert type(result) is int and result == 9


@pytest.mark.parametrize(
    "value,error,message",
    [
        (1, ValueError, "f: frames must be an int >= 2, got 1"),
        (-5, ValueError, "f: frames must be an int >= 2, got -5"),
        (True, TypeError, "f: frames must be an int >= 2, got bool True"),
        (7.0, TypeError, "f: frames must be an int >= 2, got float 7.0"),
        (None, TypeError, "f: frames must be an int >= 2, got NoneType None"),
    ],
)
def test_check_frame_count_rejects(value, error, message):
    with pytest.raises(error, match=re.escape(message)):
        check_frame_count(value, "frames", "f")
