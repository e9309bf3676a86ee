"""Tests of inbetween.interpolation against hand-worked cases, closed forms, an independent float64
NumPy reference and properties. Tolerances: float64 1e-12, float32 1e-5 (about 100 ulps)."""

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from inbetween import INTERPOLATION_METHODS, ArgumentError, interpolate, lerp, normalized_lerp, slerp

METHODS = {"lerp": lerp, "normalized_lerp": normalized_lerp, "slerp": slerp}
LOW_PRECISION = [torch.float16, torch.bfloat16, torch.float32]
FLOAT64_TOL = {"rtol": 1e-12, "atol": 1e-12}
FLOAT32_TOL = {"rtol": 1e-5, "atol": 1e-5}
FAST = settings(max_examples=40, deadline=None)


def reference(method, a, b, t):
    """Float64 NumPy evaluation of the documented formulas for one pair of flattened rows."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    linear = (1 - t) * a + t * b
    if method == "lerp":
        return linear
    if method == "normalized_lerp":
        return linear / math.sqrt((1 - t) ** 2 + t**2)
    theta = math.acos(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1.0, 1.0))
    return (math.sin((1 - t) * theta) * a + math.sin(t * theta) * b) / math.sin(theta)


def randn(*shape, dtype=torch.float64, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


# --- hand-worked cases and closed forms ---------------------------------------------------------


def test_lerp_hand_case():
    a = torch.tensor([[0.0, 0.0]])
    b = torch.tensor([[2.0, 4.0]])
    assert_close(lerp(a, b, 0.25), torch.tensor([[0.5, 1.0]]), rtol=0, atol=0)
    # Extrapolation on both sides follows the same line.
    assert_close(lerp(a, b, 2.0), torch.tensor([[4.0, 8.0]]), rtol=0, atol=0)
    assert_close(lerp(a, b, -1.0), torch.tensor([[-2.0, -4.0]]), rtol=0, atol=0)


def test_normalized_lerp_hand_case():
    # Orthonormal inputs: the result has unit norm, at t = 0.5 it is (1, 1) / sqrt(2).
    a = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    half = 1 / math.sqrt(2)
    assert_close(normalized_lerp(a, b, 0.5), torch.tensor([[half, half]], dtype=torch.float64), **FLOAT64_TOL)


@FAST
@given(t=st.floats(-2.0, 3.0))
def test_normalized_lerp_keeps_unit_norm_of_orthonormal_inputs(t):
    a = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64)
    norm = torch.linalg.vector_norm(normalized_lerp(a, b, t))
    assert_close(norm, torch.tensor(1.0, dtype=torch.float64), **FLOAT64_TOL)


@pytest.mark.parametrize("t", [0.2, 0.5, 0.8])
def test_normalized_lerp_keeps_unit_variance_of_independent_noise(t):
    # Seed 001: lerp of independent N(0, 1) has variance (1-t)^2 + t^2; normalized lerp has 1.
    # 400k samples: the sample variance has standard error sqrt(2 / 400k) ~ 0.0022; allow 5 of them.
    a, b = randn(1, 400_000, seed=1), randn(1, 400_000, seed=2)
    shrunk = (1 - t) ** 2 + t**2
    assert abs(lerp(a, b, t).var().item() - shrunk) < 0.011
    assert abs(normalized_lerp(a, b, t).var().item() - 1.0) < 0.011


@pytest.mark.parametrize("phi", [0.3, math.pi / 2, 2.5])
@pytest.mark.parametrize("t", [-0.5, 0.0, 0.25, 0.5, 0.9, 1.0, 1.5])
def test_slerp_rotates_along_the_unit_circle(phi, t):
    # a = angle 0, b = angle phi: slerp is the point at angle t * phi (extrapolation included).
    a = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([[math.cos(phi), math.sin(phi)]], dtype=torch.float64)
    expected = torch.tensor([[math.cos(t * phi), math.sin(t * phi)]], dtype=torch.float64)
    assert_close(slerp(a, b, t), expected, **FLOAT64_TOL)


def test_slerp_uses_raw_vectors_so_equal_norms_are_kept():
    # Norm 2, quarter circle: 2 (cos(t pi/2), sin(t pi/2)).
    a = torch.tensor([[2.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([[0.0, 2.0]], dtype=torch.float64)
    t = 1 / 3
    expected = torch.tensor([[2 * math.cos(t * math.pi / 2), 2 * math.sin(t * math.pi / 2)]], dtype=torch.float64)
    assert_close(slerp(a, b, t), expected, **FLOAT64_TOL)


# --- agreement with the independent reference ---------------------------------------------------


@pytest.mark.parametrize("method", INTERPOLATION_METHODS)
@pytest.mark.parametrize("t", [-0.3, 0.1, 0.5, 0.77, 1.4])
def test_matches_float64_reference_per_row(method, t):
    a, b = randn(3, 4, 5, 6, seed=3), randn(3, 4, 5, 6, seed=4)
    out = METHODS[method](a, b, t)
    expected = torch.stack([torch.from_numpy(reference(method, a[k], b[k], t)).reshape(4, 5, 6) for k in range(3)])
    assert_close(out, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("method", INTERPOLATION_METHODS)
def test_float32_matches_float64_reference(method):
    a, b = randn(2, 4, 8, 8, seed=5), randn(2, 4, 8, 8, seed=6)
    out = METHODS[method](a.float(), b.float(), 0.3)
    assert out.dtype == torch.float32
    expected = torch.stack([torch.from_numpy(reference(method, a[k], b[k], 0.3)).reshape(4, 8, 8) for k in range(2)])
    assert_close(out.double(), expected, **FLOAT32_TOL)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("method", INTERPOLATION_METHODS)
def test_half_precision_is_the_float32_result_rounded(method, dtype):
    a, b = randn(2, 64, seed=7, dtype=dtype), randn(2, 64, seed=8, dtype=dtype)
    out = METHODS[method](a, b, 0.4)
    assert out.dtype == dtype
    assert torch.equal(out, METHODS[method](a.float(), b.float(), 0.4).to(dtype))


# --- properties -----------------------------------------------------------------------------------

vectors = st.builds(
    lambda seed, dim, batch: (randn(batch, dim, seed=seed), randn(batch, dim, seed=seed + 1)),
    seed=st.integers(0, 10_000),
    dim=st.integers(2, 16),
    batch=st.integers(1, 3),
)


def with_norm_of(b, a):
    return b * (torch.linalg.vector_norm(a, dim=1, keepdim=True) / torch.linalg.vector_norm(b, dim=1, keepdim=True))


@FAST
@given(pair=vectors, t=st.floats(-1.0, 2.0))
def test_slerp_keeps_norm_of_equal_norm_rows(pair, t):
    a, b = pair
    b = with_norm_of(b, a)
    out_norm = torch.linalg.vector_norm(slerp(a, b, t), dim=1)
    assert_close(out_norm, torch.linalg.vector_norm(a, dim=1), rtol=1e-9, atol=1e-9)


@FAST
@given(pair=vectors, t=st.floats(0.0, 1.0))
def test_slerp_of_equal_norm_rows_turns_by_t_theta(pair, t):
    a, b = pair
    b = with_norm_of(b, a)

    def angle(x, y):
        cos = (x * y).sum(1) / (torch.linalg.vector_norm(x, dim=1) * torch.linalg.vector_norm(y, dim=1))
        return torch.arccos(cos.clamp(-1, 1))

    # arccos near 0 is ill-conditioned: an angle of size e carries error ~ sqrt(eps) = 1.5e-8.
    assert_close(angle(a, slerp(a, b, t)), t * angle(a, b), rtol=1e-7, atol=1e-7)


@FAST
@given(pair=vectors, t=st.floats(-1.0, 2.0), method=st.sampled_from(INTERPOLATION_METHODS))
def test_swapping_inputs_mirrors_t(pair, t, method):
    a, b = pair
    assert_close(METHODS[method](a, b, t), METHODS[method](b, a, 1 - t), **FLOAT64_TOL)


# --- degenerate slerp: lerp fallback, never NaN ---------------------------------------------------


@pytest.mark.parametrize("dtype", LOW_PRECISION + [torch.float64], ids=str)
@pytest.mark.parametrize("t", [-0.5, 0.1, 0.5, 0.9, 2.0])
def test_slerp_of_equal_inputs_is_the_input(dtype, t):
    a = randn(2, 4, 8, 8, seed=9, dtype=dtype)
    assert torch.equal(slerp(a, a.clone(), t), a)


@pytest.mark.parametrize("scale", [3.0, -3.0, 0.0])
def test_slerp_of_parallel_antiparallel_or_zero_rows_is_lerp(scale):
    a = randn(2, 16, seed=10)
    b = scale * a
    for t in (0.25, 0.5, 1.7):
        out = slerp(a, b, t)
        assert_close(out, lerp(a, b, t), **FLOAT64_TOL)


def test_slerp_falls_back_only_on_degenerate_rows():
    a = randn(3, 16, seed=11)
    b = torch.stack([a[0], randn(16, seed=12), -a[2]])
    out = slerp(a, b, 0.5)
    assert_close(out[0], a[0], rtol=0, atol=0)
    assert_close(out[1], torch.from_numpy(reference("slerp", a[1], b[1], 0.5)), **FLOAT64_TOL)
    assert_close(out[2], torch.zeros(16, dtype=torch.float64), rtol=0, atol=1e-15)


@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=str)
def test_slerp_near_parallel_rows_stay_finite_and_close_to_lerp(dtype):
    a = randn(1, 4096, seed=13, dtype=dtype)
    b = (a.double() * (1 + 1e-3 * randn(1, 4096, seed=14))).to(dtype)
    out = slerp(a, b, 0.5)
    assert torch.isfinite(out).all()
    assert_close(out.double(), lerp(a, b, 0.5).double(), rtol=2e-2, atol=2e-2)


def test_slerp_zero_row_against_nonzero_row_is_lerp():
    a = torch.zeros(1, 8, dtype=torch.float64)
    b = randn(1, 8, seed=15)
    assert_close(slerp(a, b, 0.3), 0.3 * b, **FLOAT64_TOL)
    assert torch.isfinite(slerp(a, a, 0.3)).all()


# --- exact endpoints --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", LOW_PRECISION + [torch.float64], ids=str)
@pytest.mark.parametrize("method", INTERPOLATION_METHODS)
def test_endpoints_are_bit_exact(method, dtype):
    # Values with many significant bits, so an ulp of rounding would show.
    a = randn(3, 4, 5, seed=16, dtype=dtype) * 997.3
    b = randn(3, 4, 5, seed=17, dtype=dtype) * 0.013
    function = METHODS[method]
    assert torch.equal(function(a, b, 0.0), a)
    assert torch.equal(function(a, b, 1), b)
    out = function(a, b, [0.0, 0.5, 1.0])
    assert torch.equal(out[0], a[0])
    assert torch.equal(out[2], b[2])


@pytest.mark.parametrize("method", INTERPOLATION_METHODS)
def test_endpoints_of_broadcast_rows_are_bit_exact(method):
    a = randn(1, 7, seed=18, dtype=torch.bfloat16) * 3.3
    b = randn(4, 7, seed=19, dtype=torch.bfloat16) * 1.7
    out = METHODS[method](a, b, torch.tensor([0.0, 0.3, 1.0, 0.0]))
    assert torch.equal(out[0], a[0])
    assert torch.equal(out[2], b[2])
    assert torch.equal(out[3], a[0])


# --- shapes, broadcasting, t forms, dtype and device ------------------------------------------------


@pytest.mark.parametrize("method", INTERPOLATION_METHODS)
def test_scalar_t_broadcasts_batch_one(method):
    a, b = randn(1, 3, 4, seed=20), randn(5, 3, 4, seed=21)
    out = METHODS[method](a, b, 0.3)
    assert out.shape == (5, 3, 4)
    for k in range(5):
        assert_close(out[k], METHODS[method](a, b[k : k + 1], 0.3)[0], **FLOAT64_TOL)
    assert_close(METHODS[method](b, a, 0.7), out, **FLOAT64_TOL)


@pytest.mark.parametrize("method", INTERPOLATION_METHODS)
@pytest.mark.parametrize("batch_a,batch_b", [(1, 1), (1, 4), (4, 1), (4, 4)])
def test_vector_t_gives_one_row_per_coefficient(method, batch_a, batch_b):
    a, b = randn(batch_a, 2, 3, seed=22), randn(batch_b, 2, 3, seed=23)
    t = [0.0, 0.2, 0.65, 1.3]
    out = METHODS[method](a, b, t)
    assert out.shape == (4, 2, 3)
    for k, t_k in enumerate(t):
        row_a = a[k if batch_a > 1 else 0]
        row_b = b[k if batch_b > 1 else 0]
        assert_close(out[k], METHODS[method](row_a[None], row_b[None], t_k)[0], **FLOAT64_TOL)


@pytest.mark.parametrize(
    "t_form",
    [
        lambda t: t,
        tuple,
        lambda t: torch.tensor(t, dtype=torch.float64),
        lambda t: torch.tensor(t, dtype=torch.float32),
    ],
)
def test_vector_t_forms_agree(t_form):
    a, b = randn(1, 6, seed=24), randn(1, 6, seed=25)
    t = [0.0, 0.25, 0.5, 1.0]
    expected = torch.cat([slerp(a, b, t_k) for t_k in t])
    assert_close(slerp(a, b, t_form(t)), expected, **FLOAT64_TOL)


@pytest.mark.parametrize(
    "t", [1, 0, 0.5, torch.tensor(0.5), torch.tensor(1), np.float32(0.5), torch.tensor(0.5, dtype=torch.float16)]
)
def test_scalar_t_forms(t):
    a, b = randn(2, 6, seed=26), randn(2, 6, seed=27)
    out = lerp(a, b, t)
    assert out.shape == (2, 6)
    assert_close(out, a + float(t) * (b - a), **FLOAT64_TOL)


def test_integer_vector_t():
    a, b = randn(1, 3, seed=28), randn(1, 3, seed=29)
    out = lerp(a, b, torch.tensor([0, 1, 2]))
    assert_close(out, torch.cat([a, b, 2 * b - a]), **FLOAT64_TOL)


def test_noncontiguous_inputs_give_the_contiguous_result():
    a, b = randn(4, 6, 5, seed=30), randn(4, 6, 5, seed=31)
    a_t, b_t = a.transpose(1, 2), b.transpose(1, 2)
    assert not a_t.is_contiguous()
    assert_close(slerp(a_t, b_t, 0.4), slerp(a_t.contiguous(), b_t.contiguous(), 0.4), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", LOW_PRECISION + [torch.float64], ids=str)
@pytest.mark.parametrize("method", INTERPOLATION_METHODS)
def test_dtype_and_device_are_preserved(method, dtype):
    a, b = randn(2, 3, seed=32, dtype=dtype), randn(2, 3, seed=33, dtype=dtype)
    out = METHODS[method](a, b, [0.3, 0.6])
    assert out.dtype == dtype and out.device == a.device
    # The meta device has shapes and dtypes but no data: proves no computation leaves a's device.
    meta = METHODS[method](a.to("meta"), b.to("meta"), 0.5)
    assert meta.device.type == "meta" and meta.dtype == dtype and meta.shape == (2, 3)


@pytest.mark.parametrize("method", INTERPOLATION_METHODS)
def test_interpolate_dispatches_by_name(method):
    a, b = randn(2, 5, seed=34), randn(2, 5, seed=35)
    assert torch.equal(interpolate(a, b, [0.2, 0.9], method), METHODS[method](a, b, [0.2, 0.9]))


def test_interpolation_methods_tuple():
    assert INTERPOLATION_METHODS == ("lerp", "normalized_lerp", "slerp")


@pytest.mark.parametrize("method", ["Slerp", "cubic", ""])
def test_interpolate_unknown_method_lists_the_valid_ones(method):
    a = randn(1, 2)
    with pytest.raises(ArgumentError, match=re.escape("('lerp', 'normalized_lerp', 'slerp')")) as caught:
        interpolate(a, a, 0.5, method)
    assert (caught.value.function, caught.value.argument) == ("interpolate", "method")


@pytest.mark.parametrize("method", [None, 1])
def test_interpolate_method_of_the_wrong_type_is_a_type_error(method):
    a = randn(1, 2)
    with pytest.raises(TypeError, match="interpolate: method must be a str"):
        interpolate(a, a, 0.5, method)


# --- inputs are never modified, outputs never alias them ---------------------------------------------


@pytest.mark.parametrize("t", [0.0, 0.5, 1.0, [0.0, 1.0]])
@pytest.mark.parametrize("method", INTERPOLATION_METHODS)
def test_inputs_are_not_modified_and_not_aliased(method, t):
    a, b = randn(2, 3, 4, seed=36), randn(2, 3, 4, seed=37)
    t_tensor = torch.tensor(t, dtype=torch.float64)
    a_before, b_before, t_before = a.clone(), b.clone(), t_tensor.clone()
    out = METHODS[method](a, b, t_tensor)
    assert torch.equal(a, a_before) and torch.equal(b, b_before) and torch.equal(t_tensor, t_before)
    out.add_(1.0)
    assert torch.equal(a, a_before) and torch.equal(b, b_before)


# --- errors -------------------------------------------------------------------------------------------

A = torch.zeros(1, 4, 8, 8)


@pytest.mark.parametrize(
    "a,b,t,message",
    [
        ([1.0], A, 0.5, "slerp: a must be a torch.Tensor, got list"),
        (A, A.long(), 0.5, "slerp: b must have a floating dtype, got torch.int64"),
        (A, A, True, "slerp: t must be a number, a sequence of numbers or a tensor, got bool True"),
        (A, A, "0.5", "got str '0.5'"),
        (A, A, None, "got NoneType None"),
        (A, A, [0.5, "1"], "slerp: t[1] must be a real number, got str '1'"),
        (A, A, [[0.5]], "slerp: t[0] must be a real number, got list [0.5]"),
        (A, A, torch.tensor([True]), "slerp: t must hold real numbers, got a tensor of dtype torch.bool"),
        (A, A, torch.tensor([0.5j]), "slerp: t must hold real numbers, got a tensor of dtype torch.complex64"),
    ],
)
def test_wrong_types_raise_type_errors(a, b, t, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        slerp(a, b, t)


NAN_LATENT = torch.zeros(1, 4, 8, 8).index_put_((torch.tensor([0]),) * 4, torch.tensor(math.nan))


@pytest.mark.parametrize(
    "a,b,t,argument,index,detail",
    [
        (torch.tensor(1.0), torch.tensor(1.0), 0.5, "a", None, "must be batch-first [B, ...], got a 0-d tensor"),
        (torch.zeros(0, 4), torch.zeros(0, 4), 0.5, "a", None, "must not be empty, got shape (0, 4)"),
        (A, A.double(), 0.5, "b", None, "must have dtype torch.float32 like a, got torch.float64"),
        (A, A.to("meta"), 0.5, "b", None, "must be on device cpu like a, got meta"),
        (A, torch.zeros(1, 4, 8, 9), 0.5, "b", None,
         "must have shape [*, 4, 8, 8] to match a, got (1, 4, 8, 9) (a is (1, 4, 8, 8))"),
        (torch.zeros(2, 3), torch.zeros(3, 3), 0.5, "b", None, "must have batch 2 like a, or 1, got batch 3"),
        (NAN_LATENT, A, 0.5, "a", None, "must hold only finite values, got 1 NaN and 0 infinite of 256 values"),
        (A, torch.full((1, 4, 8, 8), -math.inf), 0.5, "b", None,
         "must hold only finite values, got 0 NaN and 256 infinite of 256 values"),
        (A, A, float("nan"), "t", None, "must be finite, got nan"),
        (A, A, [0.0, float("inf")], "t", 1, "must be finite, got inf"),
        (A, A, torch.tensor([0.0, float("-inf")]), "t", 1, "must be finite, got -inf"),
        (A, A, [], "t", None, "is empty; give at least one value"),
        (A, A, torch.zeros(0), "t", None, "is empty; give at least one value"),
        (A, A, torch.zeros(2, 1), "t", None, "must be a scalar or 1-D, got a tensor of shape (2, 1)"),
        (torch.zeros(3, 2), torch.zeros(1, 2), [0.0, 0.5], "a", None,
         "must have batch 1 or 2 to match the 2 values of t, got batch 3"),
        (torch.zeros(1, 2), torch.zeros(3, 2), [0.0, 0.5], "b", None,
         "must have batch 1 or 2 to match the 2 values of t, got batch 3"),
    ],
)
def test_bad_values_raise_argument_errors_naming_the_argument(a, b, t, argument, index, detail):
    with pytest.raises(ArgumentError) as caught:
        slerp(a, b, t)
    error = caught.value
    assert (error.function, error.argument, error.index, error.detail) == ("slerp", argument, index, detail)
    where = argument if index is None else f"{argument}[{index}]"
    assert str(error) == f"slerp: {where}: {detail}"


@pytest.mark.parametrize("method", INTERPOLATION_METHODS)
def test_errors_name_the_function(method):
    with pytest.raises(ArgumentError, match=f"^{method}: b: ") as caught:
        METHODS[method](torch.zeros(1, 2), torch.zeros(1, 3), 0.5)
    assert caught.value.function == method
    with pytest.raises(ArgumentError, match="^interpolate: a: "):
        interpolate(NAN_LATENT, A, 0.5, method)


# --- long sequences -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=str)
@pytest.mark.parametrize("method", INTERPOLATION_METHODS)
def test_two_thousand_frames_stay_in_the_input_dtype(float64_sizes, method, dtype):
    # 2000 coefficients over one [1, 4, 64, 64] latent pair: 33 MB of float32 output. No float64
    # tensor bigger than the coefficient vector may appear on the way (a float64 working copy of
    # the batch would be 65 MB more); the rows must match the single-coefficient results.
    a, b = randn(1, 4, 64, 64, dtype=dtype, seed=40), randn(1, 4, 64, 64, dtype=dtype, seed=41)
    t = torch.linspace(-0.25, 1.25, 2000, dtype=torch.float64)
    with float64_sizes as recorder:
        out = METHODS[method](a, b, t)
    assert out.shape == (2000, 4, 64, 64) and out.dtype == dtype
    assert max(recorder.sizes, default=0) <= t.numel()
    for k in (0, 777, 1999):
        assert torch.equal(out[k:k + 1], METHODS[method](a, b, float(t[k])))
