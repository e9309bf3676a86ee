"""AID attention against the paper's formulas written naively (explicit concatenation, two softmaxes)."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from inbetween import aid
from inbetween.aid import attention_with_lse, interpolated_attention, merge_attention
from inbetween.errors import ArgumentError

from aid_reference import naive_aid, naive_attention, padding_mask


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


def fake_cuda():
    """FakeTensorMode for CUDA tensors without a GPU; a skip on the CPU-only torch build, which has no CUDA kernels
    to fake (CI runs the engine suite once more in a host environment's full build, where these run)."""
    if not torch.backends.cuda.is_built():
        pytest.skip("this torch build has no CUDA support to fake (the CPU-only build)")
    from torch._subclasses.fake_tensor import FakeTensorMode

    return FakeTensorMode()


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
    with fake_cuda():
        q = torch.empty(5, 4, 77, 64, device="cuda", dtype=dtype)
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


def _as_bias(mask):
    return torch.zeros(mask.shape).masked_fill(~mask, -float("inf")) if mask.dtype == torch.bool else mask


def test_attention_with_lse_takes_a_bias():
    q, k, v = _qkv(tq=5, tk=9)
    bias = torch.randn(5, 2, 5, 9) + padding_mask(tq=5, heads=2)
    out, lse = attention_with_lse(q, k, v, bias)
    scores = q.double() @ k.double().transpose(-1, -2) / math.sqrt(8) + bias.double()
    torch.testing.assert_close(out.double(), naive_attention(q, k, v, bias), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(lse.double(), torch.logsumexp(scores, dim=-1), rtol=1e-5, atol=1e-5)
    assert torch.equal(out, torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias))


@pytest.mark.parametrize("backend", [None, "joined"])
@pytest.mark.parametrize("mode, fused", [("outer", True), ("outer", False), ("inner", True), ("inner", False)])
@pytest.mark.parametrize("form", ["qwen", "flux_redux", "bool", "one_for_all"])
def test_masked_attention_equals_naive_formula(backend, mode, fused, form):
    """Each key set keeps its own row's mask: Qwen-Image's key padding ``[N, 1, Tk]`` (-finfo.max), a per-query
    bias ``[N, Tq, Tk]`` (Flux Redux's attn_bias), a boolean mask, and one ``[Tq, Tk]`` mask for every row."""
    q, k, v = _qkv(rows=5, tq=7, tk=9)
    t = torch.tensor([0.2, 0.5, 0.9])
    mask = {"qwen": lambda: padding_mask()[:, 0],
            "flux_redux": lambda: torch.randn(5, 7, 9) + padding_mask(tq=7)[:, 0],
            "bool": lambda: padding_mask(kind="bool")[:, 0],
            "one_for_all": lambda: torch.randn(7, 9)}[form]()
    out = interpolated_attention(q, k, v, t, mode=mode, fused=fused, mask=mask,
                                 backend=sdpa_backend() if backend else None)
    bias = aid.additive_bias(_as_bias(mask) if form == "bool" else mask, torch.float32)
    expected = naive_aid(q, k, v, t, mode, fused, bias=bias)
    torch.testing.assert_close(out.double(), expected, rtol=1e-5, atol=1e-5)
    unmasked = naive_aid(q, k, v, t, mode, fused)
    assert not torch.allclose(expected, unmasked, atol=1e-3), "the mask changed nothing: the test would not see it"


@pytest.mark.parametrize("mode, fused", [("outer", True), ("outer", False), ("inner", True), ("inner", False)])
@pytest.mark.parametrize("tokens", [slice(3, None), slice(None, 3)], ids=["image", "text"])
def test_masked_endpoint_token_selection(mode, fused, tokens):
    """The endpoints' mask follows the endpoint tokens that join (the text part of a padded prompt, say)."""
    q, k, v = _qkv(rows=5, tq=9, tk=9)
    t = torch.tensor([0.2, 0.5, 0.9])
    mask = padding_mask(tk=9)[:, 0].flip(-1)  # padding among the first (text) tokens
    out = interpolated_attention(q, k, v, t, mode=mode, fused=fused, endpoint_tokens=tokens, mask=mask)
    expected = naive_aid(q, k, v, t, mode, fused, tokens, bias=aid.additive_bias(mask, torch.float32))
    torch.testing.assert_close(out.double(), expected, rtol=1e-5, atol=1e-5)


def test_inner_blended_bias_at_the_endpoints():
    """M_t is M_A at t=0 and M_B at t=1 exactly, logaddexp of the two weighted terms between; a key only A keeps
    gets log(1-t), one neither keeps stays masked."""
    a = aid.KeySet(*torch.zeros(2, 1, 1, 3, 1), torch.tensor([[[[0.0, 0.0, -float("inf")]]]]))
    b = aid.KeySet(a.keys, a.values, torch.tensor([[[[0.0, -float("inf"), -float("inf")]]]]))
    t = torch.tensor([0.0, 0.25, 1.0]).reshape(-1, 1, 1, 1)
    blended = aid._lerp_endpoints(a, b, t).bias
    assert torch.equal(blended[0], a.bias[0]) and torch.equal(blended[2], b.bias[0])
    torch.testing.assert_close(blended[1, 0, 0], torch.tensor([0.0, math.log(0.75), -float("inf")]))


@settings(deadline=None, max_examples=25)
@given(rows=st.integers(3, 6), tq=st.integers(1, 9), tk=st.integers(2, 9), seed=st.integers(0, 10_000),
       mode=st.sampled_from(["outer", "inner"]), fused=st.booleans())
def test_masked_attention_property(rows, tq, tk, seed, mode, fused):
    q, k, v = _qkv(rows=rows, tq=tq, tk=tk, seed=seed)
    mask = padding_mask(rows=rows, tk=tk, seed=seed)[:, 0]
    t = torch.linspace(0, 1, rows)[1:-1]
    out = interpolated_attention(q, k, v, t, mode=mode, fused=fused, mask=mask)
    expected = naive_aid(q, k, v, t, mode, fused, bias=aid.additive_bias(mask, torch.float32))
    torch.testing.assert_close(out.double(), expected, rtol=1e-5, atol=1e-5)


def test_bad_mask():
    q, k, v = _qkv()
    with pytest.raises(ArgumentError, match=r"mask: must cover 5 rows \(or 1\) and 6 keys, got shape \(3, 1, 6\)"):
        interpolated_attention(q, k, v, [0.1, 0.2, 0.3], mask=torch.zeros(3, 1, 6))


@pytest.mark.parametrize("capability, expected", [((9, 0), "cuda_efficient"), ((7, 5), "cuda_efficient")])
def test_masked_kernel_choice(capability, expected):
    """FlashAttention takes no mask: a masked attention gets the memory-efficient kernel."""
    assert aid.choose_lse_kernel("cuda", torch.float16, 64, capability, masked=True) == expected
    assert aid.choose_lse_kernel("cpu", torch.float32, 64, None, masked=True) == "cpu_flash"
    with pytest.raises(ArgumentError, match="FlashAttention takes no bias"):
        aid.cuda_flash_lse(*_qkv(rows=1), torch.zeros(1, 1, 1, 6))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("bias_shape", [(5, 1, 1, 50), (5, 1, 77, 50), (1, 1, 77, 50)])
def test_cuda_efficient_bias_on_fake_cuda_tensors(dtype, bias_shape):
    """The memory-efficient kernel's bias as PyTorch's SDPA prepares it: q's dtype, rows aligned to 8 elements
    (50 keys: padded to 56 and viewed), expanded to [B, H, Tq, Tk]; masked AID runs through it (no GPU here)."""
    with fake_cuda():
        q = torch.empty(5, 4, 77, 64, device="cuda", dtype=dtype)
        k = v = torch.empty(5, 4, 50, 64, device="cuda", dtype=dtype)
        bias = torch.zeros(bias_shape, device="cuda")
        prepared = aid._efficient_bias(bias, q, k)
        assert prepared.shape == (5, 4, 77, 50) and prepared.dtype == dtype
        assert all(stride % 8 == 0 for stride in prepared.stride()[:-1]) and prepared.stride(-1) == 1
        out, lse = aid.cuda_efficient_lse(q, k, v, bias)
        assert out.shape == q.shape and lse.shape == (5, 4, 77)
        backend = aid.LogSumExpAttention(aid.cuda_efficient_lse)
        for mode in ("outer", "inner"):
            result = interpolated_attention(q, k, v, torch.empty(3, device="cuda"), mode=mode, backend=backend,
                                            mask=bias[:, 0] if bias_shape[0] == 5 else bias[0])
            assert result.shape == (3, 4, 77, 64) and result.dtype == dtype
