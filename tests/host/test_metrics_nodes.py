"""Interpolation Metrics in a real ComfyUI: hand-computed scores (the AID paper's and the morphing papers' sum, PDV,
PPL, loops), the chart, and every distance backend (CLIP vision with a tiny random ComfyUI CLIP vision model; LPIPS
where it can and cannot run; LPIPS-VGG with AID's normalisation on random VGG16 weights against the AID reference's
steps)."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

PIXEL_BAR = (120, 190, 255)


@pytest.fixture(scope="module")
def node(pack):
    return pack.nodes.metrics_nodes.InterpolationMetrics


@pytest.fixture(scope="module")
def clip_vision(tmp_path_factory):
    import tiny_models

    return tiny_models.build_clip_vision(tmp_path_factory.mktemp("clip_vision") / "config.json", seed=0)


def frames_at(levels, size=8):
    """IMAGE batch whose frame k is uniformly grey at ``levels[k]``: pixel RMS distance = |level step|."""
    return torch.stack([torch.full((size, size, 3), float(v)) for v in levels])


def run(node, images, distance="pixel", clip_vision=None, **options):
    return node.execute(images, distance, clip_vision, **options).args


def test_equal_steps_score_smoothness_one(node):
    smoothness, consistency, largest, summary, chart, *_ = run(node, frames_at([0.0, 0.25, 0.5, 0.75, 1.0]))
    assert smoothness == pytest.approx(1.0, abs=1e-12), "Gini of equal distances is 0"
    assert consistency == pytest.approx(0.25, abs=1e-7) and largest == pytest.approx(0.25, abs=1e-7)
    assert "smoothness (1 - Gini of adjacent distances): 1.0000" in summary
    assert chart.shape == (1, 320, 512, 3) and 0.0 <= float(chart.min()) and float(chart.max()) <= 1.0


def test_one_jump_scores_gini_n_minus_one_over_n(node):
    # Four steps, only the last one moves: Gini = (n - 1) / n = 3 / 4, smoothness 1 / 4.
    smoothness, consistency, largest, summary, *_ = run(node, frames_at([0.0, 0.0, 0.0, 0.0, 0.8]))
    assert smoothness == pytest.approx(0.25, abs=1e-12)
    assert consistency == pytest.approx(0.2, abs=1e-7) and largest == pytest.approx(0.8, abs=1e-7)
    assert "(frames 3 -> 4)" in summary


def test_random_frames_match_an_independent_computation(node):
    images = torch.rand(6, 16, 16, 3, generator=torch.Generator().manual_seed(0))
    smoothness, consistency, largest, summary, _, total, pdv, ppl, closing = run(node, images)
    x = images.double().numpy()
    d = np.sqrt(((x[1:] - x[:-1]) ** 2).reshape(5, -1).mean(axis=1))
    sorted_d = np.sort(d)
    gini = 2 * (np.arange(1, 6) * sorted_d).sum() / (5 * sorted_d.sum()) - 6 / 5  # rank form, not the pairwise one
    assert smoothness == pytest.approx(1 - gini, abs=1e-6)
    assert consistency == pytest.approx(d.mean(), abs=1e-6) and largest == pytest.approx(d.max(), abs=1e-6)
    assert "adjacent distances: [" + ", ".join(f"{v:.4f}" for v in d) + "]" in summary
    assert total == pytest.approx(d.sum(), abs=1e-6) and pdv == pytest.approx(np.var(d), abs=1e-7)
    assert ppl == pytest.approx(d.sum() / 0.2**2, rel=1e-6)
    assert closing == pytest.approx(np.sqrt(((x[0] - x[-1]) ** 2).mean()), abs=1e-6)


def test_chart_bars_are_proportional_to_the_distances(node):
    """Measure the bars in the picture: steps 0.1, 0.2, 0.4 must draw bars of heights 1 : 2 : 4."""
    chart = run(node, frames_at([0.0, 0.1, 0.3, 0.7]))[4]
    pixels = (chart[0].numpy() * 255).round().astype(int)
    is_bar = (pixels == np.array(PIXEL_BAR)).all(axis=-1)
    plot_left, plot_width = 52, 512 - 52 - 60  # the chart's margins
    heights = [int(is_bar[:, round(plot_left + plot_width * (k + 0.5) / 3)].sum()) for k in range(3)]
    assert heights[2] > 200
    # the cumulative line (width 2) may cross a bar column and hide a few of its pixels
    assert heights[0] == pytest.approx(heights[2] / 4, abs=4) and heights[1] == pytest.approx(heights[2] / 2, abs=4)


# --- the morphing papers' numbers and loops ------------------------------------------------------------------


def test_sum_pdv_ppl_and_the_ends_distance_hand_case(node):
    # Steps 0.25, 0.25, 0.5: sum 1; mean 1/3, squared deviations 1/144, 1/144, 4/144 -> PDV 6/144/3 = 1/72;
    # PPL 1 / 0.2^2 = 25; last -> first frame: 1.
    *_, summary, _, total, pdv, ppl, closing = run(node, frames_at([0.0, 0.25, 0.5, 1.0]))
    assert total == pytest.approx(1.0, abs=1e-7) and pdv == pytest.approx(1 / 72, abs=1e-8)
    assert ppl == pytest.approx(25.0, abs=1e-5) and closing == pytest.approx(1.0, abs=1e-7)
    assert "PDV (variance of adjacent distances): 0.013889, standard deviation 0.1179" in summary
    assert "PPL (distance sum / epsilon^2, epsilon 0.2): 25.0000" in summary
    assert run(node, frames_at([0.0, 0.25, 0.5, 1.0]), ppl_epsilon=0.5)[7] == pytest.approx(4.0, abs=1e-6)


def test_a_loop_scores_the_closing_step_too(node):
    images = frames_at([0.0, 0.25, 0.5, 1.0])
    smoothness, consistency, largest, summary, chart, total, pdv, ppl, closing = run(node, images, loop=True)
    d = np.array([0.25, 0.25, 0.5, 1.0])  # the closing step 1.0 -> 0.0 is the fourth
    gini = np.abs(d[:, None] - d[None, :]).sum() / (2 * len(d) ** 2 * d.mean())  # the pairwise definition
    assert smoothness == pytest.approx(1 - gini, abs=1e-7) and consistency == pytest.approx(0.5, abs=1e-7)
    assert largest == pytest.approx(1.0, abs=1e-7) and closing == pytest.approx(1.0, abs=1e-7)
    assert total == pytest.approx(2.0, abs=1e-6) and pdv == pytest.approx(np.var(d), abs=1e-7)
    assert ppl == pytest.approx(50.0, abs=1e-4)
    assert "4 frames in a loop" in summary and "(frames 3 -> 0)" in summary
    assert chart.shape == (1, 320, 512, 3)


def test_a_loop_that_repeats_its_first_frame_shows_a_zero_seam(node):
    *_, closing = run(node, frames_at([0.2, 0.6, 0.2]), loop=True)
    assert closing == 0.0


def test_a_ppl_epsilon_of_zero_names_the_input(node):
    with pytest.raises(ValueError, match=r"Interpolation Metrics: input 'ppl_epsilon': must be > 0, got 0.0"):
        run(node, frames_at([0.0, 1.0]), ppl_epsilon=0.0)


def test_a_single_frame_is_refused(node):
    with pytest.raises(ValueError, match=r"Interpolation Metrics: input 'images': expected at least 2 frames, "
                                         r"got 1"):
        run(node, frames_at([0.5]))


# --- CLIP vision -----------------------------------------------------------------------------------------


def test_clip_vision_distance_is_the_cosine_distance_of_image_embeddings(node, clip_vision):
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(5, 40, 48, 3, generator=generator)
    images[3] = images[2]  # identical frames: distance exactly 0, never a rounding-negative value
    smoothness, consistency, largest, summary, *_ = run(node, images, "clip_vision", clip_vision)

    # Independently: each frame encoded on its own, cosine distance in float64 NumPy.
    embeds = [clip_vision.encode_image(images[k:k + 1]).image_embeds[0].detach().double().numpy() for k in range(5)]
    d = np.array([1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) for a, b in zip(embeds, embeds[1:])])
    d = np.maximum(d, 0.0)
    assert d[2] < 1e-6 and d[[0, 1, 3]].min() > 1e-4, "random frames must give distinct embeddings"
    assert consistency == pytest.approx(d.mean(), abs=1e-5) and largest == pytest.approx(d.max(), abs=1e-5)
    values = [float(v) for v in summary.split("adjacent distances: [")[1].rstrip("]").split(", ")]
    assert values == pytest.approx(list(d), abs=1e-4) and values[2] >= 0.0
    assert "CLIP vision cosine distance" in summary


def test_clip_vision_distance_without_a_model_names_the_input(node):
    with pytest.raises(ValueError, match=r"Interpolation Metrics: input 'clip_vision': the clip_vision distance needs "
                                         r"a CLIP Vision model"):
        run(node, frames_at([0.0, 1.0]), "clip_vision")


# --- LPIPS ------------------------------------------------------------------------------------------------


def test_lpips_without_the_package_says_how_to_get_it(node, monkeypatch):
    monkeypatch.setitem(sys.modules, "lpips", None)  # Python's own way to make an import fail
    with pytest.raises(ValueError, match=r"Interpolation Metrics: input 'distance': lpips needs the optional 'lpips' "
                                         r"package, which is not installed; run 'pip install lpips'"):
        run(node, frames_at([0.0, 1.0]), "lpips")


def test_lpips_without_alexnet_weights_names_the_missing_file(node, tmp_path):
    pytest.importorskip("lpips", reason="the 'lpips' package is not installed here")
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))  # an empty hub cache: the weights are certainly not there
    try:
        with pytest.raises(ValueError, match=r"input 'distance': lpips needs torchvision's AlexNet weights at "
                                             rf"{tmp_path}/checkpoints/alexnet-owt-7be5be79.pth, which is missing"):
            run(node, frames_at([0.0, 1.0]), "lpips")
    finally:
        torch.hub.set_dir(previous)


def test_lpips_vgg_without_vgg_weights_names_the_missing_file(node, tmp_path):
    pytest.importorskip("lpips", reason="the 'lpips' package is not installed here")
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        for distance in ("lpips_vgg", "lpips_vgg_aid"):
            with pytest.raises(ValueError, match=rf"input 'distance': {distance} needs torchvision's VGG16 weights at "
                                                 rf"{tmp_path}/checkpoints/vgg16-397923af.pth, which is missing; "
                                                 r"download https://download.pytorch.org/models/vgg16-397923af.pth"):
                run(node, frames_at([0.0, 1.0]), distance)
    finally:
        torch.hub.set_dir(previous)


@pytest.fixture(scope="module")
def random_vgg16_weights(tmp_path_factory):
    """A torch hub cache holding random VGG16 weights under torchvision's file name, so LPIPS-VGG runs here with real
    code and no download (528 MB written once per module); the folder and LPIPS-VGG loaded from it."""
    lpips = pytest.importorskip("lpips", reason="the 'lpips' package is not installed here")
    import torchvision

    hub = tmp_path_factory.mktemp("hub")
    (hub / "checkpoints").mkdir()
    torch.manual_seed(0)
    url = torchvision.models.VGG16_Weights.IMAGENET1K_V1.url
    torch.save(torchvision.models.vgg16(weights=None).state_dict(), hub / "checkpoints" / url.rsplit("/", 1)[1])
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(hub))
    try:
        return hub, lpips.LPIPS(net="vgg", verbose=False).eval()  # loads those weights from the cache, as the node does
    finally:
        torch.hub.set_dir(previous)


@pytest.fixture
def random_vgg16_hub(random_vgg16_weights):
    """LPIPS-VGG on the random weights, with torch's hub cache pointing at them for this test only."""
    hub, model = random_vgg16_weights
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(hub))
    yield model
    torch.hub.set_dir(previous)


