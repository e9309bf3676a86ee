"""What AID costs: wall time and peak memory of sampling with the AID patch against plain sampling.

Fixed workload (issue 6): SD1.5-shaped UNet with 64 model channels, channel_mult [1, 2, 4], one
res block and one transformer per level, context 768, 8 heads, random weights; 32x32 latent;
7 frames; 6 euler steps; cfg 5; one seed. Every variant uses ComfyUI's PyTorch (SDPA) attention,
so plain and patched runs share a kernel (on CPU ComfyUI would otherwise default to its much
slower sub-quadratic attention).

Variants: (a) plain batched sampling of the conditioning batch; (b) fused outer, the reference's
window (first half of the steps); (c) fused outer on every step; (d) fused inner on every step;
(e) the reference's structure: one sampling call per in-between frame with batch [A, t, B], same
kernel and window as (b). Times: every variant is warmed up once, then the variants are timed in
turn, round after round, and each reports the median of ``--repeats`` rounds (interleaving keeps a
slow spell of a noisy machine from landing on one variant). Memory: each variant runs once more in
a fresh subprocess, whose peak resident size above its size after the model is built is reported. The attention op is also timed alone on one layer's
real shapes (5 in-between rows, 1024 tokens): fused outer, and the formula computed naively (two
softmaxes over joined keys), against plain SDPA over the same rows. The patched layer itself (AID's
replace patch, as ComfyUI calls it) is timed on those rows in two plans: an in-between part of a
``max_rows`` call (the endpoints' keys/values kept, no plain attention: ``attn_ratio_layer_in_part_vs_plain``,
target 3.0, the work bound of fused outer) and one batch of 7 rows (the host's attention on the whole
batch, which keeps the endpoints' bits whatever kernel the host picks, then AID on the in-betweens:
``attn_ratio_layer_one_batch_vs_plain``). ``ratio_outer_window_rows4_vs_one_batch`` times the windowed
sampling with ``max_rows`` 4 against one batch (target 1.0).

GPU readiness, per AID variant: device syncs inside the patched attention per model call (value reads
and boolean masks, recorded by the dispatcher on CPU tensors; host-to-device copies only show on fake
CUDA tensors, see tests/host/test_aid_compiled.py), graphs and breaks of the UNet body under
``torch._dynamo.explain`` (window on), and the speed of the AID run compiled by ComfyUI's
TorchCompileModel (inductor) against eager, after compiling (``--no-compile`` skips this, which takes
minutes on a small CPU).

Flux-shaped workloads (``*_flux`` and ``*_flux_proportions`` figures): a random Flux-dev-type transformer
(2 double and 2 single blocks, heads of 64), 64x64 latent (1024 image tokens) and 64 text tokens; 7 frames,
6 euler steps at cfg 1 with guidance, fused outer on the first half of the steps; hidden 128 with MLP ratio
2 (joint attention dominates a step), and hidden 512 with MLP ratio 4 (the share of attention in real Flux
at 1024x1024). The joint attention op is timed alone on its real shapes (5 in-between rows x 1088 tokens).

Prints ``name=value`` lines, ratios last. Needs a ComfyUI checkout: ``COMFYUI_PATH=... python
benchmarks/aid_overhead.py``.
"""

import argparse
import statistics
import time

import harness
from harness import CFG, LATENT, SEED, STEPS, interleaved, setup, timed

FRAMES = 7
# (figure suffix, hidden size, MLP ratio): joint attention dominant (hidden 128: about two thirds of a step's work is
# attention), and Flux's own proportions (tokens about twice the hidden size, MLP ratio 4: about a quarter).
FLUX_WORKLOADS = (("flux", 128, 2.0), ("flux_proportions", 512, 4.0))
VARIANTS = {
    "plain": None,
    "outer_window": dict(mode="outer", fused=True, end=0.5),
    "outer_all": dict(mode="outer", fused=True, end=1.0),
    "inner_all": dict(mode="inner", fused=True, end=1.0),
    "reference": dict(mode="outer", fused=True, end=0.5),
}


def _workload(pack):
    return (harness.unet_model(), *harness.unet_inputs(pack, FRAMES))


def _sampler(pack, variant):
    """A function that runs the whole variant once and returns the sampled latents."""
    return harness.unet_sampler(pack, harness.unet_model(), FRAMES, VARIANTS[variant], reference=variant == "reference")


def measure_times(repeats: int) -> dict:
    """Median seconds per variant, the variants timed in turn round after round."""
    pack = setup()
    return interleaved({variant: _sampler(pack, variant) for variant in VARIANTS}, repeats)


