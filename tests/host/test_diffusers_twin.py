"""The diffusers twin (``diffusers_twin.py``) is ComfyUI's model: same weights, same predictions through ComfyUI's real
path (``apply_model``: its latent scale, sigma and denoised output), the same noise schedule as SD 2.1's scheduler."""

import pytest
import torch

pytest.importorskip("diffusers", reason="the twin is a diffusers UNet")

from diffusers_twin import build_sd2_twin, sigma_at, to_diffusers_latent  # noqa: E402

# Measured on this CPU (torch 2.14.1, ComfyUI 0.12.1 and 0.3.64): at most 5.8e-6 between ComfyUI's prediction and
# diffusers' at t = 1 (v; 3.8e-6 eps), where eps = (x - x0) / sigma divides rounding by sigma = 0.03, and 2e-6 from
# t = 21 on, on outputs up to 1.3. The bound is seven times the largest.
TOLERANCE = dict(rtol=0.0, atol=4e-5)
TIMESTEPS = [1, 21, 501, 981, 999]  # SD 2.1's 50-step "leading" schedule has 1, 21, ..., 981; 999 is the last sigma


@pytest.fixture(scope="module", params=["eps", "v"])
def twin(request):
    return build_sd2_twin(request.param, seed=0)


def test_the_twin_has_every_weight_of_the_comfy_model(twin):
    comfy_model, unet = twin.comfy.model.diffusion_model, twin.diffusers
    assert sum(p.numel() for p in unet.parameters()) == sum(p.numel() for p in comfy_model.parameters())
    # A weight as it is in each: ComfyUI's key map carried it over, not a fresh initialisation.
    torch.testing.assert_close(unet.down_blocks[0].attentions[0].transformer_blocks[0].attn2.to_k.weight,
                               comfy_model.input_blocks[1][1].transformer_blocks[0].attn2.to_k.weight, rtol=0, atol=0)
    assert twin.comfy.model.model_type.name == {"eps": "EPS", "v": "V_PREDICTION"}[twin.prediction]


def test_predictions_agree(twin):
    """ComfyUI's denoised output read as diffusers' prediction (eps, or v) is diffusers' ``unet(...).sample``; one
    row per timestep of :data:`TIMESTEPS`, each at its own."""
    g = torch.Generator().manual_seed(0)
    rows = len(TIMESTEPS)
    x_diff, context = torch.randn(rows, 4, 16, 16, generator=g), torch.randn(rows, 8, 1024, generator=g)
    with torch.no_grad():
        expected = twin.diffusers(x_diff, torch.tensor(TIMESTEPS), encoder_hidden_states=context).sample
        actual = twin.comfy_prediction(x_diff, TIMESTEPS, context)
    torch.testing.assert_close(actual, expected, **TOLERANCE)


def test_sigmas_are_the_schedulers(twin):
    """ComfyUI's sigma at a diffusers timestep is sqrt((1 - ab) / ab) of SD 2.1's scheduler, and maps back to it."""
    scheduler = twin.scheduler()
    scheduler.set_timesteps(50)
    timesteps = torch.cat([scheduler.timesteps, torch.tensor([0, 999])])
    assert scheduler.timesteps[[0, -1]].tolist() == [981, 1]  # "leading" spacing, steps_offset 1
    inverse = twin.inverse_scheduler()
    assert scheduler.config.prediction_type == inverse.config.prediction_type == {"eps": "epsilon",
                                                                                  "v": "v_prediction"}[twin.prediction]
    torch.testing.assert_close(inverse.alphas_cumprod, scheduler.alphas_cumprod, rtol=0, atol=0)
    sigma = sigma_at(twin.comfy, timesteps)
    ab = scheduler.alphas_cumprod[timesteps].double()
    # The scheduler keeps alpha-bar in float32: near t = 0, 1 - ab (8.5e-4) carries its rounding 1e3 times over
    # (measured 1.3e-5 relative at t = 0, 1e-6 from t = 21 on); ComfyUI derives its sigmas in float64.
    torch.testing.assert_close(sigma.double(), ((1 - ab) / ab).sqrt(), rtol=5e-5, atol=0)
    model_sampling = twin.comfy.get_model_object("model_sampling")
    assert model_sampling.timestep(sigma).tolist() == timesteps.tolist()  # the nearest of its 1000 sigmas


def test_latents_are_the_schedulers(twin):
    """ComfyUI's noisy latent x0 + sigma * eps is diffusers' add_noise(x0, eps, t) over sqrt(ab)."""
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(2, 4, 8, 8, generator=g), torch.randn(2, 4, 8, 8, generator=g)
    timesteps = torch.tensor([21, 801])
    sigma = sigma_at(twin.comfy, timesteps)
    expected = twin.scheduler().add_noise(x0, eps, timesteps)
    actual = to_diffusers_latent(x0 + sigma.reshape(-1, 1, 1, 1) * eps, sigma)
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-6)
