"""A diffusers twin of a tiny ComfyUI SD2 UNet: one set of random weights in ComfyUI's model (in a real ModelPatcher)
and in diffusers' ``UNet2DConditionModel``, so that the methods' published code, written for diffusers (AID's
attention processors, FreeMorph's inversion and sampling loops), runs beside the pack on the same model.

    twin = build_sd2_twin("v", seed=0)
    twin.diffusers(x_diff, t, encoder_hidden_states=context).sample   # diffusers' own call
    twin.comfy_prediction(x_diff, t, context)                         # ComfyUI's model, read the same way

The weights go from ComfyUI's model to diffusers' through ComfyUI's own key map (``comfy.utils.unet_to_diffusers``),
every weight of each model accounted for. How the two conventions meet (ComfyUI's discrete eps / v models):

- **Timesteps.** Diffusers' integer timestep ``t`` (0..999) is ComfyUI's ``sigma_t = sqrt((1 - ab_t) / ab_t)``
  (``ab``: alpha-bar, the cumulative product of 1 - beta), the entry ``t`` of the model's
  ``model_sampling.sigmas``; ``model_sampling.timestep(sigma_t)`` gives ``t`` back: :func:`sigma_at`.
- **Latents.** ComfyUI's noisy latent is ``x0 + sigma * eps``, diffusers' ``sqrt(ab) * x0 + sqrt(1 - ab) * eps``:
  ``x_diff = sqrt(ab) * x_comfy`` with ``ab = 1 / (1 + sigma^2)``; ``x0`` is the same in both.
- **Predictions.** ComfyUI's ``apply_model`` returns the denoised ``x0``; diffusers' UNet returns
  ``eps = (x_comfy - x0) / sigma`` for an eps model and ``v = sqrt(ab) * eps - sqrt(1 - ab) * x0`` for a
  v-prediction one: :func:`prediction_from_denoised`.
- **Schedulers.** :func:`sd21_scheduler` and :func:`sd21_inverse_scheduler` are diffusers' ``DDIMScheduler`` and
  ``DDIMInverseScheduler`` with SD 2.1's scheduler config (scaled-linear betas 0.00085..0.012 over 1000 steps, which
  is ComfyUI's default "linear" schedule of SD models, ``set_alpha_to_one`` False, ``steps_offset`` 1, "leading"
  spacing, no clipping), the prediction type the twin's.

The model is SD 2.x's layout in small (``tiny_models.sd2_unet_config``): linear projections in the transformers,
heads of 64 channels, 1024-wide context, 64/128/128 channels on three levels, transformers on the first two and in
the middle. Needs diffusers (the host environments of ``.ci/run`` have it for these tests alone).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

import tiny_models

PREDICTIONS = {"eps": "epsilon", "v": "v_prediction"}  # the twin's name -> diffusers' prediction_type

SD21_SCHEDULER_CONFIG = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                             beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False, steps_offset=1,
                             timestep_spacing="leading")


@dataclass
class Twin:
    """ComfyUI's model and its diffusers twin, identical weights; ``prediction`` is ``"eps"`` or ``"v"``."""

    comfy: object  # comfy.model_patcher.ModelPatcher (clone it before patching)
    diffusers: torch.nn.Module  # diffusers.UNet2DConditionModel, eval mode
    prediction: str
    unet_config: dict  # ComfyUI's config of the UNet (as the model has it)

    def sigma(self, timesteps) -> torch.Tensor:
        """ComfyUI's sigmas at diffusers' timesteps: :func:`sigma_at` on this model."""
        return sigma_at(self.comfy, timesteps)

    def scheduler(self):
        """A fresh ``DDIMScheduler`` with SD 2.1's config and this twin's prediction type."""
        return sd21_scheduler(self.prediction)

    def inverse_scheduler(self):
        """A fresh ``DDIMInverseScheduler`` with SD 2.1's config and this twin's prediction type."""
        return sd21_inverse_scheduler(self.prediction)

    def comfy_prediction(self, x_diff: torch.Tensor, timesteps, context: torch.Tensor, model=None,
                         transformer_options: dict | None = None) -> torch.Tensor:
        """What diffusers' ``unet(x_diff, timesteps, context).sample`` is, computed by ComfyUI's model instead.

        ``model``: the ModelPatcher to call (a patched clone of :attr:`comfy`; default :attr:`comfy` itself). It is
        called as a sampler calls it: ``model.model.apply_model`` on ComfyUI's latent at ComfyUI's sigma, with the
        patcher's ``transformer_options`` and wrappers, one positive chunk (``cond_or_uncond`` ``[0]``) unless
        ``transformer_options`` says otherwise. The denoised result is read back as diffusers' prediction.
        """
        model = model or self.comfy
        sigma = self.sigma(timesteps).expand(x_diff.shape[0])
        x_comfy = to_comfy_latent(x_diff, sigma)
        options = {**model.model_options["transformer_options"], "wrappers": model.wrappers, "cond_or_uncond": [0],
                   **(transformer_options or {})}
        denoised = model.model.apply_model(x_comfy, sigma, c_crossattn=context, transformer_options=options)
        return prediction_from_denoised(x_comfy, denoised, sigma, self.prediction)


