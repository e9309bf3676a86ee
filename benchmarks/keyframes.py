"""Keyframed sequences (issue 22): one sampling through four keyframes against a two-endpoint sequence of the same
length and against sampling every segment as its own two-endpoint sequence.

Workload: the fixed UNet workload of ``aid_overhead.py`` (see ``harness.py``: SD1.5-shaped UNet with 64 model
channels, 32x32 latent, 6 euler steps, cfg 5, so a frame is two rows of a model call), AID fused outer on the first
half of the steps, ``max_rows`` 4, 31 frames, in three structures:

- ``keyframes``: 4 keyframes, 3 segments of 10 frames (a keyframe and 9 in-betweens), Beta(steps, steps) in each:
  per model call every keyframe alone (its positive and negative row), then the 27 in-betweens two frames a part;
- ``two_endpoints``: prompt A to prompt B in 31 frames at Beta(steps, steps): the endpoints alone, then 29
  in-betweens two frames a part (issue 12's ``rows4``);
- ``per_segment``: each segment sampled as its own two-endpoint sequence of 11 frames (what a user without keyframes
  does): 33 frames for the 31 of the story, the two inner keyframes computed twice.

Times: one warm-up of each, then the structures timed in turn, round after round, medians of ``--repeats`` rounds.
Kept keys/values: what a keyframe's keys and values weigh while a model call runs (the kept tensors at each
in-between part of ``keyframes``, per keyframe kept), how many keyframes are kept at once at most, and what a
keyframe's weigh for real models at their usual size, computed from the published architectures (fp16, the positive
chunk; ``apply_to_uncond`` doubles it).

Target: time per frame of ``keyframes`` within 1.1x of ``two_endpoints``. Prints ``name=value`` lines, ratios last.
Needs a ComfyUI checkout: ``COMFYUI_PATH=... python benchmarks/keyframes.py`` (``--threads 1`` on a shared machine).
"""

import argparse

import harness
from harness import interleaved, setup

KEYFRAMES, SEGMENT_FRAMES, MAX_ROWS = 4, 10, 4
FRAMES = (KEYFRAMES - 1) * SEGMENT_FRAMES + 1
TIME_TARGET = 1.1
FP16 = 2

# Keys and values an endpoint brings to AID, per model: (tokens of each self-attention, its width) and (text tokens,
# the cross-attention widths), from the architectures ComfyUI loads. SD1.5 at 512x512 (64x64 latent): transformer
# blocks at 64x64 (320 wide, 5 of them), 32x32 (640, 5) and 16x16 (1280, 6 with the middle block), 77 text tokens.
# SDXL at 1024x1024 (128x128 latent): no attention at 128x128; 64x64 640 wide (2 + 3 blocks of 2 transformers),
# 32x32 1280 wide (2 + 3 blocks of 10, and 10 in the middle).
UNETS = {
    "sd15_512": [(64 * 64, 320)] * 5 + [(32 * 32, 640)] * 5 + [(16 * 16, 1280)] * 6,
    "sdxl_1024": [(64 * 64, 640)] * 10 + [(32 * 32, 1280)] * 60,
}
TEXT_TOKENS = 77
# Flux dev at 1024x1024: 4096 image tokens and 512 T5 tokens joined in 19 double and 38 single blocks, 3072 wide.
FLUX = dict(blocks=19 + 38, tokens=4096 + 512, width=3072)


def kept_mib_per_keyframe() -> dict:
    """MiB of keys and values one keyframe brings to every AID layer, fp16, positive chunk, ``self + cross``."""
    figures = {}
    for name, layers in UNETS.items():
        values = sum(2 * tokens * width + 2 * TEXT_TOKENS * width for tokens, width in layers)
        figures[name] = values * FP16 / 2**20
    figures["flux_1024"] = FLUX["blocks"] * 2 * FLUX["tokens"] * FLUX["width"] * FP16 / 2**20
    return figures


