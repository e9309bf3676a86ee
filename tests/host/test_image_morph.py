"""Img2img morph on the tiny UNet, as Picture morph img2img (SD1.5).json builds it: two pictures' latents slerped along the schedule
by Slerp Latent (shared noise), prompt A -> B by Conditioning Interpolation Batch, AID on the model, one KSampler at
denoise < 1. The latents stand for VAE Encode's output: each photo is encoded alone, in the morph as in plain img2img.

Exactness. The end rows must be plain img2img of A and of B: KSampler on that latent alone (batch 1), same prompt,
seed, steps and denoise. For those rows the pack hands the sampler exactly the single-image inputs (latent, noise,
conditioning). With AID Attention Patch's max_rows >= 2, each model call runs end frame A's (and B's) positive and
negative rows as one call, exactly as sampling that photo alone does: the end rows are img2img of A and B bit for bit
on any machine. With max_rows 0 (the whole batch in one call, the default) they equal the same batch without AID bit
for bit, and batch 1 up to how the host's kernels round a batch: on this CPU oneDNN's 3x3 convolutions (another
algorithm by batch size on small feature maps), ComfyUI's default CPU attention (sub-quadratic, batched matmuls) and
MKL's GEMM (another path below 4 rows, which the timestep MLP's [rows, features] has) round a batch of 1 and of N
differently; with those three pinned the end rows matched batch 1 bit for bit. Measured here: at most 1.8e-6 of the
output's range at cfg 5, 4.4e-7 at cfg 1; the test allows 1e-5.
"""

import comfy.sample
import pytest
import torch
from aid_support import patch
from bad_input import expect_input_error, untouched

import nodes as comfy_nodes

FRAMES, SEED, STEPS, DENOISE = 5, 7, 4, 0.6


def _latent(seed: int, shape=(1, 4, 8, 8)) -> dict:
    return {"samples": torch.randn(*shape, generator=torch.Generator().manual_seed(seed))}


def _schedule(n, frames=FRAMES):
    return n.schedule_nodes.BetaCoefficientSchedule.execute(frames, "uniform", 20, 1.0, 1.0, 0.0, 1.0).args[0]


@pytest.fixture(scope="module")
def morph(n, tiny_clip):
    encode = lambda text: comfy_nodes.CLIPTextEncode().encode(tiny_clip, text)[0]
    schedule = _schedule(n)
    photo_a, photo_b, prompt_a, prompt_b = _latent(1), _latent(2), encode("a cat on a sofa"), encode("a dog on a sofa")
    latent = n.latent_nodes.SlerpLatent.execute(photo_a, photo_b, "slerp", 0.5, schedule).args[0]
    positive = n.conditioning_nodes.ConditioningInterpolationBatch.execute(prompt_a, prompt_b, schedule, "lerp",
                                                                            "error").args[0]
    return {"schedule": schedule, "photos": (photo_a, photo_b), "prompts": (prompt_a, prompt_b), "latent": latent,
            "positive": positive, "negative": encode("blurry")}


def _img2img(model, positive, negative, latent, cfg=5.0):
    return comfy_nodes.common_ksampler(model, SEED, STEPS, cfg, "euler", "normal", positive, negative, latent,
                                       denoise=DENOISE)[0]["samples"]


def _alone(model, morph, cfg=5.0):
    """Plain img2img of photo A and of photo B, each on its own (batch 1)."""
    return [_img2img(model, prompt, morph["negative"], photo, cfg) for photo, prompt in zip(morph["photos"],
                                                                                             morph["prompts"])]


def test_end_rows_get_the_single_image_inputs_and_rows_start_from_the_slerped_latents(n, pack, tiny_model, morph):
    latent, (photo_a, photo_b) = morph["latent"], morph["photos"]
    rows, options = morph["positive"][0]
    for k, (photo, prompt) in ((0, (photo_a, morph["prompts"][0])), (-1, (photo_b, morph["prompts"][1]))):
        assert torch.equal(latent["samples"][k], photo["samples"][0])
        assert torch.equal(rows[k], prompt[0][0][0]) and torch.equal(options["pooled_output"][k],
                                                                      prompt[0][1]["pooled_output"][0])
    # Shared noise: every row gets the noise KSampler gives a single latent from the same seed.
    assert latent["batch_index"] == [0] * FRAMES
    noise = comfy.sample.prepare_noise(latent["samples"], SEED, latent["batch_index"])
    alone = comfy.sample.prepare_noise(photo_a["samples"], SEED, None)
    assert all(torch.equal(noise[k], alone[0]) for k in range(FRAMES))

    # The sampler starts row k at slerp(A, B, t_k) plus that one noise at the first sigma.
    first = []
    model = tiny_model.clone()
    model.set_model_unet_function_wrapper(lambda apply, args: first.append(args) or apply(args["input"],
                                                                                         args["timestep"], **args["c"]))
    _img2img(model, morph["positive"], morph["negative"], latent)
    slerped = pack.inbetween.interpolation.slerp(photo_a["samples"], photo_b["samples"], morph["schedule"].as_tensor())
    inner = tiny_model.model
    start = inner.model_sampling.noise_scaling(first[0]["timestep"][0], noise, inner.process_latent_in(slerped))
    assert all(torch.equal(chunk, start) for chunk in first[0]["input"].split(FRAMES)), "each chunk (cond, uncond)"


