"""AID attention against the paper's formulas written naively (explicit concatenation, two softmaxes)."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from inbetween.aid import attention_with_lse, interpolated_attention, merge_attention


def naive_attention(q, k, v):
    scores = q.double() @ k.double().transpose(-1, -2) / math.sqrt(q.shape[-1])
    return torch.softmax(scores, dim=-1) @ v.double()


def naive_aid(q, k, v, t, mode, fused):
    """The formulas of the AID paper, one in-between row at a time, in float64."""
    rows = []
    for i in range(1, q.shape[0] - 1):
        ti = float(t[i - 1])
        qi, ki, vi = q[i : i + 1], k[i : i + 1], v[i : i + 1]
        ka, va, kb, vb = k[:1], v[:1], k[-1:], v[-1:]
        if mode == "outer":
            if fused:
                to_a = naive_attention(qi, torch.cat([ki, ka], dim=2), torch.cat([vi, va], dim=2))
                to_b = naive_attention(qi, torch.cat([ki, kb], dim=2), torch.cat([vi, vb], dim=2))
            else:
                to_a, to_b = naive_attention(qi, ka, va), naive_attention(qi, kb, vb)
            rows.append((1 - ti) * to_a + ti * to_b)
        else:
            kt, vt = (1 - ti) * ka + ti * kb, (1 - ti) * va + ti * vb
            if fused:
                rows.append(naive_attention(qi, torch.cat([ki, kt], dim=2), torch.cat([vi, vt], dim=2)))
            else:
                rows.append(naive_attention(qi, kt, vt))
    return torch.cat(rows)


def _qkv(rows=5, heads=2, tq=6, tk=6, dim=8, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    make = lambda t: torch.randn(rows, heads, t, dim, generator=g).to(dtype)  # noqa: E731
    return make(tq), make(tk), make(tk)


def test_attention_with_lse_matches_definition():
    q, k, v = _qkv(tq=5, tk=9)
    out, lse = attention_with_lse(q, k, v)
    scores = q.double() @ k.double().transpose(-1, -2) / math.sqrt(8)
    torch.testing.assert_close(out.double(), naive_attention(q, k, v), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(lse.double(), torch.logsumexp(scores, dim=-1), rtol=1e-5, atol=1e-5)
    assert lse.dtype == torch.float32


def test_cpu_kernel_equals_sdpa_bit_for_bit():
    q, k, v = _qkv()
    out, _ = attention_with_lse(q, k, v)
    assert torch.equal(out, torch.nn.functional.scaled_dot_product_attention(q, k, v))


def test_chunked_fallback_matches_definition():
    from inbetween.aid import _attention_with_lse_chunked

    q, k, v = _qkv(tq=7, tk=5)
    out, lse = _attention_with_lse_chunked(q, k, v, max_scores=2 * 2 * 5 * 3)  # forces 3-query chunks
    torch.testing.assert_close(out.double(), naive_attention(q, k, v), rtol=1e-5, atol=1e-5)
    scores = q.double() @ k.double().transpose(-1, -2) / math.sqrt(8)
    torch.testing.assert_close(lse.double(), torch.logsumexp(scores, dim=-1), rtol=1e-5, atol=1e-5)


def test_merge_equals_attention_over_joined_keys():
    q, k, v = _qkv(tk=4)
    _, k2, v2 = _qkv(tk=7, seed=1)
    merged = merge_attention([attention_with_lse(q, k, v), attention_with_lse(q, k2, v2)])
    joined = naive_attention(q, torch.cat([k, k2], dim=2), torch.cat([v, v2], dim=2))
    torch.testing.assert_close(merged.double(), joined, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["outer", "inner"])
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("shape", [dict(tq=6, tk=6), dict(tq=6, tk=3)], ids=["self", "cross"])
def test_interpolated_attention_equals_naive_formula(mode, fused, shape):
    q, k, v = _qkv(rows=7, **shape)
    t = [0.1, 0.3, 0.5, 0.7, 0.9]
    out = interpolated_attention(q, k, v, t, mode=mode, fused=fused)
    assert out.shape == (5, 2, shape["tq"], 8) and out.dtype == torch.float32
    torch.testing.assert_close(out.double(), naive_aid(q, k, v, t, mode, fused), rtol=1e-5, atol=1e-5)


@settings(deadline=None, max_examples=25)
@given(
    rows=st.integers(3, 6),
    tq=st.integers(1, 9),
    tk=st.integers(1, 9),
    seed=st.integers(0, 10_000),
    mode=st.sampled_from(["outer", "inner"]),
    fused=st.booleans(),
    scale=st.floats(0.1, 4.0),
)
def test_interpolated_attention_property(rows, tq, tk, seed, mode, fused, scale):
    q, k, v = _qkv(rows=rows, tq=tq, tk=tk, seed=seed)
    q = q * scale
    t = torch.linspace(0, 1, rows)[1:-1]
    out = interpolated_attention(q, k, v, t, mode=mode, fused=fused)
    torch.testing.assert_close(out.double(), naive_aid(q, k, v, t, mode, fused), rtol=1e-5, atol=1e-5)


def test_endpoint_coefficients_reduce_to_endpoint_attention():
    """Pure outer at t=0 is the attention to A alone; fused outer at t=1 is the attention to [K_i; K_B]."""
    q, k, v = _qkv(rows=3)
    pure = interpolated_attention(q, k, v, [0.0], mode="outer", fused=False)
    torch.testing.assert_close(pure.double(), naive_attention(q[1:2], k[:1], v[:1]), rtol=1e-5, atol=1e-5)
    fused = interpolated_attention(q, k, v, [1.0], mode="outer", fused=True)
    expect = naive_attention(q[1:2], torch.cat([k[1:2], k[2:]], dim=2), torch.cat([v[1:2], v[2:]], dim=2))
    torch.testing.assert_close(fused.double(), expect, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_keeps_dtype(dtype):
    q, k, v = _qkv(rows=4, dtype=dtype)
    out = interpolated_attention(q, k, v, [0.3, 0.6])
    assert out.dtype == dtype
    torch.testing.assert_close(out.double(), naive_aid(q.float(), k.float(), v.float(), [0.3, 0.6], "outer", True),
                               rtol=2e-2, atol=2e-2)


def test_inputs_untouched():
    q, k, v = _qkv()
    copies = [x.clone() for x in (q, k, v)]
    for mode in ("outer", "inner"):
        interpolated_attention(q, k, v, [0.2, 0.5, 0.8], mode=mode)
    assert all(torch.equal(a, b) for a, b in zip((q, k, v), copies))


@pytest.mark.parametrize(
    "args, message",
    [
        (dict(t=[0.5]), r"5 rows have 3 in-betweens but t has 1 values"),
        (dict(t=[0.1, float("nan"), 0.3]), r"t must be finite"),
        (dict(t=[0.1, 0.2, 0.3], mode="sideways"), r"mode must be one of \('outer', 'inner'\)"),
    ],
)
def test_bad_arguments(args, message):
    q, k, v = _qkv()
    with pytest.raises(ValueError, match=message):
        interpolated_attention(q, k, v, **args)
    with pytest.raises(ValueError, match="need the same N >= 3 rows"):
        interpolated_attention(q[:2], k[:2], v[:2], [])
