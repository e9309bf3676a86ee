"""What the pack has shown only on a CPU, measured on one GPU in one run (issue 30): one table, also written as JSON.

Real-size architectures with random weights, made from configs through ComfyUI's own classes and detection
(``tests/host/tiny_models.py``), in bf16 (the kernels also in fp16), on the GPU ComfyUI picks:

- ``exact``: each AID backend (FlashAttention-2 and memory-efficient log-sum-exp kernels, joined keys on SDPA) against
  the formulas in float64 (``tests/engine/aid_reference.py``), outer and inner (fused), without a mask, with
  Qwen-Image's key padding and with a per-query bias as Flux Redux passes, in fp16 and bf16; the error is also given
  as a multiple of plain SDPA's own error in that dtype on the same rows.
- ``sync``: a sampling of the SDXL UNet (7 frames at 1024x1024) in one batch and with ``max_rows`` 4, with
  ``torch.cuda.set_sync_debug_mode("error")`` inside every diffusion-model call (a sync there stops the run and is
  reported with its place) and ``"warn"`` outside it, where ComfyUI's sampler reads values: those are counted per
  model call.
- ``graphs``: dynamo's graphs and breaks for a patched SDXL UNet call inside AID's window and after it, and for the
  Flux-size blocks (Flux's width 3072, heads of 128, 2 double and 4 single blocks).
- ``compiled``: ComfyUI's torch.compile wrapper (what TorchCompileModel sets) on the patched Flux blocks with
  ``mode="reduce-overhead"`` (CUDA graphs): its frames against the eager run's, and a second run against the first.
- ``time``: plain sampling against AID (fused outer, the default window: the first half of the steps), interleaved
  rounds, on SDXL 1024x1024 x 7 frames (cfg 5), the Flux blocks at 1024x1024 x 7 frames (cfg 1) and Wan 2.1 1.3B
  (through detection) at 832x480x33 x 3 clips (cfg 5); ratios from the same run.
- ``memory``: peak CUDA memory (``torch.cuda.max_memory_allocated``) of those runs, and of Wan 1.3B in one batch
  against ``max_rows`` 2 (``self + cross`` and ``cross``), beside the figures ``aid_overhead.py`` computes for the
  README's table.

``--tiny`` runs the same code on tiny models on the CPU (CI runs it on both hosts, so the script keeps working
between GPU windows); what needs CUDA (its kernels, the sync debug mode, CUDA graphs, CUDA memory) is skipped by name,
the CPU's own kernel and the dispatcher's sync recorder (``tests/host/sync_audit.py``) take their place. A section
that fails is a FAILED row (exit status 1), the rest still run; a section that would start after ``--budget``
seconds is skipped by name, so a GPU window is never overrun. The JSON is rewritten after every row: a run that is
stopped keeps what it measured.

    COMFYUI_PATH=/path/to/ComfyUI python benchmarks/gpu_check.py --json gpu_check.json
    COMFYUI_PATH=/path/to/ComfyUI python benchmarks/gpu_check.py --tiny
"""

import argparse
import contextlib
import dataclasses
import gc
import json
import sys
import time
import traceback
import warnings
from pathlib import Path

import harness

sys.path.insert(0, str(harness.REPO / "tests" / "engine"))

SEED, CFG = 0, 5.0
WAN_SIZE = ("wan21_1.3b", 832, 480, 33)


def model_dtype():
    """The models' dtype on a GPU: bf16, whose range random weights through a real-depth model cannot overflow as
    fp16's might (a NaN frame would hide every comparison); the kernels' fp16 is checked in ``exact``."""
    import torch

    return torch.bfloat16  # a row of aid_overhead.WAN_SIZES: the computed figures it is set beside


