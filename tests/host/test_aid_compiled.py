"""AID at GPU grade: no device syncs in the patched attention, one graph under dynamo, and ComfyUI's own
TorchCompileModel (inductor) with endpoints bit-identical to the compiled plain model.

The host's attention is PyTorch SDPA here (``--use-pytorch-cross-attention``), as on a CUDA machine;
CPU ComfyUI defaults to sub-quadratic attention. No GPU is needed: device syncs are audited on fake
CUDA tensors (``FakeTensorMode``), where a host-to-device copy is visible as such.
"""

import dataclasses
import math

import pytest
import torch
from aid_support import keyframe_sequence, patch, sample
from sync_audit import SyncRecorder
from torch._subclasses.fake_tensor import FakeTensorMode


@pytest.fixture(scope="module", autouse=True)
def pytorch_attention():
    import comfy.ldm.modules.attention as attention

    chosen = attention.optimized_attention
    attention.optimized_attention = attention.attention_pytorch
    yield
    attention.optimized_attention = chosen


def math_attention(func, q, k, v, heads, mask=None, attn_precision=None, skip_reshape=False,
                   skip_output_reshape=False, **kwargs):
    """Stands in for the host's attention on fake CUDA tensors (SDPA's CUDA dispatch needs a real GPU)."""
    if not skip_reshape:
        q, k, v = (x.unflatten(-1, (heads, -1)).transpose(1, 2) for x in (q, k, v))
    out = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1) @ v
    return out if skip_output_reshape else out.transpose(1, 2).flatten(-2)


class Capture:
    """Stands in front of an AID replace patch during real sampling and keeps each call's inputs."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __call__(self, q, k, v, options):
        self.calls.append((q, k, v, dict(options)))
        return self.inner(q, k, v, options)


class AdapterStandIn:
    """An IP-Adapter-style replace patch: the host's attention plus its own (here zero) term."""

    def __call__(self, q, k, v, options):
        import comfy.ldm.modules.attention as attention

        return attention.optimized_attention(q, k, v, options["n_heads"], transformer_options=options)


def test_the_recorder_sees_syncs_and_host_copies():
    """The audit below would catch what the old patch did: .item(), boolean masks, tensors from lists."""
    with FakeTensorMode():
        x = torch.empty(4, 8, device="cuda")
        with SyncRecorder() as recorder:
            x.max().item()
            x[x[:, 0] > 0]
            x[x[:, 0] > 0] = 1.0
            torch.tensor([0.25, 0.5], device="cuda")
            bool(x.sum() > 0)
    assert any("_local_scalar_dense" in e for e in recorder.events)
    assert sum("boolean mask" in e for e in recorder.events) == 2
    assert any(e.startswith("host->device") for e in recorder.events)


@pytest.mark.parametrize("max_rows", [0, 2], ids=["one-batch", "parts"])
@pytest.mark.parametrize("adapter", [False, True], ids=["aid", "aid-over-adapter"])
@pytest.mark.parametrize("cfg", [5.0, 1.0], ids=["cfg5", "cfg1"])
def test_patched_attention_makes_no_device_sync(n, tiny_model, sequence, cfg, adapter, max_rows):
    """Calls captured from real sampling (two steps: one in the window, one after), replayed on fake CUDA
    tensors through each kernel path: flash (fp16, sm90), memory-efficient (fp32) and joined keys (no
    capability known: the host's attention). With ``max_rows`` the endpoint parts keep keys/values and the
    in-between parts read them, replayed in order into a fresh dict per model call."""
    parts = 1 if not max_rows else (5 if cfg > 1 else 4)  # A, B and the in-between parts of each model call
    _audit_syncs(n, tiny_model, sequence, cfg, adapter, max_rows, parts)


@pytest.mark.parametrize("cfg, max_rows", [(5.0, 0), (5.0, 2), (1.0, 2)], ids=["cfg5-one-batch", "cfg5-parts",
                                                                           "cfg1-parts"])
def test_keyframed_attention_makes_no_device_sync(n, tiny_model, tiny_clip, cfg, max_rows):
    """The same audit on a looping three-keyframe sequence (7 frames, 4 in-betweens in three segments): with
    ``max_rows`` 2 every keyframe is a part, then the in-betweens one (cfg 5) or two (cfg 1) frames a part."""
    sequence = keyframe_sequence(n, tiny_clip, loop=True)
    parts = 1 if not max_rows else (3 + 4 if cfg > 1 else 3 + 2)
    _audit_syncs(n, tiny_model, sequence, cfg, False, max_rows, parts)


def _audit_syncs(n, tiny_model, sequence, cfg, adapter, max_rows, parts):
    model = tiny_model.clone()
    if adapter:
        model.set_model_attn2_replace(AdapterStandIn(), "input", 1)
    patched = patch(n, model, sequence["schedule"], end=0.5, max_rows=max_rows)
    replaces = patched.model_options["transformer_options"]["patches_replace"]
    captures = {layer: Capture(replaces[layer][("input", 1, 0)]) for layer in ("attn1", "attn2")}
    for layer, capture in captures.items():
        patched.set_model_patch_replace(capture, layer, "input", 1, 0)
    sample(patched, sequence, cfg=cfg, steps=2)

    plan_of = n.attention_patch.plan_of
    calls = [call for capture in captures.values() for call in capture.calls]
    assert [plan_of(options).active for *_, options in calls] == ([True] * parts + [False] * parts) * 2
    for dtype, capability in ((torch.float16, (9, 0)), (torch.float32, (9, 0)), (torch.float16, None)):
        fresh, mode = {}, FakeTensorMode()  # the real run's kept dicts -> new ones for the fake keys/values
        for (q, k, v, options), capture in zip(calls, [c for c in captures.values() for _ in c.calls]):
            plan = plan_of(options)
            with mode:
                fq, fk, fv = (torch.empty(x.shape, dtype=dtype, device="cuda") for x in (q, k, v))
                segments = tuple(dataclasses.replace(segment, t=torch.empty(segment.t.shape, device="cuda"))
                                 for segment in plan.segments)
                kept = None if plan.kept is None else fresh.setdefault(id(plan.kept), {})
                fake_options = n.attention_patch.with_plan(
                    {**options, "optimized_attention_override": math_attention},
                    dataclasses.replace(plan, segments=segments, kept=kept, cuda_capability=capability))
                with SyncRecorder() as recorder:
                    out = capture.inner(fq, fk, fv, fake_options)
            assert out.shape == q.shape and out.device.type == "cuda" and out.dtype == dtype
            assert recorder.events == [], f"{dtype}, capability {capability}: {recorder.events}"


