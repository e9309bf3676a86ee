"""FreeMorph's table for the pack's morphs (issue 28): LPIPS_sum, FID and PPL_sum over MorphBench and Morph4Data, for
the picture morph and for today's img2img morph (``Picture morph img2img (SD1.5)``'s graph).

What each column is (FreeMorph, ICCV 2025, Table 1; see ``web/docs/InbetweenInterpolationMetrics/en.md``):

- ``LPIPS_sum``: LPIPS summed over the adjacent frames of each sequence, then over the pairs of the data set
  (FreeMorph's "Overall" column adds its two data sets' sums, so its sums run over pairs); ``LPIPS/pair`` is the same
  per sequence.
- ``FID``: Frechet Inception distance of all in-between frames of the data set against all its input pictures, by
  torchmetrics or pytorch-fid when one is installed and its Inception weights are in torch's hub cache; else skipped,
  and the line says why.
- ``PPL_sum``: each sequence's LPIPS sum / 0.2^2 (FreeMorph's PPL_sum is 25 x its LPIPS_sum in every row), summed over
  the pairs.
- ``PDV``: DiffMorpher's variance of the adjacent distances, averaged over the pairs.

Data: ``--morphbench`` and ``--morph4data`` folders in FreeMorph's layout (``<pair>_0.jpg`` and ``<pair>_1.jpg``) or one
folder per pair holding its two pictures (first and last by name). Each picture is scaled to ``--size`` (center crop,
lanczos, as the workflow's Image Scale node). Prompts: ``--captions`` (a JSON object, pair name -> [prompt A, prompt B],
as FreeMorph's ``caption.py`` writes them with BLIP) or ``--prompt`` for both ends.

The two morphs are built by functions of :class:`MorphInputs` returning the frames (IMAGE ``[frames, H, W, 3]``):
:func:`img2img_morph` (Slerp Latent with shared noise, Conditioning Interpolation Batch, AID Attention Patch,
KSampler at ``--denoise``) and :func:`picture_morph` (FreeMorph's graph: Picture Morph Latents at strength ``--denoise``,
Picture Morph Attention, SamplerCustom, Keep Picture Ends), or another function of the same shape given as
``--picture-morph module:function``. A data set, checkpoint or LPIPS weight file that is
absent is named and skipped, exit status 0: nothing is downloaded.

    COMFYUI_PATH=/path/to/ComfyUI python benchmarks/morph_quality.py --checkpoint sd21.safetensors \\
        --morphbench data/MorphBench --morph4data data/Morph4Data
"""

import argparse
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
NODE = "morph_quality"
PPL_EPSILON = 0.2  # FreeMorph's: its PPL_sum is 25 x its LPIPS_sum
# Inception weight files in torch's hub cache (checkpoints/): torch-fidelity's, which torchmetrics' FID loads, and
# pytorch-fid's.
TORCHMETRICS_INCEPTION = "weights-inception-2015-12-05-6726825d.pth"
PYTORCH_FID_INCEPTION = "pt_inception-2015-12-05-6726825d.pth"


@dataclass(frozen=True)
class Pair:
    name: str
    first: Path
    last: Path


@dataclass(frozen=True)
class MorphInputs:
    """What a morph gets for one pair: the pack (``pack.nodes``), the checkpoint's parts, the two pictures as IMAGE
    ``[1, size, size, 3]``, the prompts (strings) and the settings."""

    pack: object
    model: object
    clip: object
    vae: object
    picture_a: object
    picture_b: object
    prompt_a: str
    prompt_b: str
    negative: str
    frames: int
    steps: int
    cfg: float
    denoise: float
    seed: int


Morph = Callable[[MorphInputs], object]


