"""Video morphs (issue 32): what AID across the clip rows changes between neighbouring Wan clips, per ``layers``.

Workload: the host suite's tiny Wan 2.1 FLF2V (through ComfyUI's detection, width 64, 2 blocks, random weights), a
random Wan 2.1 VAE and the tiny CLIP vision model; 5 stills of 64x64 that change step by step (a linear blend of two
smooth random pictures, standing in for a picture morph's frames); Wan Clips From Stills with clips of 9 frames
(3 latent frames of 8x8), open and looping; KSampler, euler, 8 steps, cfg 5, one seed. Each variant samples the same
clip rows: ``off`` (no AID), then AID Attention Patch (fused outer, the first half of the steps, a uniform schedule
with a row per clip, so the first and last clip are its ends) with ``layers`` ``cross``, ``self``, ``self + cross``.

Per variant, on the sampled clip latents ``[C, 3 frames, 8, 8]``, RMS over elements (in latent space: the random
VAE decodes every latent to nearly the same grey, so pixels would hide the differences):

- ``seam``: clip r's last latent frame against clip r + 1's first, averaged over the boundaries: how far two clips
  disagree about the still they share;
- ``neighbour``: clip r against clip r + 1, whole clips: how alike neighbouring clips are;
- ``start``: each clip's first latent frame against its still as Wan's VAE encodes it (the first frame of the row's
  concat latent): how closely the clips keep to their stills.

Random weights denoise nothing real: the numbers show what AID changes, not what a trained Wan does with it.
Prints ``name=value`` lines. ``COMFYUI_PATH=... python benchmarks/video_morph.py`` (``--threads 1`` on a shared
machine).
"""

import argparse
import sys
import tempfile
from pathlib import Path

from harness import setup

STILLS, SIZE, LENGTH, STEPS, CFG, SEED = 5, 64, 9, 8, 5.0, 0
VARIANTS = ("off", "cross", "self", "self + cross")


def stills():
    """STILLS pictures a linear blend apart, from two smooth random pictures (8x8 noise scaled up)."""
    import torch

    generator = torch.Generator().manual_seed(5)
    ends = torch.rand(2, 3, 8, 8, generator=generator)
    ends = torch.nn.functional.interpolate(ends, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    weights = torch.linspace(0, 1, STILLS)[:, None, None, None]
    return ((1 - weights) * ends[:1] + weights * ends[1:]).movedim(1, -1).contiguous()


def rms(a, b) -> float:
    return (a - b).pow(2).mean().sqrt().item()


def measure(pack, parts, loop: bool, steps: int) -> None:
    import torch

    import nodes as comfy_nodes

    n = pack.nodes
    with torch.no_grad():
        positive, negative, latent = n.video_morph_nodes.WanClipsFromStills.execute(
            parts["positive"], parts["negative"], parts["vae"], parts["stills"], SIZE, SIZE, LENGTH, loop,
            parts["encoded"], parts["model"]).args
        rows = latent["samples"].shape[0]
        schedule = n.schedule_nodes.BetaCoefficientSchedule.execute(
            frames=rows, preset="uniform", steps=steps, alpha=2.0, beta=2.0, start=0.0, end=1.0).args[0]
        for variant in VARIANTS:
            model = parts["model"] if variant == "off" else n.aid_nodes.AIDAttentionPatch.execute(
                parts["model"], schedule, "outer", True, variant, 0.0, 0.5, False, 0).args[0]
            sampled = comfy_nodes.common_ksampler(model, SEED, steps, CFG, "euler", "simple", positive, negative,
                                                  latent)[0]
            clips = sampled["samples"]
            stills_latent = positive[0][1]["concat_latent_image"][:, :, 0]
            seams = [rms(clips[r, :, -1], clips[r + 1, :, 0]) for r in range(rows - 1)]
            neighbours = [rms(clips[r], clips[r + 1]) for r in range(rows - 1)]
            starts = [rms(clips[r, :, 0], stills_latent[r]) for r in range(rows)]
            name = f"{'loop' if loop else 'open'}_{variant.replace(' + ', '_')}"
            for measure_name, values in (("seam", seams), ("neighbour", neighbours), ("start", starts)):
                print(f"{measure_name}_{name}={sum(values) / len(values):.5f}")
            sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--quick", action="store_true", help="open clips only, 2 steps: checks that it runs")
    args = parser.parse_args()
    pack = setup()
    import torch

    import tiny_models
    from aid_support import dit_conditioning

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder, torch.no_grad():
        clip_vision = tiny_models.build_wan_clip_vision(Path(folder) / "config.json")
        pictures = stills()
        parts = dict(model=tiny_models.build_wan_flf2v_model_patcher(seed=0), vae=tiny_models.build_wan_vae(seed=1),
                     stills=pictures, encoded=clip_vision.encode_image(pictures), positive=dit_conditioning(1),
                     negative=dit_conditioning(2))
    for loop in (False,) if args.quick else (False, True):
        measure(pack, parts, loop, 2 if args.quick else STEPS)


if __name__ == "__main__":
    main()
