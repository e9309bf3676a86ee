"""Bad and extreme inputs to the latent nodes (Slerp Latent, Latent Slide, Shared Noise Latent, Interpolated Noise):
every case is an input error naming node, input, expected and got, or documented behaviour; inputs stay untouched."""

import math
import re

import pytest
import torch

from bad_input import expect_input_error, untouched

SLERP, SLIDE, NOISE = "Slerp Latent", "Latent Slide", "Interpolated Noise"


def _latent(seed, shape=(1, 4, 8, 8), dtype=torch.float32, **extra):
    return {"samples": torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(dtype), **extra}


def _schedule(n, frames):
    return n.schedule_nodes.BetaCoefficientSchedule.execute(frames, "uniform", 20, 1.0, 1.0, 0.0, 1.0).args[0]


def _slerp(n, a, b, factor=0.5, schedule=None, method="slerp"):
    return n.latent_nodes.SlerpLatent.execute(a, b, method, factor, schedule).args[0]


def _slide(n, a, b, frames=5, schedule=None, mode="slide"):
    return n.latent_nodes.LatentSlide.execute(a, b, mode, frames, schedule).args[0]


def _noise(n, frames, latent):
    return n.noise_nodes.InterpolatedNoise.execute(1, 2, _schedule(n, frames), "slerp").args[0].generate_noise(latent)


NOT_LATENTS = [
    ({"noise_mask": torch.ones(1, 1, 8, 8)}, r"expected a LATENT \(a dict with 'samples'\), got dict"),
    ([torch.zeros(1, 4, 8, 8)], r"expected a LATENT .*got list"),
    ({"samples": torch.zeros(4, 8, 8)}, r"samples .*must be a non-empty 4-D or 5-D floating tensor, got a "
                                        r"torch.float32 tensor of shape \(4, 8, 8\)"),
    ({"samples": torch.zeros(1, 4, 8, 8, dtype=torch.int64)}, r"floating tensor, got a torch.int64 tensor"),
    ({"samples": torch.zeros(0, 4, 8, 8)}, r"non-empty .*got a torch.float32 tensor of shape \(0, 4, 8, 8\)"),
    ({"samples": torch.full((1, 4, 8, 8), math.nan)}, r"samples .*must be finite, got 256 NaN/inf value\(s\) of 256"),
    ({"samples": torch.zeros(1, 4, 8, 8), "noise_mask": torch.full((1, 8, 8), math.inf)},
     r"noise_mask must be finite, got 64 NaN/inf"),
    ({"samples": torch.zeros(2, 4, 8, 8), "batch_index": [0]}, r"batch_index must list one int per row \(2\), "
                                                               r"got list \[0\]"),
]


@pytest.mark.parametrize("bad, shown", NOT_LATENTS)
@pytest.mark.parametrize("which", ["latent_a", "latent_b"])
def test_slerp_and_slide_name_the_latent_that_is_not_one(n, bad, shown, which):
    good = _latent(0, (bad["samples"].shape if isinstance(bad, dict) and "samples" in bad
                       and bad["samples"].dim() == 4 and bad["samples"].numel() else (1, 4, 8, 8)))
    inputs = {"latent_a": good, "latent_b": good, which: bad}
    with untouched(bad, good):
        expect_input_error(lambda: _slerp(n, inputs["latent_a"], inputs["latent_b"]), SLERP, which, shown)
        if not (isinstance(bad, dict) and bad.get("batch_index") is not None):
            expect_input_error(lambda: _slide(n, inputs["latent_a"], inputs["latent_b"]), SLIDE, which,
                               shown)


def test_interpolated_noise_names_the_latent_it_is_given(n):
    expect_input_error(lambda: _noise(n, 3, {"noise_mask": torch.ones(1, 8, 8)}), NOISE, "latent_image",
                       r"expected a LATENT \(a dict with 'samples'\), got dict")
    expect_input_error(lambda: _noise(n, 3, {"samples": torch.zeros(5, 4, 8, 8)}), NOISE, "schedule",
                       r"schedule has 3 frames but the latent batch has 5 \(latent_image\); expected a latent of "
                       r"batch 3")