def find_pairs(folder: Path) -> list[Pair]:
    """The pairs below ``folder``: files ``<name>_0.<ext>`` with ``<name>_1.<ext>`` beside them, and every folder
    holding exactly two pictures (first and last by sorted name), sorted by name."""
    pairs = []
    for place, _, files in sorted(os.walk(folder)):
        pictures = sorted(f for f in files if f.lower().endswith(PICTURE_SUFFIXES))
        stems = {Path(f).stem: f for f in pictures}
        paired = [(stem[:-2], stems[stem], stems[stem[:-2] + "_1"]) for stem in sorted(stems)
                  if stem.endswith("_0") and stem[:-2] + "_1" in stems]
        for name, first, last in paired:
            pairs.append(Pair(str(Path(place, name).relative_to(folder)), Path(place, first), Path(place, last)))
        if not paired and len(pictures) == 2:
            pairs.append(Pair(str(Path(place).relative_to(folder)), Path(place, pictures[0]), Path(place, pictures[1])))
    return sorted(pairs, key=lambda pair: pair.name)


def load_picture(path: Path, size: int):
    """A picture file as IMAGE [1, size, size, 3], scaled as the workflow's Image Scale node (lanczos, center)."""
    import numpy as np
    import torch
    from PIL import Image

    import nodes as comfy_nodes

    with Image.open(path) as picture:
        pixels = np.asarray(picture.convert("RGB"), dtype=np.float32) / 255.0
    image = torch.from_numpy(pixels)[None]
    return comfy_nodes.ImageScale().upscale(image, "lanczos", size, size, "center")[0]


def img2img_morph(inputs: MorphInputs):
    """Today's img2img morph, as ``Picture morph img2img (SD1.5)`` builds it: each picture VAE-encoded alone, Slerp Latent at a
    uniform schedule with shared noise, prompt A -> B by Conditioning Interpolation Batch, AID Attention Patch (its
    defaults, ``max_rows`` 2 per in-between so the end frames are img2img of each picture alone), one KSampler
    (euler, normal) at ``denoise``, VAE Decode."""
    import nodes as comfy_nodes

    n = inputs.pack.nodes
    schedule = n.schedule_nodes.BetaCoefficientSchedule.execute(inputs.frames, "uniform", inputs.steps, 1.0, 1.0, 0.0,
                                                                1.0).args[0]
    latent_a, latent_b = (comfy_nodes.VAEEncode().encode(inputs.vae, picture)[0]
                          for picture in (inputs.picture_a, inputs.picture_b))
    latent = n.latent_nodes.SlerpLatent.execute(latent_a, latent_b, "slerp", 0.5, schedule, shared_noise=True).args[0]
    encode = lambda text: comfy_nodes.CLIPTextEncode().encode(inputs.clip, text)[0]
    positive = n.conditioning_nodes.ConditioningInterpolationBatch.execute(
        encode(inputs.prompt_a), encode(inputs.prompt_b), schedule, "lerp", "error").args[0]
    model = n.aid_nodes.AIDAttentionPatch.execute(inputs.model, schedule, mode="outer", fused=True,
                                                  layers="self + cross", start_percent=0.0, end_percent=0.5,
                                                  apply_to_uncond=False, max_rows=2 * (inputs.frames - 2)).args[0]
    samples = comfy_nodes.common_ksampler(model, inputs.seed, inputs.steps, inputs.cfg, "euler", "normal", positive,
                                          encode(inputs.negative), latent, denoise=inputs.denoise)[0]
    return comfy_nodes.VAEDecode().decode(inputs.vae, samples)[0]