@pytest.mark.parametrize("cfg", [5.0, 1.0], ids=["cfg5", "cfg1"])
def test_with_max_rows_the_end_rows_are_img2img_of_each_photo_bit_for_bit(n, tiny_model, morph, cfg):
    """max_rows 2 runs each end frame's positive and negative rows as one call, as sampling that photo alone does."""
    model = n.aid_nodes.AIDAttentionPatch.execute(tiny_model, morph["schedule"], "outer", True, "self + cross", 0.0, 1.0,
                                                  False, max_rows=2).args[0]
    rows = _img2img(model, morph["positive"], morph["negative"], morph["latent"], cfg)
    alone_a, alone_b = _alone(tiny_model, morph, cfg)
    assert torch.equal(rows[:1], alone_a) and torch.equal(rows[-1:], alone_b)


@pytest.mark.parametrize("cfg", [5.0, 1.0], ids=["cfg5", "cfg1"])
def test_aid_morph_end_rows_are_plain_img2img_in_betweens_are_interpolated(n, tiny_model, morph, cfg):
    plain = _img2img(tiny_model, morph["positive"], morph["negative"], morph["latent"], cfg)
    with untouched(morph["latent"], morph["positive"]):
        aid = _img2img(patch(n, tiny_model, morph["schedule"]), morph["positive"], morph["negative"], morph["latent"],
                       cfg)
    assert torch.equal(aid[0], plain[0]) and torch.equal(aid[-1], plain[-1]), "AID leaves the end rows as they are"
    for k in range(1, FRAMES - 1):
        assert not torch.allclose(aid[k], plain[k], atol=1e-3), f"AID does not change in-between row {k}"
        assert not torch.allclose(aid[k], aid[k + 1], atol=1e-3), f"rows {k} and {k + 1} are the same"
    # Batched against alone: the host's kernels round a batch differently (see the module's docstring).
    for row, alone in zip((aid[:1], aid[-1:]), _alone(tiny_model, morph, cfg)):
        torch.testing.assert_close(row, alone, rtol=0, atol=1e-5 * alone.abs().max().item())


MORPH = "Slerp Latent"


def test_photos_of_different_sizes_or_models_are_named(n):
    a = _latent(1)
    cases = [((1, 4, 8, 12), r"got \(4, 8, 12\); resize one of them first"),
             ((1, 16, 8, 8), r"got \(16, 8, 8\); encode both with the same VAE")]
    for shape, shown in cases:
        b = _latent(2, shape)
        with untouched(a, b):
            expect_input_error(lambda b=b: n.latent_nodes.SlerpLatent.execute(a, b, "slerp", 0.5, _schedule(n)), MORPH,
                               "latent_b", r"expected latents of shape \(4, 8, 8\) per row like latent_a, ", shown)


def test_two_photos_in_one_batch_against_a_schedule_are_named(n):
    both = _latent(1, (2, 4, 8, 8))
    expect_input_error(lambda: n.latent_nodes.SlerpLatent.execute(both, _latent(2), "slerp", 0.5, _schedule(n)), MORPH,
                       "schedule", r"schedule has 5 frames but the latent batch has 2 \(latent_a\); expected a latent "
                                   r"of batch 1 or 5")


def test_a_morph_and_an_aid_schedule_of_other_lengths_stop_when_sampling_starts(n, tiny_model, morph):
    seven = patch(n, tiny_model, _schedule(n, 7))
    expect_input_error(lambda: _img2img(seven, morph["prompts"][0], morph["negative"], morph["latent"]),
                       "AID Attention Patch", "schedule", r"schedule has 7 frames but the latent batch has 5")
    longer = n.conditioning_nodes.ConditioningInterpolationBatch.execute(*morph["prompts"], _schedule(n, 7), "lerp",
                                                                          "error").args[0]
    expect_input_error(lambda: _img2img(patch(n, tiny_model, morph["schedule"]), longer, morph["negative"],
                                        morph["latent"]),
                       "AID Attention Patch", "schedule", r"has 5 frames but the positive conditioning \(cross_attn\) "
                                                          r"has batch 7")