def aid_reference_lpips(images, model):
    """The AID reference's utils.compute_lpips, step by step: [N, H, W, C] in [0, 1] -> NCHW, torchvision's Normalize
    with ImageNet statistics, then LPIPS on each adjacent pair, one pair at a time."""
    from torchvision.transforms import Normalize

    pictures = Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])(images.permute(0, 3, 1, 2).float())
    with torch.no_grad():
        return np.array([model(pictures[i:i + 1], pictures[i + 1:i + 2]).item() for i in range(len(pictures) - 1)])


def test_lpips_vgg_aid_is_the_aid_references_computation(node, random_vgg16_hub):
    images = torch.rand(4, 48, 40, 3, generator=torch.Generator().manual_seed(3))
    images[2] = images[1]
    smoothness, consistency, largest, summary, *_ = run(node, images, "lpips_vgg_aid")
    d = aid_reference_lpips(images, random_vgg16_hub)
    assert d[1] == pytest.approx(0.0, abs=1e-6) and d.min() >= 0 and d.max() > 1e-3
    sorted_d = np.sort(d)
    gini = 2 * (np.arange(1, 4) * sorted_d).sum() / (3 * sorted_d.sum()) - 4 / 3
    assert smoothness == pytest.approx(1 - gini, abs=1e-5)
    assert consistency == pytest.approx(d.mean(), rel=1e-5) and largest == pytest.approx(d.max(), rel=1e-5)
    assert "LPIPS (VGG, AID's ImageNet-normalised inputs)" in summary


