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

Video and Z-Image workloads (issue 23; ``*_wan``, ``*_wan_cross`` and ``*_zimage`` figures): a tiny Wan 2.1-type
model and a tiny Z-Image through ComfyUI's own model detection, each sized so that attention takes the share of a
step it takes in the real model (see ``WAN`` and ``ZIMAGE`` below: multiply-adds per token and block, self-attention
``2 x tokens x width`` against the linear layers), sampled plain and with AID (fused outer, first half of the steps;
on Wan also ``layers`` cross), interleaved, in one run with the attention op alone on the workload's shapes. Then
the memory of AID on the real Wan models, computed from their published sizes (``wan_memory_figures``), with the
kept keys/values of the formula checked against what the tiny Wan keeps in a ``max_rows`` call.

Prints ``name=value`` lines, ratios last. Needs a ComfyUI checkout: ``COMFYUI_PATH=... python
benchmarks/aid_overhead.py`` (``--only-video`` for the Wan and Z-Image figures alone; ``--threads 1`` on a shared
machine).
"""

import argparse
import statistics
import time

import harness
from harness import CFG, SEED, interleaved, setup, timed

FRAMES = 7
FLUX_LATENT, FLUX_TEXT = 64, 64
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
    q, k, v = (torch.randn(FRAMES, 8, harness.LATENT * harness.LATENT, 8, generator=generator) for _ in range(3))
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
    heads, tokens, dim, middle = 8, harness.LATENT * harness.LATENT, 8, FRAMES - 2
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
        config, [0], "fused", q.device), kept, q.device)
    whole = plan.whole_call(config, [0], "fused", q.device)
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


def measure_gpu_readiness(compile_too: bool, variants=("outer_window", "outer_all", "inner_all")) -> dict:
    """Syncs per model call and dynamo graphs per AID variant; compiled vs eager time of the windowed run."""
    import comfy.patcher_extension as extension
    import torch

    from sync_audit import SyncRecorder

    pack = setup()
    model, schedule, a, b, negative = _workload(pack)
    positive = pack.nodes.conditioning_nodes.ConditioningInterpolationBatch.execute(a, b, schedule, "lerp",
                                                                                     "error").args[0]
    latent = pack.nodes.latent_nodes.SharedNoiseLatent.execute(harness.LATENT * 8, harness.LATENT * 8, 1, schedule).args[0]
    import nodes as comfy_nodes

    def sample(patched, steps=None):
        return comfy_nodes.common_ksampler(patched, SEED, steps or harness.STEPS, CFG, "euler", "normal", positive,
                                           negative, latent)[0]["samples"]

    results = {}
    for variant in variants:
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
    import nodes as comfy_nodes
    import tiny_models

    # A wider Flux than the tests' tiny one (heads of 64), so joint attention dominates a step; built through
    # ComfyUI's detection, which writes the fields each version's config needs. Flux's attention module bound the
    # host's CPU default (sub-quadratic) at import: SDPA for both variants.
    model = pinned_sdpa(tiny_models.build_flux_model_patcher(0, torch.float32, hidden=hidden, head=64,
                                                              axes_dim=(16, 24, 24), mlp_ratio=mlp_ratio))
    generator = torch.Generator().manual_seed(1)
    conditioning = [[[torch.randn(1, FLUX_TEXT, tiny_models.TINY_CONTEXT, generator=generator),
                      {"pooled_output": torch.randn(1, tiny_models.TINY_POOLED, generator=generator), "guidance": 3.5}]]
                    for _ in range(2)]
    schedule = pack.nodes.schedule_nodes.BetaCoefficientSchedule.execute(
        frames=FRAMES, preset="classic", steps=harness.STEPS, alpha=2.0, beta=2.0, start=0.0, end=1.0
    ).args[0]
    positive = pack.nodes.conditioning_nodes.ConditioningInterpolationBatch.execute(
        *conditioning, schedule, "lerp", "error").args[0]
    latent = {"samples": torch.zeros(FRAMES, 16, FLUX_LATENT, FLUX_LATENT), "batch_index": [0] * FRAMES}
    patched = pack.nodes.aid_nodes.AIDAttentionPatch.execute(model, schedule, "outer", True, "self + cross", 0.0, 0.5,
                                                             False).args[0]

    def run(target):
        return lambda: comfy_nodes.common_ksampler(target, SEED, harness.STEPS, 1.0, "euler", "simple", positive,
                                                   conditioning[0], latent)

    times = interleaved({"plain": run(model), "outer_window": run(patched)}, repeats)

    aid = pack.inbetween.aid
    tokens = FLUX_TEXT + (FLUX_LATENT // 2) ** 2  # text, then the image's 2x2 patches
    q, k, v = (torch.randn(FRAMES, hidden // 64, tokens, 64, generator=generator) for _ in range(3))
    t = torch.linspace(0, 1, FRAMES)[1:-1]
    sdpa = torch.nn.functional.scaled_dot_product_attention
    return {f"time_plain_{suffix}_s": times["plain"], f"time_outer_window_{suffix}_s": times["outer_window"],
            f"attn_plain_{suffix}_ms": timed(lambda: sdpa(q[1:-1], k[1:-1], v[1:-1]), max(repeats, 10)) * 1e3,
            f"attn_outer_{suffix}_ms": timed(lambda: aid.interpolated_attention(q, k, v, t), max(repeats, 10)) * 1e3}


# Wan workload. Real Wan 2.1 1.3B at 832x480: width 1536 (12 heads of 128), FFN 8960, 512 text tokens, 14,040 video
# tokens at 33 frames, 32,760 at 81. Per token and block its linear layers cost 6 x width^2 (self q, k, v, o; cross q,
# o) + 2 x width x FFN multiply-adds, its self-attention 2 x tokens x width: attention is 50 % of the work at 33 frames
# and 70 % at 81 (14B at 832x480x81 and 5B at 1280x704x121: about 53 %). The tiny one keeps Wan's head of 128 and
# FFN / width (width 128, one head, FFN 768: 6, as 8960 / 1536), and its tokens are chosen so that self-attention
# takes half of a plain step as *measured* here (attn_share_of_plain_wan): this CPU runs attention less efficiently
# than the linear layers, so 1,152 tokens (the 33-frame proportion by work) measured 28 %; 2,688 tokens (21 latent
# frames of 8 x 16 patches: an 81-frame clip) measure about half. 42 text tokens (512 x 2,688 / 32,760); 2 blocks,
# 5 clips, 6 euler steps at cfg 5.
WAN = dict(width=128, ffn=768, frames=21, height=16, width_latent=32, text=42, clips=5, cfg=5.0)
# Z-Image workload. Real Z-Image at 1024x1024: 4,096 image tokens and a caption padded to a multiple of 32 (about 128
# tokens), width 3840 (30 heads of 128), SwiGLU FFN 10,240: linear layers 4 x width^2 + 3 x width x FFN (12 x
# width^2) per token and layer, attention 2 x tokens x width: attention is about 15 % of the work. The tiny one: width
# 256 (2 heads of 128; no narrower Z-Image builds), FFN 704 (8/3 of the width, rounded to 32), 32 caption tokens and
# 400 image tokens (a 40 x 40 latent), chosen as for Wan so that attention measures about 15 % of a plain step here
# (288 tokens, the real tokens / width, measured 11 %); 6 main layers and one context and one noise refiner layer;
# 7 frames, 6 euler steps at cfg 1 (Turbo's).
ZIMAGE = dict(layers=6, latent=40, text=32, frames=7)


def use_quick_sizes() -> None:
    """``--quick``: every workload at its smallest, so that CI runs each code path in seconds (the figures mean
    nothing). 4 frames keep two in-between rows; the Flux latent keeps 2x2 patches, Wan 3 clips (one in-between) of
    one latent frame's 4 x 4 patches, Z-Image 2 main layers."""
    global FRAMES, FLUX_LATENT, FLUX_TEXT, WAN, ZIMAGE
    FRAMES, FLUX_LATENT, FLUX_TEXT = 4, 16, 8
    WAN = {**WAN, "frames": 1, "height": 8, "width_latent": 8, "text": 8, "clips": 3}
    ZIMAGE = {**ZIMAGE, "layers": 2, "latent": 8, "text": 8, "frames": 4}