def measure_attention_op(repeats: int) -> dict:
    """One self-attention layer of the first level: 7 rows, 8 heads, 1024 tokens, head_dim 8."""
    import torch

    pack = setup()
    aid = pack.inbetween.aid
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(FRAMES, 8, LATENT * LATENT, 8, generator=generator) for _ in range(3))
    t = torch.linspace(0, 1, FRAMES)[1:-1]
    middle = slice(1, FRAMES - 1)

    sdpa = torch.nn.functional.scaled_dot_product_attention
    coefficient = t.reshape(-1, 1, 1, 1)

    def naive_outer():
        """The formula as written: two softmaxes over joined keys, the own block computed twice."""
        own_k, own_v = k[middle], v[middle]
        to_a = sdpa(q[middle], torch.cat([own_k, k[:1].expand_as(own_k)], 2), torch.cat([own_v, v[:1].expand_as(own_v)], 2))
        to_b = sdpa(q[middle], torch.cat([own_k, k[-1:].expand_as(own_k)], 2), torch.cat([own_v, v[-1:].expand_as(own_v)], 2))
        return (1 - coefficient) * to_a + coefficient * to_b

    plain = timed(lambda: sdpa(q[middle], k[middle], v[middle]), repeats)
    fused = timed(lambda: aid.interpolated_attention(q, k, v, t, "outer", True), repeats)
    naive = timed(naive_outer, repeats)
    return {"attn_plain_ms": plain * 1e3, "attn_outer_ms": fused * 1e3, "attn_naive_outer_ms": naive * 1e3}


def measure_patched_layer(repeats: int) -> dict:
    """AID's replace patch on the first level's self-attention, called as ComfyUI calls it: on the 5 in-between
    rows of a ``max_rows`` part (endpoints kept) and on a 7-row batch, against plain SDPA on the 5 rows."""
    import torch

    pack = setup()
    patch, aid = pack.nodes.attention_patch, pack.inbetween.aid
    plan = patch.plan
    heads, tokens, dim, middle = 8, LATENT * LATENT, 8, FRAMES - 2
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(FRAMES, tokens, heads * dim, generator=generator) for _ in range(3))
    layer = patch.unet.AIDAttentionReplace("attn1")
    options = {"n_heads": heads, "block": ("input", 1), "block_index": 0, "attn_precision": None}
    config = patch.AIDConfig(coefficients=tuple(float(c) for c in torch.linspace(0, 1, FRAMES)))
    name = ("attn1", "input", 1, 0)
    kept = {(name, plan.KeptEndpoint(0, end)): aid.KeySet(*(patch.layer.heads_first(x[row : row + 1], heads)
                                                            for x in (k, v)))
            for end, row in ((0, 0), (1, FRAMES - 1))}
    part = plan.part_plan(plan.Part((0,), tuple(range(1, FRAMES - 1))), config, {0}, plan.whole_call(
        config, [0], None, 0, q.device), kept, q.device)
    whole = plan.whole_call(config, [0], None, 0, q.device)
    sdpa = torch.nn.functional.scaled_dot_product_attention
    rows = slice(1, FRAMES - 1)
    plain = timed(lambda: sdpa(*(patch.layer.heads_first(x[rows], heads) for x in (q, k, v))), repeats)
    in_part = timed(lambda: layer(q[rows], k[rows], v[rows], patch.with_plan(options, part)), repeats)
    one_batch = timed(lambda: layer(q, k, v, patch.with_plan(options, whole)), repeats)
    assert part.batch == middle
    return {"layer_plain_ms": plain * 1e3, "layer_in_part_ms": in_part * 1e3, "layer_one_batch_ms": one_batch * 1e3}


def measure_window_parts(repeats: int) -> dict:
    """The windowed sampling with max_rows 4 against one batch, interleaved."""
    pack = setup()
    model = harness.unet_model()
    window = VARIANTS["outer_window"]
    runs = {"one_batch": harness.unet_sampler(pack, model, FRAMES, window),
            "rows4": harness.unet_sampler(pack, model, FRAMES, {**window, "max_rows": 4})}
    return interleaved(runs, repeats)


def _with_recorded_patches(model, record):
    """A clone whose AID replace patches run inside ``record()`` (a context manager), call by call."""
    patched = model.clone()
    replaces = patched.model_options["transformer_options"]["patches_replace"]
    for layer, patches in replaces.items():
        for key, inner in patches.items():
            def recorded(q, k, v, options, inner=inner):
                with record():
                    return inner(q, k, v, options)
            patched.set_model_patch_replace(recorded, layer, *key)
    return patched