@dataclasses.dataclass(frozen=True)
class Sizes:
    """Every size the checks use: :data:`REAL` on a GPU, :data:`TINY` on a CPU (``--tiny``)."""

    frames: int  # of SDXL and Flux (Wan: wan_clips)
    exact_heads: int
    exact_tokens: int
    exact_head_dims: tuple
    sdxl_latent: int  # latent side: 128 is 1024 px
    sdxl_steps: int
    flux_hidden: int
    flux_head: int
    flux_axes: tuple
    flux_blocks: tuple  # double, single
    flux_context: int
    flux_text: int
    flux_latent: int
    flux_steps: int
    wan_width: int
    wan_ffn: int
    wan_blocks: int
    wan_context: int
    wan_latent: tuple  # latent frames, height, width of a clip
    wan_text: int
    wan_clips: int
    wan_steps: int
    repeats: int
    warm_up: bool  # a warm-up run before the timed ones: not for the tiny figures, which mean nothing


# SDXL base at 1024x1024; Flux at its width and 1024x1024 (4,096 image and 512 text tokens) with fewer blocks; Wan
# 2.1 1.3B at 832x480x33 (9 latent frames of 60 x 104: 14,040 tokens) with 512 text tokens. Steps and repeats keep
# the whole run near 5 minutes on an H100 (about 3 minutes of it sampling).
REAL = Sizes(frames=7, exact_heads=4, exact_tokens=1024, exact_head_dims=(64, 128), sdxl_latent=128, sdxl_steps=6,
             flux_hidden=3072, flux_head=128, flux_axes=(16, 56, 56), flux_blocks=(2, 4), flux_context=4096,
             flux_text=512, flux_latent=128, flux_steps=6, wan_width=1536, wan_ffn=8960, wan_blocks=30,
             wan_context=4096, wan_latent=(9, 60, 104), wan_text=512, wan_clips=3, wan_steps=4, repeats=2,
             warm_up=True)
TINY = Sizes(frames=4, exact_heads=2, exact_tokens=24, exact_head_dims=(64,), sdxl_latent=8, sdxl_steps=2, flux_hidden=128,
             flux_head=64, flux_axes=(16, 24, 24), flux_blocks=(2, 2), flux_context=32, flux_text=8, flux_latent=8,
             flux_steps=2, wan_width=128, wan_ffn=256, wan_blocks=2, wan_context=32, wan_latent=(1, 4, 4), wan_text=8,
             wan_clips=3, wan_steps=2, repeats=1, warm_up=False)


def sdxl_base_unet_config() -> dict:
    """SDXL base's UNet as ComfyUI's detection writes it: 320 channels at [1, 2, 4], transformer depths 2 and 10,
    2048-wide context, 2816-wide ADM, heads of 64."""
    import tiny_models

    return {**tiny_models.sdxl_unet_config(), "channel_mult": [1, 2, 4], "transformer_depth": [0, 0, 2, 2, 10, 10],
            "transformer_depth_output": [0, 0, 0, 2, 2, 2, 10, 10, 10], "transformer_depth_middle": 10}


class Report:
    """The rows ``(section, check, value, note)``, printed as they come and at the end as one table, and rewritten
    to ``json_path`` after every row."""

    def __init__(self, json_path: Path | None, budget_s: float, header: dict):
        self.rows, self.json_path, self.budget_s, self.header = [], json_path, budget_s, header
        self.start = time.perf_counter()
        self.failed = False

    def add(self, section: str, check: str, value, note: str = "") -> None:
        self.rows.append({"section": section, "check": check, "value": value, "note": note})
        print(f"[{time.perf_counter() - self.start:6.1f} s] {section} / {check}: {_text(value)}"
              f"{'  (' + note + ')' if note else ''}", flush=True)
        if self.json_path:
            self.json_path.write_text(json.dumps({**self.header, "rows": self.rows}, indent=1))

    def skip(self, section: str, check: str, why: str) -> None:
        self.add(section, check, "skipped", why)

    def run(self, section: str, check, *args) -> None:
        """``check(self, *args)``; a failure is a FAILED row with its exception (the traceback goes to stderr), and a
        check that would start past the budget is skipped."""
        elapsed = time.perf_counter() - self.start
        if elapsed > self.budget_s:
            return self.skip(section, "all", f"not started: {elapsed:.0f} s of the {self.budget_s:.0f} s budget spent")
        try:
            check(self, *args)
        except Exception as err:  # noqa: BLE001 (a failed section is a row; the others still run)
            traceback.print_exc()
            self.failed = True
            self.add(section, "FAILED", f"{type(err).__name__}: {str(err)[:300]}")
        finally:
            free_models()

    def table(self) -> str:
        width = max(len(f"{row['section']} / {row['check']}") for row in self.rows)
        lines = [f"{'check'.ljust(width)}  value  (note)"]
        for row in self.rows:
            note = f"  ({row['note']})" if row["note"] else ""
            lines.append(f"{(row['section'] + ' / ' + row['check']).ljust(width)}  {_text(row['value'])}{note}")
        return "\n".join(lines)


