"""AID attention against the paper's formulas written naively (explicit concatenation, two softmaxes)."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from inbetween import aid
from inbetween.aid import attention_with_lse, interpolated_attention, merge_attention
from inbetween.errors import ArgumentError


def naive_attention(q, k, v):
    scores = q.double() @ k.double().transpose(-1, -2) / math.sqrt(q.shape[-1])
    return torch.softmax(scores, dim=-1) @ v.double()


def naive_aid(q, k, v, t, mode, fused, endpoint_tokens=slice(None)):
    """The formulas of the AID paper, one in-between row at a time, in float64."""
    rows = []
    for i in range(1, q.shape[0] - 1):
        ti = float(t[i - 1])
        qi, ki, vi = q[i : i + 1], k[i : i + 1], v[i : i + 1]
        ka, va, kb, vb = (x[:, :, endpoint_tokens] for x in (k[:1], v[:1], k[-1:], v[-1:]))
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
    "args, argument, message",
    [
        (dict(t=[0.5]), "t", r"5 rows have 3 in-betweens but t has shape \(1,\)"),
        (dict(t=[0.1, 0.2, 0.3], mode="sideways"), "mode", r"mode: must be one of \('outer', 'inner'\)"),
    ],
)
def test_bad_arguments(args, argument, message):
    q, k, v = _qkv()
    with pytest.raises(ArgumentError, match=message) as caught:
        interpolated_attention(q, k, v, **args)
    assert caught.value.argument == argument
    with pytest.raises(ArgumentError, match="need the same N >= 3 rows"):
        interpolated_attention(q[:2], k[:2], v[:2], [])
    with pytest.raises(ArgumentError, match=r"k: must be \[rows, heads, tokens, head_dim\]"):
        interpolated_attention(q, k[0], v, [0.1, 0.2, 0.3])


def sdpa_backend():
    return aid.JoinedKeyAttention(torch.nn.functional.scaled_dot_product_attention)


@pytest.mark.parametrize("mode", ["outer", "inner"])
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("shape", [dict(tq=6, tk=6), dict(tq=6, tk=3)], ids=["self", "cross"])
def test_joined_key_backend_equals_naive_formula(mode, fused, shape):
    """The fallback for devices without a log-sum-exp kernel computes the same formulas."""
    q, k, v = _qkv(rows=6, **shape)
    t = torch.tensor([0.2, 0.4, 0.6, 0.8])
    out = interpolated_attention(q, k, v, t, mode=mode, fused=fused, backend=sdpa_backend())
    torch.testing.assert_close(out.double(), naive_aid(q, k, v, t, mode, fused), rtol=1e-5, atol=1e-5)


def test_both_backends_agree_in_half_precision():
    q, k, v = _qkv(rows=5, dtype=torch.bfloat16)
    t = torch.tensor([0.25, 0.5, 0.75])
    lse = interpolated_attention(q, k, v, t)
    joined = interpolated_attention(q, k, v, t, backend=sdpa_backend())
    assert lse.dtype == joined.dtype == torch.bfloat16
    torch.testing.assert_close(lse.float(), joined.float(), rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize(
    "device, dtype, head_dim, capability, expected",
    [
        ("cpu", torch.float32, 40, None, "cpu_flash"),
        ("cpu", torch.bfloat16, 64, None, "cpu_flash"),
        ("cuda", torch.float16, 64, (9, 0), "cuda_flash"),
        ("cuda", torch.bfloat16, 40, (8, 6), "cuda_flash"),
        ("cuda", torch.float16, 64, (7, 5), "cuda_efficient"),  # Turing: no flash
        ("cuda", torch.float32, 64, (9, 0), "cuda_efficient"),  # flash has no fp32
        ("cuda", torch.float32, 36, (9, 0), "cuda_efficient"),  # fp32 needs a multiple of 4
        ("cuda", torch.float16, 36, (9, 0), None),  # half needs a multiple of 8
        ("cuda", torch.float16, 512, (9, 0), None),  # beyond both kernels' head sizes
        ("cuda", torch.float16, 64, None, None),  # ROCm: capability not read, host attention instead
        ("mps", torch.float16, 64, None, None),
        ("xpu", torch.bfloat16, 64, None, None),
    ],
)
def test_kernel_choice(device, dtype, head_dim, capability, expected):
    assert aid.choose_lse_kernel(device, dtype, head_dim, capability) == expected


@pytest.mark.parametrize("name, dtype", [("cuda_flash", torch.float16), ("cuda_flash", torch.bfloat16),
                                         ("cuda_efficient", torch.float32), ("cuda_efficient", torch.float16)])
def test_cuda_kernels_on_fake_cuda_tensors(name, dtype):
    """Shapes, dtypes and devices of the CUDA paths, run on fake CUDA tensors (no GPU here).

    77 queries: the memory-efficient kernel pads its log-sum-exp to 96; unsliced, the merge would broadcast
    a wrong shape. The fold/unfold of endpoint queries and the merge run as on a GPU.
    """
    fake_tensor = pytest.importorskip("torch._subclasses.fake_tensor")
    with fake_tensor.FakeTensorMode():
        try:
            q = torch.empty(5, 4, 77, 64, device="cuda", dtype=dtype)
        except (RuntimeError, AssertionError) as err:  # a CPU-only build cannot even fake a CUDA device
            pytest.skip(f"this torch build cannot make fake CUDA tensors: {err}")
        k = v = torch.empty(5, 4, 50, 64, device="cuda", dtype=dtype)
        out, lse = aid.LSE_KERNELS[name](q, k, v)
        assert lse.shape == (5, 4, 77) and lse.dtype == torch.float32 and out.dtype == dtype
        backend = aid.LogSumExpAttention(aid.LSE_KERNELS[name])
        t = torch.empty(3, device="cuda")
        for mode in ("outer", "inner"):
            result = interpolated_attention(q, k, v, t, mode=mode, backend=backend)
            assert result.shape == (3, 4, 77, 64) and result.dtype == dtype and result.device.type == "cuda"



@pytest.mark.parametrize("backend", [None, "joined"])
@pytest.mark.parametrize("mode, fused", [("outer", True), ("outer", False), ("inner", True), ("inner", False)])
@pytest.mark.parametrize("tokens", [slice(3, None), slice(None, 3)], ids=["image", "text"])
def test_endpoint_token_selection(backend, mode, fused, tokens):
    """On a joint [text; image] sequence only the chosen endpoint tokens join; each row keeps all of its own."""
    q, k, v = _qkv(rows=5, tq=9, tk=9)
    t = torch.tensor([0.2, 0.5, 0.9])
    out = interpolated_attention(q, k, v, t, mode=mode, fused=fused, endpoint_tokens=tokens,
                                 backend=sdpa_backend() if backend else None)
    torch.testing.assert_close(out.double(), naive_aid(q, k, v, t, mode, fused, tokens), rtol=1e-5, atol=1e-5)