def _diffusion_model_calls(n, model, sequence, cfg, steps):
    """The arguments ComfyUI passes to the UNet body in each model call of a real sampling run."""
    import comfy.patcher_extension as extension

    calls = []

    def record(executor, *args, **kwargs):
        calls.append((args, kwargs))
        return executor(*args, **kwargs)

    model = model.clone()
    model.add_wrapper_with_key(extension.WrappersMP.DIFFUSION_MODEL, "test", record)
    sample(model, sequence, cfg=cfg, steps=steps)
    return calls


@pytest.mark.parametrize("cfg", [5.0, 1.0], ids=["cfg5", "cfg1"])
def test_patched_unet_is_one_graph_without_breaks(n, tiny_model, sequence, cfg):
    patched = patch(n, tiny_model, sequence["schedule"], end=0.5)
    unet = tiny_model.get_model_object("diffusion_model")
    calls = _diffusion_model_calls(n, patched, sequence, cfg, steps=2)
    assert [n.attention_patch.plan_of(args[5]).active for args, _ in calls] == [True, False]
    for args, kwargs in calls:
        torch._dynamo.reset()
        explained = torch._dynamo.explain(unet._forward)(*args, **kwargs)
        reasons = [b.reason for b in explained.break_reasons]
        assert (explained.graph_count, explained.graph_break_count) == (1, 0), reasons
    torch._dynamo.reset()


def test_torch_compile_model_keeps_endpoints_and_repeats(n, sequence):
    """ComfyUI's TorchCompileModel (inductor, CPU) on an AID-patched model, 4 steps (2 in the window).

    Endpoint rows equal the compiled plain model bit for bit; two compiled runs are identical; the
    in-between rows equal eager AID within inductor's reordering of float32 sums (the compiled plain
    model drifts from eager by the same order: measured 1.2e-3 on values of about 250, 5e-6 relative).
    At most two graphs are compiled for AID (window on, window off), and none when sampling again.
    """
    import tiny_models
    from comfy_api.torch_helpers import set_torch_compile_wrapper
    from torch._dynamo.utils import counters

    model = tiny_models.build_sd15_model_patcher(seed=0, model_channels=32, channel_mult=(1, 2))

    def compiled(m):
        m = m.clone()
        set_torch_compile_wrapper(model=m, backend="inductor")
        return m

    torch._dynamo.reset()
    patched = patch(n, model, sequence["schedule"], end=0.5)
    eager = sample(patched, sequence, steps=4)
    plain = sample(compiled(model), sequence, steps=4)
    graphs = counters["stats"]["unique_graphs"]
    first = sample(compiled(patched), sequence, steps=4)
    assert counters["stats"]["unique_graphs"] - graphs <= 2, "AID compiles once per window state, not per step"
    graphs = counters["stats"]["unique_graphs"]
    second = sample(compiled(patched), sequence, steps=4)
    assert counters["stats"]["unique_graphs"] == graphs, "sampling again must not recompile"
    torch._dynamo.reset()

    assert torch.equal(first[0], plain[0]) and torch.equal(first[-1], plain[-1])
    assert torch.equal(first, second)
    scale = eager.abs().max().item()
    torch.testing.assert_close(first, eager, rtol=0, atol=1e-4 * scale)


def test_torch_compile_model_runs_the_parts_of_max_rows_without_recompiling(n, tiny_clip):
    """ComfyUI's TorchCompileModel (inductor, CPU) over the parts: a graph per kind of part (endpoint, full and
    last in-between part, in and out of the window), none when sampling again; frames as eager within
    inductor's float32 reordering, as above."""
    from comfy_api.torch_helpers import set_torch_compile_wrapper
    from torch._dynamo.utils import counters

    import tiny_models
    from aid_support import make_sequence

    unet_sequence = make_sequence(n, tiny_clip, 13)
    model = tiny_models.build_sd15_model_patcher(seed=0, model_channels=32, channel_mult=(1, 2))
    patched = patch(n, model, unet_sequence["schedule"], end=0.5, max_rows=4)
    eager = sample(patched, unet_sequence, steps=4)
    compiled = patched.clone()
    set_torch_compile_wrapper(model=compiled, backend="inductor")
    torch._dynamo.reset()
    graphs = counters["stats"]["unique_graphs"]
    first = sample(compiled, unet_sequence, steps=4)
    new_graphs = counters["stats"]["unique_graphs"] - graphs
    second = sample(compiled, unet_sequence, steps=4)
    again = counters["stats"]["unique_graphs"] - graphs - new_graphs
    torch._dynamo.reset()
    assert new_graphs <= 6, f"{new_graphs} graphs: parts must not recompile by position"
    assert again == 0, "sampling again must not recompile"
    assert torch.equal(first, second)
    torch.testing.assert_close(first, eager, rtol=0, atol=1e-4 * eager.abs().max().item())
