"""What the benchmarks share: the host on CPU with SDPA pinned, the fixed UNet workload and its sampling runs,
interleaved timing, medians, and peak resident memory measured in a fresh process.

The UNet workload (issue 6): SD1.5-shaped UNet with 64 model channels, channel_mult [1, 2, 4], one res block and
one transformer per level, context 768, 8 heads, random weights; 32x32 latent; 6 euler steps; cfg 5; one seed;
the frames [A, in-betweens, B] at the classic Beta(steps, steps) coefficients, shared noise. Every run uses
ComfyUI's PyTorch (SDPA) attention, so plain and patched runs share a kernel (on CPU ComfyUI would otherwise
default to its much slower sub-quadratic attention).
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "host"))

STEPS, CFG, SEED, LATENT = 6, 5.0, 0, 32
# --quick: CI runs every benchmark so on both hosts, so that one which stops running fails CI; its figures mean
# nothing. Two steps keep a window of AID steps and plain ones (end 0.5); a 16x16 latent keeps every UNet level.
QUICK_STEPS, QUICK_LATENT = 2, 16
WARM_UP = True  # --quick times nothing worth a warm-up run
# glibc: serve blocks of 64 KiB and more by mmap and give freed memory back at once, so the resident
# size tracks live tensors instead of the allocator's high-water mark.
FREE_AT_ONCE = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}


def add_arguments(parser, repeats: int) -> None:
    """The arguments every benchmark takes: ``--repeats``, ``--threads`` and ``--quick``."""
    parser.add_argument("--repeats", type=int, default=repeats, help="timed rounds (median reported)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0: torch's default); 1 on a machine shared with other work, where a "
                             "thread barrier waiting for a descheduled thread makes small calls slow")
    parser.add_argument("--quick", action="store_true",
                        help="one repeat at the smallest sizes: checks that the benchmark runs (CI), measures nothing")


def apply_arguments(args) -> None:
    """Threads and, with ``--quick``, one repeat and the UNet workload at its smallest (:data:`QUICK_STEPS`,
    :data:`QUICK_LATENT`); a benchmark reads ``harness.STEPS`` and ``harness.LATENT`` after this, never a copy made
    at import."""
    global STEPS, LATENT, WARM_UP
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.quick:
        args.repeats = 1
        STEPS, LATENT, WARM_UP = QUICK_STEPS, QUICK_LATENT, False


def passed_on(args) -> list[str]:
    """The shared arguments as a fresh process of the same benchmark must get them (its memory runs)."""
    return [f"--threads={args.threads}"] + (["--quick"] if args.quick else [])


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def setup(cpu: bool = True):
    """ComfyUI imported with SDPA attention pinned, on the CPU (unless ``cpu`` is False: then on the device ComfyUI
    picks, as gpu_check.py measures it); returns the pack as ComfyUI loads it."""
    import comfy_host

    comfy_host.import_comfy(cpu)
    import comfy.cli_args

    comfy.cli_args.args.use_pytorch_cross_attention = True
    import comfy.ldm.modules.attention as attention

    # The attention module picked its function at import; pin SDPA for every variant.
    attention.optimized_attention = attention.attention_pytorch
    attention.optimized_attention_masked = attention.attention_pytorch
    return comfy_host.load_pack()


def unet_model():
    """The workload's UNet in a ModelPatcher (random weights, seed 0)."""
    import tiny_models

    return tiny_models.build_sd15_model_patcher(seed=0, model_channels=64, channel_mult=(1, 2, 4))


def unet_inputs(pack, frames: int):
    """The workload's schedule of ``frames`` frames, prompts A and B, and the negative (random embeddings)."""
    import torch

    generator = torch.Generator().manual_seed(1)
    a, b, negative = (torch.randn(1, 77, 768, generator=generator) for _ in range(3))
    schedule = pack.nodes.schedule_nodes.BetaCoefficientSchedule.execute(
        frames=frames, preset="classic", steps=STEPS, alpha=2.0, beta=2.0, start=0.0, end=1.0
    ).args[0]
    return schedule, [[a, {}]], [[b, {}]], [[negative, {}]]


