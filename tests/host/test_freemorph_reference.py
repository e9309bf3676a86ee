"""The picture morph against FreeMorph's own code (Stars1233/FreeMorph at b7b7068, run from its archive, never copied
here), on the diffusers twin of the tiny SD2 UNet: same weights, pictures, captions and noise.

The reference's ``aid_inversion`` and ``aid_forward`` run as published, on the twin's diffusers UNet, with
the module globals its ``__main__`` sets (``unet``, ``steps``, the two DDIM schedulers of SD 2.1's config); its glue
(slerp, caption lerp, Beta coefficients, Fourier filter, 50 -> here 10 steps at strength 0.8: 8 inverted, which
still hold every phase: plain 0-3, the rows' mean 4-5, plain 6, the ends' mean 7; sampling pure 0, fused 1-3) is restated from its
``__main__`` with its own functions. The pack runs the graph a user wires: Conditioning Interpolation Batch, Picture
Morph Latents, Picture Morph Attention and SamplerCustom (Euler = DDIM, cfg 7.5, noise off).

How the two line up:

- **Sigmas.** The reference's UNet sees each scheduler timestep minus 1; with 10 steps ("leading", offset 1) it
  inverts t = 0, 100, ..., 700 and samples 700, 600, ..., 0, and both its first inversion step and its last sampling
  step go from alpha-bar[0] to alpha-bar[0] (``set_alpha_to_one`` False): a step that changes nothing, and the result
  is the latent at t = 0, not a denoised one. In ComfyUI that is the schedule ``sigma_900, ..., sigma_100, sigma_0,
  sigma_0`` (the twin's sigmas at those timesteps): SamplerCustom steps between equal sigmas change nothing, and the
  inversion walks the sampled part upward from ``sigma_0`` with the same step count, so its phases fall on the same
  steps.
- **Latents.** Diffusers' latent is ``sqrt(alpha-bar) x`` of ComfyUI's; the pictures enter the reference as samples at
  alpha-bar[0] (they are given to the pack divided by ``sqrt(alpha-bar[0])``) and the results are compared in
  diffusers' scale. FreeMorph's unit injection noise is ``sqrt(1 + sigma^2)`` of the pack's noise in ComfyUI's scale,
  which is what Picture Morph Latents draws from its seed.
- **Slerp.** FreeMorph slerps each latent row (its last axis) apart, the pack the whole latent: the pictures here are
  made so that every row of B makes the same angle with its row of A, at a norm proportional to it, where both slerps
  are the same curve. On other pictures they differ; the pack keeps the whole-latent slerp (DESIGN: an accident of
  the reference).
- **Fourier window.** FreeMorph's thresholds are absolute, for 96x96 latents (42 of 48 around the centre); the
  reference here gets the pack's window at this size (``low_frequencies`` 0.875 of 8: 7).
- **Prediction.** The twin is an eps model. On a v-prediction model FreeMorph's inverse scheduler converts the UNet's
  v to eps with the step's starting latent and level rather than the latent the UNet saw; the pack's inversion reads
  the model at the latent it gave it, so on v models the two inversions differ by design.
"""

import math

import pytest
import torch

import comfy.sample
import comfy.samplers

FRAMES, STEPS, STRENGTH, ITERATIONS, CFG, SEED = 5, 10, 0.8, 5, 7.5, 11
SIZE, TOKENS = 16, 8
# Measured on this CPU (torch 2.14.1): the start latents agree within 6e-7 and the morph's frames within 5.1e-6 of
# their largest value (1 to 5 iterations, 10 or 20 steps alike); the bounds leave ten times that for other CPUs.
# Each fixed-point iteration starts from FreeMorph's guess (the model's input unchanged): another first guess meets
# the same fixed point, but after 5 iterations the frames still differed by 6e-3 here.
START_TOLERANCE, FRAMES_TOLERANCE = 1e-5, 5e-5


@pytest.fixture(scope="module")
def freemorph(tmp_path_factory):
    """FreeMorph's modules (``freemorph``, ``aid_utils``) imported from its archive."""
    pytest.importorskip("diffusers", reason="diffusers runs the reference code")
    import reference_code

    return reference_code.import_reference("FreeMorph-b7b7068.tar.gz", ["freemorph", "aid_utils"],
                                           tmp_path_factory.mktemp("freemorph"), stubs=("accelerate",))


@pytest.fixture(scope="module")
def twin():
    pytest.importorskip("diffusers", reason="diffusers runs the reference code")
    from diffusers_twin import build_sd2_twin

    return build_sd2_twin("eps", seed=0)


def _pictures() -> tuple[torch.Tensor, torch.Tensor]:
    """Two latents whose every last-axis row pair has the same angle (1 rad) and proportional norms."""
    generator = torch.Generator().manual_seed(5)
    a = torch.randn(1, 4, SIZE, SIZE, generator=generator)
    other = torch.randn(1, 4, SIZE, SIZE, generator=generator)
    unit = a / a.norm(dim=-1, keepdim=True)
    orthogonal = other - (other * unit).sum(-1, keepdim=True) * unit
    orthogonal = orthogonal / orthogonal.norm(dim=-1, keepdim=True)
    b = 1.3 * a.norm(dim=-1, keepdim=True) * (math.cos(1.0) * unit + math.sin(1.0) * orthogonal)
    return a, b