def test_lpips_vgg_feeds_lpips_its_documented_range(node, random_vgg16_hub):
    images = torch.rand(3, 32, 32, 3, generator=torch.Generator().manual_seed(4))
    *_, summary, _, total, _, _, closing = run(node, images, "lpips_vgg")
    with torch.no_grad():  # lpips's own [0, 1] -> [-1, 1] switch, not ours
        pictures = images.permute(0, 3, 1, 2)
        d = random_vgg16_hub(pictures[:-1], pictures[1:], normalize=True).flatten().numpy()
        seam = random_vgg16_hub(pictures[-1:], pictures[:1], normalize=True).item()
    assert total == pytest.approx(d.sum(), rel=1e-5) and closing == pytest.approx(seam, rel=1e-5)
    assert "distance: LPIPS (VGG)" in summary
    aid = run(node, images, "lpips_vgg_aid")[5]
    assert abs(aid - total) > 1e-4 * total, "AID's normalisation gives other numbers than LPIPS's documented range"


def test_an_lpips_install_without_its_own_weights_names_the_file(node, random_vgg16_hub, tmp_path, monkeypatch):
    """The lpips package ships its learned layers in lpips/weights/; a copy of the package without them, imported as
    'lpips', is what a stripped install looks like."""
    import importlib.util
    import shutil

    import lpips

    stripped = tmp_path / "lpips"
    shutil.copytree(Path(lpips.__file__).parent, stripped, ignore=shutil.ignore_patterns("weights", "__pycache__"))
    spec = importlib.util.spec_from_file_location("lpips", stripped / "__init__.py",
                                                  submodule_search_locations=[str(stripped)])
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "lpips", module)
    spec.loader.exec_module(module)
    with pytest.raises(ValueError, match=rf"input 'distance': lpips_vgg needs the lpips package's own weights at "
                                         rf"{stripped}/weights/v0.1/vgg.pth, which are missing; reinstall"):
        run(node, frames_at([0.0, 1.0]), "lpips_vgg")


def test_lpips_where_available_gives_zero_for_identical_frames(node, pack):
    pytest.importorskip("lpips", reason="the 'lpips' package is not installed here")
    try:
        pack.nodes.distance_backends.backend("lpips", "test")
    except ValueError as err:
        pytest.skip(f"LPIPS cannot run here: {err}")
    images = torch.rand(3, 64, 64, 3, generator=torch.Generator().manual_seed(2))
    images[1] = images[0]
    summary = run(node, images, "lpips")[3]
    values = [float(v) for v in summary.split("adjacent distances: [")[1].rstrip("]").split(", ")]
    assert values[0] == pytest.approx(0.0, abs=1e-6) and values[1] > 0.01