def unet_sampler(pack, model, frames: int, aid: dict | None, reference: bool = False):
    """A function that samples the workload's ``frames`` frames once with ``model`` and returns the latents.

    ``aid``: None (plain sampling) or the AID Attention Patch's ``mode``, ``fused``, ``end`` (end_percent) and
    optionally ``max_rows``. ``reference``: the reference implementation's structure, one sampling per
    in-between frame t with batch [A, t, B] (both endpoints recomputed every time).
    """
    import nodes as comfy_nodes

    schedule, a, b, negative = unet_inputs(pack, frames)
    interpolate = pack.nodes.conditioning_nodes.ConditioningInterpolationBatch.execute
    shared_latent = pack.nodes.latent_nodes.SharedNoiseLatent.execute

    def run_batch(sequence_schedule, patched):
        positive = interpolate(a, b, sequence_schedule, "lerp", "error").args[0]
        latent = shared_latent(LATENT * 8, LATENT * 8, 1, sequence_schedule).args[0]
        return comfy_nodes.common_ksampler(patched, SEED, STEPS, CFG, "euler", "normal", positive, negative,
                                           latent)[0]["samples"]

    def patch(sequence_schedule):
        if aid is None:
            return model
        return pack.nodes.aid_nodes.AIDAttentionPatch.execute(
            model, sequence_schedule, aid["mode"], aid["fused"], "self + cross", 0.0, aid["end"], False,
            max_rows=aid.get("max_rows", 0)).args[0]

    if not reference:
        patched = patch(schedule)
        return lambda: run_batch(schedule, patched)

    schedule_type = type(schedule)
    triples = [schedule_type((0.0, t, 1.0), f"reference frame t={t:.4f}") for t in schedule.coefficients[1:-1]]
    patched = [(triple, patch(triple)) for triple in triples]
    return lambda: [run_batch(triple, model_) for triple, model_ in patched]


def peak_memory(run, warm_up=None) -> float:
    """MiB of peak resident memory during one call of ``run`` above the resident size just before it.

    The call follows a warm-up call (of ``warm_up``, else ``run``), so one-time allocations are not counted; run it
    in a process started by
    :func:`in_fresh_process` (glibc returning large blocks to the system at once, so the resident size follows
    the live tensors); a watcher thread samples the resident size every millisecond.
    """
    (warm_up or run)()
    before = resident_bytes()
    peak, done = [before], threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], resident_bytes())
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    run()
    done.set()
    watcher.join()
    return max(peak[0] - before, 0) / 2**20


def in_fresh_process(script: str, *args: str):
    """Run ``script`` with ``args`` in a fresh Python with :data:`FREE_AT_ONCE`; its last stdout line, as JSON."""
    output = subprocess.run([sys.executable, script, *args], check=True, capture_output=True, text=True,
                            env={**os.environ, **FREE_AT_ONCE}).stdout
    return json.loads(output.strip().splitlines()[-1])


def interleaved(runs: dict, repeats: int, warm_up: bool | None = None) -> dict:
    """Median seconds per run, after a warm-up call of each (unless ``warm_up`` is False; by default :data:`WARM_UP`),
    the runs timed in turn round after round (interleaving keeps a slow spell of a noisy machine from landing on one
    run)."""
    for run in runs.values() if (WARM_UP if warm_up is None else warm_up) else ():
        run()  # warm-up: lazy allocations, kernel selection
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(samples) for name, samples in times.items()}


def timed(fn, repeats: int) -> float:
    """Median seconds of ``repeats`` calls after one warm-up call."""
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def machine_line() -> str:
    import torch

    return (f"machine=torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"{Path('/proc/cpuinfo').read_text().count('processor')} cpus")
