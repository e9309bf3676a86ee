"""Sequence building blocks in the real host: conditioning batches, shared and interpolated noise,
latent slides, image grids; sampled with ComfyUI's own samplers on the tiny UNet."""

import copy

import pytest
import torch

LONG_PROMPT = " ".join(["a very detailed painting of a quiet harbour town at dawn"] * 9)


def _schedule(n, frames=5, preset="uniform"):
    return n.schedule_nodes.BetaCoefficientSchedule.execute(
        frames=frames, preset=preset, steps=20, alpha=2.0, beta=2.0, start=0.0, end=1.0).args[0]


def _encode(clip, text):
    import nodes as comfy_nodes

    return comfy_nodes.CLIPTextEncode().encode(clip, text)[0]


def _interpolate(n, a, b, schedule, method="lerp", alignment="error", guide=None):
    return n.conditioning_nodes.ConditioningInterpolationBatch.execute(a, b, schedule, method, alignment, guide).args[0]


def _ksampler(model, positive, negative, latent, seed=7, steps=3, denoise=1.0):
    import nodes as comfy_nodes

    return comfy_nodes.common_ksampler(model, seed, steps, 5.0, "euler", "normal", positive, negative, latent,
                                       denoise=denoise)[0]["samples"]


# Conditioning Interpolation Batch ------------------------------------------------------------------

def test_conditioning_batch_rows_endpoints_and_pooled(n, pack, tiny_clip):
    a, b = _encode(tiny_clip, "a photo of a cat"), _encode(tiny_clip, "a photo of a dog")
    a[0][1]["guidance"] = 3.5  # an unrelated key that must be carried from A
    a_before, b_before = copy.deepcopy(a), copy.deepcopy(b)
    schedule = _schedule(n, 5)

    out = _interpolate(n, a, b, schedule)

    assert len(out) == 1, "a sequence is ONE conditioning entry of batch N"
    rows, options = out[0]
    assert rows.shape == (5, 77, 768) and options["pooled_output"].shape == (5, 768)
    assert torch.equal(rows[0], a[0][0][0]) and torch.equal(rows[-1], b[0][0][0])
    assert torch.equal(options["pooled_output"][0], a[0][1]["pooled_output"][0])
    assert torch.equal(options["pooled_output"][-1], b[0][1]["pooled_output"][0])
    lerp = pack.inbetween.interpolation.lerp
    for k, t in enumerate(schedule.coefficients):
        torch.testing.assert_close(rows[k : k + 1], lerp(a[0][0], b[0][0], t), rtol=0, atol=0)
    assert options["guidance"] == 3.5
    for before, after in ((a_before, a), (b_before, b)):
        assert torch.equal(before[0][0], after[0][0]) and before[0][1].keys() == after[0][1].keys()
        assert torch.equal(before[0][1]["pooled_output"], after[0][1]["pooled_output"])


def test_conditioning_batch_guide_paid(n, tiny_clip):
    a, b = _encode(tiny_clip, "a cat"), _encode(tiny_clip, "a dog")
    guide = _encode(tiny_clip, "a cat and a dog, same pose")
    rows, options = _interpolate(n, a, b, _schedule(n, 5), guide=guide)[0]
    assert torch.equal(rows[0], a[0][0][0]) and torch.equal(rows[-1], b[0][0][0])
    for k in range(1, 4):
        assert torch.equal(rows[k], guide[0][0][0])
        assert torch.equal(options["pooled_output"][k], guide[0][1]["pooled_output"][0])


def test_conditioning_batch_token_counts(n, tiny_clip):
    short, long = _encode(tiny_clip, "a cat"), _encode(tiny_clip, LONG_PROMPT)
    assert long[0][0].shape[1] == 154
    with pytest.raises(ValueError, match=r"Conditioning Interpolation Batch: input 'token_alignment': entry 0: "
                                         r"conditioning_a has 77 tokens but conditioning_b has 154.*Encode Prompt Pair"):
        _interpolate(n, short, long, _schedule(n, 3))
    rows, _ = _interpolate(n, short, long, _schedule(n, 3), alignment="truncate")[0]
    assert rows.shape[1] == 77 and torch.equal(rows[-1], long[0][0][0, :77])
    rows, _ = _interpolate(n, short, long, _schedule(n, 3), alignment="repeat_last")[0]
    assert rows.shape[1] == 154 and torch.equal(rows[0, 77:], short[0][0][0, -1:].expand(77, -1))


def test_conditioning_batch_rejects_mismatched_entries(n, tiny_clip):
    a = _encode(tiny_clip, "a cat")
    with pytest.raises(ValueError, match=r"input 'conditioning_b': has 2 entries but conditioning_a has 1"):
        _interpolate(n, a, a + a, _schedule(n, 3))


def test_text_interpolation_endpoints_sample_like_plain_prompts(n, tiny_model, tiny_clip):
    """Row 0 and row N-1 of a shared-noise batch sample exactly like A and B sampled alone."""
    a, b = _encode(tiny_clip, "a cat"), _encode(tiny_clip, "a dog")
    negative = _encode(tiny_clip, "")
    schedule = _schedule(n, 4)
    batch = _interpolate(n, a, b, schedule)
    latent = n.latent_nodes.SharedNoiseLatent.execute(64, 64, 1, schedule).args[0]
    sequence = _ksampler(tiny_model, batch, negative, latent)
    single = {"samples": torch.zeros(1, 4, 8, 8)}
    alone_a = _ksampler(tiny_model, a, negative, single)
    alone_b = _ksampler(tiny_model, b, negative, single)
    # Batched and single-row kernels round differently (fp32): allow 1e-5 of the output's range.
    for row, alone in ((sequence[:1], alone_a), (sequence[-1:], alone_b)):
        torch.testing.assert_close(row, alone, rtol=1e-4, atol=1e-5 * alone.abs().max().item())
    assert not torch.allclose(sequence[1], sequence[2], atol=1e-3), "in-between rows differ"