def measure_gpu_readiness(compile_too: bool) -> dict:
    """Syncs per model call and dynamo graphs per AID variant; compiled vs eager time of the windowed run."""
    import comfy.patcher_extension as extension
    import torch

    from sync_audit import SyncRecorder

    pack = setup()
    model, schedule, a, b, negative = _workload(pack)
    positive = pack.nodes.conditioning_nodes.ConditioningInterpolationBatch.execute(a, b, schedule, "lerp",
                                                                                     "error").args[0]
    latent = pack.nodes.latent_nodes.SharedNoiseLatent.execute(LATENT * 8, LATENT * 8, 1, schedule).args[0]
    import nodes as comfy_nodes

    def sample(patched, steps=STEPS):
        return comfy_nodes.common_ksampler(patched, SEED, steps, CFG, "euler", "normal", positive, negative,
                                           latent)[0]["samples"]

    results = {}
    for variant in ("outer_window", "outer_all", "inner_all"):
        settings = VARIANTS[variant]
        patched = pack.nodes.aid_nodes.AIDAttentionPatch.execute(
            model, schedule, settings["mode"], settings["fused"], "self + cross", 0.0, settings["end"], False).args[0]
        calls = []

        def record_call(executor, *args, **kwargs):
            calls.append((args, kwargs))
            return executor(*args, **kwargs)

        recorder = SyncRecorder()
        audited = _with_recorded_patches(patched, lambda: recorder)
        sample(audited)
        counted = patched.clone()
        counted.add_wrapper_with_key(extension.WrappersMP.DIFFUSION_MODEL, "benchmark", record_call)
        sample(counted)  # the same calls, unrecorded, for dynamo
        results[f"syncs_per_model_call_{variant}"] = len(recorder.events) / len(calls)
        torch._dynamo.reset()
        unet = model.get_model_object("diffusion_model")
        explained = torch._dynamo.explain(unet._forward)(*calls[0][0], **calls[0][1])
        results[f"dynamo_graphs_{variant}"] = explained.graph_count
        results[f"dynamo_breaks_{variant}"] = explained.graph_break_count
        torch._dynamo.reset()

    if compile_too:
        from comfy_api.torch_helpers import set_torch_compile_wrapper

        settings = VARIANTS["outer_window"]
        patched = pack.nodes.aid_nodes.AIDAttentionPatch.execute(
            model, schedule, settings["mode"], settings["fused"], "self + cross", 0.0, settings["end"], False).args[0]
        compiled = patched.clone()
        set_torch_compile_wrapper(model=compiled, backend="inductor")
        sample(compiled)  # compiles both window states
        eager, fast = [], []
        for _ in range(3):
            for runs, target in ((eager, patched), (fast, compiled)):
                start = time.perf_counter()
                sample(target)
                runs.append(time.perf_counter() - start)
        results["time_outer_window_eager_s"] = statistics.median(eager)
        results["time_outer_window_compiled_s"] = statistics.median(fast)
        torch._dynamo.reset()
    return results