def keyframe_sampler(pack, model, keyframes: int, segment_frames: int, kept_sizes: list | None = None):
    """Samples the workload's keyframed sequence once; ``kept_sizes`` receives, per model call, the bytes of the
    keys/values kept for the in-between parts."""
    import torch

    import nodes as comfy_nodes

    n = pack.nodes
    generator = torch.Generator().manual_seed(1)
    rows = None
    for _ in range(keyframes):
        rows = n.conditioning_nodes.AppendConditioningKeyframe.execute(
            [[torch.randn(1, 77, 768, generator=generator), {}]], "error", rows).args[0]
    negative = [[torch.randn(1, 77, 768, generator=generator), {}]]
    schedule = n.schedule_nodes.KeyframeSchedule.execute(
        keyframes=keyframes, frames_per_segment=segment_frames, loop=False, preset="classic",
        steps=harness.STEPS, alpha=2.0, beta=2.0, segment_frames="").args[0]
    positive = n.conditioning_nodes.KeyframeConditioningBatch.execute(rows, schedule, "lerp", "error").args[0]
    latent = n.latent_nodes.SharedNoiseLatent.execute(harness.LATENT * 8, harness.LATENT * 8, 1, schedule).args[0]
    patched = n.aid_nodes.AIDAttentionPatch.execute(model, schedule, "outer", True, "self + cross", 0.0, 0.5, False,
                                                    max_rows=MAX_ROWS).args[0]
    def run():
        original = None if kept_sizes is None else _watch_kept(n.attention_patch.plan, kept_sizes)
        try:
            return comfy_nodes.common_ksampler(patched, harness.SEED, harness.STEPS, harness.CFG, "euler", "normal",
                                               positive, negative, latent)[0]["samples"]
        finally:
            if original is not None:
                n.attention_patch.plan.part_plan = original
    return run


def _watch_kept(plan_module, sizes: list):
    """Record, at each in-between part, the keyframes kept and their bytes: ``(keyframes, bytes)``. Wraps this
    pack's own ``part_plan`` for the measurement run only (undone by the caller)."""
    original = plan_module.part_plan

    def part_plan(part, config, active, whole, kept, device):
        if part.frames[0] not in config.keyframe_frames and kept:
            total = sum(x.numel() * x.element_size() for keyset in kept.values() for x in keyset if x is not None)
            sizes.append((len({end.keyframe for _, end in kept}), total))
        return original(part, config, active, whole, kept, device)

    plan_module.part_plan = part_plan
    return original


def two_endpoint_sampler(pack, model, frames: int):
    return harness.unet_sampler(pack, model, frames, dict(mode="outer", fused=True, end=0.5, max_rows=MAX_ROWS))


def main() -> None:
    global KEYFRAMES, SEGMENT_FRAMES, FRAMES
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    harness.add_arguments(parser, repeats=3)
    args = parser.parse_args()
    harness.apply_arguments(args)
    if args.quick:  # 3 keyframes keep an inner keyframe (kept for two segments); 3 frames a segment, 7 in all
        KEYFRAMES, SEGMENT_FRAMES = 3, 3
        FRAMES = (KEYFRAMES - 1) * SEGMENT_FRAMES + 1
    pack = setup()
    model = harness.unet_model()
    print(harness.machine_line())
    segments = [two_endpoint_sampler(pack, model, SEGMENT_FRAMES + 1) for _ in range(KEYFRAMES - 1)]
    runs = {"keyframes": keyframe_sampler(pack, model, KEYFRAMES, SEGMENT_FRAMES),
            "two_endpoints": two_endpoint_sampler(pack, model, FRAMES),
            "per_segment": lambda: [segment() for segment in segments]}
    seconds = interleaved(runs, args.repeats)
    frames = {"keyframes": FRAMES, "two_endpoints": FRAMES, "per_segment": (KEYFRAMES - 1) * (SEGMENT_FRAMES + 1)}
    for name, value in seconds.items():
        print(f"time_{name}_s={value:.3f}")
        print(f"frames_{name}={frames[name]}")
        print(f"time_per_frame_{name}_s={value / frames[name]:.4f}")

    sizes: list = []
    keyframe_sampler(pack, model, KEYFRAMES, SEGMENT_FRAMES, sizes)()
    print(f"kept_keys_values_per_keyframe_workload_mib={max(total / count for count, total in sizes) / 2**20:.2f}")
    print(f"kept_keyframes_at_once_max={max(count for count, _ in sizes)}")
    print(f"kept_keys_values_at_once_max_workload_mib={max(total for _, total in sizes) / 2**20:.2f}")
    for name, mib in kept_mib_per_keyframe().items():
        print(f"kept_keys_values_per_keyframe_{name}_mib={mib:.0f}")

    per_frame = seconds["keyframes"] / FRAMES / (seconds["two_endpoints"] / FRAMES)
    print(f"ratio_time_per_frame_keyframes_vs_two_endpoints={per_frame:.3f}")
    print(f"ratio_per_segment_vs_keyframes={seconds['per_segment'] / seconds['keyframes']:.3f}")
    verdict = "met" if per_frame <= TIME_TARGET else "missed"
    print(f"target_time_per_frame_keyframes_vs_two_endpoints={verdict} ({per_frame:.2f}, <= {TIME_TARGET})")


if __name__ == "__main__":
    main()
