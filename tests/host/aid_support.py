"""What the AID host tests share: a cat -> dog sequence on the tiny models, patching and sampling."""

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


def patch(n, model, schedule, mode="outer", fused=True, layers="self + cross", start=0.0, end=1.0, uncond=False):
    return n.aid_nodes.AIDAttentionPatch.execute(model, schedule, mode, fused, layers, start, end, uncond).args[0]


def sample(model, seq, cfg=5.0, steps=3, positive=None, latent=None, sampler="euler"):
    import nodes as comfy_nodes

    return comfy_nodes.common_ksampler(model, 11, steps, cfg, sampler, "normal", positive or seq["positive"],
                                       seq["negative"], latent or seq["latent"])[0]["samples"]
