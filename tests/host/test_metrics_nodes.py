"""Interpolation Metrics in a real ComfyUI: hand-computed scores, the chart, and every distance backend
(CLIP vision with a tiny random ComfyUI CLIP vision model; LPIPS where it can and cannot run)."""

import sys

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


def run(node, images, distance="pixel", clip_vision=None):
    return node.execute(images, distance, clip_vision).args


def test_equal_steps_score_smoothness_one(node):
    smoothness, consistency, largest, summary, chart = run(node, frames_at([0.0, 0.25, 0.5, 0.75, 1.0]))
    assert smoothness == pytest.approx(1.0, abs=1e-12), "Gini of equal distances is 0"
    assert consistency == pytest.approx(0.25, abs=1e-7) and largest == pytest.approx(0.25, abs=1e-7)
    assert "smoothness (1 - Gini of adjacent distances): 1.0000" in summary
    assert chart.shape == (1, 320, 512, 3) and 0.0 <= float(chart.min()) and float(chart.max()) <= 1.0


def test_one_jump_scores_gini_n_minus_one_over_n(node):
    # Four steps, only the last one moves: Gini = (n - 1) / n = 3 / 4, smoothness 1 / 4.
    smoothness, consistency, largest, summary, _ = run(node, frames_at([0.0, 0.0, 0.0, 0.0, 0.8]))
    assert smoothness == pytest.approx(0.25, abs=1e-12)
    assert consistency == pytest.approx(0.2, abs=1e-7) and largest == pytest.approx(0.8, abs=1e-7)
    assert "(frames 3 -> 4)" in summary


def test_random_frames_match_an_independent_computation(node):
    images = torch.rand(6, 16, 16, 3, generator=torch.Generator().manual_seed(0))
    smoothness, consistency, largest, summary, _ = run(node, images)
    x = images.double().numpy()
    d = np.sqrt(((x[1:] - x[:-1]) ** 2).reshape(5, -1).mean(axis=1))
    sorted_d = np.sort(d)
    gini = 2 * (np.arange(1, 6) * sorted_d).sum() / (5 * sorted_d.sum()) - 6 / 5  # rank form, not the pairwise one
    assert smoothness == pytest.approx(1 - gini, abs=1e-6)
    assert consistency == pytest.approx(d.mean(), abs=1e-6) and largest == pytest.approx(d.max(), abs=1e-6)
    assert "adjacent distances: [" + ", ".join(f"{v:.4f}" for v in d) + "]" in summary


def test_chart_bars_are_proportional_to_the_distances(node):
    """Measure the bars in the picture: steps 0.1, 0.2, 0.4 must draw bars of heights 1 : 2 : 4."""
    *_, chart = run(node, frames_at([0.0, 0.1, 0.3, 0.7]))
    pixels = (chart[0].numpy() * 255).round().astype(int)
    is_bar = (pixels == np.array(PIXEL_BAR)).all(axis=-1)
    plot_left, plot_width = 52, 512 - 52 - 60  # the chart's margins
    heights = [int(is_bar[:, round(plot_left + plot_width * (k + 0.5) / 3)].sum()) for k in range(3)]
    assert heights[2] > 200
    # the cumulative line (width 2) may cross a bar column and hide a few of its pixels
    assert heights[0] == pytest.approx(heights[2] / 4, abs=4) and heights[1] == pytest.approx(heights[2] / 2, abs=4)


def test_a_single_frame_is_refused(node):
    with pytest.raises(ValueError, match=r"Interpolation Metrics: input 'images': expected at least 2 frames, "
                                         r"got 1"):
        run(node, frames_at([0.5]))


# --- CLIP vision -----------------------------------------------------------------------------------------


def test_clip_vision_distance_is_the_cosine_distance_of_image_embeddings(node, clip_vision):
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(5, 40, 48, 3, generator=generator)
    images[3] = images[2]  # identical frames: distance exactly 0, never a rounding-negative value
    smoothness, consistency, largest, summary, _ = run(node, images, "clip_vision", clip_vision)

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


def test_lpips_where_available_gives_zero_for_identical_frames(node, pack):
    pytest.importorskip("lpips", reason="the 'lpips' package is not installed here")
    try:
        pack.nodes.distance_backends.backend("lpips", "test")
    except ValueError as err:
        pytest.skip(f"LPIPS cannot run here: {err}")
    images = torch.rand(3, 64, 64, 3, generator=torch.Generator().manual_seed(2))
    images[1] = images[0]
    _, _, _, summary, _ = run(node, images, "lpips")
    values = [float(v) for v in summary.split("adjacent distances: [")[1].rstrip("]").split(", ")]
    assert values[0] == pytest.approx(0.0, abs=1e-6) and values[1] > 0.01
