"""Inversion (inbetween.inversion) against closed forms: a linear denoiser, whose implicit step has an exact solution,
and the deterministic Euler sampler the inversion undoes."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from inbetween.errors import ArgumentError
from inbetween.inversion import invert, sampled_steps


def linear_denoiser(scale: float):
    """``D(x, s) = x / (1 + scale * s^2)``: the exact denoiser of Gaussian data of variance ``1 / scale``."""
    return lambda x, sigma, step: x / (1 + scale * sigma**2)


def euler_sample(x, sigmas_down, denoise):
    """ComfyUI's Euler (DDIM) sampler: ``x <- x + (s' - s) (x - D(x, s)) / s``, sigmas decreasing."""
    for step, (high, low) in enumerate(zip(sigmas_down, sigmas_down[1:])):
        x = x + (low - high) * (x - denoise(x, high, step)) / high
    return x


def test_one_iteration_is_ddim_inversion_hand_worked():
    # D = x / 2 at sigma 1: eps(y) = y / 2; from 0 to 1: x_1 = x_0 + 1 * x_0 / 2 = 1.5 x_0.
    x = torch.tensor([2.0, -4.0], dtype=torch.float64)
    out = invert(x, [0.0, 1.0], lambda y, s, i: y / 2, iterations=1)
    torch.testing.assert_close(out, 1.5 * x, rtol=0, atol=0)


def test_first_guess_keeps_the_models_input():
    # c(s) = 1 / sqrt(1 + s^2): the guess at s = 1 is x * c(0) / c(1) = sqrt(2) x; D = y / 2 at sigma 1:
    # x_1 = x + 1 * (sqrt(2) x) / 2.
    x = torch.tensor([2.0, -4.0], dtype=torch.float64)
    out = invert(x, [0.0, 1.0], lambda y, s, i: y / 2, 1, input_scale=lambda s: 1 / math.sqrt(1 + s * s))
    torch.testing.assert_close(out, x * (1 + math.sqrt(2) / 2), rtol=1e-15, atol=0)


def test_fixed_point_of_a_linear_denoiser_is_the_closed_form():
    # x_b = x_a + (s_b - s_a) * c x_b with c = (1 - 1/(1 + k s_b^2)) / s_b  =>  x_b = x_a / (1 - (s_b - s_a) c).
    k, s_a, s_b = 0.5, 0.3, 0.8
    x = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    c = (1 - 1 / (1 + k * s_b**2)) / s_b
    out = invert(x, [s_a, s_b], linear_denoiser(k), iterations=60)
    torch.testing.assert_close(out, x / (1 - (s_b - s_a) * c), rtol=1e-12, atol=0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.01, 1.0), min_size=1, max_size=6), st.floats(0.05, 1.0))
def test_inverting_then_sampling_gives_the_latent_back(increments, scale):
    # The converged fixed point is exactly the latent Euler maps back to the input: a round trip within float64.
    # Each step's iteration contracts by q = (s_b - s_a) k s_b / (1 + k s_b^2) < 1; iterate until q^m < 1e-14.
    sigmas = [0.0] + [sum(increments[: i + 1]) for i in range(len(increments))]
    q = max((b - a) * scale * b / (1 + scale * b * b) for a, b in zip(sigmas, sigmas[1:]))
    iterations = max(1, math.ceil(math.log(1e-14) / math.log(q)))
    x = torch.randn(2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    inverted = invert(x, sigmas, linear_denoiser(scale), iterations=iterations,
                      input_scale=lambda s: 1 / math.sqrt(1 + s * s))
    back = euler_sample(inverted, sigmas[::-1], linear_denoiser(scale))
    torch.testing.assert_close(back, x, rtol=1e-9, atol=1e-9)


def test_round_trip_error_falls_with_iterations():
    sigmas = [0.0, 0.2, 0.5, 1.0, 2.0]
    x = torch.randn(5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    errors = []
    for iterations in (1, 2, 4, 8):
        back = euler_sample(invert(x, sigmas, linear_denoiser(1.0), iterations), sigmas[::-1], linear_denoiser(1.0))
        errors.append(float((back - x).abs().max()))
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-2 * errors[0], errors


def test_equal_sigmas_leave_the_latent_and_steps_are_counted():
    seen = []
    x = torch.ones(2)
    out = invert(x, [0.5, 0.5, 1.0], lambda y, s, i: seen.append((s, i)) or y * 0, iterations=2)
    assert seen == [(0.5, 0), (0.5, 0), (1.0, 1), (1.0, 1)]
    # D = 0: step 0 (0.5 -> 0.5) changes nothing; step 1: 1 + 0.5 / 1 * 1 = 1.5, then 1 + 0.5 * 1.5 = 1.75.
    torch.testing.assert_close(out, torch.full((2,), 1.75), rtol=0, atol=0)
    assert x.tolist() == [1.0, 1.0]


def test_on_step_sees_every_step():
    steps = []
    invert(torch.zeros(1), [0.0, 1.0, 2.0], lambda y, s, i: y, 1, on_step=lambda i, x, d: steps.append(i))
    assert steps == [0, 1]


@pytest.mark.parametrize("sigmas", [[1.0], [0.0, 0.0], [1.0, 0.5], [-0.1, 1.0], [0.0, math.inf]])
def test_bad_sigmas_are_named(sigmas):
    with pytest.raises(ArgumentError) as err:
        invert(torch.zeros(1), sigmas, lambda y, s, i: y, 1)
    assert err.value.argument == "sigmas"


def test_bad_iterations_are_named():
    with pytest.raises(ArgumentError, match="iterations"):
        invert(torch.zeros(1), [0.0, 1.0], lambda y, s, i: y, 0)


@pytest.mark.parametrize("steps, strength, expected", [(50, 0.8, 40), (10, 1.0, 10), (20, 0.5, 10), (3, 0.2, 1)])
def test_sampled_steps(steps, strength, expected):
    assert sampled_steps(steps, strength) == expected


@pytest.mark.parametrize("strength", [0.0, -0.5, 1.01, 0.01])
def test_sampled_steps_refuses_strength(strength):
    with pytest.raises(ArgumentError) as err:
        sampled_steps(10, strength)
    assert err.value.argument == "strength"
