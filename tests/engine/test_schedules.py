"""Tests of inbetween.schedules against an independent arbitrary-precision incomplete beta (mpmath,
30 digits), closed forms and properties. The engine's Beta functions are SciPy's, in float64;
tolerances are stated per test."""

import math
import re
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
import mpmath
from torch.testing import assert_close

from inbetween import ArgumentError, beta_cdf, beta_quantile, beta_schedule, uniform_schedule

# (alpha, beta) grid: the paper's alpha = beta = steps defaults, skewed and tiny shapes, extremes.
SHAPES = [
    (1.0, 1.0),
    (2.0, 2.0),
    (0.5, 0.5),
    (25.0, 25.0),
    (50.0, 50.0),
    (200.0, 200.0),
    (500.0, 500.0),
    (0.5, 3.0),
    (3.0, 0.5),
    (2.0, 5.0),
    (7.5, 1.25),
    (0.05, 0.05),
    (0.05, 500.0),
    (500.0, 0.05),
]
XS = np.concatenate([[1e-10, 1e-5], np.linspace(0.001, 0.999, 15), [1 - 1e-5]])
PS = np.concatenate([[1e-6, 1e-3], np.linspace(0.01, 0.99, 11), [0.999]])
# SciPy (Boost) carries ~1e-14 absolute error against the 30-digit reference; 1e-12 leaves margin.
CDF_TOL = {"rtol": 1e-10, "atol": 1e-12}
mpmath.mp.dps = 30
FAST = settings(max_examples=60, deadline=None)
shape_parameter = st.floats(0.05, 500.0)


def tensor(values):
    return torch.tensor(np.asarray(values, dtype=np.float64))


def reference_cdf(x, a, b):
    """I_x(a, b) by mpmath's own hypergeometric series, at 30 significant digits."""
    return float(mpmath.betainc(a, b, 0, x, regularized=True))


def ulps_away(x, steps):
    """The float ``steps`` ulps from x (negative: below), clipped to [0, 1]."""
    for _ in range(abs(steps)):
        x = math.nextafter(x, 1.0 if steps > 0 else 0.0)
    return x


# --- beta_cdf -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("a,b", SHAPES)
def test_beta_cdf_matches_the_arbitrary_precision_reference(a, b):
    got = tensor([beta_cdf(float(x), a, b) for x in XS])
    assert_close(got, tensor([reference_cdf(float(x), a, b) for x in XS]), **CDF_TOL)


@pytest.mark.parametrize(
    "a,b,closed_form",
    [
        (1.0, 1.0, lambda x: x),
        (2.0, 2.0, lambda x: 3 * x**2 - 2 * x**3),
        (3.0, 1.0, lambda x: x**3),
        (1.0, 4.0, lambda x: 1 - (1 - x) ** 4),
        (0.5, 0.5, lambda x: 2 / math.pi * math.asin(math.sqrt(x))),
    ],
)
def test_beta_cdf_closed_forms(a, b, closed_form):
    for x in (0.0, 0.01, 0.2, 0.5, 0.73, 0.999, 1.0):
        assert_close(beta_cdf(x, a, b), closed_form(x), rtol=1e-13, atol=1e-14)


def test_beta_cdf_endpoints_are_exact():
    for a, b in SHAPES:
        assert beta_cdf(0.0, a, b) == 0.0
        assert beta_cdf(1.0, a, b) == 1.0


@FAST
@given(x=st.floats(0.0, 1.0), a=shape_parameter, b=shape_parameter)
def test_beta_cdf_reflection(x, a, b):
    # I_x(a, b) = 1 - I_{1-x}(b, a); 1 - x rounds, so compare at the reflected point exactly.
    y = 1.0 - x
    assert_close(beta_cdf(1.0 - y, a, b) + beta_cdf(y, b, a), 1.0, rtol=0, atol=1e-12)


@FAST
@given(x1=st.floats(0.0, 1.0), x2=st.floats(0.0, 1.0), a=shape_parameter, b=shape_parameter)
def test_beta_cdf_is_monotone(x1, x2, a, b):
    lo, hi = sorted((x1, x2))
    assert beta_cdf(lo, a, b) <= beta_cdf(hi, a, b) + 1e-15


# --- beta_quantile --------------------------------------------------------------------------------


@pytest.mark.parametrize("a,b", SHAPES)
def test_beta_quantile_inverts_the_arbitrary_precision_cdf(a, b):
    # The float64 quantile q is the root to an ulp or so, so the exact CDF a few ulps below q
    # is at most p and a few ulps above at least p. Near 1 (Beta(0.05, 0.05) say) one ulp can
    # span a tenth of the probability, so the bracket is in x, not a tolerance on p.
    for p in PS:
        q = beta_quantile(float(p), a, b)
        assert reference_cdf(ulps_away(q, -4), a, b) <= p + 1e-12
        assert reference_cdf(ulps_away(q, 4), a, b) >= p - 1e-12


