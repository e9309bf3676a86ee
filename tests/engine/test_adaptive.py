"""Tests of inbetween.adaptive: the Beta-median split, the Beta fit (against known parameters and
scipy's curve_fit), the even selection (against brute force) and the exploration loop on
synthetic distance curves whose right answer is known."""

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from inbetween import adaptive, beta_cdf, smoothness
from inbetween.metrics import adjacent_distances, pixel_distance


# --- beta_split ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("left, right, a, b", [(0.0, 1.0, 3.0, 3.0), (0.0, 0.5, 2.0, 5.0), (0.25, 0.3, 0.7, 0.4),
                                                (0.5, 1.0, 20.0, 20.0), (0.9, 1.0, 1.5, 9.0)])
def test_split_halves_the_beta_mass_of_the_interval(left, right, a, b):
    t = adaptive.beta_split(left, right, a, b)
    assert left < t < right
    expected = 0.5 * (stats.beta.cdf(left, a, b) + stats.beta.cdf(right, a, b))
    assert stats.beta.cdf(t, a, b) == pytest.approx(expected, abs=1e-12)


def test_split_under_the_uniform_prior_is_the_midpoint():
    assert adaptive.beta_split(0.2, 0.7, 1.0, 1.0) == pytest.approx(0.45, abs=1e-15)


def test_split_falls_back_to_the_midpoint_where_the_cdf_is_flat():
    # Beta(1e4, 1e4) has no mass at all (to float precision) below 0.1: both CDF values are 0.
    assert beta_cdf(0.1, 1e4, 1e4) == 0.0
    assert adaptive.beta_split(0.0, 0.1, 1e4, 1e4) == 0.05


@pytest.mark.parametrize("args, argument, detail", [
    ((0.5, 0.5, 2.0, 2.0), "right", "must be > left (0.5), got 0.5"),
    ((-0.1, 0.5, 2.0, 2.0), "left", "must be in [0, 1], got -0.1"),
    ((0.0, math.nan, 2.0, 2.0), "right", "must be finite, got nan"),
    ((0.0, 1.0, math.inf, 2.0), "alpha", "must be finite, got inf"),
    ((0.0, 1.0, 2.0, 0.0), "beta", "must be > 0, got 0.0"),
])
def test_split_rejects_bad_values(argument_error, args, argument, detail):
    with argument_error("beta_split", argument, detail):
        adaptive.beta_split(*args)


# --- cumulative_fractions and fit_beta -------------------------------------------------------------