# Shared Noise Latent ----------------------------------------------------------------------------

def test_shared_noise_latent_rows_start_from_identical_noise(n, tiny_model, tiny_clip):
    import comfy.sample

    latent = n.latent_nodes.SharedNoiseLatent.execute(64, 48, 5, None).args[0]
    assert latent["samples"].shape == (5, 4, 6, 8) and latent["batch_index"] == [0] * 5
    noise = comfy.sample.prepare_noise(latent["samples"], 123, latent["batch_index"])
    for k in range(1, 5):
        assert torch.equal(noise[k], noise[0])
    prompt = _encode(tiny_clip, "a lighthouse")
    out = _ksampler(tiny_model, prompt, _encode(tiny_clip, ""), latent)
    # Same noise and prompt in every row: the rows agree up to batched-kernel rounding.
    for k in range(1, 5):
        torch.testing.assert_close(out[k], out[0], rtol=1e-4, atol=1e-5 * out[0].abs().max().item())


# Interpolated Noise -----------------------------------------------------------------------------

def test_interpolated_noise_end_rows_are_comfyui_seeded_noise(n):
    from comfy_extras.nodes_custom_sampler import Noise_RandomNoise

    schedule = _schedule(n, 7)
    noise = n.noise_nodes.InterpolatedNoise.execute(11, 22, schedule, "slerp").args[0]
    latent = {"samples": torch.zeros(7, 4, 16, 16)}
    rows = noise.generate_noise(latent)
    one = {"samples": torch.zeros(1, 4, 16, 16)}
    assert torch.equal(rows[0], Noise_RandomNoise(11).generate_noise(one)[0])
    assert torch.equal(rows[-1], Noise_RandomNoise(22).generate_noise(one)[0])
    assert noise.seed == 11


def test_interpolated_noise_keeps_unit_variance(n):
    schedule = _schedule(n, 5)
    for method in ("slerp", "normalized_lerp"):
        rows = n.noise_nodes.InterpolatedNoise.execute(1, 2, schedule, method).args[0].generate_noise(
            {"samples": torch.zeros(5, 4, 64, 64)})
        middle = rows[2]
        assert abs(middle.var().item() - 1.0) < 0.05, (method, middle.var().item())
    lerp_rows = n.noise_nodes.InterpolatedNoise.execute(1, 2, schedule, "lerp").args[0].generate_noise(
        {"samples": torch.zeros(5, 4, 64, 64)})
    assert abs(lerp_rows[2].var().item() - 0.5) < 0.05, "plain lerp halves the variance at t = 0.5"


def test_interpolated_noise_batch_mismatch_names_both_counts(n):
    noise = n.noise_nodes.InterpolatedNoise.execute(1, 2, _schedule(n, 7), "slerp").args[0]
    with pytest.raises(ValueError, match=r"Interpolated Noise: input 'schedule': schedule has 7 frames but the "
                                         r"latent batch has 5"):
        noise.generate_noise({"samples": torch.zeros(5, 4, 8, 8)})


def test_interpolated_noise_drives_sampler_custom_advanced(n, tiny_model, tiny_clip):
    from comfy_extras import nodes_custom_sampler as custom

    schedule = _schedule(n, 3)
    noise = n.noise_nodes.InterpolatedNoise.execute(5, 6, schedule, "slerp").args[0]
    guider = custom.CFGGuider().get_guider(tiny_model, _encode(tiny_clip, "a fox"), _encode(tiny_clip, ""), 5.0)[0]
    sampler = custom.KSamplerSelect().get_sampler("euler")[0]
    sigmas = custom.BasicScheduler().get_sigmas(tiny_model, "normal", 3, 1.0)[0]
    out = custom.SamplerCustomAdvanced().sample(noise, guider, sampler, sigmas, {"samples": torch.zeros(3, 4, 8, 8)})[0]
    assert out["samples"].shape == (3, 4, 8, 8) and torch.isfinite(out["samples"]).all()


# Latent Slide and Image Grid ------------------------------------------------------------------------

def test_latent_slide_node(n):
    a = {"samples": torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))}
    b = {"samples": torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(1))}
    frames = n.latent_nodes.LatentSlide.execute(a, b, "slide", 5).args[0]["samples"]
    assert frames.shape == (5, 4, 8, 8)
    assert torch.equal(frames[0], a["samples"][0]) and torch.equal(frames[-1], b["samples"][0])
    torch.testing.assert_close(frames[2], torch.cat([a["samples"], b["samples"]], dim=-1)[0, ..., 4:12])
    wipe = n.latent_nodes.LatentSlide.execute(a, b, "wipe", 2, _schedule(n, 3)).args[0]["samples"]
    torch.testing.assert_close(wipe[1], torch.cat([a["samples"][0, ..., :4], b["samples"][0, ..., 4:]], dim=-1))
    with pytest.raises(ValueError, match=r"Latent Slide: input 'latent_a'.*batch 1\), got batch 2"):
        n.latent_nodes.LatentSlide.execute({"samples": torch.zeros(2, 4, 8, 8)}, b, "slide", 3)


def test_image_grid_node(n):
    images = torch.rand(5, 16, 24, 3)
    grid = n.image_nodes.ImageGrid.execute(images, 0, 2, 1.0).args[0]
    assert grid.shape == (1, 2 * 16 + 2, 3 * 24 + 4, 3)
    assert torch.equal(grid[0, :16, :24], images[0])
