"""Long AID sequences (issue 12): ``max_rows`` against one batch and against the reference's structure.

Workload: the fixed UNet workload of ``aid_overhead.py`` (see ``harness.py``: SD1.5-shaped UNet with 64 model
channels, 32x32 latent, 6 euler steps, cfg 5, so a frame is two rows of a model call) at 7, 15 and 31 frames, AID
fused outer on the first half of the steps, in three structures:

- ``batch``: the whole sequence in one model call per sampler call (``max_rows`` 0: 2 x frames rows);
- ``rows4``: ``max_rows`` 4: each model call carried out as endpoint A (both chunks), endpoint B, then the
  in-betweens two frames (four rows) at a time, reading the endpoints' kept keys/values;
- ``reference``: the AID reference implementation's structure, one sampling of batch ``[A, t, B]`` per in-between
  frame, both endpoints recomputed every time. Every such sampling costs the same whatever t, so its time at F
  frames is (F - 2) times the median time of one (``--full-reference`` times all F - 2 samplings instead).

Times: after a warm-up (the first frame count only: it selects the kernels for all), the structures are timed in
turn, round after round, and each reports the median of ``--repeats`` rounds; ratios compare structures of the same
rounds. Memory: ``batch`` and ``rows4`` at every frame count run in a fresh process each, after a warm-up with 3 frames
of the same structure; the peak resident size during the run above the size just before it is reported (the
loaded model and one-time allocations are not counted). To tell the parts' cost from AID's: bare UNet calls (no
sampler, no AID) of each size a structure uses, timed interleaved (``unet_call_*``), what the call sizes alone predict
(``*_from_call_sizes``), and what an interpolated row costs in plain rows (``aid_row_in_plain_rows_*``, from rows4's
time over the bare calls of its parts).

Targets: peak memory of ``rows4`` at 31 frames within 1.25x of its value at 7 frames; time per frame of ``rows4``
within 1.15x of ``batch``; the reference structure's time at least 2.5x that of ``rows4`` at 31 frames. Each is
printed as met or missed with what bounds it.

Prints ``name=value`` lines, ratios last, then the targets. Needs a ComfyUI checkout: ``COMFYUI_PATH=... python
benchmarks/long_sequence.py`` (``--frames 7 31 --repeats 1 --no-memory`` to shorten; ``--threads 1`` on a shared
machine).
"""

import argparse

import harness
from harness import interleaved, setup

FRAMES = (7, 15, 31)
MAX_ROWS = 4
AID = dict(mode="outer", fused=True, end=0.5)
STRUCTURES = {"batch": dict(AID, max_rows=0), "rows4": dict(AID, max_rows=MAX_ROWS), "reference": AID}
MEMORY_TARGET, TIME_TARGET, REFERENCE_TARGET = 1.25, 1.15, 2.5
CHUNKS = 2  # cfg > 1: a positive and a negative row per frame


def _run(pack, model, structure: str, frames: int):
    if structure == "reference":
        return harness.unet_sampler(pack, model, frames, STRUCTURES[structure], reference=True)
    return harness.unet_sampler(pack, model, frames, STRUCTURES[structure])


def measure_times(frame_counts, repeats: int, full_reference: bool) -> dict:
    """Median seconds of sampling each structure at each frame count: {(structure, frames): seconds}."""
    pack = setup()
    model = harness.unet_model()
    seconds = {}
    for index, frames in enumerate(frame_counts):
        runs = {"batch": _run(pack, model, "batch", frames), "rows4": _run(pack, model, "rows4", frames)}
        if full_reference:
            runs["reference"] = _run(pack, model, "reference", frames)
        elif index == 0:
            runs["reference_one"] = _run(pack, model, "reference", 3)  # one [A, t, B] sampling
        medians = interleaved(runs, repeats, warm_up=index == 0 and harness.WARM_UP)
        for name, value in medians.items():
            seconds[name, 3 if name == "reference_one" else frames] = value
    if not full_reference:
        for frames in frame_counts:
            seconds["reference", frames] = (frames - 2) * seconds["reference_one", 3]
    return seconds


def measure_peak(structure: str, frames: int) -> float:
    pack = setup()
    model = harness.unet_model()
    return harness.peak_memory(_run(pack, model, structure, frames), warm_up=_run(pack, model, structure, 3))


def parts(frames: int) -> list[int]:
    """Rows of each model call ``rows4`` makes per sampler call at cfg > 1 (nodes/attention_patch/plan.py):
    endpoint A and endpoint B (a positive and a negative row each), then the in-betweens, ``MAX_ROWS // 2``
    frames a part."""
    per_part = MAX_ROWS // CHUNKS
    in_betweens = [min(per_part, frames - 1 - first) for first in range(1, frames - 1, per_part)]
    return [CHUNKS, CHUNKS] + [CHUNKS * count for count in in_betweens]