def _reference(freemorph, twin, a, b, cond_a, cond_b, uncond):
    """FreeMorph's ``__main__`` for one pair, restated with its functions (module docstring)."""
    fm, utils = freemorph["freemorph"], freemorph["aid_utils"]
    fm.unet, fm.steps = twin.diffusers, STEPS
    fm.invert_scheduler, fm.forward_scheduler = twin.inverse_scheduler(), twin.scheduler()
    fm.invert_scheduler.set_timesteps(STEPS)
    fm.forward_scheduler.set_timesteps(STEPS)
    coef = utils.generate_beta_tensor(FRAMES, alpha=20, beta=20)
    latents = utils.spherical_interpolation(a, b, FRAMES).squeeze(0)
    con = utils.linear_interpolation(cond_a, cond_b, FRAMES).squeeze(0)
    uncon = utils.linear_interpolation(uncond, uncond, FRAMES).squeeze(0)
    inverted = fm.aid_inversion(timesteps=(fm.invert_scheduler.timesteps - 1)[: int(STEPS * STRENGTH)],
                                latent=latents, text_input_con=con, text_input_uncon=uncon, coef_self_attn=coef,
                                coef_cross_attn=coef)
    noise = torch.randn((1, 4, SIZE, SIZE), generator=torch.Generator().manual_seed(SEED))
    window = round(0.875 * (SIZE // 2))
    middle = [utils.fourier_filter(x=inverted[k].unsqueeze(0), y=noise.clone(), threshold=window)
              for k in range(1, FRAMES - 1)]
    start = torch.cat([inverted[:1], *middle, inverted[-1:]])
    forward = (fm.forward_scheduler.timesteps - 1)[STEPS - int(STEPS * STRENGTH):]
    out = fm.aid_forward(forward, latent=start, text_input_con=con, text_input_uncond=uncon, coef_self_attn=coef,
                         coef_cross_attn=coef, guidance_scale=CFG)
    return latents, start, out


def _pack(n, twin, a, b, cond_a, cond_b, uncond):
    """The graph a user wires, on ComfyUI's twin; returns (start latents, morph), both in diffusers' scale."""
    from diffusers_twin import to_comfy_latent, to_diffusers_latent

    nodes = n.picture_morph_nodes
    schedule = lambda preset, alpha: n.schedule_nodes.BetaCoefficientSchedule.execute(  # noqa: E731
        FRAMES, preset, 20, alpha, alpha, 0.0, 1.0).args[0]
    uniform, beta = schedule("uniform", 1.0), schedule(n.schedule_nodes.PRESET_CUSTOM, 20.0)
    positive = n.conditioning_nodes.ConditioningInterpolationBatch.execute([[cond_a, {}]], [[cond_b, {}]], uniform,
                                                                           "lerp", "error").args[0]
    timesteps = [1000 // STEPS * k for k in range(STEPS - 1, -1, -1)] + [0]  # 900, ..., 100, 0 and the final 0
    sigmas = twin.sigma(timesteps).float()
    sigma_0 = sigmas[-1:]
    latent_format = twin.comfy.model.latent_format  # a LATENT is the VAE's; the model scales it (SD2: 0.18215)
    pictures = [{"samples": latent_format.process_out(to_comfy_latent(x, sigma_0))} for x in (a, b)]
    start, sampled = nodes.PictureMorphLatents.execute(twin.comfy, positive, *pictures, uniform, sigmas, STRENGTH,
                                                       ITERATIONS, 0.3, 0.6, 0.875, SEED).args
    model = nodes.PictureMorphAttention.execute(twin.comfy, beta, 0.2, 0.6, "self + cross", False, 0).args[0]
    morph = comfy.sample.sample_custom(model, torch.zeros_like(start["samples"]), CFG,
                                       comfy.samplers.sampler_object("euler"), sampled, positive, [[uncond, {}]],
                                       start["samples"], seed=0)
    return (to_diffusers_latent(latent_format.process_in(start["samples"]), sampled[:1]),
            to_diffusers_latent(latent_format.process_in(morph), sigma_0), positive)


def _close(actual, expected, relative):
    torch.testing.assert_close(actual, expected, rtol=0, atol=relative * expected.abs().max().item())


def test_picture_morph_equals_freemorphs_code(n, freemorph, twin):
    a, b = _pictures()
    generator = torch.Generator().manual_seed(6)
    cond_a, cond_b, uncond = (torch.randn(1, TOKENS, 1024, generator=generator) for _ in range(3))
    slerped, start, expected = _reference(freemorph, twin, a, b, cond_a, cond_b, uncond)

    uniform = n.schedule_type.two_endpoints([i / (FRAMES - 1) for i in range(FRAMES)])
    whole = n.picture_morph_nodes.interpolate_keyframes(torch.cat([a, b]), uniform, "slerp")  # the node's slerp
    _close(whole, slerped, 1e-6)  # the pictures make both slerps one curve
    pack_start, morph, positive = _pack(n, twin, a, b, cond_a, cond_b, uncond)
    torch.testing.assert_close(positive[0][0], freemorph["aid_utils"].linear_interpolation(cond_a, cond_b, FRAMES))
    _close(pack_start, start, START_TOLERANCE)
    _close(morph, expected, FRAMES_TOLERANCE)
    assert (morph[1:-1] - start[1:-1]).abs().max() > 0.1, "the morph must have sampled something"