def picture_morph(inputs: MorphInputs):
    """The picture morph, as ``Picture morph FreeMorph (SD2.1)`` builds it (FreeMorph's settings): captions A -> B by Conditioning
    Interpolation Batch at a uniform schedule, Picture Morph Latents (BasicScheduler ``ddim_uniform`` at ``steps``,
    strength ``denoise``, 5 iterations), SamplerCustom (ddim, noise off) with Picture Morph Attention at Beta(20, 20),
    VAE Decode, Keep Picture Ends (the pictures as the ends)."""
    import comfy.sample
    import comfy.samplers
    import torch

    import nodes as comfy_nodes

    n = inputs.pack.nodes
    schedule = lambda preset, alpha: n.schedule_nodes.BetaCoefficientSchedule.execute(  # noqa: E731
        inputs.frames, preset, inputs.steps, alpha, alpha, 0.0, 1.0).args[0]
    uniform, beta = schedule("uniform", 1.0), schedule(n.schedule_nodes.PRESET_CUSTOM, 20.0)
    latent_a, latent_b = (comfy_nodes.VAEEncode().encode(inputs.vae, picture)[0]
                          for picture in (inputs.picture_a, inputs.picture_b))
    encode = lambda text: comfy_nodes.CLIPTextEncode().encode(inputs.clip, text)[0]  # noqa: E731
    positive = n.conditioning_nodes.ConditioningInterpolationBatch.execute(
        encode(inputs.prompt_a), encode(inputs.prompt_b), uniform, "lerp", "error").args[0]
    sigmas = comfy.samplers.calculate_sigmas(inputs.model.get_model_object("model_sampling"), "ddim_uniform",
                                             inputs.steps).cpu()
    start, sampled = n.picture_morph_nodes.PictureMorphLatents.execute(
        inputs.model, positive, latent_a, latent_b, uniform, sigmas, inputs.denoise, 5, 0.3, 0.6, 0.875,
        inputs.seed).args
    model = n.picture_morph_nodes.PictureMorphAttention.execute(inputs.model, beta, 0.2, 0.6, "self + cross", False,
                                                                0).args[0]
    samples = comfy.sample.sample_custom(model, torch.zeros_like(start["samples"]), inputs.cfg,
                                         comfy.samplers.sampler_object("ddim"), sampled, positive,
                                         encode(inputs.negative), start["samples"], seed=inputs.seed)
    frames = comfy_nodes.VAEDecode().decode(inputs.vae, {"samples": samples})[0]
    return n.picture_morph_nodes.KeepPictureEnds.execute(frames, inputs.picture_a, inputs.picture_b,
                                                         "pictures").args[0]


def load_morph(spec: str) -> Morph:
    """``module:function`` (the module importable, or a path to a .py file) -> that function."""
    module_name, _, function = spec.rpartition(":")
    if not module_name or not function:
        raise SystemExit(f"--picture-morph wants module:function, got {spec!r}")
    if module_name.endswith(".py"):
        spec_ = importlib.util.spec_from_file_location(Path(module_name).stem, module_name)
        module = importlib.util.module_from_spec(spec_)
        spec_.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    return getattr(module, function)


def sequence_scores(pack, measure, frames) -> dict:
    """The morphing papers' numbers of one sequence (IMAGE batch) with the distance backend ``measure``:
    ``inbetween.metrics.sequence_metrics`` at FreeMorph's epsilon."""
    metrics = pack.inbetween.metrics
    d = metrics.adjacent_distances(measure.embed(frames), measure.distance)
    return metrics.sequence_metrics(d, ppl_epsilon=PPL_EPSILON)


def fid(inputs: list, inbetweens: list) -> tuple[float | None, str]:
    """FID of the in-between frames against the input pictures (IMAGE batches): (value, how) or (None, why not)."""
    import numpy as np
    import torch

    real, fake = torch.cat(inputs), torch.cat(inbetweens)
    if min(len(real), len(fake)) < 2:
        return None, "skipped: FID needs at least 2 pictures on each side"
    checkpoints = Path(torch.hub.get_dir(), "checkpoints")
    try:
        from torchmetrics.image.fid import FrechetInceptionDistance
    except ImportError:
        FrechetInceptionDistance = None
    if FrechetInceptionDistance is not None:
        if not (checkpoints / TORCHMETRICS_INCEPTION).is_file():
            return None, f"skipped: torchmetrics' Inception weights {checkpoints / TORCHMETRICS_INCEPTION} are missing"
        measure = FrechetInceptionDistance(feature=2048, normalize=True)
        measure.update(real.movedim(-1, 1).float(), real=True)
        measure.update(fake.movedim(-1, 1).float(), real=False)
        return float(measure.compute()), "torchmetrics"
    try:
        from pytorch_fid.fid_score import calculate_frechet_distance
        from pytorch_fid.inception import InceptionV3
    except ImportError:
        return None, "skipped: neither torchmetrics nor pytorch-fid is installed"
    if not (checkpoints / PYTORCH_FID_INCEPTION).is_file():
        return None, f"skipped: pytorch-fid's Inception weights {checkpoints / PYTORCH_FID_INCEPTION} are missing"
    network = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    with torch.no_grad():
        features = [network(side.movedim(-1, 1).float())[0].flatten(1).double().numpy() for side in (real, fake)]
    stats = [(f.mean(axis=0), np.cov(f, rowvar=False)) for f in features]
    return float(calculate_frechet_distance(*stats[0], *stats[1])), "pytorch-fid"


