"""Tests of inbetween.metrics: hand-worked cases, the pairwise definition of the Gini coefficient, NumPy references
and properties (the morphing papers' sum, PDV and PPL included, and the two LPIPS input normalisations). Gini and
friends are float64; tolerances are stated per test."""

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from inbetween import (
    DISTANCES,
    FREEMORPH_PPL_EPSILON,
    adjacent_distances,
    beta_schedule,
    consistency,
    distance_sum,
    gini,
    imagenet_normalized,
    lerp,
    lpips_inputs,
    perceptual_distance_variance,
    perceptual_path_length,
    sequence_metrics,
    smoothness,
    uniform_schedule,
)

FAST = settings(max_examples=60, deadline=None)
distance_lists = st.lists(st.floats(0.0, 1e6), min_size=1, max_size=30).filter(lambda d: sum(d) > 0)


def pairwise_form_gini(d):
    """The definition: sum_i sum_j |d_i - d_j| / (2 n^2 mean(d)), by an n x n NumPy matrix."""
    values = np.asarray(d, dtype=np.float64)
    return np.abs(values[:, None] - values[None, :]).sum() / (2 * len(values) ** 2 * values.mean())


# --- adjacent_distances -------------------------------------------------------------------------------


def test_pixel_distance_hand_case():
    frames = torch.tensor([[0.0, 0.0], [3.0, 4.0], [3.0, 4.0], [3.0, 2.0]])
    # RMS of (3, 4) is sqrt(25 / 2); of (0, 0) is 0; of (0, -2) is sqrt(4 / 2).
    expected = torch.tensor([math.sqrt(12.5), 0.0, math.sqrt(2.0)])
    assert_close(adjacent_distances(frames), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5), (torch.float16, 1e-5)])
def test_pixel_distance_matches_numpy(dtype, tol):
    frames = torch.randn(5, 3, 8, 8, generator=torch.Generator().manual_seed(0)).to(dtype)
    as_numpy = frames.double().numpy()
    expected = np.sqrt(((as_numpy[1:] - as_numpy[:-1]) ** 2).reshape(4, -1).mean(axis=1))
    out = adjacent_distances(frames)
    assert out.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    assert_close(out.double(), torch.from_numpy(expected), rtol=tol, atol=tol)


def test_pixel_distance_of_integer_frames_does_not_wrap():
    frames = torch.tensor([[0], [255], [0]], dtype=torch.uint8)
    assert_close(adjacent_distances(frames), torch.tensor([255.0, 255.0]), rtol=0, atol=0)


def test_one_dimensional_frames_are_scalars():
    assert_close(adjacent_distances(torch.tensor([0.0, 1.0, 3.0])), torch.tensor([1.0, 2.0]), rtol=0, atol=0)


def test_callable_distance_gets_adjacent_pairs_and_may_return_lpips_shape():
    frames = torch.arange(4.0).reshape(4, 1, 1, 1)
    seen = {}

    def l1(x, y):
        seen["shapes"] = (tuple(x.shape), tuple(y.shape))
        return (y - x).abs().sum(dim=(1, 2, 3), keepdim=True)  # [N - 1, 1, 1, 1], like LPIPS

    out = adjacent_distances(frames, l1)
    assert seen["shapes"] == ((3, 1, 1, 1), (3, 1, 1, 1))
    assert_close(out, torch.ones(3), rtol=0, atol=0)


def test_frames_are_not_modified():
    frames = torch.randn(4, 2, 3, generator=torch.Generator().manual_seed(1))
    before = frames.clone()
    adjacent_distances(frames)
    adjacent_distances(frames, lambda x, y: (x - y).flatten(1).norm(dim=1))
    assert torch.equal(frames, before)


def test_distances_tuple():
    assert DISTANCES == ("pixel",)