def pinned_sdpa(model):
    """SDPA for every attention of ``model`` (the transformers bound the host's CPU default at import)."""
    import comfy.ldm.modules.attention as attention

    model.model_options["transformer_options"]["optimized_attention_override"] = \
        lambda func, *args, **kwargs: attention.attention_pytorch(*args, **kwargs)
    return model


def wan_workload(pack):
    """The tiny Wan (through detection), its conditioning batch, negative and shared-noise latent of ``WAN["clips"]``
    clips."""
    import torch

    import tiny_models

    width, blocks = WAN["width"], 2
    keys = tiny_models.wan_keys(hidden=width, layers=blocks,
                                extra={f"blocks.{i}.ffn.0.weight": (WAN["ffn"], width) for i in range(blocks)})
    model = pinned_sdpa(tiny_models.detected_model_patcher(keys, 0, torch.float32, num_heads=width // 128,
                                                            text_dim=tiny_models.TINY_CONTEXT))
    schedule, positive, negative = two_prompts(pack, WAN["clips"], WAN["text"])
    latent = {"samples": torch.zeros(WAN["clips"], 16, WAN["frames"], WAN["height"], WAN["width_latent"]),
              "batch_index": [0] * WAN["clips"]}
    return model, schedule, positive, negative, latent


def zimage_workload(pack):
    import torch

    import tiny_models

    keys = {"cap_embedder.1.weight": (3840, tiny_models.TINY_CONTEXT), "cap_pad_token": (1, 3840),
            **{f"layers.{i}.ffn_norm1.weight": (3840,) for i in range(ZIMAGE["layers"])}}
    model = pinned_sdpa(tiny_models.shrunk_model_patcher(keys, 0, torch.float32, dim=256, n_heads=2, n_kv_heads=2,
                                                          axes_dims=[32, 48, 48], n_refiner_layers=1,
                                                          multiple_of=32))
    schedule, positive, negative = two_prompts(pack, ZIMAGE["frames"], ZIMAGE["text"])
    latent = {"samples": torch.zeros(ZIMAGE["frames"], 16, ZIMAGE["latent"], ZIMAGE["latent"]),
              "batch_index": [0] * ZIMAGE["frames"]}
    return model, schedule, positive, negative, latent