def measure_call_costs(batches, repeats: int) -> dict:
    """Median seconds of one bare UNet forward (no AID, no sampler) of each batch size, timed interleaved: what a
    model call of that many rows costs on this machine, so per-call overhead and small-batch efficiency show apart
    from AID."""
    import torch

    setup()
    unet = harness.unet_model().model.diffusion_model
    generator = torch.Generator().manual_seed(2)
    largest = max(batches)
    x = torch.randn(largest, 4, harness.LATENT, harness.LATENT, generator=generator)
    context = torch.randn(largest, 77, 768, generator=generator)
    timesteps = torch.full((largest,), 500.0)

    def call(rows):
        def forward():
            with torch.no_grad():
                return unet(x[:rows], timesteps[:rows], context=context[:rows])
        return forward

    return interleaved({rows: call(rows) for rows in sorted(batches)}, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", help="frame counts (default 7 15 31; --quick: 4 7)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs (fresh processes)")
    parser.add_argument("--full-reference", action="store_true",
                        help="time every [A, t, B] sampling of the reference structure (slow: 3 rows per frame)")
    harness.add_arguments(parser, repeats=3)
    parser.add_argument("--peak", nargs=2, metavar=("STRUCTURE", "FRAMES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    harness.apply_arguments(args)
    args.frames = args.frames or ([4, 7] if args.quick else list(FRAMES))
    if args.peak:
        print(measure_peak(args.peak[0], int(args.peak[1])))
        return

    frame_counts = sorted(set(args.frames))
    first, last = frame_counts[0], frame_counts[-1]
    print(harness.machine_line())
    seconds = measure_times(frame_counts, args.repeats, args.full_reference)
    calls = measure_call_costs({CHUNKS, MAX_ROWS, 3 * CHUNKS} | {CHUNKS * frames for frames in frame_counts},
                               max(args.repeats, 5))
    if not args.full_reference:
        print(f"time_reference_one_sampling_s={seconds['reference_one', 3]:.3f}")
    for frames in frame_counts:
        for structure in STRUCTURES:
            print(f"time_{structure}_f{frames}_s={seconds[structure, frames]:.3f}")
            print(f"time_per_frame_{structure}_f{frames}_s={seconds[structure, frames] / frames:.3f}")
        print(f"model_calls_per_step_rows4_f{frames}={len(parts(frames))}")
    for rows, value in calls.items():
        print(f"unet_call_{rows}_rows_ms={value * 1e3:.1f}")
        print(f"unet_call_{rows}_rows_ms_per_row={value * 1e3 / rows:.1f}")
    peak = {}
    if not args.no_memory:
        for frames in frame_counts:
            for structure in ("batch", "rows4"):
                # A fresh process costs seconds of ComfyUI's import: --quick checks the path with one.
                if args.quick and (structure, frames) != ("rows4", last):
                    continue
                peak[structure, frames] = harness.in_fresh_process(__file__, "--peak", structure, str(frames),
                                                                   *harness.passed_on(args))
                print(f"peak_{structure}_f{frames}_mib={peak[structure, frames]:.1f}")

    # What the calls' sizes alone predict: rows4's parts and the reference's batches of 3 frames, priced by the bare
    # UNet calls above, against one call of the whole batch.
    predicted = {frames: sum(calls[rows] for rows in parts(frames)) / calls[CHUNKS * frames] for frames in frame_counts}
    predicted_reference = {frames: (frames - 2) * calls[3 * CHUNKS] / sum(calls[rows] for rows in parts(frames))
                           for frames in frame_counts}
    # What an in-between frame's positive row (the one AID interpolates) costs in plain rows, from rows4's time over
    # the bare calls of its parts: a step of rows4 is 4 endpoint rows and, per in-between, a plain negative row and
    # that row, all plain in the bare calls.
    aid_row = {frames: (seconds["rows4", frames] / (harness.STEPS * sum(calls[rows] for rows in parts(frames)))
                        * CHUNKS * frames - 2 * CHUNKS) / (frames - 2) - 1 for frames in frame_counts}
    time_ratio = {frames: seconds["rows4", frames] / seconds["batch", frames] for frames in frame_counts}
    reference_ratio = {frames: seconds["reference", frames] / seconds["rows4", frames] for frames in frame_counts}
    for frames in frame_counts:
        print(f"ratio_rows4_vs_batch_f{frames}={time_ratio[frames]:.3f}")
        print(f"ratio_rows4_vs_batch_f{frames}_from_call_sizes={predicted[frames]:.3f}")
    for frames in frame_counts:
        print(f"aid_row_in_plain_rows_f{frames}={aid_row[frames]:.3f}")
    for frames in frame_counts:
        print(f"ratio_reference_vs_rows4_f{frames}={reference_ratio[frames]:.3f}")
        print(f"ratio_reference_vs_rows4_f{frames}_from_call_sizes={predicted_reference[frames]:.3f}")
        print(f"ratio_reference_vs_batch_f{frames}={seconds['reference', frames] / seconds['batch', frames]:.3f}")
    conditioning = {}
    if len(peak) == 2 * len(frame_counts) and last != first:
        for structure in ("batch", "rows4"):
            print(f"mem_ratio_{structure}_f{last}_vs_f{first}={peak[structure, last] / max(peak[structure, first], 1e-9):.3f}")
        # ComfyUI holds the whole batch's conditioning while it samples: the interpolated positive, the negative
        # repeated to every frame, and the two joined into each model call's context: 4 x 77 x 768 floats a frame.
        conditioning = {frames: 4 * frames * 77 * 768 * 4 / 2**20 for frames in (first, last)}
        less = (peak["rows4", last] - conditioning[last]) / max(peak["rows4", first] - conditioning[first], 1e-9)
        print(f"mem_ratio_rows4_f{last}_vs_f{first}_less_conditioning={less:.3f}")

    print("\n".join(targets(frame_counts, peak, conditioning, time_ratio, predicted, reference_ratio, aid_row)))


def targets(frame_counts, peak, conditioning, time_ratio, predicted, reference_ratio, aid_row) -> list[str]:
    """One line per target: met, or missed and what bounds it."""
    first, last = frame_counts[0], frame_counts[-1]
    lines = []
    if conditioning:  # every structure's memory at the first and last length
        ratio = peak["rows4", last] / max(peak["rows4", first], 1e-9)
        line = f"target_memory_rows4_f{last}_vs_f{first}={'met' if ratio <= MEMORY_TARGET else 'missed'} ({ratio:.2f}, <= {MEMORY_TARGET})"
        if ratio > MEMORY_TARGET:
            grown = conditioning[last] - conditioning[first]
            line += (f"; bound: the model holds {MAX_ROWS} rows at any length, but ComfyUI holds the whole batch's "
                     f"conditioning while it samples (the interpolated positive, the negative repeated to every frame, "
                     f"both joined into the model call's context: 4 x 77 x 768 float32, 0.9 MiB a frame): "
                     f"{grown:.1f} MiB of the {peak['rows4', last] - peak['rows4', first]:.1f} MiB grown from {first} to "
                     f"{last} frames; against {MAX_ROWS} rows of a real model's activations (hundreds of MiB at "
                     "512x512) this is small")
        lines.append(line)
    worst = max(time_ratio, key=time_ratio.get)
    line = (f"target_time_per_frame_rows4_vs_batch={'met' if time_ratio[worst] <= TIME_TARGET else 'missed'} "
            f"(worst {time_ratio[worst]:.2f} at {worst} frames, <= {TIME_TARGET})")
    if time_ratio[worst] > TIME_TARGET:
        line += (f"; bound: {MAX_ROWS} rows make {len(parts(worst))} model calls per step where the batch makes 1, "
                 f"two of them endpoint parts of {CHUNKS} rows; priced by bare UNet calls of those sizes on this CPU "
                 f"they alone cost {predicted[worst]:.2f}x the one call (per-call overhead, small batches), the rest "
                 "is the split itself and the noise of a shared machine")
    lines.append(line)
    ratio = reference_ratio[last]
    line = f"target_reference_vs_rows4_f{last}={'met' if ratio >= REFERENCE_TARGET else 'missed'} ({ratio:.2f}, >= {REFERENCE_TARGET})"
    if ratio < REFERENCE_TARGET:
        a, n = aid_row[last], last - 2
        line += (f"; bound: the reference samples 3 x {n} = {3 * n} frames where rows4 samples {last} "
                 f"({3 * n / last:.2f}x the rows), but the frames it adds are plain endpoints while every in-between's "
                 f"positive row pays AID's attention in both: at {a:.2f} plain rows for that row (measured), the rows "
                 f"bound the ratio at {n} x (5 + a) / (4 + {n} x (1 + a)) = {n * (5 + a) / (4 + n * (1 + a)):.2f}, "
                 f"and at (5 + a) / (1 + a) = {(5 + a) / (1 + a):.2f} for any length")
    lines.append(line)
    return lines


if __name__ == "__main__":
    main()