def score_data_set(pack, measure, parts, pairs: list[Pair], morph: Morph, args, captions: dict) -> dict:
    """Runs ``morph`` on every pair and adds up FreeMorph's columns."""
    totals = {"pairs": 0, "lpips_sum": 0.0, "ppl_sum": 0.0, "pdv_sum": 0.0}
    inputs, inbetweens = [], []
    for pair in pairs:
        pictures = [load_picture(path, args.size) for path in (pair.first, pair.last)]
        prompt_a, prompt_b = captions.get(pair.name, (args.prompt, args.prompt))
        frames = morph(MorphInputs(pack, *parts, *pictures, prompt_a, prompt_b, args.negative, args.frames, args.steps,
                                   args.cfg, args.denoise, args.seed))
        scores = sequence_scores(pack, measure, frames)
        totals["pairs"] += 1
        totals["lpips_sum"] += scores["distance_sum"]
        totals["ppl_sum"] += scores["ppl"]
        totals["pdv_sum"] += scores["pdv"]
        inputs += pictures
        inbetweens.append(frames[1:-1])
        print(f"  {pair.name}: distance sum {scores['distance_sum']:.4f}, PPL {scores['ppl']:.2f}, "
              f"PDV {scores['pdv']:.6f}", flush=True)
    totals["fid"], totals["fid_how"] = fid(inputs, inbetweens) if inbetweens else (None, "skipped: no pairs")
    return totals


def table(results: dict) -> list[str]:
    """FreeMorph's table as Markdown lines, then ``name=value`` lines; ``results[(data set, method)]`` is a totals dict
    or a string saying why that row was skipped."""
    lines = ["| data set | method | pairs | LPIPS_sum | LPIPS/pair | FID | PPL_sum | PDV (mean) |",
             "|---|---|---|---|---|---|---|---|"]
    values = []
    for (data_set, method), row in results.items():
        if isinstance(row, str):
            lines.append(f"| {data_set} | {method} | {row} | | | | | |")
            continue
        count = row["pairs"]
        fid_text = f"{row['fid']:.2f}" if row["fid"] is not None else row["fid_how"]
        lines.append(f"| {data_set} | {method} | {count} | {row['lpips_sum']:.4f} | {row['lpips_sum'] / count:.4f} | "
                     f"{fid_text} | {row['ppl_sum']:.2f} | {row['pdv_sum'] / count:.6f} |")
        key = f"{data_set.lower()}_{method.replace(' ', '_')}"
        values += [f"{key}_lpips_sum={row['lpips_sum']:.4f}", f"{key}_ppl_sum={row['ppl_sum']:.4f}",
                   f"{key}_pdv_mean={row['pdv_sum'] / count:.6f}"]
        if row["fid"] is not None:
            values.append(f"{key}_fid={row['fid']:.4f}")
    return lines + [""] + values


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="a checkpoint file (model, CLIP and VAE), e.g. SD 2.1 768")
    parser.add_argument("--morphbench", type=Path, help="MorphBench's folder (DiffMorpher's 90 pairs)")
    parser.add_argument("--morph4data", type=Path, help="Morph4Data's folder (FreeMorph's 76 pairs)")
    parser.add_argument("--picture-morph", help="module:function (or path.py:function) running the picture morph on "
                                                "a MorphInputs instead of the pack's (picture_morph)")
    parser.add_argument("--distance", default="lpips", help="the distance backend (default lpips: AlexNet LPIPS, as "
                                                            "IMPUS's evaluation code)")
    parser.add_argument("--frames", type=int, default=7, help="frames per sequence, ends included (FreeMorph: 7)")
    parser.add_argument("--size", type=int, default=768, help="picture size (FreeMorph: 768 on SD 2.1)")
    parser.add_argument("--steps", type=int, default=50, help="sampling steps (FreeMorph: 50)")
    parser.add_argument("--cfg", type=float, default=7.5, help="classifier-free guidance (FreeMorph: 7.5)")
    parser.add_argument("--denoise", type=float, default=0.8, help="img2img denoise (FreeMorph's strength: 0.8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prompt", default="", help="prompt of both ends when --captions has none for a pair")
    parser.add_argument("--negative", default="", help="negative prompt")
    parser.add_argument("--captions", type=Path, help="JSON object: pair name -> [prompt A, prompt B]")
    parser.add_argument("--limit", type=int, default=0, help="at most this many pairs per data set (0: all)")
    parser.add_argument("--cpu", action="store_true", help="run on the CPU even where a GPU is")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--quick", action="store_true", help="the smallest run: 3 frames at 32x32, 2 steps, one pair "
                                                             "per data set (CI checks it runs; the figures mean nothing)")
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.size, args.steps, args.limit = 3, 32, 2, 1
    return args