def measure_flux(repeats: int, hidden: int, mlp_ratio: float, suffix: str) -> dict:
    """Plain vs AID (fused outer, window 0.5) sampling of a Flux-shaped workload, and its joint attention op."""
    import torch

    pack = setup()
    import comfy.ldm.modules.attention as attention
    import comfy.supported_models
    import nodes as comfy_nodes
    import tiny_models

    # A wider Flux than the tests' tiny one, so joint attention dominates a step.
    config = {"image_model": "flux", "in_channels": 16, "out_channels": 16, "patch_size": 2,
              "vec_in_dim": tiny_models.TINY_POOLED, "context_in_dim": tiny_models.TINY_CONTEXT, "hidden_size": hidden,
              "mlp_ratio": mlp_ratio, "num_heads": hidden // 64, "depth": 2, "depth_single_blocks": 2, "axes_dim": [16, 24, 24],
              "theta": 10000, "qkv_bias": True, "guidance_embed": True}
    model = tiny_models.model_patcher(comfy.supported_models.Flux(config), 0, torch.float32)
    # Flux's attention module bound the host's CPU default (sub-quadratic) at import: SDPA for both variants.
    model.model_options["transformer_options"]["optimized_attention_override"] = \
        lambda func, *args, **kwargs: attention.attention_pytorch(*args, **kwargs)
    generator = torch.Generator().manual_seed(1)
    conditioning = [[[torch.randn(1, 64, tiny_models.TINY_CONTEXT, generator=generator),
                      {"pooled_output": torch.randn(1, tiny_models.TINY_POOLED, generator=generator), "guidance": 3.5}]]
                    for _ in range(2)]
    schedule = pack.nodes.schedule_nodes.BetaCoefficientSchedule.execute(
        frames=FRAMES, preset="classic (alpha = beta = steps)", steps=STEPS, alpha=2.0, beta=2.0, start=0.0, end=1.0
    ).args[0]
    positive = pack.nodes.conditioning_nodes.ConditioningInterpolationBatch.execute(
        *conditioning, schedule, "lerp", "error").args[0]
    latent = {"samples": torch.zeros(FRAMES, 16, 64, 64), "batch_index": [0] * FRAMES}
    patched = pack.nodes.aid_nodes.AIDAttentionPatch.execute(model, schedule, "outer", True, "self + cross", 0.0, 0.5,
                                                             False).args[0]

    def run(target):
        return lambda: comfy_nodes.common_ksampler(target, SEED, STEPS, 1.0, "euler", "simple", positive,
                                                   conditioning[0], latent)

    times = interleaved({"plain": run(model), "outer_window": run(patched)}, repeats)

    aid = pack.inbetween.aid
    q, k, v = (torch.randn(FRAMES, hidden // 64, 64 + 32 * 32, 64, generator=generator) for _ in range(3))
    t = torch.linspace(0, 1, FRAMES)[1:-1]
    sdpa = torch.nn.functional.scaled_dot_product_attention
    return {f"time_plain_{suffix}_s": times["plain"], f"time_outer_window_{suffix}_s": times["outer_window"],
            f"attn_plain_{suffix}_ms": timed(lambda: sdpa(q[1:-1], k[1:-1], v[1:-1]), max(repeats, 10)) * 1e3,
            f"attn_outer_{suffix}_ms": timed(lambda: aid.interpolated_attention(q, k, v, t), max(repeats, 10)) * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (median reported)")
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled-vs-eager timing")
    parser.add_argument("--only-flux", action="store_true", help="only the Flux-shaped workload")
    parser.add_argument("--variant", choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(harness.peak_memory(_sampler(setup(), args.variant)))
        return

    print(harness.machine_line())
    for suffix, hidden, mlp_ratio in FLUX_WORKLOADS:
        flux = measure_flux(args.repeats, hidden, mlp_ratio, suffix)
        for name, value in flux.items():
            print(f"{name}={value:.3f}")
        print(f"attn_ratio_outer_vs_plain_{suffix}="
              f"{flux[f'attn_outer_{suffix}_ms'] / flux[f'attn_plain_{suffix}_ms']:.3f}")
        print(f"ratio_outer_window_vs_plain_{suffix}="
              f"{flux[f'time_outer_window_{suffix}_s'] / flux[f'time_plain_{suffix}_s']:.3f}")
    if args.only_flux:
        return
    op = measure_attention_op(max(args.repeats, 10))
    for name, value in op.items():
        print(f"{name}={value:.3f}")
    layer = measure_patched_layer(max(args.repeats, 10))
    for name, value in layer.items():
        print(f"{name}={value:.3f}")
    parts = measure_window_parts(args.repeats)
    for name, value in parts.items():
        print(f"time_outer_window_{name}_s={value:.3f}")
    readiness = measure_gpu_readiness(not args.no_compile)
    for name, value in readiness.items():
        print(f"{name}={value:g}" if isinstance(value, int) else f"{name}={value:.3f}")
    seconds = measure_times(args.repeats)
    peak = {}
    for variant in VARIANTS:
        peak[variant] = harness.in_fresh_process(__file__, "--variant", variant)
        print(f"time_{variant}_s={seconds[variant]:.3f}")
        print(f"peak_{variant}_mib={peak[variant]:.1f}")

    print(f"attn_ratio_naive_outer_vs_plain={op['attn_naive_outer_ms'] / op['attn_plain_ms']:.3f}")
    print(f"attn_ratio_outer_vs_plain={op['attn_outer_ms'] / op['attn_plain_ms']:.3f}")
    print(f"attn_ratio_layer_in_part_vs_plain={layer['layer_in_part_ms'] / layer['layer_plain_ms']:.3f}")
    print(f"attn_ratio_layer_one_batch_vs_plain={layer['layer_one_batch_ms'] / layer['layer_plain_ms']:.3f}")
    print(f"ratio_outer_window_rows4_vs_one_batch={parts['rows4'] / parts['one_batch']:.3f}")
    print(f"ratio_outer_window_vs_plain={seconds['outer_window'] / seconds['plain']:.3f}")
    print(f"ratio_outer_all_vs_plain={seconds['outer_all'] / seconds['plain']:.3f}")
    print(f"ratio_inner_all_vs_plain={seconds['inner_all'] / seconds['plain']:.3f}")
    print(f"ratio_reference_vs_outer={seconds['reference'] / seconds['outer_window']:.3f}")
    print(f"mem_ratio_outer_vs_plain={peak['outer_window'] / max(peak['plain'], 1e-9):.3f}")
    if "time_outer_window_compiled_s" in readiness:
        ratio = readiness["time_outer_window_compiled_s"] / readiness["time_outer_window_eager_s"]
        print(f"ratio_outer_window_compiled_vs_eager={ratio:.3f}")


if __name__ == "__main__":
    main()