@pytest.mark.parametrize(
    "frames,distance,message",
    [
        ([[0.0], [1.0]], "pixel", "adjacent_distances: frames must be a torch.Tensor, got list"),
        (torch.zeros(3, dtype=torch.bool), "pixel", "frames must hold real numbers, got dtype torch.bool"),
        (torch.zeros(3, 2), 3, "distance must be one of ('pixel',) or a callable, got int 3"),
        (torch.zeros(3, 2), lambda x, y: [0.0, 0.0], "the distance callable must return a torch.Tensor, got list"),
    ],
)
def test_adjacent_distances_wrong_types(frames, distance, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        adjacent_distances(frames, distance)


@pytest.mark.parametrize(
    "frames,distance,argument,detail",
    [
        (torch.zeros(1, 4), "pixel", "frames", "must be a non-empty [N, ...] batch with N >= 2, got shape (1, 4)"),
        (torch.tensor(1.0), "pixel", "frames", "must be a non-empty [N, ...] batch with N >= 2, got shape ()"),
        (torch.zeros(3, 0), "pixel", "frames", "must be a non-empty [N, ...] batch with N >= 2, got shape (3, 0)"),
        (torch.tensor([[0.0], [math.nan], [math.inf]]), "pixel", "frames",
         "must hold only finite values, got 1 NaN and 1 infinite of 3 values"),
        (torch.zeros(3, 2), "lpips", "distance", "must be one of ('pixel',) or a callable, got 'lpips'"),
        (torch.zeros(3, 2), lambda x, y: torch.zeros(3), "distance",
         "must return 2 values for 3 frames, got shape (3,)"),
    ],
)
def test_adjacent_distances_bad_values(argument_error, frames, distance, argument, detail):
    with argument_error("adjacent_distances", argument, detail):
        adjacent_distances(frames, distance)


# --- gini, smoothness, consistency ----------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5, 12])
def test_gini_of_equal_values_is_zero(n):
    assert gini([0.3] * n) == 0.0


@pytest.mark.parametrize("n", [1, 2, 5, 12])
def test_gini_of_one_nonzero_value_is_n_minus_one_over_n(n):
    d = [0.0] * n
    d[n // 2] = 2.5
    assert_close(gini(d), (n - 1) / n, rtol=1e-15, atol=0)


def test_gini_hand_case():
    # Pairs of [1, 2, 3]: |1-2| + |1-3| + |2-3| = 4, counted twice = 8; 2 n^2 mean = 2 * 9 * 2 = 36.
    assert_close(gini([1.0, 2.0, 3.0]), 8 / 36, rtol=1e-15, atol=0)


def test_gini_of_all_zero_distances_is_zero():
    assert gini([0.0, 0.0, 0.0]) == 0.0
    assert smoothness(torch.zeros(4)) == 1.0


@FAST
@given(d=distance_lists)
def test_gini_equals_the_pairwise_definition(d):
    assert_close(gini(d), pairwise_form_gini(d), rtol=1e-9, atol=1e-12)


@FAST
@given(d=distance_lists, scale=st.floats(1e-3, 1e3))
def test_gini_is_scale_invariant(d, scale):
    assert_close(gini([scale * v for v in d]), gini(d), rtol=1e-9, atol=1e-12)


@FAST
@given(d=distance_lists, seed=st.integers(0, 1000))
def test_gini_is_permutation_invariant_and_bounded(d, seed):
    shuffled = list(np.random.default_rng(seed).permutation(d))
    assert_close(gini(shuffled), gini(d), rtol=1e-12, atol=1e-12)
    n = len(d)
    assert -1e-12 <= gini(d) <= (n - 1) / n + 1e-12


@FAST
@given(d=distance_lists)
def test_smoothness_and_consistency_definitions(d):
    assert smoothness(d) == 1.0 - gini(d)
    assert_close(consistency(d), math.fsum(d) / len(d), rtol=1e-12, atol=0)


def test_tensor_and_list_inputs_agree():
    d = [0.1, 0.4, 0.2, 0.2]
    as_tensor = torch.tensor(d, dtype=torch.float32)
    assert_close(gini(as_tensor), gini([float(v) for v in as_tensor]), rtol=0, atol=0)
    assert_close(consistency(as_tensor), consistency([float(v) for v in as_tensor]), rtol=0, atol=0)


def test_sequence_metrics_hand_case():
    metrics = sequence_metrics(torch.tensor([1.0, 2.0, 3.0]))
    assert set(metrics) == {"smoothness", "consistency", "max_distance", "distance_sum", "pdv", "ppl", "distances"}
    assert all(isinstance(metrics[key], float) for key in set(metrics) - {"distances"})
    assert_close(metrics["smoothness"], 1 - 8 / 36, rtol=1e-15, atol=0)
    assert metrics["consistency"] == 2.0
    assert metrics["max_distance"] == 3.0
    assert metrics["distance_sum"] == 6.0
    assert_close(metrics["pdv"], 2 / 3, rtol=1e-15, atol=0)  # ((1 - 2)^2 + 0 + (3 - 2)^2) / 3
    assert_close(metrics["ppl"], 6 * 25.0, rtol=1e-15, atol=0)  # epsilon 1/5 by default
    assert_close(sequence_metrics([1.0, 2.0, 3.0], ppl_epsilon=0.5)["ppl"], 24.0, rtol=1e-15, atol=0)
    assert metrics["distances"] == [1.0, 2.0, 3.0]


def test_distances_are_not_modified():
    d = torch.tensor([0.5, 0.25, 1.0])
    before = d.clone()
    sequence_metrics(d)
    gini(d)
    assert torch.equal(d, before)


DISTANCE_FUNCTIONS = [gini, smoothness, consistency, sequence_metrics, distance_sum, perceptual_distance_variance,
                      perceptual_path_length]


@pytest.mark.parametrize("function", DISTANCE_FUNCTIONS)
@pytest.mark.parametrize(
    "d,message",
    [
        (torch.tensor([True]), "d must hold real numbers, got a tensor of dtype torch.bool"),
        ([0.5, True], "d[1] must be a real number, got bool True"),
        ("0.5", "d must be a 1-D tensor or a sequence of numbers, got str '0.5'"),
        (None, "d must be a 1-D tensor or a sequence of numbers, got NoneType None"),
    ],
)
def test_metrics_wrong_types(function, d, message):
    with pytest.raises(TypeError, match=f"^{function.__name__}: " + re.escape(message)):
        function(d)


@pytest.mark.parametrize("function", DISTANCE_FUNCTIONS)
@pytest.mark.parametrize(
    "d,index,detail",
    [
        ([], None, "is empty; need at least one distance"),
        (torch.zeros(0), None, "is empty; need at least one distance"),
        ([0.5, -0.1], 1, "must be >= 0 (a distance), got -0.1"),
        ([0.5, math.nan], 1, "must be finite, got nan"),
        (torch.tensor([math.inf]), 0, "must be finite, got inf"),
        (torch.zeros(2, 2), None, "must be 1-D, got a tensor of shape (2, 2)"),
    ],
)
def test_metrics_bad_values(argument_error, function, d, index, detail):
    with argument_error(function.__name__, "d", detail, index):
        function(d)


def test_gini_of_many_frames_needs_no_square_matrix():
    # 10^5 distances: the pairwise form would need an 80 GB matrix; the sorted form is O(n).
    d = torch.rand(100_000, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    assert_close(gini(d), 1 / 3, rtol=0, atol=1e-2)  # Gini of Uniform(0, 1) is 1/3


# --- the metrics on interpolated sequences -----------------------------------------------------------


def test_uniform_lerp_sequence_is_perfectly_smooth():
    # Lerp moves by (b - a) / (n - 1) per uniform step, so every pixel distance is the same.
    a = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    b = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    frames = lerp(a, b, uniform_schedule(7))
    d = adjacent_distances(frames)
    assert_close(smoothness(d), 1.0, rtol=0, atol=1e-12)
    assert_close(consistency(d), adjacent_distances(torch.cat([a, b]))[0].item() / 6, rtol=1e-12, atol=0)


def test_beta_schedule_is_less_smooth_in_a_linear_space():
    # Beta(25, 25) crowds frames near t = 0.5, so on a straight path its steps are uneven; the
    # largest step is the first, of size u_1 |b - a|.
    a = torch.zeros(1, 16, dtype=torch.float64)
    b = torch.ones(1, 16, dtype=torch.float64)
    schedule = beta_schedule(7, 25, 25)
    metrics = sequence_metrics(adjacent_distances(lerp(a, b, schedule)))
    assert metrics["smoothness"] < 0.9
    assert_close(metrics["max_distance"], schedule[1].item(), rtol=1e-12, atol=0)


# --- loops ------------------------------------------------------------------------------------------------------


def test_a_loop_adds_the_closing_step_last_to_first():
    frames = torch.tensor([[0.0], [1.0], [3.0]])
    assert_close(adjacent_distances(frames, loop=True), torch.tensor([1.0, 2.0, 3.0]), rtol=0, atol=0)
    assert_close(adjacent_distances(frames, loop=False), torch.tensor([1.0, 2.0]), rtol=0, atol=0)


def test_a_loop_hands_the_callable_every_frame_and_its_successor():
    frames = torch.arange(4.0).reshape(4, 1)
    seen = {}

    def record(x, y):
        seen["pairs"] = (x.flatten().tolist(), y.flatten().tolist())
        return (y - x).abs().flatten()

    before = frames.clone()
    out = adjacent_distances(frames, record, loop=True)
    assert seen["pairs"] == ([0.0, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 0.0])
    assert_close(out, torch.tensor([1.0, 1.0, 1.0, 3.0]), rtol=0, atol=0)
    assert torch.equal(frames, before)


def test_a_two_frame_loop_goes_there_and_back():
    frames = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    assert_close(adjacent_distances(frames, loop=True), torch.full((2,), math.sqrt(12.5)), rtol=1e-6, atol=0)


def test_loop_errors(argument_error):
    with pytest.raises(TypeError, match=re.escape("adjacent_distances: loop must be a bool, got int 1")):
        adjacent_distances(torch.zeros(3, 2), loop=1)
    with argument_error("adjacent_distances", "distance", "must return 3 values for 3 frames in a loop, "
                                                          "got shape (2,)"):
        adjacent_distances(torch.zeros(3, 2), lambda x, y: torch.zeros(2), loop=True)


# --- the morphing papers: distance sum, PDV, PPL ------------------------------------------------------------


@FAST
@given(d=st.lists(st.floats(0.0, 1e3), min_size=1, max_size=30), epsilon=st.floats(1e-3, 1.0))
def test_sum_variance_and_path_length_match_numpy(d, epsilon):
    values = np.asarray(d, dtype=np.float64)
    assert_close(distance_sum(d), float(values.sum()), rtol=1e-12, atol=1e-9)
    assert_close(perceptual_distance_variance(d), float(np.var(values)), rtol=1e-9, atol=1e-9)
    assert_close(perceptual_path_length(d, epsilon), float(values.sum() / epsilon**2), rtol=1e-12, atol=1e-9)
    metrics = sequence_metrics(d, ppl_epsilon=epsilon)
    assert (metrics["distance_sum"], metrics["pdv"], metrics["ppl"]) == (
        distance_sum(d), perceptual_distance_variance(d), perceptual_path_length(d, epsilon))


def test_pdv_hand_cases():
    assert perceptual_distance_variance([0.25] * 6) == 0.0, "even steps"
    assert perceptual_distance_variance([0.7]) == 0.0, "one step"
    # [0, 0, 0, 4]: mean 1, squared deviations 1, 1, 1, 9 -> 12 / 4 = 3 (population variance, not 12 / 3)
    assert_close(perceptual_distance_variance([0.0, 0.0, 0.0, 4.0]), 3.0, rtol=1e-15, atol=0)


@FAST
@given(d=distance_lists, scale=st.floats(1e-3, 1e3))
def test_pdv_scales_with_the_square_and_the_sums_linearly(d, scale):
    scaled = [scale * v for v in d]
    assert_close(perceptual_distance_variance(scaled), scale**2 * perceptual_distance_variance(d), rtol=1e-9,
                 atol=1e-12)
    assert_close(distance_sum(scaled), scale * distance_sum(d), rtol=1e-12, atol=0)


def test_ppl_reproduces_freemorphs_ratio_of_25():
    # FreeMorph's Table 1: PPL_sum / LPIPS_sum = 3263.03 / 130.52 (IMPUS on MorphBench), 2122.80 / 84.91 (FreeMorph).
    assert FREEMORPH_PPL_EPSILON == 0.2
    for lpips_sum, ppl_sum in ((130.52, 3263.03), (90.57, 2264.20), (119.77, 2994.35), (84.91, 2122.80)):
        assert_close(perceptual_path_length([lpips_sum / 2, lpips_sum / 2]), ppl_sum, rtol=5e-5, atol=0)


def test_ppl_of_evenly_spaced_frames_on_a_straight_path():
    # 7 frames of a lerp, pixel distance: every step is |b - a| / 6; with epsilon = 1/6 each quotient is 6 |b - a|.
    a, b = torch.zeros(1, 8, dtype=torch.float64), torch.full((1, 8), 0.6, dtype=torch.float64)
    d = adjacent_distances(lerp(a, b, uniform_schedule(7)))
    assert_close(perceptual_path_length(d, 1 / 6), 6 * 6 * 0.6, rtol=1e-12, atol=0)
    assert_close(distance_sum(d), 0.6, rtol=1e-12, atol=0)
    assert perceptual_distance_variance(d) < 1e-30


@pytest.mark.parametrize("epsilon", [0.0, -0.2, math.inf])
def test_ppl_epsilon_must_be_positive(argument_error, epsilon):
    with argument_error("perceptual_path_length", "epsilon"):
        perceptual_path_length([0.1], epsilon)
    with argument_error("sequence_metrics", "ppl_epsilon"):
        sequence_metrics([0.1], ppl_epsilon=epsilon)


# --- LPIPS inputs -----------------------------------------------------------------------------------------------


def test_lpips_inputs_hand_case():
    images = torch.tensor([[[[0.0, 0.5, 1.0, 0.3]]]])  # [1, 1, 1, 4]: RGB plus an alpha channel
    before = images.clone()
    out = lpips_inputs(images)
    assert out.shape == (1, 3, 1, 1) and out.dtype == torch.float32
    assert_close(out.flatten(), torch.tensor([-1.0, 0.0, 1.0]), rtol=0, atol=0)
    assert torch.equal(images, before)


def test_imagenet_normalized_matches_numpy():
    images = torch.rand(3, 5, 6, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    before = images.clone()
    pixels = images.numpy().transpose(0, 3, 1, 2)
    mean = np.array([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
    std = np.array([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
    out = imagenet_normalized(images)
    assert out.dtype == torch.float64
    assert_close(out, torch.from_numpy((pixels - mean) / std), rtol=1e-15, atol=1e-15)
    assert torch.equal(images, before)
    # The mean colour maps to 0 in every channel; white to (1 - m) / s.
    mean_colour = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 1, 1, 3)
    assert_close(imagenet_normalized(mean_colour).flatten(), torch.zeros(3), rtol=0, atol=1e-7)
    assert_close(imagenet_normalized(torch.ones(1, 1, 1, 3)).flatten(),
                 torch.tensor([0.515 / 0.229, 0.544 / 0.224, 0.594 / 0.225]), rtol=1e-6, atol=0)


@pytest.mark.parametrize("function", [lpips_inputs, imagenet_normalized])
def test_normalisations_want_comfy_images(argument_error, function):
    with argument_error(function.__name__, "images", "must be [N, H, W, C] with C >= 3, got shape (2, 4, 4)"):
        function(torch.zeros(2, 4, 4))
    with argument_error(function.__name__, "images", "must be [N, H, W, C] with C >= 3, got shape (1, 4, 4, 1)"):
        function(torch.zeros(1, 4, 4, 1))