def test_cumulative_fractions_hand_cases():
    assert adaptive.cumulative_fractions([1.0, 3.0]) == [0.0, 0.25, 1.0]
    assert adaptive.cumulative_fractions([0.0, 0.0, 0.0, 0.0]) == [0.0, 0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize("a, b", [(2.5, 4.0), (0.6, 0.8), (20.0, 20.0), (1.0, 1.0), (50.0, 5.0), (0.3, 7.0)])
def test_fit_recovers_known_parameters_from_exact_cdf_values(a, b):
    ts = [0.0, 0.1, 0.3, 0.45, 0.5, 0.62, 0.8, 0.97, 1.0]
    fitted = adaptive.fit_beta(ts, [float(stats.beta.cdf(t, a, b)) for t in ts])
    assert fitted == pytest.approx((a, b), rel=1e-4)


def test_fit_escapes_the_valley_of_steep_cdfs():
    # Here the 4 best grid starts all lie near Beta(100, 300), a local minimum with loss 0.009.
    ts = [0.0, 0.1, 0.3, 0.45, 0.5, 0.62, 0.8, 0.97, 1.0]
    truth = (6.45050330406247, 33.44190375766385)
    fitted = adaptive.fit_beta(ts, [float(stats.beta.cdf(t, *truth)) for t in ts])
    assert fitted == pytest.approx(truth, rel=1e-4)


@settings(max_examples=30, deadline=None)
@given(log_a=st.floats(math.log(0.1), math.log(100)), log_b=st.floats(math.log(0.1), math.log(100)),
       ts=st.lists(st.floats(0.01, 0.99), min_size=2, max_size=12, unique=True))
def test_fit_of_exact_cdf_values_has_zero_residual(log_a, log_b, ts):
    # Data that a Beta CDF fits exactly must be fitted exactly: the search finds the global minimum.
    truth = (math.exp(log_a), math.exp(log_b))
    ts = sorted(ts)
    targets = [float(stats.beta.cdf(t, *truth)) for t in ts]
    fitted = adaptive.fit_beta(ts, targets)
    assert sum((stats.beta.cdf(t, *fitted) - c) ** 2 for t, c in zip(ts, targets)) <= 1e-12


def test_fit_is_at_least_as_good_as_scipy_curve_fit_on_noisy_data():
    """The reference fits with scipy's curve_fit from (1, 1); our least squares must not do worse."""
    generator = torch.Generator().manual_seed(3)
    ts = sorted(torch.rand(12, generator=generator, dtype=torch.float64).tolist())
    targets = [min(max(float(stats.beta.cdf(t, 3.0, 1.7)) + 0.03 * float(torch.randn(1, generator=generator)), 0.0),
                   1.0) for t in ts]

    def loss(a, b):
        return sum((stats.beta.cdf(t, a, b) - c) ** 2 for t, c in zip(ts, targets))

    ours = adaptive.fit_beta(ts, targets)
    scipys, _ = optimize.curve_fit(lambda x, a, b: stats.beta.cdf(x, a, b), ts, targets, p0=[1.0, 1.0],
                                   bounds=([1e-6, 1e-6], [math.inf, math.inf]))
    assert loss(*ours) <= loss(*scipys) + 1e-12


@pytest.mark.parametrize("coefficients, fractions, argument, index, detail", [
    ([0.0, 1.0], [0.0, 1.0], "coefficients", None, "need at least one value strictly between 0 and 1, got [0.0, 1.0]"),
    ([0.0, 0.5, 1.0], [0.0, 1.0], "fractions", None, "must hold one value per coefficient (3), got 2"),
    ([0.0, 1.5], [0.0, 1.0], "coefficients", 1, "must be in [0, 1], got 1.5"),
    ([0.0, 0.5, 1.0], [0.0, math.nan, 1.0], "fractions", 1, "must be finite, got nan"),
])
def test_fit_rejects_bad_values(argument_error, coefficients, fractions, argument, index, detail):
    with argument_error("fit_beta", argument, detail, index):
        adaptive.fit_beta(coefficients, fractions)


def test_cumulative_fractions_rejects_negative_and_non_finite_distances(argument_error):
    with argument_error("cumulative_fractions", "distances", "must be >= 0 (a distance), got -1.0", 1):
        adaptive.cumulative_fractions([1.0, -1.0])
    with argument_error("cumulative_fractions", "distances", "must be finite, got inf", 0):
        adaptive.cumulative_fractions([math.inf])


# --- select_even ---------------------------------------------------------------------------------------


def brute_force(weights, frames):
    """Every index sequence 0 = i_0 < ... < i_{n-1} = m - 1, scored by (spread, largest step)."""
    m = weights.shape[0]
    scored = []
    for middle in itertools.combinations(range(1, m - 1), frames - 2):
        path = (0, *middle, m - 1)
        steps = [float(weights[i, j]) for i, j in zip(path, path[1:])]
        scored.append(((max(steps) - min(steps), max(steps)), path))
    return min(scored)


def random_weights(generator, m, kind):
    if kind == "points":  # frames as points in a feature space, Euclidean distances
        x = torch.randn(m, 3, generator=generator, dtype=torch.float64)
        return torch.cdist(x, x)
    # a distance curve along t: |D(t_j) - D(t_i)| for a random increasing cumulative distance D
    cumulative = torch.rand(m, generator=generator, dtype=torch.float64).cumsum(0)
    return (cumulative[None, :] - cumulative[:, None]).abs()


@pytest.mark.parametrize("kind", ["points", "curve"])
def test_selection_is_optimal_against_brute_force(kind):
    generator = torch.Generator().manual_seed(7)
    for _ in range(150):
        m = int(torch.randint(2, 11, (1,), generator=generator))
        frames = int(torch.randint(2, m + 1, (1,), generator=generator))
        weights = random_weights(generator, m, kind)
        chosen = adaptive.select_even(weights, frames)
        (spread, largest), _ = brute_force(weights, frames)
        assert len(chosen.indices) == frames and chosen.indices[0] == 0 and chosen.indices[-1] == m - 1
        assert list(chosen.indices) == sorted(set(chosen.indices))
        assert chosen.distances == tuple(float(weights[i, j]) for i, j in zip(chosen.indices, chosen.indices[1:]))
        assert chosen.spread == pytest.approx(spread, abs=1e-12), (m, frames)
        assert max(chosen.distances) == pytest.approx(largest, abs=1e-12), "ties go to the smallest largest step"


def test_selection_hand_case():
    # Explored frames on a line at 0, 1, 2, 2.5, 4: three frames 0 -> 4 are evenest via 2 (steps 2 and 2).
    positions = torch.tensor([0.0, 1.0, 2.0, 2.5, 4.0], dtype=torch.float64)
    chosen = adaptive.select_even((positions[None] - positions[:, None]).abs(), 3)
    assert chosen.indices == (0, 2, 4) and chosen.distances == (2.0, 2.0) and chosen.spread == 0.0


def test_selection_rejects_bad_values(argument_error):
    with argument_error("select_even", "frames", "cannot choose 6 frames from 5 explored frames"):
        adaptive.select_even(torch.zeros(5, 5), 6)
    with argument_error("select_even", "weights", "must be a square [m, m] matrix with m >= 2, got shape (2, 3)"):
        adaptive.select_even(torch.zeros(2, 3), 2)
    with argument_error("select_even", "weights", "...got 1 NaN and 0 infinite"):
        adaptive.select_even(torch.tensor([[0.0, math.nan], [math.nan, 0.0]]), 2)
    with pytest.raises(TypeError, match="select_even: weights must be a torch.Tensor, got list"):
        adaptive.select_even([[0.0]], 2)


def test_pairwise_distances_rejects_bad_features(argument_error):
    with argument_error("pairwise_distances", "features", "...got shape (1, 3)"):
        adaptive.pairwise_distances(torch.zeros(1, 3))
    with argument_error("pairwise_distances", "features", "...got 0 NaN and 1 infinite"):
        adaptive.pairwise_distances(torch.tensor([[0.0], [math.inf]]))
    with argument_error("pairwise_distances", "distance", "must return finite values >= 0, got [-1.0]"):
        adaptive.pairwise_distances(torch.zeros(2, 1), lambda x, y: -torch.ones(x.shape[0]))


# --- pairwise_distances ------------------------------------------------------------------------------


def test_pairwise_pixel_distances_match_a_direct_computation():
    frames = torch.randn(5, 3, 4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    matrix = adaptive.pairwise_distances(frames)
    for i in range(5):
        for j in range(5):
            direct = (frames[i] - frames[j]).pow(2).mean().sqrt()
            assert float(matrix[i, j]) == pytest.approx(float(direct), abs=1e-12)
    assert torch.equal(matrix.diagonal(1), adjacent_distances(frames))


# --- explore ---------------------------------------------------------------------------------------------


class CurveRenderer:
    """Frames of a 1-D feature F(t): the distance between frames at s < t is F(t) - F(s), so the cumulative
    normalised distance at t is exactly F(t) for an F rising from 0 to 1."""

    def __init__(self, curve):
        self.curve, self.calls = curve, []

    def __call__(self, ts):
        self.calls.append(list(ts))
        return torch.tensor([[self.curve(t)] for t in ts], dtype=torch.float64)


def absolute(x, y):
    return (y - x).abs().reshape(-1)


def test_exploration_recovers_alpha_and_beta_of_a_beta_shaped_distance_curve():
    truth = (2.5, 4.0)
    render = CurveRenderer(lambda t: float(stats.beta.cdf(t, *truth)))
    result = adaptive.explore(render, frames=5, budget=10, distance=absolute)
    assert (result.alpha, result.beta) == pytest.approx(truth, rel=1e-4)


def test_exploration_follows_the_split_rule():
    """Replay: each new t split, at the Beta median, the widest interval between frames rendered before it.

    With the curve a Beta CDF, every fit after the first split is that Beta, so from the second split on the
    median is under the true parameters (checked on the curve itself); the first uses the prior (3, 3).
    """
    truth = (0.7, 1.8)
    curve = lambda t: float(stats.beta.cdf(t, *truth))  # noqa: E731
    render = CurveRenderer(curve)
    result = adaptive.explore(render, frames=4, budget=9, distance=absolute)

    assert render.calls[0] == [0.0, 0.5, 1.0] and all(len(call) == 1 for call in render.calls[1:])
    assert len(render.calls) == 9 - 2
    ts, order = result.coefficients, result.order
    assert ts[0] == 0.0 and ts[-1] == 1.0 and all(s < t for s, t in zip(ts, ts[1:]))
    assert sorted(order) == list(range(9))
    for rank in range(3, 9):
        k = order.index(rank)
        before = [t for t, r in zip(ts, order) if r < rank]
        widths = [curve(t) - curve(s) for s, t in zip(before, before[1:])]
        widest = widths.index(max(widths))
        left, right = before[widest], before[widest + 1]
        assert left < ts[k] < right, f"render {rank} is not in the widest interval"
        shape = (3.0, 3.0) if rank == 3 else truth
        mid = 0.5 * (stats.beta.cdf(left, *shape) + stats.beta.cdf(right, *shape))
        assert stats.beta.cdf(ts[k], *shape) == pytest.approx(mid, abs=1e-6)


def test_exploration_selects_from_the_explored_frames_and_is_smoother_than_uniform():
    """A sigmoid change concentrated around t = 0.5: uniform t gives a jumpy sequence, the adaptive one does not."""
    curve = lambda t: float(stats.beta.cdf(t, 12.0, 12.0))  # noqa: E731
    render = CurveRenderer(curve)
    result = adaptive.explore(render, frames=7, budget=16, distance=absolute)
    values = torch.tensor([[curve(t)] for t in result.coefficients], dtype=torch.float64)
    expected = adaptive.select_even(adaptive.pairwise_distances(values, absolute), 7)
    assert result.selection == expected
    assert result.selected_coefficients == tuple(result.coefficients[i] for i in expected.indices)
    adaptive_smoothness = smoothness(list(result.selection.distances))
    uniform_smoothness = smoothness([curve((k + 1) / 6) - curve(k / 6) for k in range(6)])
    assert uniform_smoothness < 0.6 and adaptive_smoothness > 0.9


def test_exploration_reports_progress_and_propagates_a_cancel():
    reports = []

    class Cancelled(Exception):
        pass

    def progress(done, total, t):
        reports.append((done, total, t))
        if done == 3:
            raise Cancelled

    render = CurveRenderer(lambda t: t)
    with pytest.raises(Cancelled):
        adaptive.explore(render, frames=3, budget=8, distance="pixel", progress=progress)
    assert [r[:2] for r in reports] == [(1, 6), (2, 6), (3, 6)] and reports[0][2] == 0.5
    assert len(render.calls) == 3, "nothing is rendered after the cancel"


def test_exploration_with_pixel_distance_on_image_frames():
    def render(ts):
        return torch.stack([torch.full((4, 4, 3), t * t) for t in ts])

    result = adaptive.explore(render, frames=3, budget=5)
    assert len(result.coefficients) == 5 and len(result.selection.indices) == 3
    assert result.distances == tuple(pixel_distance(torch.full((1, 4, 4, 3), s * s), torch.full((1, 4, 4, 3), t * t))
                                     .item() for s, t in zip(result.coefficients, result.coefficients[1:]))


@pytest.mark.parametrize("kwargs, argument, detail", [
    (dict(frames=3, budget=2), "budget", "must be an int >= 3, got 2"),
    (dict(frames=6, budget=5), "frames", "cannot choose 6 frames from a budget of 5 explored frames"),
    (dict(frames=1, budget=5), "frames", "must be an int >= 2, got 1"),
    (dict(frames=3, budget=5, distance="lpips"), "distance", "must be 'pixel' or a callable, got 'lpips'"),
    (dict(frames=3, budget=5, alpha=math.nan), "alpha", "must be finite, got nan"),
    (dict(frames=3, budget=5, beta=-1.0), "beta", "must be > 0, got -1.0"),
    (dict(frames=3, budget=5, distance=lambda x, y: torch.full((x.shape[0],), math.nan)), "distance",
     "must return finite values >= 0, got [nan, nan]"),
])
def test_exploration_argument_errors(argument_error, kwargs, argument, detail):
    with argument_error("explore", argument, detail):
        adaptive.explore(CurveRenderer(lambda t: t), **kwargs)


def test_exploration_argument_types():
    with pytest.raises(TypeError, match="explore: budget must be an int >= 3, got float 5.0"):
        adaptive.explore(CurveRenderer(lambda t: t), frames=3, budget=5.0)
    with pytest.raises(TypeError, match=r"explore: render\(\[0, 0.5, 1\]\) must return a torch.Tensor, got list"):
        adaptive.explore(lambda ts: [0.0] * len(ts), frames=3, budget=4)


def test_exploration_names_a_renderer_that_returns_the_wrong_shape_or_nan(argument_error):
    with argument_error("explore", "render", "render([0, 0.5, 1]) must return a tensor [3, ...], got shape (1, 1)"):
        adaptive.explore(lambda ts: torch.zeros(1, 1), frames=3, budget=4)
    with argument_error("explore", "render", "...must return a tensor (1, 2), got shape (1, 3)"):
        adaptive.explore(lambda ts: torch.zeros(len(ts), 2 if len(ts) == 3 else 3), frames=3, budget=4)
    with argument_error("explore", "render", "render([0, 0.5, 1]) returned NaN or inf values"):
        adaptive.explore(lambda ts: torch.full((len(ts), 2), math.nan), frames=3, budget=4)