def two_prompts(pack, frames: int, tokens: int, width: int | None = None, pooled: int | None = None,
                guidance: float | None = None):
    """A schedule of ``frames`` frames (Beta(steps, steps)), prompts A and B interpolated over it and a negative:
    random ``tokens`` x ``width`` embeddings (default the tiny models' width), with a ``pooled`` output (SDXL, Flux)
    and Flux's ``guidance`` where given."""
    import torch

    import tiny_models

    generator = torch.Generator().manual_seed(1)

    def prompt():
        extras = {} if pooled is None else {"pooled_output": torch.randn(1, pooled, generator=generator)}
        if guidance is not None:
            extras["guidance"] = guidance
        return [[torch.randn(1, tokens, width or tiny_models.TINY_CONTEXT, generator=generator), extras]]

    a, b, negative = (prompt() for _ in range(3))
    schedule = pack.nodes.schedule_nodes.BetaCoefficientSchedule.execute(
        frames=frames, preset="classic", steps=harness.STEPS, alpha=2.0, beta=2.0, start=0.0, end=1.0
    ).args[0]
    positive = pack.nodes.conditioning_nodes.ConditioningInterpolationBatch.execute(a, b, schedule, "lerp",
                                                                                     "error").args[0]
    return schedule, positive, negative


def measure_video(repeats: int) -> dict:
    """Plain vs AID sampling (fused outer, first half of the steps) of the Wan workload (``self + cross`` and
    ``cross``) and the Z-Image workload, interleaved; each one's self/joint attention op alone on its shapes."""
    import torch

    pack = setup()
    import nodes as comfy_nodes

    aid = pack.inbetween.aid
    import tiny_models

    results = {}
    for suffix, build, cfg in (("wan", wan_workload, WAN["cfg"]), ("zimage", zimage_workload, 1.0)):
        if suffix == "zimage" and not tiny_models.host_has("ZImage"):
            continue  # print_video names the skip
        model, schedule, positive, negative, latent = build(pack)

        def patched(layers):
            return pack.nodes.aid_nodes.AIDAttentionPatch.execute(model, schedule, "outer", True, layers, 0.0, 0.5,
                                                                  False).args[0]

        def run(target):
            return lambda: comfy_nodes.common_ksampler(target, SEED, harness.STEPS, cfg, "euler", "simple", positive,
                                                       negative, latent)

        runs = {"plain": run(model), "outer_window": run(patched("self + cross"))}
        if suffix == "wan":
            runs["outer_window_cross"] = run(patched("cross"))
        times = interleaved(runs, repeats)
        for name, value in times.items():
            results[f"time_{name}_{suffix}_s"] = value
        if suffix == "wan":  # one head of 128 over a clip's video tokens
            heads, tokens, dim = WAN["width"] // 128, WAN["frames"] * WAN["height"] * WAN["width_latent"] // 4, 128
        else:  # two heads of 128 over [caption; image]
            heads, tokens, dim = 2, ZIMAGE["text"] + ZIMAGE["latent"] ** 2 // 4, 128
        rows = len(schedule)
        generator = torch.Generator().manual_seed(0)
        q, k, v = (torch.randn(rows, heads, tokens, dim, generator=generator) for _ in range(3))
        t = torch.linspace(0, 1, rows)[1:-1]
        sdpa = torch.nn.functional.scaled_dot_product_attention
        results[f"attn_plain_{suffix}_ms"] = timed(lambda: sdpa(q[1:-1], k[1:-1], v[1:-1]), max(repeats, 10)) * 1e3
        results[f"attn_outer_{suffix}_ms"] = timed(lambda: aid.interpolated_attention(q, k, v, t),
                                                   max(repeats, 10)) * 1e3
        # The share of a plain step its self (Wan) or main-layer joint (Z-Image) attention takes, from the op's time
        # per row: rows a model call (2 a frame with cfg), attention layers, steps.
        calls = (2 if cfg > 1 else 1) * rows * (2 if suffix == "wan" else ZIMAGE["layers"]) * harness.STEPS
        results[f"attn_share_of_plain_{suffix}"] = (results[f"attn_plain_{suffix}_ms"] / 1e3 / (rows - 2) * calls
                                                    / results[f"time_plain_{suffix}_s"])
    return results


