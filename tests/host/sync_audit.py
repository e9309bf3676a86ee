"""Device syncs and host-to-device copies, recorded as the dispatcher sees them (used by tests and benchmarks)."""

import torch
from torch._subclasses.fake_tensor import FakeTensor
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten


class SyncRecorder(TorchDispatchMode):
    """Records the operations that make the host wait for the device, or copy host data to it.

    Fake tensors have no values, so there a value read gets a stand-in answer (0, False, no index) and
    the code under audit runs on to its end: every event is listed, not just the first. Real tensors
    are computed as usual.
    """

    SYNCS = {aten._local_scalar_dense.default, aten.nonzero.default, aten.is_nonzero.default}
    MASKED = {aten.index.Tensor, aten.index_put.default, aten.index_put_.default}

    def __init__(self):
        super().__init__()
        self.events = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self.SYNCS:
            self.events.append(str(func))
            if not isinstance(args[0], FakeTensor):
                return func(*args, **kwargs)
            if func is aten.nonzero.default:
                return torch.empty(0, args[0].dim(), dtype=torch.long, device=args[0].device)
            return False if func is aten.is_nonzero.default else 0
        if func in self.MASKED and any(i is not None and i.dtype == torch.bool for i in args[1]):
            self.events.append(f"boolean mask in {func}")  # a nonzero under the hood
            if not isinstance(args[0], FakeTensor):
                return func(*args, **kwargs)
            mask = next(i for i in args[1] if i is not None)
            if func is aten.index.Tensor:
                return torch.empty(0, *args[0].shape[mask.dim():], dtype=args[0].dtype, device=args[0].device)
            return args[0]
        if func is aten._to_copy.default and args[0].device.type == "cpu" \
                and torch.device(kwargs.get("device") or "cpu").type == "cuda":
            self.events.append(f"host->device {tuple(args[0].shape)}")
        elif func is aten.copy_.default and args[0].device.type == "cuda" and args[1].device.type == "cpu":
            self.events.append(f"host->device {tuple(args[1].shape)}")
        return func(*args, **kwargs)


def capture_attention_calls(patched, run) -> tuple:
    """``run()`` samples with ``patched`` (a ModelPatcher whose attention override is AID's) while every attention
    call is kept as the override receives it: returns AID's override and the ``(func, args, kwargs)`` calls."""
    options = patched.model_options["transformer_options"]
    override, captured = options["optimized_attention_override"], []

    def capture(func, *args, **kwargs):
        # The options as they are at this call: a model may change them in place between layers (block_index).
        options_now = kwargs.get("transformer_options")
        captured.append((func, args, {**kwargs, "transformer_options": dict(options_now)} if options_now is not None
                         else kwargs))
        return override(func, *args, **kwargs)

    options["optimized_attention_override"] = capture
    run()
    return override, captured


def replay_on_fake_cuda(override, captured: list, patch, dtype: torch.dtype, capability=(9, 0)) -> list:
    """Replay attention calls captured in real sampling (:func:`capture_attention_calls`) through ``override`` on
    fake CUDA tensors of ``dtype``: q, k, v, a mask (positional or ``mask=``) and the plan's coefficient and mixing
    tensors become fake CUDA tensors, the plan reads as on a GPU of ``capability`` (``patch``: the pack's
    attention_patch).
    Returns the sync events of each call, after checking each output's device and rows."""
    import dataclasses
    import math

    from torch._subclasses.fake_tensor import FakeTensorMode

    def math_attention(q, k, v, heads, mask=None, skip_reshape=False, skip_output_reshape=False, **kwargs):
        if not skip_reshape:  # [B, T, H*D] -> [B, H, T, D]
            q, k, v = (x.unflatten(-1, (heads, -1)).transpose(1, 2) for x in (q, k, v))
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        if mask is not None:  # 2-D: every row, 3-D: per row, as ComfyUI's attention reads it
            mask = mask[None] if mask.dim() == 2 else mask
            scores = scores + (mask[:, None] if mask.dim() == 3 else mask)
        out = torch.softmax(scores, dim=-1) @ v
        return out if skip_output_reshape else out.transpose(1, 2).flatten(-2)

    events = []
    for _, args, kwargs in captured:
        plan = patch.plan_of(kwargs["transformer_options"])
        with FakeTensorMode():
            def fake(x, dtype=dtype):
                return torch.empty(x.shape, dtype=dtype if x.is_floating_point() else x.dtype, device="cuda") \
                    if isinstance(x, torch.Tensor) else x
            segments = tuple(dataclasses.replace(segment, t=torch.empty(segment.t.shape, device="cuda"))
                             for segment in plan.segments)
            means = tuple(dataclasses.replace(mix, weights=torch.empty(mix.weights.shape, device="cuda"))
                          for mix in plan.means)
            fake_args = [fake(x) for x in args]
            fake_kwargs = {**{key: fake(value) for key, value in kwargs.items() if key != "transformer_options"},
                           "transformer_options": patch.with_plan(kwargs["transformer_options"], dataclasses.replace(
                               plan, segments=segments, means=means, cuda_capability=capability))}
            with SyncRecorder() as recorder:
                out = override(math_attention, *fake_args, **fake_kwargs)
        assert out.device.type == "cuda" and out.shape[0] == args[0].shape[0]
        events.append(recorder.events)
    return events


def with_pytorch_attention(model):
    """A clone of ``model`` (a ModelPatcher) whose attention override is ComfyUI's PyTorch attention (SDPA), the
    attention dynamo traces as on a GPU; AID's patch then chains it."""
    import comfy.ldm.modules.attention as attention

    base = model.clone()
    base.model_options["transformer_options"]["optimized_attention_override"] = \
        lambda func, *args, **kwargs: attention.attention_pytorch(*args, **kwargs)
    return base


def model_calls(body, run) -> list:
    """The calls ``run()`` makes to ``body`` (a module: the diffusion model), ``(args, kwargs)`` as it received them."""
    calls = []
    hook = body.register_forward_pre_hook(lambda module, args, kwargs: calls.append((args, kwargs)), with_kwargs=True)
    try:
        run()
    finally:
        hook.remove()
    return calls


def explain_call(body, args, kwargs):
    """``torch._dynamo.explain`` of one call of ``body`` (graph_count, graph_break_count, break_reasons), from a
    fresh dynamo cache."""
    torch._dynamo.reset()
    try:
        return torch._dynamo.explain(body)(*args, **kwargs)
    finally:
        torch._dynamo.reset()


def assert_one_graph_per_model_call(n, body, run) -> None:
    """``run()`` samples two steps, the first inside AID's window and the second after it; every call it makes to
    ``body`` (the diffusion model) traces under dynamo as one graph without breaks."""
    calls = model_calls(body, run)
    assert [n.attention_patch.plan_of(kwargs["transformer_options"]).active for _, kwargs in calls] == [True, False]
    for args, kwargs in calls:
        explained = explain_call(body, args, kwargs)
        assert (explained.graph_count, explained.graph_break_count) == (1, 0), \
            [b.reason[:300] for b in explained.break_reasons]
