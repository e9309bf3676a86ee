"""Frame shares (issue 29): one sequence on one participant against two, and on paper for many GPUs.

**Measured.** Two ComfyUI servers on loopback, each one CPU thread (``OMP_NUM_THREADS=1``), the test checkpoint
(``tests/host/tiny_models.py``: SD1.5 with a reduced UNet, real CLIP-L and VAE), a cat -> dog sequence of
``--frames`` frames (31) with AID Attention Patch's ``max_rows`` 4, euler, cfg 5, ``--steps`` steps at ``--size``
pixels, AID Share Frames, VAE Decode, Save Image (``tests/host/share_prompts.py``). ``one``: server 1 samples every
frame (``share_count`` 1); ``two``: server 1 samples share 0 and server 2 share 1 of 2 at the same time, timed until
both are done. A new seed each round, so ComfyUI's cache never answers; one warm-up of each, then ``--repeats``
rounds alternating the two, medians. Each participant loads the model, encodes the prompts and decodes its own
frames: what a real participant does.

**Ideal.** A participant computes its own frames and the keyframes its in-betweens attend to
(:mod:`nodes.attention_patch.shares`), so the slowest share takes ``max(frames computed) / frames`` of the single
participant's time, and all together compute ``(frames + keyframes each share recomputes) / frames`` of its work.
Measured ``two / one`` is printed against that ratio.

**On paper**, from the same shares: 8 GPUs on 121 frames (SD1.5 or SDXL, ``max_rows`` 8: 4 frames a part with
cfg), and Wan 2.1/2.2 14B clips (a row is an 81-frame clip; ``max_rows`` 2: one clip with cfg a part, the most a
80 GB GPU holds at 720p) for 17 clips on 4 and 8 GPUs and a keyframed story of 4 keyframes x 4 clips a segment on 8.

    COMFYUI_PATH=/path/to/ComfyUI python benchmarks/distributed.py            # measured and on paper
    COMFYUI_PATH=/path/to/ComfyUI python benchmarks/distributed.py --paper    # on paper only (seconds)

Prints ``name=value`` lines.
"""

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import harness

# (name, frames, keyframe layout: None for two endpoints or (keyframes, in-betweens a segment), max_rows, shares)
PAPER = [
    ("sd_31_frames_2_gpus", 31, None, 4, 2),
    ("sd_121_frames_8_gpus", 121, None, 8, 8),
    ("sd_121_frames_8_gpus_max_rows_4", 121, None, 4, 8),
    ("wan14b_17_clips_4_gpus", 17, None, 2, 4),
    ("wan14b_17_clips_8_gpus", 17, None, 2, 8),
    ("wan14b_story_4_keyframes_x_4_clips_8_gpus", 13, (4, 3), 2, 8),
]


def paper_config(pack, frames: int, keyframed, max_rows: int, shares: int):
    """The AID settings of a paper configuration (uniform coefficients: the shares depend on the layout only)."""
    nodes = pack.nodes
    if keyframed is None:
        schedule = nodes.schedule_nodes.BetaCoefficientSchedule.execute(
            frames=frames, preset="uniform", steps=20, alpha=2.0, beta=2.0, start=0.0, end=1.0).args[0]
    else:
        keyframes, inbetweens = keyframed
        schedule = nodes.schedule_nodes.KeyframeSchedule.execute(
            keyframes=keyframes, frames_per_segment=inbetweens + 1, loop=False, preset="uniform", steps=20,
            alpha=2.0, beta=2.0, segment_frames="").args[0]
    assert len(schedule) == frames, (len(schedule), frames)
    return nodes.aid_nodes.AIDConfig(coefficients=tuple(schedule.coefficients), max_rows=max_rows,
                                     keyframed=schedule.keyframed, share_count=shares)


def on_paper(pack) -> None:
    shares_module = pack.nodes.attention_patch.shares
    for name, frames, keyframed, max_rows, count in PAPER:
        config = paper_config(pack, frames, keyframed, max_rows, count)
        found = shares_module.shares(config, count)
        computed = [len(share.computes) for share in found]
        print(f"{name}_shares={[f'{s.frames.start}-{s.frames.stop - 1}' for s in found]}")
        print(f"{name}_frames_computed={computed}")
        print(f"{name}_work_ratio={sum(computed) / frames:.3f}")  # (frames + recomputed keyframes) / frames
        print(f"{name}_ideal_speedup={frames / max(computed):.2f}  # of {count}")


def measure(pack, frames: int, steps: int, size: int, repeats: int, warm_up: bool = True) -> None:
    import importlib.util

    import tiny_models
    from share_prompts import sequence_prompt

    # tests/host/server.py by its path: ComfyUI's own server.py comes first on sys.path once ComfyUI is imported.
    spec = importlib.util.spec_from_file_location("inbetween_test_server", harness.REPO / "tests" / "host" / "server.py")
    server_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(server_module)
    ComfyServer = server_module.ComfyServer

    import comfy_host

    config = paper_config(pack, frames, None, 4, 2)
    computed = [len(share.computes) for share in pack.nodes.attention_patch.shares.shares(config, 2)]
    os.environ["OMP_NUM_THREADS"] = "1"  # the servers inherit it: one thread each
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        checkpoint = tiny_models.write_test_checkpoint(folder / tiny_models.TEST_CHECKPOINT_NAME, seed=0)
        servers = [ComfyServer(comfy_host.comfyui_path(), folder / f"server{i}", comfy_host.PACK_DIR, [checkpoint])
                   for i in (1, 2)]
        for server in servers:
            server.start()
        try:
            def run(server, seed, index, count):
                prompt = sequence_prompt(checkpoint.name, f"share_{index}_of_{count}", index, count, frames=frames,
                                         steps=steps, size=size)
                prompt["sampler"]["inputs"]["seed"] = seed
                server.run_prompt(prompt, timeout=3600)

            def one(seed):
                run(servers[0], seed, 0, 1)

            def two(seed):
                threads = [threading.Thread(target=run, args=(server, seed, i, 2)) for i, server in enumerate(servers)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()

            times = {"one": [], "two": []}
            for seed in range(repeats + warm_up):
                for name, runner in (("one", one), ("two", two)):
                    start = time.perf_counter()
                    runner(1000 + seed)
                    if seed >= warm_up:  # a first round warms both servers up (model load, prompts)
                        times[name].append(time.perf_counter() - start)
        finally:
            for server in servers:
                server.stop()
    one_s, two_s = statistics.median(times["one"]), statistics.median(times["two"])
    print(f"measured_frames={frames} steps={steps} size={size} repeats={repeats}")
    print(f"measured_one_participant_s={one_s:.2f}")
    print(f"measured_two_participants_s={two_s:.2f}")
    print(f"measured_ratio={two_s / one_s:.3f}")
    print(f"ideal_ratio={max(computed) / frames:.3f}  # frames computed by the slower share {computed} / {frames}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paper", action="store_true", help="the paper figures only")
    parser.add_argument("--frames", type=int, default=31)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help="9 frames, 2 steps, one round without warm-up: checks that it runs")
    args = parser.parse_args()
    pack = harness.setup()
    on_paper(pack)
    if args.quick:
        measure(pack, 9, 2, args.size, 1, warm_up=False)
    elif not args.paper:
        measure(pack, args.frames, args.steps, args.size, args.repeats)


if __name__ == "__main__":
    main()
