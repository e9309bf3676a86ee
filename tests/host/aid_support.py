"""What the AID host tests share: a cat -> dog sequence on the tiny UNet, random-conditioning sequences for the
tiny transformers, patching and sampling."""

FRAMES = 5


def make_sequence(n, clip, frames: int = FRAMES) -> dict:
    """Schedule, interpolated conditioning batch (cat -> dog), negative prompt and a shared-noise latent."""
    import nodes as comfy_nodes

    encode = lambda text: comfy_nodes.CLIPTextEncode().encode(clip, text)[0]  # noqa: E731
    schedule = n.schedule_nodes.BetaCoefficientSchedule.execute(
        frames=frames, preset="uniform", steps=20, alpha=2.0, beta=2.0, start=0.0, end=1.0).args[0]
    batch = n.conditioning_nodes.ConditioningInterpolationBatch.execute(
        encode("a photo of a cat"), encode("a photo of a dog"), schedule, "lerp", "error").args[0]
    latent = n.latent_nodes.SharedNoiseLatent.execute(64, 64, 1, schedule).args[0]
    return dict(schedule=schedule, positive=batch, negative=encode("blurry"), latent=latent, encode=encode)


def dit_conditioning(seed: int, tokens: int = 12) -> list:
    """A random conditioning of the tiny transformers' layout: tokens, pooled output, Flux guidance."""
    import torch

    import tiny_models

    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(1, tokens, tiny_models.TINY_CONTEXT, generator=g),
             {"pooled_output": torch.randn(1, tiny_models.TINY_POOLED, generator=g), "guidance": 3.5}]]


def make_dit_sequence(n, frames: int = FRAMES) -> dict:
    """A sequence for the tiny transformers: random conditionings (their text encoders cannot be built small)."""
    import torch

    schedule = n.schedule_nodes.BetaCoefficientSchedule.execute(
        frames=frames, preset="uniform", steps=20, alpha=2.0, beta=2.0, start=0.0, end=1.0).args[0]
    positive = n.conditioning_nodes.ConditioningInterpolationBatch.execute(
        dit_conditioning(1), dit_conditioning(2), schedule, "lerp", "error").args[0]
    return dict(schedule=schedule, positive=positive, negative=dit_conditioning(3),
                latent={"samples": torch.zeros(frames, 16, 16, 16), "batch_index": [0] * frames})


def make_sdxl_sequence(n, frames: int = FRAMES) -> dict:
    """Cat -> dog stand-ins for the small SDXL: random 64-wide token embeddings and 1280-wide pooled outputs."""
    import torch

    generator = torch.Generator().manual_seed(1)
    cond = lambda: [[torch.randn(1, 77, 64, generator=generator),  # noqa: E731
                     {"pooled_output": torch.randn(1, 1280, generator=generator)}]]
    schedule = n.schedule_nodes.BetaCoefficientSchedule.execute(
        frames=frames, preset="uniform", steps=20, alpha=2.0, beta=2.0, start=0.0, end=1.0).args[0]
    positive = n.conditioning_nodes.ConditioningInterpolationBatch.execute(cond(), cond(), schedule, "lerp",
                                                                           "error").args[0]
    latent = n.latent_nodes.SharedNoiseLatent.execute(64, 64, 1, schedule).args[0]
    return dict(schedule=schedule, positive=positive, negative=cond(), latent=latent)


def patch(n, model, schedule, mode="outer", fused=True, layers="self + cross", start=0.0, end=1.0, uncond=False,
          max_rows=0):
    return n.aid_nodes.AIDAttentionPatch.execute(model, schedule, mode, fused, layers, start, end, uncond,
                                                 max_rows).args[0]


def sample(model, seq, cfg=5.0, steps=3, positive=None, latent=None, sampler="euler"):
    import nodes as comfy_nodes

    return comfy_nodes.common_ksampler(model, 11, steps, cfg, sampler, "normal", positive or seq["positive"],
                                       seq["negative"], latent or seq["latent"])[0]["samples"]


def hypertile(model):
    from comfy_extras.nodes_hypertile import HyperTile

    # 64 px images: a 32 px tile splits the full-resolution self-attention into 2 x 2 tiles; swap_size 1 picks
    # the tiling without drawing random numbers, so runs can be compared.
    return HyperTile.execute(model, tile_size=32, swap_size=1, max_depth=0, scale_depth=False)[0]