@pytest.mark.parametrize(
    "a,b,closed_form",
    [
        (1.0, 1.0, lambda p: p),
        (3.0, 1.0, lambda p: p ** (1 / 3)),
        (1.0, 4.0, lambda p: 1 - (1 - p) ** (1 / 4)),
        (0.5, 0.5, lambda p: math.sin(math.pi * p / 2) ** 2),
    ],
)
def test_beta_quantile_closed_forms(a, b, closed_form):
    for p in (0.001, 0.1, 0.5, 0.9, 0.999):
        assert_close(beta_quantile(p, a, b), closed_form(p), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("a,b", SHAPES + [(0.01, 0.01), (1e4, 1e4)])
def test_beta_quantile_endpoints_are_exact(a, b):
    assert beta_quantile(0.0, a, b) == 0.0
    assert beta_quantile(1.0, a, b) == 1.0


@FAST
@given(p=st.floats(1e-3, 1 - 1e-3), a=shape_parameter, b=shape_parameter)
def test_beta_quantile_inverts_beta_cdf(p, a, b):
    # Near 1 the root is only representable to an ulp (1.1e-16), where the CDF can be steep, so
    # the check is that p lies between the CDF a few ulps below and above the quantile, up to
    # the CDF's own rounding error (~1e-13 for a, b near 500).
    q = beta_quantile(p, a, b)
    assert beta_cdf(ulps_away(q, -8), a, b) <= p + 1e-12
    assert beta_cdf(ulps_away(q, 8), a, b) >= p - 1e-12


@FAST
@given(p=st.floats(0.0, 1.0), gap=st.floats(1e-9, 1.0), a=st.floats(0.01, 1e4), b=st.floats(0.01, 1e4))
def test_beta_quantile_is_monotone(p, gap, a, b):
    # Closer p values are within the CDF's rounding error (~1e-13), where order is noise.
    higher = min(p + gap, 1.0)
    assert 0.0 <= beta_quantile(p, a, b) <= beta_quantile(higher, a, b) <= 1.0


def test_beta_quantile_below_the_smallest_normal_float_is_tiny():
    # Beta(0.01, 0.01) at p = 1e-6: the true quantile is ~1e-500, not representable; SciPy
    # answers at most the smallest normal float.
    assert 0.0 <= beta_quantile(1e-6, 0.01, 0.01) <= sys.float_info.min


# --- beta_schedule and uniform_schedule -----------------------------------------------------------


@pytest.mark.parametrize("frames", [2, 7, 50])
@pytest.mark.parametrize("alpha,beta", [(25.0, 25.0), (50.0, 50.0), (200.0, 200.0), (0.5, 3.0), (3.0, 0.5), (2e3, 2e3)])
def test_beta_schedule_is_the_quantile_of_each_grid_point(frames, alpha, beta):
    schedule = beta_schedule(frames, alpha, beta)
    assert schedule.dtype == torch.float64 and schedule.shape == (frames,)
    levels = [reference_cdf(float(u), alpha, beta) for u in schedule]
    assert_close(tensor(levels), tensor(np.arange(frames) / (frames - 1)), rtol=1e-10, atol=1e-12)


@FAST
@given(
    frames=st.integers(2, 64),
    alpha=st.floats(0.01, 1e4),
    beta=st.floats(0.01, 1e4),
    start=st.floats(-10, 10),
    span=st.floats(0, 10),
)
def test_beta_schedule_is_monotone_with_exact_endpoints(frames, alpha, beta, start, span):
    end = start + span
    schedule = beta_schedule(frames, alpha, beta, start=start, end=end)
    assert schedule[0].item() == start and schedule[-1].item() == end
    assert (schedule.diff() >= 0).all()


@pytest.mark.parametrize("frames", [2, 3, 7, 50])
def test_beta_one_one_is_uniform(frames):
    assert_close(beta_schedule(frames, 1, 1), uniform_schedule(frames), rtol=0, atol=1e-15)


@pytest.mark.parametrize("shape", [0.5, 2.0, 25.0, 50.0, 200.0])
@pytest.mark.parametrize("frames", [2, 7, 8, 50])
def test_symmetric_beta_schedule_is_symmetric(frames, shape):
    schedule = beta_schedule(frames, shape, shape)
    assert_close(schedule + schedule.flip(0), torch.full((frames,), 1.0, dtype=torch.float64), rtol=0, atol=1e-12)


def test_swapping_alpha_and_beta_mirrors_the_schedule():
    assert_close(beta_schedule(9, 0.5, 3), 1 - beta_schedule(9, 3, 0.5).flip(0), rtol=0, atol=1e-12)


def test_beta_schedule_range_option_scales_the_unit_schedule():
    # Attribute sweeps such as alpha 0 -> 1.5, and reversed ranges, are affine maps of [0, 1].
    unit = beta_schedule(7, 20, 20)
    assert_close(beta_schedule(7, 20, 20, start=0.0, end=1.5), 1.5 * unit, rtol=1e-15, atol=0)
    reversed_range = beta_schedule(7, 20, 20, start=1.5, end=-0.3)
    assert_close(reversed_range, 1.5 - 1.8 * unit, rtol=1e-14, atol=1e-15)
    assert reversed_range[0].item() == 1.5 and reversed_range[-1].item() == -0.3


def test_beta_schedule_pins_endpoints_that_would_round():
    # start + (end - start) * 1.0 != end in float64 for start = -2.0, end = 0.1.
    assert -2.0 + (0.1 - -2.0) * 1.0 != 0.1
    schedule = beta_schedule(5, 3, 3, start=-2.0, end=0.1)
    assert schedule[0].item() == -2.0 and schedule[-1].item() == 0.1
    uniform = uniform_schedule(5, start=-2.0, end=0.1)
    assert uniform[0].item() == -2.0 and uniform[-1].item() == 0.1


def test_uniform_schedule_hand_case():
    expected = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0], dtype=torch.float64)
    assert_close(uniform_schedule(5), expected, rtol=0, atol=0)
    assert_close(uniform_schedule(2, start=-1, end=3), torch.tensor([-1.0, 3.0], dtype=torch.float64), rtol=0, atol=0)