def test_slerp_batch_mismatch_blames_the_latent_not_the_factor(n):
    a, b = _latent(1, (2, 4, 8, 8)), _latent(2, (3, 4, 8, 8))
    with untouched(a, b):
        expect_input_error(lambda: _slerp(n, a, b), SLERP, "latent_b",
                           r"expected batch 1 or 2 \(the batch of latent_a\), got batch 3")
        expect_input_error(lambda: _slerp(n, a, _latent(2, (1, 4, 8, 16))), SLERP, "latent_b",
                           r"expected latents of shape \(4, 8, 8\) per row like latent_a, got \(4, 8, 16\)")
        expect_input_error(lambda: _slerp(n, a, _latent(3, (2, 4, 8, 8)), schedule=_schedule(n, 5)),
                           SLERP, "schedule", r"schedule has 5 frames but the latent batch has 2 \(latent_a\); "
                                              r"expected a latent of batch 1 or 5")
    # batch 1 against batch N broadcasts: every row of A meets B's single row.
    out = _slerp(n, a, _latent(4), factor=0.0)
    assert torch.equal(out["samples"], a["samples"])


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_slerp_non_finite_factor_names_factor(n, value):
    expect_input_error(lambda: _slerp(n, _latent(1), _latent(2), factor=value), SLERP, "factor",
                       r"expected a finite number, got " + re.escape(repr(value)))


def test_latent_slide_needs_one_latent_per_input(n):
    expect_input_error(lambda: _slide(n, _latent(1, (2, 4, 8, 8)), _latent(2)), SLIDE, "latent_a",
                       r"expected one latent \(batch 1\), got batch 2")
    expect_input_error(lambda: _slide(n, _latent(1), _latent(2, (1, 4, 8, 16))), SLIDE, "latent_b",
                       r"expected latents of shape \(4, 8, 8\) per row like latent_a, got \(4, 8, 16\)")


@pytest.mark.parametrize("shape", [(1, 16, 8, 8), (1, 16, 3, 8, 8)], ids=["16-channel", "5-D video"])
def test_16_channel_and_video_latents(n, shape):
    a, b = _latent(1, shape), _latent(2, shape)
    with untouched(a, b):
        rows = _slerp(n, a, b, schedule=_schedule(n, 4))["samples"]
        assert rows.shape == (4, *shape[1:])
        assert torch.equal(rows[0], a["samples"][0]) and torch.equal(rows[-1], b["samples"][0])
        frames = _slide(n, a, b, frames=3)["samples"]
        assert frames.shape == (3, *shape[1:])
        assert torch.equal(frames[1], torch.cat([a["samples"], b["samples"]], dim=-1)[0, ..., 4:12])
        noise = _noise(n, 4, {"samples": torch.zeros(4, *shape[1:])})
        assert noise.shape == (4, *shape[1:]) and torch.isfinite(noise).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_latents_keep_their_dtype(n, dtype):
    a, b = _latent(1, dtype=dtype), _latent(2, dtype=dtype)
    rows = _slerp(n, a, b, schedule=_schedule(n, 3))["samples"]
    assert rows.dtype == dtype and torch.equal(rows[0], a["samples"][0]) and torch.equal(rows[-1], b["samples"][0])
    assert _slide(n, a, b)["samples"].dtype == dtype
    # Documented: B is brought to A's dtype (the output is A's dtype).
    mixed = _slerp(n, a, _latent(2), factor=1.0)["samples"]
    assert mixed.dtype == dtype and torch.equal(mixed, _latent(2)["samples"].to(dtype))


def test_slerp_masks_of_different_sizes_are_resized_like_the_sampler_does(n):
    """Documented rule: each noise mask is brought to the samples' shape by comfy.utils.reshape_mask (what the
    sampler does with it anyway), a missing mask is all ones, and the masks blend by lerp."""
    import comfy.utils

    mask_a = torch.zeros(1, 64, 64)  # pixel-space mask of a 512px image...
    mask_b = torch.rand(1, 32, 48, generator=torch.Generator().manual_seed(0))  # ...and one of another size
    a, b = _latent(1, noise_mask=mask_a), _latent(2, noise_mask=mask_b)
    with untouched(a, b):
        out = _slerp(n, a, b, schedule=_schedule(n, 3))
    resized_b = comfy.utils.reshape_mask(mask_b, (1, 4, 8, 8))
    assert out["noise_mask"].shape == (3, 4, 8, 8)
    assert torch.equal(out["noise_mask"][0], torch.zeros(4, 8, 8))
    torch.testing.assert_close(out["noise_mask"][-1], resized_b[0]), "B's mask is kept, not dropped"
    torch.testing.assert_close(out["noise_mask"][1], 0.5 * resized_b[0])
    only_b = _slerp(n, _latent(1), b, factor=0.25)["noise_mask"]
    torch.testing.assert_close(only_b[0], 0.75 + 0.25 * resized_b[0])