def _text(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def free_models() -> None:
    """Unload every model ComfyUI holds and free the cached blocks, so each section's memory is its own."""
    import comfy.model_management
    import torch

    comfy.model_management.unload_all_models()
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def on_cuda() -> bool:
    import comfy.model_management

    return comfy.model_management.get_torch_device().type == "cuda"


# ---------------------------------------------------------------------------------------------------- exactness


def check_exactness(report: Report, pack, sizes: Sizes) -> None:
    import aid_reference
    import torch

    import comfy.model_management

    aid = pack.inbetween.aid
    device = comfy.model_management.get_torch_device()
    cuda = device.type == "cuda"
    rows, tokens = 5, sizes.exact_tokens
    t = torch.tensor([0.2, 0.5, 0.8], device=device)
    backends = {"cuda_flash": aid.LogSumExpAttention(aid.cuda_flash_lse),
                "cuda_efficient": aid.LogSumExpAttention(aid.cuda_efficient_lse),
                "cpu_flash": aid.LogSumExpAttention(aid.cpu_flash_lse),
                "joined_sdpa": aid.JoinedKeyAttention(aid._sdpa)}
    masks = {"none": lambda: None,
             # Qwen-Image: a key-padding mask [rows, 1, Tk], padded keys at -finfo.max
             "qwen_padding": lambda: aid_reference.padding_mask(rows, tk=tokens)[:, 0],
             # Flux Redux: a bias per query [rows, Tq, Tk], the padding under it
             "redux_bias": lambda: (torch.randn(rows, tokens, tokens, generator=generator)
                                    + aid_reference.padding_mask(rows, tq=tokens, tk=tokens)[:, 0])}
    for dtype in (torch.float16, torch.bfloat16):
        for dim in sizes.exact_head_dims:
            generator = torch.Generator().manual_seed(dim)
            q, k, v = (torch.randn(rows, sizes.exact_heads, tokens, dim, generator=generator).to(device, dtype)
                       for _ in range(3))
            # The yardstick: plain SDPA's own error in this dtype on the in-between rows.
            plain = torch.nn.functional.scaled_dot_product_attention(q[1:-1], k[1:-1], v[1:-1]).double()
            plain_error = (plain - aid_reference.naive_attention(q[1:-1], k[1:-1], v[1:-1])).abs().max().item()
            for mask_name, make_mask in masks.items():
                mask = make_mask()
                # In the model's dtype, as the host passes it (Qwen-Image's -finfo.max padding is -inf in fp16).
                mask = None if mask is None else mask.to(device, dtype)
                bias = None if mask is None else aid.additive_bias(mask, torch.float64)
                for name, backend in backends.items():
                    check = f"{name} {str(dtype)[6:]} d{dim} {mask_name}"
                    if name.startswith("cuda") != cuda:
                        report.skip("exact", check, "a CUDA kernel" if name.startswith("cuda") else "the CPU kernel")
                        continue
                    if name == "cuda_flash" and mask is not None:
                        report.skip("exact", check, "FlashAttention takes no mask: the pack never picks it here")
                        continue
                    worst = 0.0
                    for mode in ("outer", "inner"):
                        out = aid.interpolated_attention(q, k, v, t, mode, True, backend=backend, mask=mask)
                        expected = aid_reference.naive_aid(q, k, v, t.cpu(), mode, True, bias=bias)
                        worst = max(worst, (out.double() - expected).abs().max().item())
                    report.add("exact", check, worst / plain_error,
                               f"x plain SDPA's error; max abs {worst:.2e} (outer, inner fused), SDPA's {plain_error:.2e}")


# ------------------------------------------------------------------------------------------------------ models


def sdxl_workload(pack, sizes: Sizes, tiny: bool):
    """The SDXL UNet (base at its size, or the tests' small SDXL), 7 frames of two prompts and their negative."""
    import torch

    import comfy.model_management
    import comfy.supported_models
    import tiny_models
    from aid_overhead import two_prompts

    dtype = torch.float32 if tiny else model_dtype()
    device = comfy.model_management.get_torch_device()
    if tiny:
        model, width = tiny_models.build_small_sdxl_model_patcher(SEED, dtype), 64
    else:
        model = tiny_models.model_patcher(comfy.supported_models.SDXL(sdxl_base_unet_config()), SEED, dtype, device)
        width = 2048
    schedule, positive, negative = two_prompts(pack, sizes.frames, 77, width, pooled=1280)
    latent = pack.nodes.latent_nodes.SharedNoiseLatent.execute(sizes.sdxl_latent * 8, sizes.sdxl_latent * 8, 1,
                                                                schedule).args[0]
    return model, schedule, positive, negative, latent, CFG


def flux_workload(pack, sizes: Sizes, tiny: bool):
    """Flux-size blocks (Flux dev's width and heads, fewer blocks) through detection, 7 frames at cfg 1."""
    import torch

    import comfy.model_management
    import tiny_models
    from aid_overhead import pinned_sdpa, two_prompts

    device = None if tiny else comfy.model_management.get_torch_device()
    double, single = sizes.flux_blocks
    model = pinned_sdpa(tiny_models.build_flux_model_patcher(
        SEED, torch.float32 if tiny else model_dtype(), hidden=sizes.flux_hidden, head=sizes.flux_head,
        axes_dim=sizes.flux_axes, mlp_ratio=4.0, double=double, single=single, context=sizes.flux_context,
        pooled=768, device=device))
    schedule, positive, negative = two_prompts(pack, sizes.frames, sizes.flux_text, sizes.flux_context, pooled=768,
                                               guidance=3.5)
    latent = {"samples": torch.zeros(sizes.frames, 16, sizes.flux_latent, sizes.flux_latent),
              "batch_index": [0] * sizes.frames}
    return model, schedule, positive, negative, latent, 1.0


def wan_workload(pack, sizes: Sizes, tiny: bool):
    """Wan 2.1 1.3B (or the tiny Wan) through detection, ``wan_clips`` clips at cfg 5."""
    import torch

    import comfy.model_management
    import tiny_models
    from aid_overhead import pinned_sdpa, two_prompts

    device = None if tiny else comfy.model_management.get_torch_device()
    keys = tiny_models.wan_keys(hidden=sizes.wan_width, layers=sizes.wan_blocks,
                                extra={f"blocks.{i}.ffn.0.weight": (sizes.wan_ffn, sizes.wan_width)
                                       for i in range(sizes.wan_blocks)})
    model = pinned_sdpa(tiny_models.detected_model_patcher(keys, SEED, torch.float32 if tiny else model_dtype(), device,
                                                           num_heads=sizes.wan_width // 128,
                                                           text_dim=sizes.wan_context))
    schedule, positive, negative = two_prompts(pack, sizes.wan_clips, sizes.wan_text, sizes.wan_context)
    latent = {"samples": torch.zeros(sizes.wan_clips, 16, *sizes.wan_latent), "batch_index": [0] * sizes.wan_clips}
    return model, schedule, positive, negative, latent, CFG


def aid(pack, model, schedule, layers="self + cross", max_rows=0):
    """AID Attention Patch with its defaults (fused outer, the first half of the steps)."""
    return pack.nodes.aid_nodes.AIDAttentionPatch.execute(model, schedule, "outer", True, layers, 0.0, 0.5, False,
                                                          max_rows=max_rows).args[0]


def sampler(workload, model, steps: int):
    """A function sampling the workload once with ``model``; returns the latents (on the CPU: the host waits)."""
    import nodes as comfy_nodes

    _, _, positive, negative, latent, cfg = workload

    def run():
        return comfy_nodes.common_ksampler(model, SEED, steps, cfg, "euler", "simple", positive, negative,
                                           latent)[0]["samples"]
    return run


def peak_gb(run) -> float | None:
    """Peak CUDA memory of one call of ``run`` (GB, 10^9 bytes); off CUDA, None after the call (the run still
    checks its code path)."""
    import torch

    if not torch.cuda.is_available():
        run()
        return None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    run()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 1e9


def time_and_memory(report: Report, section: str, workload, pack, steps: int, sizes: Sizes) -> None:
    """Plain against AID: interleaved medians, their ratio, and each one's peak CUDA memory."""
    model, schedule = workload[:2]
    runs = {"plain": sampler(workload, model, steps), "aid": sampler(workload, aid(pack, model, schedule), steps)}
    seconds = harness.interleaved(runs, sizes.repeats, sizes.warm_up)
    for name, value in seconds.items():
        report.add(section, f"time {name} s", value, f"{steps} steps, median of {sizes.repeats}")
    report.add(section, "time ratio aid / plain", seconds["aid"] / seconds["plain"], "same run, interleaved")
    for name, run in runs.items():
        if not on_cuda():  # the timing ran these samplings already
            report.skip(section, f"peak memory {name}", "CUDA memory: no CUDA here")
            continue
        report.add(section, f"peak memory {name} GB", peak_gb(run))


# ------------------------------------------------------------------------------------------------------ checks


class CudaSyncWatch:
    """``torch.cuda.set_sync_debug_mode``: "error" inside each diffusion-model call, "warn" around the sampling, whose
    warnings (ComfyUI's sampler reading values) are counted."""

    name = "torch.cuda.set_sync_debug_mode"

    def __init__(self):
        import torch

        self.torch, self.calls, self.inside, self.outside = torch, 0, 0, 0

    @contextlib.contextmanager
    def model_call(self):
        self.calls += 1
        self.torch.cuda.set_sync_debug_mode("error")
        try:
            yield
        finally:
            self.torch.cuda.set_sync_debug_mode("warn")

    @contextlib.contextmanager
    def sampling(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.torch.cuda.set_sync_debug_mode("warn")
            try:
                yield
            finally:
                self.torch.cuda.set_sync_debug_mode("default")
                self.outside = sum("synchroniz" in str(warning.message) for warning in caught)


class RecordedSyncWatch:
    """The dispatcher's sync recorder (value reads, boolean masks: ``tests/host/sync_audit.py``) inside each
    diffusion-model call and around the sampling; on the CPU, where CUDA's debug mode sees nothing."""

    name = "sync_audit.SyncRecorder"

    def __init__(self):
        self.calls, self.inside, self.outside, self.first = 0, 0, 0, None

    @contextlib.contextmanager
    def model_call(self):
        from sync_audit import SyncRecorder

        self.calls += 1
        with SyncRecorder() as recorder:
            yield
        self.inside += len(recorder.events)
        self.first = self.first or (recorder.events[:1] or [None])[0]

    @contextlib.contextmanager
    def sampling(self):
        from sync_audit import SyncRecorder

        with SyncRecorder() as recorder:  # entered first: it also sees what the inner recorders pass on
            yield
        self.outside = len(recorder.events) - self.inside


def _where(err: BaseException) -> str:
    """The innermost frame of ``err``'s traceback in the pack or ComfyUI (not torch): where a sync happened."""
    frames = [frame for frame in traceback.extract_tb(err.__traceback__) if "/torch/" not in frame.filename]
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"


def check_sync(report: Report, pack, sizes: Sizes, tiny: bool) -> None:
    import comfy.patcher_extension as extension

    workload = sdxl_workload(pack, sizes, tiny)
    model, schedule = workload[:2]
    for plan, max_rows in (("one batch", 0), ("max_rows 4", 4)):
        watch = CudaSyncWatch() if on_cuda() else RecordedSyncWatch()
        patched = aid(pack, model, schedule, max_rows=max_rows).clone()

        def inside(executor, *args, **kwargs):
            with watch.model_call():
                return executor(*args, **kwargs)

        patched.add_wrapper_with_key(extension.WrappersMP.DIFFUSION_MODEL, "gpu_check", inside)
        try:
            with watch.sampling():
                sampler(workload, patched, sizes.sdxl_steps)()
        except RuntimeError as err:
            if "synchroniz" not in str(err):
                raise
            report.add("sync", f"SDXL {plan}: syncs inside the model calls", "SYNC",
                       f"{watch.name}: {str(err)[:120]} at {_where(err)}")
            continue
        note = f"{watch.name}, {watch.calls} model calls"
        if watch.inside:
            note += f"; first: {watch.first}"
        report.add("sync", f"SDXL {plan}: syncs inside the model calls", watch.inside, note)
        report.add("sync", f"SDXL {plan}: host reads per model call outside them", watch.outside / watch.calls,
                   "ComfyUI's sampler")


def check_graphs(report: Report, pack, sizes: Sizes, tiny: bool) -> None:
    """Dynamo's graphs and breaks for one patched model call inside AID's window and one after it."""
    from sync_audit import explain_call, model_calls

    for family, build in (("SDXL", sdxl_workload), ("Flux blocks", flux_workload)):
        workload = build(pack, sizes, tiny)
        model, schedule = workload[:2]
        patched = aid(pack, model, schedule)
        body = patched.get_model_object("diffusion_model")
        # Two steps: the first inside AID's window (end 0.5), the second after it.
        calls = model_calls(body, sampler(workload, patched, 2))
        for window, (args, kwargs) in zip(("window on", "window off"), calls):
            explained = explain_call(body, args, kwargs)
            reasons = "; ".join(b.reason[:100] for b in explained.break_reasons[:2])
            report.add("graphs", f"{family} {window}: graphs, breaks",
                       f"{explained.graph_count}, {explained.graph_break_count}", reasons)


def check_compiled(report: Report, pack, sizes: Sizes, tiny: bool) -> None:
    """ComfyUI's torch.compile wrapper on the patched Flux blocks: CUDA graphs on a GPU, frames against eager."""
    import torch

    from comfy_api.torch_helpers import set_torch_compile_wrapper

    workload = flux_workload(pack, sizes, tiny)
    patched = aid(pack, *workload[:2])
    eager = sampler(workload, patched, sizes.flux_steps)()
    compiled = patched.clone()
    # CUDA graphs where there is CUDA; the CPU runs dynamo's graphs eagerly through the same wrapper: inductor
    # takes minutes on a small CPU, and the host suite's test_aid_compiled runs it there.
    if on_cuda():
        set_torch_compile_wrapper(model=compiled, backend="inductor", mode="reduce-overhead")
        how = "inductor, mode reduce-overhead (CUDA graphs)"
    else:
        set_torch_compile_wrapper(model=compiled, backend="eager")
        how = "backend eager on the CPU; CUDA graphs: no CUDA here"
    start = time.perf_counter()
    frames = sampler(workload, compiled, sizes.flux_steps)()
    report.add("compiled", "Flux blocks compiled: first run s", time.perf_counter() - start, how)
    again = sampler(workload, compiled, sizes.flux_steps)()
    scale = eager.abs().max().item()
    report.add("compiled", "Flux blocks compiled vs eager: max |diff| / max |eager|",
               (frames - eager).abs().max().item() / scale, how)
    report.add("compiled", "Flux blocks compiled: second run equals the first", bool(torch.equal(frames, again)))
    report.add("compiled", "Flux blocks compiled: frames finite", bool(torch.isfinite(frames).all()))
    torch._dynamo.reset()


def check_time_and_memory(report: Report, pack, sizes: Sizes, tiny: bool) -> None:
    for family, build, steps, latent in (("SDXL", sdxl_workload, sizes.sdxl_steps, sizes.sdxl_latent),
                                         ("Flux blocks", flux_workload, sizes.flux_steps, sizes.flux_latent)):
        section = f"{family} {latent * 8}x{latent * 8} x {sizes.frames}"
        time_and_memory(report, section, build(pack, sizes, tiny), pack, steps, sizes)


def check_wan(report: Report, pack, sizes: Sizes, tiny: bool) -> None:
    from aid_overhead import wan_memory_figures

    frames, height, width = sizes.wan_latent
    section = (f"Wan {'1.3B' if sizes.wan_width == 1536 else 'tiny'} {width * 8}x{height * 8}x{(frames - 1) * 4 + 1}"
               f" x {sizes.wan_clips}")
    workload = wan_workload(pack, sizes, tiny)
    time_and_memory(report, section, workload, pack, sizes.wan_steps, sizes)
    model, schedule = workload[:2]
    key = "_".join([WAN_SIZE[0], "x".join(str(n) for n in WAN_SIZE[1:])])
    computed = wan_memory_figures()
    for plan, layers, max_rows, figure in (("one batch", "self + cross", 0, "one_batch_3_clips"),
                                           ("max_rows 2, self + cross", "self + cross", 2, "max_rows2_self"),
                                           ("max_rows 2, cross", "cross", 2, "max_rows2_cross")):
        peak = peak_gb(sampler(workload, aid(pack, model, schedule, layers, max_rows), sizes.wan_steps))
        note = f"computed for the README: {computed[f'{figure}_{key}_gb']:.1f} GB"
        if peak is None:
            report.skip(section, f"peak memory AID {plan}", f"CUDA memory: no CUDA here; {note}")
        else:
            report.add(section, f"peak memory AID {plan} GB", peak, note)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny models on the CPU, CUDA parts skipped by name (CI)")
    parser.add_argument("--json", type=Path, help="write the table here as JSON (rewritten after every row)")
    parser.add_argument("--budget", type=float, default=330.0,
                        help="seconds after which no further section starts (default 330, so that a run ends inside 8 "
                             "minutes: the last section, compiling, may take two)")
    parser.add_argument("--only", nargs="+", choices=["exact", "sync", "time", "wan", "graphs", "compiled"],
                        help="these sections only")
    args = parser.parse_args(argv)
    pack = harness.setup(cpu=args.tiny)
    import torch

    import comfy.model_management
    import comfyui_version

    sizes = TINY if args.tiny else REAL
    device = comfy.model_management.get_torch_device()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    if not args.tiny and device.type != "cuda":
        print("no CUDA device: run with --tiny for the CPU check")
        return 1
    header = {"device": name, "torch": torch.__version__, "comfyui": comfyui_version.__version__,
              "sizes": "tiny" if args.tiny else "real"}
    print(" ".join(f"{key}={value}" for key, value in header.items()), flush=True)
    report = Report(args.json, args.budget, header)
    # The slowest and least certain last (compiling, on a GPU a minute or more a graph), so that a budget cut takes it.
    sections = {"exact": (check_exactness, pack, sizes), "sync": (check_sync, pack, sizes, args.tiny),
                "time": (check_time_and_memory, pack, sizes, args.tiny), "wan": (check_wan, pack, sizes, args.tiny),
                "graphs": (check_graphs, pack, sizes, args.tiny), "compiled": (check_compiled, pack, sizes, args.tiny)}
    for section, (check, *check_args) in sections.items():
        if not args.only or section in args.only:
            report.run(section, check, *check_args)
    print()
    print(report.table())
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
