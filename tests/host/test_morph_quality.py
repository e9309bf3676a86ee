"""benchmarks/morph_quality.py: FreeMorph's table end to end on the test checkpoint (two tiny data sets, both layouts,
the img2img morph and a picture morph given as module:function), its numbers against a hand computation, and the
skip lines when data, checkpoint or LPIPS weights are absent."""

import importlib.util
import math
import re

import numpy as np
import pytest
import torch
from comfy_host import PACK_DIR
from PIL import Image

SIZE, FRAMES = 32, 4
# Flat colours in 1/255 steps: Image Scale's lanczos (through 8-bit PIL pictures) keeps them exactly.
COLOURS = {"cat": ((51, 102, 153), (204, 102, 0)), "car": ((0, 0, 0), (255, 255, 255)),
           "dog": ((10, 20, 30), (40, 20, 0))}


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("morph_quality", PACK_DIR / "benchmarks" / "morph_quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def crossfade(inputs):
    """A picture morph for the test: frames (1 - t) A + t B at t = k / (frames - 1), the pictures as ends."""
    t = torch.linspace(0, 1, inputs.frames).reshape(-1, 1, 1, 1)
    return (1 - t) * inputs.picture_a + t * inputs.picture_b


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """MorphBench in FreeMorph's layout (<pair>_0.png, <pair>_1.png), Morph4Data one folder per pair."""
    root = tmp_path_factory.mktemp("data")
    for name, (a, b) in COLOURS.items():
        if name == "dog":
            folder = root / "morph4data" / "class_d" / name
            folder.mkdir(parents=True)
            paths = folder / "first.png", folder / "second.png"
        else:
            (root / "morphbench").mkdir(exist_ok=True)
            paths = root / "morphbench" / f"{name}_0.png", root / "morphbench" / f"{name}_1.png"
        for colour, path in zip((a, b), paths):
            Image.new("RGB", (48, 40), colour).save(path)
    (root / "morphbench" / "notes.txt").write_text("not a picture")
    return root


def test_pairs_are_found_in_both_layouts(bench, data):
    pairs = bench.find_pairs(data / "morphbench")
    assert [(p.name, p.first.name, p.last.name) for p in pairs] == [("car", "car_0.png", "car_1.png"),
                                                                    ("cat", "cat_0.png", "cat_1.png")]
    (dog,) = bench.find_pairs(data / "morph4data")
    assert (dog.name, dog.first.name, dog.last.name) == ("class_d/dog", "first.png", "second.png")


def test_without_data_or_checkpoint_it_says_so_and_exits_0(bench, capsys, tmp_path):
    assert bench.main([]) == 0
    out = capsys.readouterr().out
    assert "skipped: no checkpoint given (--checkpoint FILE)" in out
    assert "skipped: no data set given (--morphbench DIR, --morph4data DIR)" in out
    assert bench.main(["--checkpoint", str(tmp_path / "sd21.safetensors"), "--morph4data", str(tmp_path / "m4d")]) == 0
    out = capsys.readouterr().out
    assert f"skipped: checkpoint {tmp_path / 'sd21.safetensors'} not found" in out
    assert f"skipped: Morph4Data: no folder {tmp_path / 'm4d'}" in out


def test_missing_lpips_weights_are_named_before_anything_loads(bench, capsys, data, test_checkpoint, tmp_path):
    pytest.importorskip("lpips", reason="the 'lpips' package is not installed here")
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        assert bench.main(["--checkpoint", str(test_checkpoint), "--morphbench", str(data / "morphbench")]) == 0
    finally:
        torch.hub.set_dir(previous)
    assert re.search(r"skipped: morph_quality: input 'distance': lpips needs torchvision's AlexNet weights at .*"
                     r"alexnet-owt-7be5be79.pth, which is missing", capsys.readouterr().out)


def rms(a, b):
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)) / 3) / 255


def test_the_packs_picture_morph_keeps_the_pictures(bench, data, test_checkpoint):
    """The benchmark's own picture morph (Picture Morph Latents, Picture Morph Attention, Keep Picture Ends) on the test
    checkpoint: the pictures come back as the first and last frame, the in-betweens are sampled."""
    import comfy.sd

    pack = bench.import_comfy(True)
    model, clip, vae = comfy.sd.load_checkpoint_guess_config(str(test_checkpoint), output_vae=True,
                                                             output_clip=True)[:3]
    pictures = [bench.load_picture(data / "morphbench" / f"cat_{i}.png", SIZE) for i in (0, 1)]
    frames = bench.picture_morph(bench.MorphInputs(pack, model, clip, vae, *pictures, "a dog", "a cat", "", FRAMES, 4,
                                                   2.0, 0.5, 0))
    assert frames.shape == (FRAMES, SIZE, SIZE, 3)
    assert torch.equal(frames[0], pictures[0][0]) and torch.equal(frames[-1], pictures[1][0])


def test_freemorphs_table_for_both_morphs(bench, capsys, data, test_checkpoint):
    code = bench.main(["--checkpoint", str(test_checkpoint), "--morphbench", str(data / "morphbench"), "--morph4data",
                       str(data / "morph4data"), "--picture-morph", f"{__file__}:crossfade", "--distance", "pixel",
                       "--frames", str(FRAMES), "--size", str(SIZE), "--steps", "2", "--cfg", "2.0", "--cpu"])
    out = capsys.readouterr().out
    assert code == 0, out
    rows = {tuple(cell.strip() for cell in line.split("|")[1:3]): [cell.strip() for cell in line.split("|")[3:-1]]
            for line in out.splitlines() if line.startswith("| Morph")}
    assert set(rows) == {(d, m) for d in ("MorphBench", "Morph4Data") for m in ("img2img morph", "picture morph")}

    # The cross-fade of two flat colours: every pixel step is RMS(B - A) / (frames - 1), so a sequence's distance sum
    # is RMS(B - A), its PPL that / 0.2^2, its PDV 0; the data set's sums add the pairs'.
    sums = {"MorphBench": rms(*COLOURS["cat"]) + rms(*COLOURS["car"]), "Morph4Data": rms(*COLOURS["dog"])}
    for data_set, expected in sums.items():
        pairs, lpips_sum, per_pair, fid, ppl_sum, pdv = rows[(data_set, "picture morph")]
        assert int(pairs) == (2 if data_set == "MorphBench" else 1)
        assert float(lpips_sum) == pytest.approx(expected, abs=6e-3) and float(pdv) == pytest.approx(0.0, abs=1e-6)
        assert float(ppl_sum) == pytest.approx(expected / 0.04, abs=0.15)
        assert re.search(rf"^{data_set.lower()}_picture_morph_lpips_sum=(\S+)$", out, re.M)
        value = float(re.search(rf"^{data_set.lower()}_picture_morph_ppl_sum=(\S+)$", out, re.M).group(1))
        assert value == pytest.approx(expected / 0.04, rel=1e-4)
        assert fid.startswith("skipped") or float(fid) >= 0, "FID: a number, or why not"
    img2img = rows[("MorphBench", "img2img morph")]
    assert float(img2img[2]) > 0 and np.isfinite(float(img2img[4])), out  # the random VAE's pictures barely move
    assert "pixel RMS difference; PPL epsilon 0.2; 4 frames at 32x32, 2 steps" in out