def missing(args) -> list[str]:
    """Why nothing can run, one line per reason: the data sets, checkpoint and ComfyUI that are absent."""
    reasons = []
    if not os.environ.get("COMFYUI_PATH"):
        reasons.append("skipped: COMFYUI_PATH is not set (a ComfyUI checkout runs the morphs)")
    if args.checkpoint is None:
        reasons.append("skipped: no checkpoint given (--checkpoint FILE)")
    elif not args.checkpoint.is_file():
        reasons.append(f"skipped: checkpoint {args.checkpoint} not found")
    if args.morphbench is None and args.morph4data is None:
        reasons.append("skipped: no data set given (--morphbench DIR, --morph4data DIR)")
    return reasons


def data_sets(args) -> tuple[dict, list[str]]:
    """``{name: pairs}`` of the data sets found, and a line for each one given but absent or empty."""
    found, notes = {}, []
    for name, folder in (("MorphBench", args.morphbench), ("Morph4Data", args.morph4data)):
        if folder is None:
            continue
        pairs = find_pairs(folder) if folder.is_dir() else []
        if not pairs:
            notes.append(f"skipped: {name}: {'no picture pairs in' if folder.is_dir() else 'no folder'} {folder}")
            continue
        found[name] = pairs[: args.limit] if args.limit else pairs
    return found, notes


def import_comfy(cpu: bool):
    """ComfyUI imported (on the CPU when asked or when no GPU is there) and the pack as ComfyUI loads it."""
    sys.path.insert(0, str(REPO / "tests" / "host"))
    import comfy_host
    import torch

    comfy_host.import_comfy(cpu or not torch.cuda.is_available())
    return comfy_host.load_pack()


def run(args) -> int:
    reasons = missing(args)
    found, notes = data_sets(args)
    for line in reasons + notes:
        print(line)
    if reasons or not found:
        return 0
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    pack = import_comfy(args.cpu)
    try:  # the distance first: a missing LPIPS weight file stops before minutes of loading
        measure = pack.nodes.distance_backends.backend(args.distance, NODE)
    except ValueError as err:
        print(f"skipped: {err}")
        return 0
    import comfy.sd

    parts = comfy.sd.load_checkpoint_guess_config(str(args.checkpoint), output_vae=True, output_clip=True)[:3]
    captions = json.loads(args.captions.read_text()) if args.captions else {}
    morphs = {"img2img morph": img2img_morph}
    morphs["picture morph"] = load_morph(args.picture_morph) if args.picture_morph else picture_morph
    results = {}
    with torch.inference_mode():
        for data_set, pairs in found.items():
            for method, morph in morphs.items():
                if isinstance(morph, str):
                    results[(data_set, method)] = morph
                    continue
                print(f"{data_set}, {method}: {len(pairs)} pairs", flush=True)
                results[(data_set, method)] = score_data_set(pack, measure, parts, pairs, morph, args, captions)
    print(f"\n{measure.label}; PPL epsilon {PPL_EPSILON}; {args.frames} frames at {args.size}x{args.size}, "
          f"{args.steps} steps, cfg {args.cfg}, denoise {args.denoise}\n")
    print("\n".join(table(results)))
    return 0


def main(argv=None) -> int:
    return run(parse(argv))


if __name__ == "__main__":
    sys.exit(main())