def build_sd2_twin(prediction: str = "eps", seed: int = 0, **config) -> Twin:
    """The tiny SD2 UNet (``tiny_models.build_sd2_model_patcher``, random weights from ``seed``, eps- or
    v-prediction) and its diffusers twin with the same weights. ``config`` goes to ``tiny_models.sd2_unet_config``."""
    import comfy.utils
    from diffusers import UNet2DConditionModel

    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {sorted(PREDICTIONS)}, got {prediction!r}")
    patcher = tiny_models.build_sd2_model_patcher(seed=seed, v_prediction=prediction == "v", **config)
    unet_config = patcher.model.model_config.unet_config
    comfy_weights = patcher.model.diffusion_model.state_dict()
    with torch.random.fork_rng(devices=[]):  # diffusers initialises its layers randomly; they are overwritten
        unet = UNet2DConditionModel(**diffusers_unet_config(unet_config))
    key_map = {d: c for d, c in comfy.utils.unet_to_diffusers(unet_config).items() if c in comfy_weights}
    unused = set(comfy_weights) - set(key_map.values())
    if unused:
        raise RuntimeError(f"ComfyUI's key map leaves weights of the ComfyUI model unmapped: {sorted(unused)}")
    unet.load_state_dict({d: comfy_weights[c] for d, c in key_map.items()}, strict=True)
    return Twin(comfy=patcher, diffusers=unet.eval().requires_grad_(False), prediction=prediction,
                unet_config=unet_config)


def diffusers_unet_config(unet_config: dict) -> dict:
    """``UNet2DConditionModel``'s config for a ComfyUI SD-type UNet config with linear transformer projections and
    ``num_head_channels`` heads (what ``comfy.supported_models.SD20`` makes): a level with transformers is a
    CrossAttn block, one without a plain one. Diffusers names the heads per level ``attention_head_dim``, as SD 2.1's
    own config does."""
    levels, blocks = len(unet_config["channel_mult"]), unet_config["num_res_blocks"]
    starts = [sum(blocks[:level]) for level in range(levels + 1)]
    depths = [set(unet_config["transformer_depth"][starts[level]:starts[level + 1]]) for level in range(levels)]
    depth = [min(d) for d in depths]
    output_depth = [d for level, d in enumerate(depth) for _ in range(blocks[level] + 1)]  # as ComfyUI lists it
    if any(len(d) != 1 for d in depths) or unet_config["transformer_depth_output"] != output_depth or \
            not unet_config["use_linear_in_transformer"]:
        raise ValueError(f"no diffusers twin for this UNet config (one transformer depth per level, down and up, "
                         f"linear projections expected): {unet_config}")
    channels = [unet_config["model_channels"] * mult for mult in unet_config["channel_mult"]]
    return dict(
        sample_size=unet_config["image_size"], in_channels=unet_config["in_channels"],
        out_channels=unet_config["out_channels"], block_out_channels=channels, layers_per_block=list(blocks),
        down_block_types=["CrossAttnDownBlock2D" if d else "DownBlock2D" for d in depth],
        up_block_types=["CrossAttnUpBlock2D" if d else "UpBlock2D" for d in reversed(depth)],
        transformer_layers_per_block=[max(d, 1) for d in depth],
        mid_block_type="UNetMidBlock2DCrossAttn", cross_attention_dim=unet_config["context_dim"],
        attention_head_dim=[c // unet_config["num_head_channels"] for c in channels], use_linear_projection=True,
        flip_sin_to_cos=True, freq_shift=0, act_fn="silu", norm_num_groups=32, norm_eps=1e-5, upcast_attention=False)


def sd21_scheduler(prediction: str = "eps"):
    """Diffusers' ``DDIMScheduler`` with SD 2.1's scheduler config (:data:`SD21_SCHEDULER_CONFIG`)."""
    from diffusers import DDIMScheduler

    return DDIMScheduler(**SD21_SCHEDULER_CONFIG, prediction_type=PREDICTIONS[prediction])


def sd21_inverse_scheduler(prediction: str = "eps"):
    """Diffusers' ``DDIMInverseScheduler`` with SD 2.1's scheduler config (as FreeMorph loads it)."""
    from diffusers import DDIMInverseScheduler

    return DDIMInverseScheduler(**SD21_SCHEDULER_CONFIG, prediction_type=PREDICTIONS[prediction])


def sigma_at(model, timesteps) -> torch.Tensor:
    """ComfyUI's sigma at diffusers' integer ``timesteps`` (int, list or tensor): entry ``t`` of the model's
    ``model_sampling.sigmas``, ``sqrt((1 - ab_t) / ab_t)``. ``model``: a ModelPatcher."""
    sigmas = model.get_model_object("model_sampling").sigmas
    return sigmas[torch.as_tensor(timesteps, dtype=torch.long).reshape(-1)]


def alphabar(sigma: torch.Tensor) -> torch.Tensor:
    """Alpha-bar of ComfyUI's sigma: ``1 / (1 + sigma^2)``."""
    return 1.0 / (1.0 + sigma**2)


def _rows(value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return value.reshape(-1, *[1] * (like.dim() - 1)).to(like)


def to_comfy_latent(x_diff: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Diffusers' noisy latent as ComfyUI's: ``x_diff / sqrt(ab)`` (``sigma``: one per row, or one)."""
    return x_diff / _rows(alphabar(sigma), x_diff).sqrt()


def to_diffusers_latent(x_comfy: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """ComfyUI's noisy latent as diffusers': ``sqrt(ab) * x_comfy``."""
    return x_comfy * _rows(alphabar(sigma), x_comfy).sqrt()


def prediction_from_denoised(x_comfy: torch.Tensor, denoised: torch.Tensor, sigma: torch.Tensor,
                             prediction: str) -> torch.Tensor:
    """Diffusers' UNet output for ComfyUI's denoised ``x0`` at ``x_comfy``: ``eps = (x_comfy - x0) / sigma``, and for
    ``"v"`` ``v = sqrt(ab) * eps - sqrt(1 - ab) * x0``."""
    sigma_rows = _rows(sigma, x_comfy)
    eps = (x_comfy - denoised) / sigma_rows
    if prediction == "eps":
        return eps
    ab = alphabar(sigma_rows)
    return ab.sqrt() * eps - (1 - ab).sqrt() * denoised
