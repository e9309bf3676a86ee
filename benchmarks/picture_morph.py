"""Picture morphs (issue 28): how exactly inversion gives a latent back, and what a FreeMorph morph costs against
today's img2img morph.

Workload: the fixed UNet workload (``harness.py``: SD1.5-shaped UNet with 64 model channels, random weights, 32x32
latent, cfg 5, shared noise), two random "pictures" (latents), 7 frames.

- ``inversion``: a latent inverted by Invert Latent (strength 0.8, the "normal" schedule) and sampled back by
  SamplerCustom (Euler, cfg 1, noise off); the relative RMS error ``|back - latent| / |latent|`` for steps x
  iterations. A random-weight UNet is a rough denoiser: the numbers say how the error falls, not what a trained model
  reaches.
- ``cost``: one morph of 7 frames at 10 steps, strength (denoise) 0.8, in two graphs: ``img2img`` (Slerp Latent with
  shared noise, AID Attention Patch, KSampler at denoise 0.8: 10 sampled steps of 14 rows) and ``picture_morph``
  (Picture Morph Latents, 5 iterations: 8 inverted steps of 7 rows (cfg 1), 5 model calls each, then SamplerCustom
  with Picture Morph Attention: 8 steps of 14 rows). Times interleaved, medians of ``--repeats`` rounds; peak resident
  memory of each in a fresh process. The model rows each graph runs predict the time ratio: the morph runs
  ``iterations x round(steps x strength) x N`` rows for inversion, cost that grows with ``iterations x strength``.

Prints ``name=value`` lines. Needs a ComfyUI checkout: ``COMFYUI_PATH=... python benchmarks/picture_morph.py``
(``--threads 1`` on a shared machine; ``--only inversion`` or ``--only cost``).
"""

import argparse
import sys

import harness
from harness import interleaved, setup

FRAMES, STEPS, STRENGTH, ITERATIONS = 7, 10, 0.8, 5
TABLE_STEPS, TABLE_ITERATIONS = (10, 20, 50), (1, 2, 5, 10)


def pictures():
    import torch

    generator = torch.Generator().manual_seed(3)
    return [{"samples": torch.randn(1, 4, harness.LATENT, harness.LATENT, generator=generator)} for _ in range(2)]


def sigmas(model, steps: int):
    import comfy.samplers

    return comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "normal", steps).cpu()


def inversion_table(pack, model) -> None:
    import comfy.sample
    import comfy.samplers
    import torch

    _, a, _, _ = harness.unet_inputs(pack, FRAMES)
    latent = pictures()[0]
    for steps in TABLE_STEPS:
        for iterations in TABLE_ITERATIONS:
            inverted, sampled = pack.nodes.picture_morph_nodes.InvertLatent.execute(
                model, a, latent, sigmas(model, steps), STRENGTH, iterations).args
            back = comfy.sample.sample_custom(model, torch.zeros_like(inverted["samples"]), 1.0,
                                              comfy.samplers.sampler_object("euler"), sampled, a, a,
                                              inverted["samples"], seed=0)
            error = torch.linalg.vector_norm(back - latent["samples"]) / torch.linalg.vector_norm(latent["samples"])
            print(f"inversion_error_steps{steps}_iterations{iterations}={float(error):.4g}", flush=True)


def morph_runs(pack, model) -> dict:
    """The two graphs, each a function that renders the 7 frames' latents."""
    import comfy.sample
    import comfy.samplers
    import torch

    import nodes as comfy_nodes

    nodes = pack.nodes
    schedule, a, b, negative = harness.unet_inputs(pack, FRAMES)
    positive = nodes.conditioning_nodes.ConditioningInterpolationBatch.execute(a, b, schedule, "lerp",
                                                                              "error").args[0]
    picture_a, picture_b = pictures()
    slerped = nodes.latent_nodes.SlerpLatent.execute(picture_a, picture_b, "slerp", 0.5, schedule, True).args[0]
    aid = nodes.aid_nodes.AIDAttentionPatch.execute(model, schedule, "outer", True, "self + cross", 0.0, 0.5,
                                                    False).args[0]
    morph_model = nodes.picture_morph_nodes.PictureMorphAttention.execute(model, schedule, 0.2, 0.6, "self + cross",
                                                                          False, 0).args[0]
    full = sigmas(model, STEPS)

    def img2img():
        return comfy_nodes.common_ksampler(aid, harness.SEED, STEPS, harness.CFG, "euler", "normal", positive,
                                           negative, slerped, denoise=STRENGTH)[0]["samples"]

    def picture_morph():
        start, sampled = nodes.picture_morph_nodes.PictureMorphLatents.execute(
            model, positive, picture_a, picture_b, schedule, full, STRENGTH, ITERATIONS, 0.3, 0.6, 0.875,
            harness.SEED).args
        return comfy.sample.sample_custom(morph_model, torch.zeros_like(start["samples"]), harness.CFG,
                                          comfy.samplers.sampler_object("euler"), sampled, positive, negative,
                                          start["samples"], seed=harness.SEED)

    return {"img2img": img2img, "picture_morph": picture_morph}


def main() -> None:
    global FRAMES, STEPS, ITERATIONS, TABLE_STEPS, TABLE_ITERATIONS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    harness.add_arguments(parser, repeats=3)
    parser.add_argument("--only", choices=["inversion", "cost"])
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)  # one run's peak memory, in a fresh process
    args = parser.parse_args()
    harness.apply_arguments(args)
    if args.quick:  # 4 frames, 5 steps (4 inverted at strength 0.8), 2 iterations: every part of both graphs runs
        FRAMES, STEPS, ITERATIONS, TABLE_STEPS, TABLE_ITERATIONS = 4, 5, 2, (5,), (1, 2)
    pack = setup()
    model = harness.unet_model()
    if args.memory_of:
        runs = morph_runs(pack, model)
        print(f'{{"mib": {harness.peak_memory(runs[args.memory_of]):.1f}}}')
        return
    print(harness.machine_line())
    if args.only != "cost":
        inversion_table(pack, model)
    if args.only == "inversion":
        return
    times = interleaved(morph_runs(pack, model), args.repeats)
    inverted = round(STEPS * STRENGTH)
    rows = {"img2img": STEPS * 2 * FRAMES, "picture_morph": ITERATIONS * inverted * FRAMES + inverted * 2 * FRAMES}
    for name, seconds in times.items():
        print(f"{name}_seconds_per_frame={seconds / FRAMES:.4f}")
        print(f"{name}_model_rows={rows[name]}")
        # A fresh process costs seconds of ComfyUI's import: --quick checks the path with one.
        if not args.quick or name == "picture_morph":
            memory = harness.in_fresh_process(sys.argv[0], f"--memory-of={name}", *harness.passed_on(args))["mib"]
            print(f"{name}_peak_mib={memory:.1f}")
    print(f"picture_morph_vs_img2img_time={times['picture_morph'] / times['img2img']:.2f}")
    print(f"picture_morph_vs_img2img_model_rows={rows['picture_morph'] / rows['img2img']:.2f}")


if __name__ == "__main__":
    main()