def test_latent_slide_carries_the_noise_mask(n):
    """Documented: the noise masks (resized to the samples like the sampler does; missing = ones) slide and wipe
    exactly like the samples; other keys come from latent_a, batch_index is dropped."""
    mask_a = torch.zeros(1, 1, 8, 8)
    mask_a[..., :, :2] = 1.0
    a, b = _latent(1, noise_mask=mask_a, batch_index=[0]), _latent(2)
    with untouched(a, b):
        for mode in ("slide", "wipe"):
            out = _slide(n, a, b, frames=5, mode=mode)
            expected = n.latent_nodes.translation.translate(mask_a.expand(1, 4, 8, 8), torch.ones(1, 4, 8, 8),
                                                            [0, 2, 4, 6, 8], mode)
            assert torch.equal(out["noise_mask"], expected), mode
            assert "batch_index" not in out
    assert "noise_mask" not in _slide(n, _latent(1), _latent(2))


def test_very_large_frame_counts_stay_linear_and_float32(n):
    frames = 4096
    schedule = _schedule(n, frames)
    rows = _slerp(n, _latent(1), _latent(2), schedule=schedule)["samples"]
    assert rows.shape == (frames, 4, 8, 8) and rows.dtype == torch.float32
    assert _slide(n, _latent(1), _latent(2), frames=frames)["samples"].shape == (frames, 4, 8, 8)
    shared = n.latent_nodes.SharedNoiseLatent.execute(64, 64, 1, schedule).args[0]
    assert shared["samples"].shape == (frames, 4, 8, 8) and shared["batch_index"] == [0] * frames
    noise = _noise(n, frames, shared)
    assert noise.shape == (frames, 4, 8, 8) and noise.dtype == torch.float32


def test_shared_noise_latent_serves_16_channel_models(n):
    """Documented: the empty latent has 4 channels; ComfyUI's samplers widen an all-zero latent to the model's
    channels (comfy.sample.fix_empty_latent_channels), batch_index kept."""
    import comfy.latent_formats
    import comfy.sample

    latent = n.latent_nodes.SharedNoiseLatent.execute(64, 64, 3, None).args[0]
    model = type("Model", (), {"get_model_object": lambda self, name: comfy.latent_formats.Flux()})()
    widened = comfy.sample.fix_empty_latent_channels(model, latent["samples"])
    assert widened.shape == (3, 16, 8, 8)
    noise = comfy.sample.prepare_noise(widened, 5, latent["batch_index"])
    assert torch.equal(noise[0], noise[2])


def test_shared_noise_latent_too_large_names_the_input_and_the_size(n):
    """Every widget at its maximum asks for 256 GiB: the node says which input and how much, before allocating."""
    execute = n.latent_nodes.SharedNoiseLatent.execute
    expect_input_error(lambda: execute(16384, 16384, 4096), "Shared Noise Latent", "frames",
                       r"4096 frames of 16384x16384 need 256\.0 GiB for their latent, more than the [\d.]+ GiB free")
    expect_input_error(lambda: execute(16384, 16384, 1, _schedule(n, 4096)), "Shared Noise Latent", "schedule",
                       r"4096 frames of 16384x16384 need 256\.0 GiB")


def test_shared_noise_latent_is_marked_like_core_empty_latents(n):
    """4 channels at 1/8, marked with the ratio as core Empty Latent Image marks it (the sampler adapts the latent
    to the model's format from it); every row shares batch_index 0."""
    latent = n.latent_nodes.SharedNoiseLatent.execute(96, 64, 3).args[0]
    assert latent["samples"].shape == (3, 4, 8, 12) and latent["downscale_ratio_spacial"] == 8
    assert latent["batch_index"] == [0, 0, 0] and not latent["samples"].any()
