"""What the AID host tests share: a cat -> dog sequence on the tiny UNet, random-conditioning sequences for the
tiny transformers, the three-keyframe sequences of the keyframe tests, patching and sampling."""

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


# keyframes (tests/host/test_aid_keyframes.py draws the layout) ---------------------------------------------------

OPEN = {1: (0, 3, 1 / 3), 2: (0, 3, 2 / 3), 4: (3, 5, 0.5)}
LOOP = {**OPEN, 6: (5, 0, 0.5)}
KEYFRAME_FRAMES = (0, 3, 5)
# Frames of two runs at other batch sizes, relative to the frames' largest value: the tiny UNet's 1x1 convolutions
# round differently per batch size on the CPU (tests/host/test_aid_long.py measured 2e-6).
TOLERANCE = 1e-5


def alone(n, model, seq, frame, cfg, steps):
    """Plain sampling of one frame's conditioning alone: batch 1, the same seed and noise."""
    latent = {"samples": seq["latent"]["samples"][:1], "batch_index": [0]}
    one = n.adaptive_render.conditioning_row(seq["positive"], frame)
    return sample(model, seq, cfg, steps=steps, positive=one, latent=latent)[0]


def assert_close_frames(actual, expected):
    """Frames of two runs at other batch sizes agree within :data:`TOLERANCE` of the largest value."""
    import torch

    torch.testing.assert_close(actual, expected, rtol=0, atol=TOLERANCE * expected.abs().max().item())


def dit_sequence(n, loop):
    """Three random keyframe conditionings for the tiny transformers along :func:`keyframe_schedule`."""
    import torch

    schedule = keyframe_schedule(n, loop)
    keyframes = None
    for seed in (1, 2, 3):
        keyframes = n.conditioning_nodes.AppendConditioningKeyframe.execute(dit_conditioning(seed), "error",
                                                                            keyframes).args[0]
    positive = n.conditioning_nodes.KeyframeConditioningBatch.execute(keyframes, schedule, "lerp", "error").args[0]
    frames = len(schedule)
    return dict(schedule=schedule, positive=positive, negative=dit_conditioning(4), keyframes=keyframes,
                latent={"samples": torch.zeros(frames, 16, 16, 16), "batch_index": [0] * frames})


def keyframe_schedule(n, loop=False):
    """Three keyframes, uniform, segments of 3 and 2 frames (and 2 back to the first with ``loop``): frames
    K0 | 1/3 | 2/3 | K1 | 1/2 | K2 (| 1/2 back to K0)."""
    return n.schedule_nodes.KeyframeSchedule.execute(
        keyframes=3, frames_per_segment=2, loop=loop, preset="uniform", steps=20, alpha=2.0, beta=2.0,
        segment_frames="3, 2, 2" if loop else "3, 2").args[0]


def keyframe_sequence(n, clip, loop=False, guide=None) -> dict:
    """Cat -> dog -> fox on the tiny UNet along :func:`keyframe_schedule`, with the keyframes' conditioning."""
    import nodes as comfy_nodes

    encode = lambda text: comfy_nodes.CLIPTextEncode().encode(clip, text)[0]  # noqa: E731
    keyframes = n.prompt_pair_nodes.EncodeKeyframePrompts.execute(
        clip, "a photo of a cat\na photo of a dog\na photo of a fox").args[0]
    schedule = keyframe_schedule(n, loop)
    positive = n.conditioning_nodes.KeyframeConditioningBatch.execute(keyframes, schedule, "lerp", "error",
                                                                      guide).args[0]
    latent = n.latent_nodes.SharedNoiseLatent.execute(64, 64, 1, schedule).args[0]
    return dict(schedule=schedule, positive=positive, negative=encode("blurry"), latent=latent, keyframes=keyframes)


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
          max_rows=0, share_index=0, share_count=1):
    return n.aid_nodes.AIDAttentionPatch.execute(model, schedule, mode, fused, layers, start, end, uncond,
                                                 max_rows, share_index, share_count).args[0]


def sample(model, seq, cfg=5.0, steps=3, positive=None, latent=None, sampler="euler"):
    import nodes as comfy_nodes

    return comfy_nodes.common_ksampler(model, 11, steps, cfg, sampler, "normal", positive or seq["positive"],
                                       seq["negative"], latent or seq["latent"])[0]["samples"]


def hypertile(model):
    from comfy_extras.nodes_hypertile import HyperTile

    # 64 px images: a 32 px tile splits the full-resolution self-attention into 2 x 2 tiles; swap_size 1 picks
    # the tiling without drawing random numbers, so runs can be compared.
    return HyperTile.execute(model, tile_size=32, swap_size=1, max_depth=0, scale_depth=False)[0]
