"""Inversion through ComfyUI's own sampling path: a picture's latent -> the noisy latent that regenerates it.

The engine's :func:`~..inbetween.inversion.invert` does the math; here it runs as a ComfyUI sampler
(``comfy.samplers.KSAMPLER``) over the sampler's sigmas walked upward, through ``comfy.sample.sample_custom`` at
cfg 1 (the positive conditioning alone, as FreeMorph inverts). So the model's own ``model_sampling`` serves eps-,
v-prediction and rectified-flow models alike, the model's patches, wrappers and LoRAs apply, the latent goes in
and out through the model's latent format, and the node shows progress and previews and stops when the queue is
interrupted, as a sampler does.

Conventions line up with ComfyUI's samplers: the input latent is taken at the schedule's last sigma (0 for a
schedule that ends clean), and the output is a LATENT at the first sampled sigma in the form a sampler with
``add_noise`` off reads (SamplerCustom, or KSampler (Advanced) with noise disabled): its ``noise_scaling`` with zero
noise turns it back into exactly the inverted sample (``x / (1 - sigma)`` on rectified flow, unchanged on eps/v).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

import comfy.model_management
import comfy.model_sampling
import comfy.sample
import comfy.samplers
import comfy.utils
import latent_preview

from ..inbetween import inversion
from .attention_patch.plan import BEHAVIOUR_KEY
from .comfy_values import describe
from .errors import InbetweenInputError, engine_errors

# Inversion step i of steps (the full schedule's) -> the AID layers' behaviour in its model calls (None: plain).
Behaviours = Callable[[int], "str | None"]


def sampled_sigmas(node: str, sigmas: object, strength: float) -> torch.Tensor:
    """The last ``round(steps * strength)`` steps of the decreasing schedule ``sigmas`` (their sigmas, one more than
    the steps): what is inverted, and then sampled."""
    if not isinstance(sigmas, torch.Tensor) or sigmas.dim() != 1 or sigmas.shape[0] < 2 \
            or not sigmas.is_floating_point():
        raise InbetweenInputError(node, "sigmas", f"expected SIGMAS, a 1-D float tensor of at least two sigmas (one "
                                                  f"step), e.g. from BasicScheduler; got {describe(sigmas)}")
    values = sigmas.tolist()
    if any(later > earlier for earlier, later in zip(values, values[1:])) or values[-1] < 0:
        raise InbetweenInputError(node, "sigmas", f"expected a sampler's schedule, decreasing to >= 0, got {values}")
    with engine_errors(node, strength="strength", steps="sigmas"):
        count = inversion.sampled_steps(len(values) - 1, strength)
    return sigmas[-(count + 1):]


def invert_latent(node: str, model, positive, samples: torch.Tensor, sigmas: torch.Tensor, iterations: int,
                  behaviours: Behaviours | None = None) -> torch.Tensor:
    """``samples`` (a LATENT's, at ``sigmas[-1]``) inverted up to ``sigmas[0]`` (``sigmas`` decreasing, as a
    sampler takes them), ``iterations`` fixed-point iterations a step; ``behaviours`` sets what an AID patch on
    ``model`` does at each inversion step (counted from the clean end)."""
    model_sampling = model.get_model_object("model_sampling")
    if isinstance(model_sampling, comfy.model_sampling.CONST) and float(sigmas[0]) >= 1.0:
        raise InbetweenInputError(node, "strength", f"reaches sigma {float(sigmas[0]):g} on this rectified-flow "
                                                    "model, where a LATENT cannot carry the inverted noise (the "
                                                    "sampler scales it by 1 - sigma); use a strength below 1")
    upward = sigmas.flip(0)
    sampler = comfy.samplers.KSAMPLER(_sample_inversion, extra_options={"iterations": iterations,
                                                                        "behaviours": behaviours})
    callback = latent_preview.prepare_callback(model, upward.shape[-1] - 1)
    noise = torch.zeros(samples.shape, dtype=samples.dtype, layout=samples.layout, device="cpu")
    with engine_errors(node, iterations="iterations", sigmas="sigmas"):
        return comfy.sample.sample_custom(model, noise, 1.0, sampler, upward, positive, positive, samples,
                                          callback=callback, disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED,
                                          seed=0)


def _sample_inversion(model, x, sigmas, extra_args=None, callback=None, disable=None, iterations=1,
                      behaviours: Behaviours | None = None):
    """A ComfyUI sampler function (k-diffusion's signature) that inverts ``x`` along increasing ``sigmas``."""
    extra_args = {} if extra_args is None else extra_args
    options = extra_args.get("model_options", {})
    s_in = x.new_ones([x.shape[0]])

    def denoise(latent: torch.Tensor, sigma: float, step: int) -> torch.Tensor:
        comfy.model_management.throw_exception_if_processing_interrupted()  # between model calls, as a sampler stops
        args = extra_args
        if behaviours is not None:
            transformer_options = {**options.get("transformer_options", {}), BEHAVIOUR_KEY: behaviours(step)}
            args = {**extra_args, "model_options": {**options, "transformer_options": transformer_options}}
        return model(latent, sigmas[step + 1] * s_in, **args)

    def on_step(step: int, latent: torch.Tensor, denoised: torch.Tensor) -> None:
        if callback is not None:
            callback({"x": latent, "i": step, "sigma": sigmas[step + 1], "sigma_hat": sigmas[step + 1],
                      "denoised": denoised})

    model_sampling = model.inner_model.inner_model.model_sampling

    def input_scale(sigma: float) -> float:
        return float(model_sampling.calculate_input(torch.tensor([sigma]), torch.ones(1)))

    return inversion.invert(x, sigmas.tolist(), denoise, iterations, on_step, input_scale)