@pytest.mark.parametrize("frames,start,end", [(7, 0.0, 1.0), (50, -0.5, 1.5), (13, 2.0, -1.0)])
def test_uniform_schedule_matches_linspace(frames, start, end):
    expected = tensor(np.linspace(start, end, frames))
    assert_close(uniform_schedule(frames, start=start, end=end), expected, rtol=1e-15, atol=1e-15)


# --- validation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: beta_schedule(True, 2, 2), "beta_schedule: frames must be an int >= 2, got bool True"),
        (lambda: beta_schedule(7.0, 2, 2), "beta_schedule: frames must be an int >= 2, got float 7.0"),
        (lambda: beta_schedule("7", 2, 2), "beta_schedule: frames must be an int >= 2, got str '7'"),
        (lambda: beta_schedule(7, None, 2), "beta_schedule: alpha must be a real number, got NoneType None"),
        (lambda: beta_schedule(7, 2, 2, end="1"), "beta_schedule: end must be a real number, got str '1'"),
        (lambda: beta_quantile(0.5, 2, False), "beta_quantile: b must be a real number, got bool False"),
    ],
)
def test_wrong_types_raise_type_errors(call, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        call()


@pytest.mark.parametrize(
    "call,function,argument,detail",
    [
        (lambda: beta_schedule(1, 2, 2), "beta_schedule", "frames", "must be an int >= 2, got 1"),
        (lambda: beta_schedule(7, 0, 2), "beta_schedule", "alpha", "must be > 0, got 0.0"),
        (lambda: beta_schedule(7, 2, -1), "beta_schedule", "beta", "must be > 0, got -1.0"),
        (lambda: beta_schedule(7, math.nan, 2), "beta_schedule", "alpha", "must be finite, got nan"),
        (lambda: beta_schedule(7, 2, math.inf), "beta_schedule", "beta", "must be finite, got inf"),
        (lambda: beta_schedule(7, 2, 2, start=math.inf), "beta_schedule", "start", "must be finite, got inf"),
        (lambda: beta_schedule(7, 2, 2, end=-math.nan), "beta_schedule", "end", "must be finite, got nan"),
        (lambda: uniform_schedule(0), "uniform_schedule", "frames", "must be an int >= 2, got 0"),
        (lambda: uniform_schedule(5, end=math.nan), "uniform_schedule", "end", "must be finite, got nan"),
        (lambda: uniform_schedule(5, start=-math.inf), "uniform_schedule", "start", "must be finite, got -inf"),
        (lambda: beta_cdf(1.5, 2, 2), "beta_cdf", "x", "must be in [0, 1], got 1.5"),
        (lambda: beta_cdf(math.nan, 2, 2), "beta_cdf", "x", "must be finite, got nan"),
        (lambda: beta_cdf(0.5, 0, 2), "beta_cdf", "a", "must be > 0, got 0.0"),
        (lambda: beta_quantile(-0.1, 2, 2), "beta_quantile", "p", "must be in [0, 1], got -0.1"),
        (lambda: beta_quantile(math.nan, 2, 2), "beta_quantile", "p", "must be finite, got nan"),
        (lambda: beta_quantile(0.5, 2, math.inf), "beta_quantile", "b", "must be finite, got inf"),
    ],
)
def test_bad_values_raise_argument_errors(call, function, argument, detail):
    with pytest.raises(ArgumentError) as caught:
        call()
    assert (caught.value.function, caught.value.argument, caught.value.detail) == (function, argument, detail)
    assert str(caught.value) == f"{function}: {argument}: {detail}"


def test_numpy_and_integer_arguments_are_accepted():
    assert_close(beta_schedule(np.int64(5), np.float32(2), 2), beta_schedule(5, 2.0, 2.0), rtol=0, atol=0)
