"""Frame rendering for the adaptive schedule: ComfyUI's own sampler and VAE, one coefficient at a time.

Every render samples from the same initial noise (one seed, every row noise index 0), so the
frames differ only by their coefficient, as in the AID reference. With AID on, a frame at t is
row 1 of the batch [A, t, B] under an AID patch with the schedule (0, t, 1): the endpoints are
plain generations (exactly the same every render) and the in-between attends to them. The patch
carries each model call out in parts of one frame (``max_rows`` 2: its positive and negative rows):
A, B, then t, so a render holds two rows at a time instead of six, and its endpoints are exactly
what sampling each prompt alone gives.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

import torch

import comfy.model_management
import comfy.sample
import comfy.utils
import latent_preview

from .attention_patch import AIDConfig, patch_model

Conditioning = list
# One frame per model call: its positive and negative rows (ComfyUI batches them together).
ROWS_PER_CALL = 2


@dataclass(frozen=True)
class Sampling:
    seed: int
    steps: int
    cfg: float
    sampler_name: str
    scheduler: str
    width: int
    height: int


def conditioning_row(conditioning: Conditioning, row: int) -> Conditioning:
    """Row ``row`` of a batched conditioning as a batch-1 conditioning (embeddings and pooled outputs)."""
    out = []
    for embedding, options in conditioning:
        options = dict(options)
        if options.get("pooled_output") is not None:
            options["pooled_output"] = options["pooled_output"][row:row + 1]
        out.append([embedding[row:row + 1], options])
    return out


class FrameRenderer:
    """``render(ts)`` for ``inbetween.adaptive.explore``: samples, decodes and embeds frames.

    ``conditioning(schedule)`` returns the positive conditioning batch for a 3-coefficient
    schedule; ``aid_mode`` is "outer"/"inner", or None for plain text-embedding interpolation
    (then only the new row is sampled). Decoded frames are kept in ``images`` by coefficient.
    One progress bar covers all ``renders`` renders, advanced per sampling step; the user's
    cancel is honoured before every render and every step.
    """

    def __init__(self, model, vae, conditioning: Callable[[tuple], Conditioning], negative: Conditioning,
                 sampling: Sampling, aid_mode: Optional[str], aid_end_percent: float,
                 embed: Callable[[torch.Tensor], torch.Tensor], renders: int):
        self.model, self.vae, self.conditioning, self.negative = model, vae, conditioning, negative
        self.sampling, self.aid_mode, self.aid_end_percent, self.embed = sampling, aid_mode, aid_end_percent, embed
        self.images: dict[float, torch.Tensor] = {}
        self.done = 0
        self.bar = comfy.utils.ProgressBar(renders * sampling.steps)
        self.previewer = latent_preview.get_previewer(model.load_device, model.get_model_object("latent_format"))

    def patched(self, schedule: tuple) -> object:
        config = AIDConfig(coefficients=tuple(schedule), mode=self.aid_mode, end_percent=self.aid_end_percent,
                           max_rows=ROWS_PER_CALL)
        return patch_model(self.model, config, self_attention=True, cross_attention=True)

    def __call__(self, ts: list) -> torch.Tensor:
        comfy.model_management.throw_exception_if_processing_interrupted()
        first = len(ts) == 3
        schedule = (0.0, 0.5, 1.0) if first else (0.0, float(ts[0]), 1.0)
        positive = self.conditioning(schedule)
        model = self.model
        if self.aid_mode is not None:
            model = self.patched(schedule)
        elif not first:
            positive = conditioning_row(positive, 1)
        rows = 3 if first or self.aid_mode is not None else 1
        new_row = 1 if rows == 3 else 0

        s = self.sampling
        device = comfy.model_management.intermediate_device()
        # The latent the model expects (Flux 2: 128 channels at 1/16), so the picture has the size asked for.
        latent_format = model.get_model_object("latent_format")
        ratio = getattr(latent_format, "spacial_downscale_ratio", 8)
        latent = torch.zeros([rows, latent_format.latent_channels, s.height // ratio, s.width // ratio], device=device)
        latent = comfy.sample.fix_empty_latent_channels(model, latent)  # video models: their time axis
        noise = comfy.sample.prepare_noise(latent, s.seed, [0] * rows)  # the same noise in every row

        def step(index, x0, x, total_steps):
            comfy.model_management.throw_exception_if_processing_interrupted()
            preview = None
            if self.previewer is not None:
                preview = self.previewer.decode_latent_to_preview_image("JPEG", x0[new_row:new_row + 1])
            self.bar.update_absolute(self.done * s.steps + round((index + 1) * s.steps / total_steps), preview=preview)

        samples = comfy.sample.sample(model, noise, s.steps, s.cfg, s.sampler_name, s.scheduler, positive,
                                      self.negative, latent, callback=step,
                                      disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=s.seed)
        if not first and rows == 3:
            samples = samples[1:2]
        images = self.vae.decode(samples)
        if images.dim() == 5:  # video VAEs return [B, T, H, W, C]
            images = images.reshape(-1, *images.shape[-3:])
        for t, image in zip(ts, images):
            self.images[float(t)] = image
        self.done += 1
        self.bar.update_absolute(self.done * s.steps)
        return self.embed(images)
