"""Inversion of a sampler's deterministic steps: the noisy latent that regenerates a given one.

A sampler walks sigmas ``s_0 > s_1 > ... > s_n`` with a denoiser ``D(x, s)`` (the model's prediction of the
clean latent). Its deterministic Euler step, which is DDIM for every model type (eps-, v-prediction and
rectified flow alike, in the convention where ``x = x0 + s * noise`` or ``x = (1 - s) x0 + s * noise``), is

    ``x_{i+1} = x_i + (s_{i+1} - s_i) * eps(x_i, s_i)``,  with  ``eps(y, s) = (y - D(y, s)) / s``.

Inversion walks the same sigmas upward. Going from ``x_{i+1}`` (at ``s_{i+1}``) back to ``x_i`` (at ``s_i``) means
solving the step above for ``x_i``, an implicit equation (``x_i`` appears on both sides):

    ``x_i = x_{i+1} + (s_i - s_{i+1}) * eps(x_i, s_i)``.

It is solved by fixed-point iteration (FreeMorph's and ReNoise's inversion),
``x_i^{m+1} = x_{i+1} + (s_i - s_{i+1}) * eps(x_i^m, s_i)``, from the guess that leaves the model's input as it is:
a model reads ``c(s) x`` at sigma ``s`` (``c(s) = 1 / sqrt(1 + s^2)`` for eps and v models, whose latents grow with
the noise; 1 for rectified flow), so ``x_i^0 = x_{i+1} c(s_{i+1}) / c(s_i)``, which is FreeMorph's guess (diffusers'
latent of the step's start, unchanged). One iteration is then plain DDIM inversion as diffusers does it (the
denoiser read at the start latent); where the iteration converges, its limit is exactly the latent the sampler's step
maps back to ``x_{i+1}``, whatever the guess, so sampling the inverted latent with the same sigmas regenerates the
input, up to how far the iterations got.

Nothing here knows a model: ``denoise(x, sigma, step)`` is any callable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .errors import ArgumentError
from .validation import check_integer, check_real

# (latent, sigma, inversion step) -> the denoiser's clean-latent prediction, shaped like the latent.
Denoise = Callable[[torch.Tensor, float, int], torch.Tensor]


def sampled_steps(steps: int, strength: float) -> int:
    """How many of a schedule's ``steps`` a sampling at ``strength`` runs: ``round(steps * strength)``.

    The last ``k`` steps of the schedule are sampled (and so inverted), as ComfyUI's Split Sigmas Denoise
    counts them; FreeMorph: 50 steps at 0.8 -> 40. ``strength`` must be in (0, 1] and give at least one step.
    """
    where = "sampled_steps"
    steps = check_integer(steps, "steps", where, 1)
    strength = check_real(strength, "strength", where)
    if not 0.0 < strength <= 1.0:
        raise ArgumentError(where, "strength", f"must be in (0, 1] (the fraction of the schedule inverted), got "
                                               f"{strength!r}")
    count = round(steps * strength)
    if count < 1:
        raise ArgumentError(where, "strength", f"{strength!r} of {steps} steps is no step at all; raise it to at "
                                               f"least {0.5 / steps:.3g} or use more steps")
    return count


def invert(x: torch.Tensor, sigmas: Sequence[float], denoise: Denoise, iterations: int,
           on_step: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
           input_scale: Callable[[float], float] | None = None) -> torch.Tensor:
    """The latent at ``sigmas[-1]`` that the sampler's steps from ``sigmas[-1]`` down to ``sigmas[0]`` take to ``x``.

    ``sigmas`` increasing (``sigmas[0]``: the level ``x`` is at, 0 for a clean latent), as Python floats;
    ``iterations`` fixed-point iterations a step (module docstring; 1 is plain DDIM inversion). Step ``i`` goes from
    ``sigmas[i]`` to ``sigmas[i + 1]`` and calls ``denoise(guess, sigmas[i + 1], i)`` once per iteration; a step
    between equal sigmas leaves the latent as it is. ``on_step(i, latent, denoised)`` follows each step (progress,
    previews, interruption). ``input_scale``: the model's ``c(s)`` (module docstring; ``None``: 1). Returns a new
    tensor; ``x`` is not modified.
    """
    where = "invert"
    iterations = check_integer(iterations, "iterations", where, 1)
    levels = [check_real(s, "sigmas", where, index=i) for i, s in enumerate(sigmas)]
    if len(levels) < 2:
        raise ArgumentError(where, "sigmas", f"need at least two sigmas (one step), got {len(levels)}")
    for i, (low, high) in enumerate(zip(levels, levels[1:])):
        if not 0.0 <= low <= high or high == 0.0:
            raise ArgumentError(where, "sigmas", f"must rise from >= 0 to > 0 (inversion walks the schedule up), "
                                                 f"got {low!r} then {high!r}", index=i + 1)
    scale = input_scale or (lambda sigma: 1.0)
    for i, (low, high) in enumerate(zip(levels, levels[1:])):
        guess = x * (scale(low) / scale(high))
        for _ in range(iterations):
            denoised = denoise(guess, high, i)
            guess = x + (high - low) / high * (guess - denoised)
        x = guess
        if on_step is not None:
            on_step(i, x, denoised)
    return x