# Real Wan models (published configs, as ComfyUI's detection reads them): blocks, width, FFN width, parameters.
WAN_MODELS = {"wan21_1.3b": dict(blocks=30, width=1536, ffn=8960, params=1.42e9, downscale=8),
              "wan21_14b": dict(blocks=40, width=5120, ffn=13824, params=14.3e9, downscale=8),
              "wan22_5b": dict(blocks=30, width=3072, ffn=14336, params=5.0e9, downscale=16)}
# (model, width, height, frames): the sizes of ComfyUI's templates and of issue 23.
WAN_SIZES = (("wan21_1.3b", 832, 480, 33), ("wan21_1.3b", 832, 480, 81), ("wan21_14b", 832, 480, 81),
             ("wan21_14b", 1280, 720, 81), ("wan22_5b", 1280, 704, 49), ("wan22_5b", 1280, 704, 121))
WAN_TEXT_TOKENS, HALF, GB = 512, 2, 1e9


def wan_tokens(downscale: int, width: int, height: int, frames: int) -> int:
    """Video tokens of a clip: the VAE's 4x temporal and ``downscale`` spatial compression, then 1x2x2 patches."""
    return ((frames - 1) // 4 + 1) * (height // (2 * downscale)) * (width // (2 * downscale))


def kept_bytes(blocks: int, width: int, tokens: int, text: int, element: int = HALF) -> dict:
    """Keys and values one end clip brings to every block under ``max_rows``, by ``layers``: self (its video tokens),
    cross (its text tokens)."""
    return {"self": blocks * 2 * tokens * width * element, "cross": blocks * 2 * text * width * element}


def wan_memory_figures() -> dict:
    """GB (10^9 bytes), fp16/bf16, per real Wan model and size: weights; one clip row's activations in a block
    (tokens x (FFN + 4 x width) x 2 bytes: the FFN's hidden layer and the attention's q, k, v and output); one batch
    [A, in-between, B] with cfg (6 rows: nothing kept, AID reads the end clips in the batch) and of five clips (10
    rows, the workflows' batch); ``max_rows`` 2 (one
    clip's 2 rows a call, both end clips' keys/values kept, positive pass) with ``self`` and with ``cross``."""
    figures = {}
    for name, width_px, height_px, frames in WAN_SIZES:
        model = WAN_MODELS[name]
        tokens = wan_tokens(model["downscale"], width_px, height_px, frames)
        kept = kept_bytes(model["blocks"], model["width"], tokens, WAN_TEXT_TOKENS)
        weights = model["params"] * HALF
        row = tokens * (model["ffn"] + 4 * model["width"]) * HALF
        key = f"{name}_{width_px}x{height_px}x{frames}"
        figures[f"tokens_{key}"] = tokens
        figures[f"weights_{key}_gb"] = weights / GB
        figures[f"kept_self_per_end_clip_{key}_gb"] = kept["self"] / GB
        figures[f"kept_cross_per_end_clip_{key}_gb"] = kept["cross"] / GB
        figures[f"one_batch_3_clips_{key}_gb"] = (weights + 6 * row) / GB
        figures[f"one_batch_5_clips_{key}_gb"] = (weights + 10 * row) / GB
        figures[f"max_rows2_self_{key}_gb"] = (weights + 2 * row + 2 * (kept["self"] + kept["cross"])) / GB
        figures[f"max_rows2_cross_{key}_gb"] = (weights + 2 * row + 2 * kept["cross"]) / GB
    return figures


def measure_wan_kept() -> dict:
    """What the tiny Wan keeps per end clip in a ``max_rows`` 2 call (``self + cross``), summed over the kept
    tensors, against :func:`kept_bytes` for its sizes (float32)."""
    from keyframes import _watch_kept

    pack = setup()
    import nodes as comfy_nodes

    model, schedule, positive, negative, latent = wan_workload(pack)
    patched = pack.nodes.aid_nodes.AIDAttentionPatch.execute(model, schedule, "outer", True, "self + cross", 0.0, 0.5,
                                                             False, max_rows=2).args[0]
    sizes: list = []
    plan = pack.nodes.attention_patch.plan
    original = plan.part_plan
    _watch_kept(plan, sizes)
    try:
        comfy_nodes.common_ksampler(patched, SEED, 2, WAN["cfg"], "euler", "simple", positive, negative, latent)
    finally:
        plan.part_plan = original  # the later measurements run the pack's own
    tokens = WAN["frames"] * WAN["height"] * WAN["width_latent"] // 4
    formula = kept_bytes(2, WAN["width"], tokens, WAN["text"], element=4)
    return {"kept_per_end_clip_wan_measured_mib": max(total for _, total in sizes) / 2 / 2**20,
            "kept_per_end_clip_wan_formula_mib": (formula["self"] + formula["cross"]) / 2**20}


def print_video(repeats: int) -> None:
    """The Wan and Z-Image figures, the kept keys/values check and the real Wan models' memory, ratios last."""
    video = measure_video(repeats)
    for name, value in {**video, **measure_wan_kept()}.items():
        print(f"{name}={value:.3f}")
    for name, value in wan_memory_figures().items():
        print(f"{name}={value:g}" if isinstance(value, int) else f"{name}={value:.2f}")
    for suffix in ("wan", "zimage"):
        if f"time_plain_{suffix}_s" not in video:
            print(f"{suffix}=skipped: this ComfyUI has no Z-Image (ComfyUI v0.12 on)")
            continue
        print(f"attn_ratio_outer_vs_plain_{suffix}="
              f"{video[f'attn_outer_{suffix}_ms'] / video[f'attn_plain_{suffix}_ms']:.3f}")
        print(f"ratio_outer_window_vs_plain_{suffix}="
              f"{video[f'time_outer_window_{suffix}_s'] / video[f'time_plain_{suffix}_s']:.3f}")
    print(f"ratio_outer_window_cross_vs_plain_wan="
          f"{video['time_outer_window_cross_wan_s'] / video['time_plain_wan_s']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    harness.add_arguments(parser, repeats=5)
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled-vs-eager timing (--quick does: "
                                                                  "inductor takes minutes on a small CPU)")
    parser.add_argument("--only-flux", action="store_true", help="only the Flux-shaped workload")
    parser.add_argument("--only-video", action="store_true", help="only the Wan and Z-Image workloads and the Wan "
                                                                   "memory figures")
    parser.add_argument("--variant", choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    harness.apply_arguments(args)
    if args.quick:
        use_quick_sizes()
    if args.variant:
        print(harness.peak_memory(_sampler(setup(), args.variant)))
        return

    print(harness.machine_line())
    if args.only_video:
        print_video(args.repeats)
        return
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
    print_video(args.repeats)
    # The ops alone take milliseconds: at least 10 calls each, but one with --quick, which only checks they run.
    op_repeats = args.repeats if args.quick else max(args.repeats, 10)
    op = measure_attention_op(op_repeats)
    for name, value in op.items():
        print(f"{name}={value:.3f}")
    layer = measure_patched_layer(op_repeats)
    for name, value in layer.items():
        print(f"{name}={value:.3f}")
    parts = measure_window_parts(args.repeats)
    for name, value in parts.items():
        print(f"time_outer_window_{name}_s={value:.3f}")
    # --quick audits one variant: dynamo's tracing is most of the quick run's time, and the variants share the code.
    readiness = measure_gpu_readiness(not (args.no_compile or args.quick),
                                      ("outer_window",) if args.quick else ("outer_window", "outer_all", "inner_all"))
    for name, value in readiness.items():
        print(f"{name}={value:g}" if isinstance(value, int) else f"{name}={value:.3f}")
    seconds = measure_times(args.repeats)
    peak = {}
    for variant in VARIANTS:
        print(f"time_{variant}_s={seconds[variant]:.3f}")
        # A fresh process costs seconds of ComfyUI's import: --quick checks the path with one.
        if not args.quick or variant == "outer_window":
            peak[variant] = harness.in_fresh_process(__file__, "--variant", variant, *harness.passed_on(args))
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
    if "plain" in peak:
        print(f"mem_ratio_outer_vs_plain={peak['outer_window'] / max(peak['plain'], 1e-9):.3f}")
    if "time_outer_window_compiled_s" in readiness:
        ratio = readiness["time_outer_window_compiled_s"] / readiness["time_outer_window_eager_s"]
        print(f"ratio_outer_window_compiled_vs_eager={ratio:.3f}")


if __name__ == "__main__":
    main()
