"""Image Condition Interpolation Batch against ComfyUI's own Apply Style Model (StyleModelApply), on a tiny CLIP vision
model and random-weight style models built from ComfyUI's classes (Flux Redux, the T2I style adapter), and sampled
with AID on the tiny Flux.

Row 0 and the last row must be bit for bit what StyleModelApply gives for image A alone and image B alone (tokens,
pooled output, attention mask, every key); in-between rows carry the tokens interpolated at t_k (checked against
the formulas in float64); masks and strength types follow StyleModelApply; bad input names the input. A picture morph
(FreeMorph) on Flux takes one Redux picture per picture the same way."""

import math

import pytest
import torch

import comfy_host
import tiny_models
from aid_support import FRAMES
from bad_input import assert_same, expect_input_error, untouched
from joint_formulas import OverrideRecorder, expected, expected_inversion

NODE = "Image Condition Interpolation Batch"
STRENGTHS = [("multiply", 1.0), ("multiply", 0.6), ("attn_bias", 0.5), ("attn_bias", 1.0)]


@pytest.fixture(autouse=True)
def no_grad():
    """No autograd, as in ComfyUI's executor. Not inference mode: the AID patch caches its weight tensor per schedule
    across calls, and an inference tensor there would break a later test that traces with autograd."""
    with torch.no_grad():
        yield


def _encode(clip_vision, images):
    with torch.no_grad():
        return clip_vision.encode_image(images)


@pytest.fixture(scope="module")
def clip_vision(tmp_path_factory):
    return tiny_models.build_clip_vision(tmp_path_factory.mktemp("clip_vision") / "config.json", seed=0)


@pytest.fixture(scope="module")
def style_model():
    return tiny_models.build_redux_style_model(seed=0)


def _images(seed, count=1):
    return torch.rand(count, 32, 32, 3, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def pictures(clip_vision):
    """CLIP vision outputs of image A and image B."""
    return _encode(clip_vision, _images(1)), _encode(clip_vision, _images(2))


def _prompt(seed, tokens=12, width=tiny_models.TINY_CONTEXT):
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(1, tokens, width, generator=g),
             {"pooled_output": torch.randn(1, tiny_models.TINY_POOLED, generator=g), "guidance": 3.5}]]


def _schedule(n, frames=FRAMES):
    return n.schedule_nodes.BetaCoefficientSchedule.execute(frames=frames, preset="uniform", steps=20, alpha=2.0,
                                                            beta=2.0, start=0.0, end=1.0).args[0]


def _batch(n, conditioning, style_model, a, b, schedule, method="lerp", strength=1.0, strength_type="multiply"):
    return n.image_condition_nodes.ImageConditionInterpolationBatch.execute(
        conditioning=conditioning, style_model=style_model, clip_vision_a=a, clip_vision_b=b, schedule=schedule,
        method=method, strength=strength, strength_type=strength_type).args[0]


def _apply(conditioning, style_model, output, strength=1.0, strength_type="multiply"):
    import nodes as comfy_nodes

    return comfy_nodes.StyleModelApply().apply_stylemodel(conditioning, style_model, output, strength, strength_type)[0]


def _row(conditioning, k):
    """Row k of a batched conditioning as ComfyUI would use it alone: every per-row tensor sliced, the sequence's
    schedule tag (which AID Attention Patch checks) left out."""
    tag = comfy_host.load_pack().nodes.schedule_type.CONDITIONING_KEY
    return [[rows[k:k + 1], {key: value[k:k + 1] if isinstance(value, torch.Tensor) and value.shape[0] > 1 else value
                             for key, value in options.items() if key != tag}] for rows, options in conditioning]


def _prompts(n, schedule):
    """Prompt A, prompt B and Conditioning Interpolation Batch between them (batch N)."""
    a, b = _prompt(1), _prompt(2)
    return a, b, n.conditioning_nodes.ConditioningInterpolationBatch.execute(a, b, schedule, "lerp", "error").args[0]


# endpoints --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["lerp", "slerp", "normalized_lerp"])
@pytest.mark.parametrize("strength_type, strength", STRENGTHS)
@pytest.mark.parametrize("prompts", ["one prompt", "prompt batch"])
def test_end_rows_are_style_model_apply_of_one_image(n, style_model, pictures, method, strength_type, strength,
                                                     prompts):
    schedule = _schedule(n)
    prompt_a, prompt_b, batch = _prompts(n, schedule)
    conditioning, first, last = ((prompt_a, prompt_a, prompt_a) if prompts == "one prompt"
                                 else (batch, prompt_a, prompt_b))
    with untouched(conditioning):
        out = _batch(n, conditioning, style_model, *pictures, schedule, method, strength, strength_type)
    ((rows, options),) = out
    assert rows.shape[0] == FRAMES and options["pooled_output"].shape[0] == FRAMES
    for k, prompt, picture in ((0, first, pictures[0]), (FRAMES - 1, last, pictures[1])):
        assert_same(_apply(prompt, style_model, picture, strength, strength_type), _row(out, k), f"row {k}")
    assert ("attention_mask" in options) == (strength_type == "attn_bias" and strength != 1.0)


def test_t2i_style_adapter_end_rows(n, pictures):
    """ComfyUI's other style model (the SD1.x T2I style adapter, CLIP vision width 64 here, 768-wide tokens)."""
    import comfy.sd
    import comfy.t2i_adapter.adapter

    adapter = comfy.t2i_adapter.adapter.StyleAdapter(width=64, context_dim=768, num_head=4, n_layes=1, num_token=4)
    style = comfy.sd.StyleModel(tiny_models.init_random_(adapter, 3).requires_grad_(False))
    prompt = _prompt(4, tokens=77, width=768)
    out = _batch(n, prompt, style, *pictures, _schedule(n), "slerp", 0.8)
    assert out[0][0].shape == (FRAMES, 77 + 4, 768)
    assert_same(_apply(prompt, style, pictures[0], 0.8), _row(out, 0))
    assert_same(_apply(prompt, style, pictures[1], 0.8), _row(out, FRAMES - 1))


# in-between rows ---------------------------------------------------------------------------------------------------

def _slerp(a, b, t):
    """Great-circle interpolation of whole flattened rows, from the definition (arccos of the cosine)."""
    theta = torch.arccos(torch.dot(a.flatten(), b.flatten()) / (a.norm() * b.norm()))
    return (torch.sin((1 - t) * theta) * a + torch.sin(t * theta) * b) / torch.sin(theta)


FORMULAS = {"lerp": lambda a, b, t: (1 - t) * a + t * b,
            "normalized_lerp": lambda a, b, t: ((1 - t) * a + t * b) / math.sqrt((1 - t) ** 2 + t ** 2),
            "slerp": _slerp}


@pytest.mark.parametrize("method", list(FORMULAS))
@pytest.mark.parametrize("strength_type, strength", STRENGTHS)
def test_in_between_rows_carry_the_interpolated_image_tokens(n, style_model, pictures, method, strength_type,
                                                             strength):
    schedule = _schedule(n)
    _, _, prompts = _prompts(n, schedule)
    ((rows, _),) = _batch(n, prompts, style_model, *pictures, schedule, method, strength, strength_type)
    text = prompts[0][0].shape[1]
    a, b = (style_model.model(p.last_hidden_state.double().squeeze(0)).double() for p in pictures)
    scale = strength if strength_type == "multiply" else 1.0
    for k, t in enumerate(schedule.coefficients):
        assert torch.equal(rows[k, :text], prompts[0][0][k]), f"row {k}: the prompt's tokens are unchanged"
        torch.testing.assert_close(rows[k, text:].double(), scale * FORMULAS[method](a, b, t), rtol=1e-5, atol=1e-6,
                                   msg=f"row {k}, t = {t}")


def test_masks_follow_style_model_apply(n, style_model, pictures, clip_vision):
    """attn_bias gives every row StyleModelApply's mask; a conditioning that already has one (an earlier Apply Style
    Model, or this node chained for a second image pair) has it extended row by row, as StyleModelApply extends it."""
    schedule = _schedule(n)
    prompt = _prompt(1)
    ((_, options),) = _batch(n, prompt, style_model, *pictures, schedule, "lerp", 0.25, "attn_bias")
    single = _apply(prompt, style_model, pictures[0], 0.25, "attn_bias")[0][1]["attention_mask"]
    assert torch.equal(options["attention_mask"], single.expand(FRAMES, -1, -1))
    text, image = prompt[0][0].shape[1], pictures[0].last_hidden_state.shape[1]
    bias = torch.full((), math.log(0.25), dtype=torch.float16)
    assert (single[:, :, text:text + image] == bias).sum() == single.shape[1] * image - image * image, \
        "text and reference-image queries see the image tokens with log(strength); the image tokens among themselves 0"

    styled = _apply(prompt, style_model, _encode(clip_vision, _images(3)), 0.5, "attn_bias")
    with untouched(styled):
        out = _batch(n, styled, style_model, *pictures, schedule, "slerp", 0.8, "multiply")
    assert out[0][1]["attention_mask"].shape[0] == FRAMES
    assert_same(_apply(styled, style_model, pictures[0], 0.8), _row(out, 0))
    assert_same(_apply(styled, style_model, pictures[1], 0.8), _row(out, FRAMES - 1))

    second = _encode(clip_vision, _images(4)), _encode(clip_vision, _images(5))
    first = _batch(n, prompt, style_model, *pictures, schedule, "lerp", 0.5, "attn_bias")
    with untouched(first):
        chained = _batch(n, first, style_model, *second, schedule, "lerp", 2.0, "attn_bias")
    for k, one, two in ((0, pictures[0], second[0]), (FRAMES - 1, pictures[1], second[1])):
        expected = _apply(_apply(prompt, style_model, one, 0.5, "attn_bias"), style_model, two, 2.0, "attn_bias")
        assert_same(expected, _row(chained, k), f"row {k}")


def test_several_images_per_side_join_as_style_model_apply_joins_them(n, style_model, clip_vision):
    pair = _encode(clip_vision, _images(6, count=2)), _encode(clip_vision, _images(7, count=2))
    prompt = _prompt(1)
    out = _batch(n, prompt, style_model, *pair, _schedule(n))
    assert_same(_apply(prompt, style_model, pair[0]), _row(out, 0))
    assert_same(_apply(prompt, style_model, pair[1]), _row(out, FRAMES - 1))


# bad input ---------------------------------------------------------------------------------------------------------

class _Output:
    """A CLIP_VISION_OUTPUT with just the field style models read."""

    def __init__(self, hidden):
        self.last_hidden_state = hidden


@pytest.mark.parametrize("change, input, shown", [
    ({"hidden_size": 48}, "clip_vision_b",
     (r"expected 17 tokens of width 64 like clip_vision_a, got 17 of width 48: encode both images with the same "
      r"CLIP Vision model")),
    ({"patch_size": 16}, "clip_vision_b", r"expected 17 tokens of width 64 like clip_vision_a, got 5 of width 64"),
])
def test_different_clip_vision_models_are_an_error(n, style_model, pictures, tmp_path, change, input, shown):
    other = _encode(tiny_models.build_clip_vision(tmp_path / "other.json", seed=1, **change), _images(2))
    expect_input_error(lambda: _batch(n, _prompt(1), style_model, pictures[0], other, _schedule(n)), NODE, input, shown)


def test_bad_inputs_name_the_input(n, style_model, pictures, clip_vision):
    a, b = pictures
    schedule = _schedule(n)
    cases = [
        (lambda: _batch(n, _prompt(1), style_model, a, _encode(clip_vision, _images(2, count=2)), schedule),
         "clip_vision_b", r"expected 1 image\(s\) like clip_vision_a .*got 2"),
        (lambda: _batch(n, _prompt(1), tiny_models.build_redux_style_model(vision_width=48), a, b, schedule),
         "style_model", r"expected a style model for CLIP vision tokens of width 64 .*got one for width 48"),
        (lambda: _batch(n, _prompt(1), tiny_models.build_redux_style_model(context=16), a, b, schedule),
         "style_model", r"makes tokens of width 16 but entry 0 of the conditioning has width 32"),
        (lambda: _batch(n, _prompts(n, _schedule(n, 3))[2], style_model, a, b, schedule),
         "conditioning", r"entry 0 has batch 3 but the schedule has 5 frames; expected batch 1 or 5"),
        (lambda: _batch(n, [[torch.zeros(1, 12, 32), {"attention_mask": torch.ones(1, 12)}]], style_model, a, b,
                        schedule),
         "conditioning", (r"expected an attention_mask of shape \[1 or 1, 13, 13\] \(text tokens \+ "
                          r"attention_mask_img_shape 1x1\), got a torch.float32 tensor of shape \(1, 12\)")),
        (lambda: _batch(n, _prompt(1), style_model, a, "image", schedule),
         "clip_vision_b", r"expected a CLIP_VISION_OUTPUT \(CLIP Vision Encode's output\), got str 'image'"),
        (lambda: _batch(n, _prompt(1), style_model, _Output(torch.full((1, 17, 64), math.nan)), b, schedule),
         "clip_vision_a", r"last_hidden_state .*must be finite, got 1088 NaN/inf"),
        (lambda: _batch(n, _prompt(1), style_model, a, b, schedule, strength=math.nan),
         "strength", r"expected a finite number, got nan"),
        (lambda: _batch(n, [], style_model, a, b, schedule), "conditioning", r"non-empty list"),
    ]
    hidden = [p.last_hidden_state.clone() for p in pictures]
    for call, input, shown in cases:
        expect_input_error(call, NODE, input, shown)
    assert all(torch.equal(before, p.last_hidden_state) for before, p in zip(hidden, pictures))


# sampling with AID on the tiny Flux --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def flux():
    return tiny_models.build_flux_model_patcher()


def _sample(model, positive, steps=2, cfg=1.0):
    import nodes as comfy_nodes

    latent = {"samples": torch.zeros(FRAMES, 16, 16, 16), "batch_index": [0] * FRAMES}
    return comfy_nodes.common_ksampler(model, 5, steps, cfg, "euler", "simple", positive, _prompt(9),
                                       latent)[0]["samples"]


def _aid(n, model, schedule, layers="self + cross"):
    return n.aid_nodes.AIDAttentionPatch.execute(model, schedule, "outer", True, layers, 0.0, 1.0, False).args[0]


@pytest.mark.parametrize("strength_type, strength", [("multiply", 1.0), ("attn_bias", 0.5)])
def test_sampled_end_frames_are_the_single_image_generations(n, flux, style_model, pictures, strength_type, strength):
    """The batch with the single-image conditionings in its end rows, sampled plain, against this node's batch with
    AID: end frames bit for bit, in-between frames changed by AID (with attn_bias's mask too: AID carries it)."""
    schedule = _schedule(n)
    prompt = _prompt(1)
    positive = _batch(n, prompt, style_model, *pictures, schedule, "lerp", strength, strength_type)
    ends = [_apply(prompt, style_model, picture, strength, strength_type)[0] for picture in pictures]
    rows = [ends[0]] + [_row(positive, k)[0] for k in range(1, FRAMES - 1)] + [ends[1]]
    single = [[torch.cat([row[0] for row in rows]),
               {**ends[0][1], **{key: torch.cat([row[1][key] for row in rows])
                                 for key in ("pooled_output", "attention_mask") if key in ends[0][1]}}]]
    plain = _sample(flux, single)
    frames = _sample(_aid(n, flux, schedule), positive)
    assert torch.equal(frames[0], plain[0]) and torch.equal(frames[-1], plain[-1])
    for k in range(1, FRAMES - 1):
        assert not torch.allclose(frames[k], plain[k], atol=1e-4), f"in-between frame {k} unchanged by AID"
    assert torch.isfinite(frames).all()


@pytest.mark.parametrize("strength_type, strength", [("multiply", 1.0), ("attn_bias", 0.5)])
def test_aid_attends_to_both_images_tokens(n, flux, style_model, pictures, strength_type, strength):
    """With layers = cross, the endpoints' text-side tokens join: the prompt's and the image condition's. Every joint
    attention of the in-between frames is recomputed from the paper's formula on the captured q, k, v, with
    attn_bias's mask (log(0.5) on the Redux tokens) on each key set's scores."""
    schedule = _schedule(n)
    positive = _batch(n, _prompt(1), style_model, *pictures, schedule, "slerp", strength, strength_type)
    patched = _aid(n, flux, schedule, layers="cross")
    options = patched.model_options["transformer_options"]
    recorder = OverrideRecorder(options["optimized_attention_override"])
    options["optimized_attention_override"] = recorder
    _sample(patched, positive)
    weights = n.attention_patch.AIDConfig(coefficients=schedule.coefficients).weights
    text = positive[0][0].shape[1]
    assert recorder.calls and all(n.attention_patch.layout_of(call["options"]).text == text for call in recorder.calls)
    assert all((call["mask"] is not None) == (strength_type == "attn_bias") for call in recorder.calls)
    for call in recorder.calls:
        torch.testing.assert_close(call["out"].double(), expected(call, weights, "outer", True, "text",
                                                                  n.attention_patch),
                                   rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("behaviour", ["rows_mean", "ends_mean"])
def test_picture_morph_inverts_with_each_pictures_redux_tokens(n, flux, style_model, pictures, behaviour):
    """A picture morph on Flux with a Redux picture per picture (attn_bias: its mask too): every attention of the
    inversion is FreeMorph's definition on the captured q, k, v and mask, the Redux tokens of each row included; the
    morph's latents then sample with Picture Morph Attention."""
    import comfy.sample
    import comfy.samplers

    schedule = _schedule(n)
    positive = _batch(n, _prompt(1), style_model, *pictures, schedule, "slerp", 0.5, "attn_bias")
    sigmas = comfy.samplers.calculate_sigmas(flux.get_model_object("model_sampling"), "simple", 4).cpu()
    morph = n.picture_morph_nodes
    patched = morph._morph_patch("Picture Morph Latents", flux, schedule, ())
    options = patched.model_options["transformer_options"]
    recorder = OverrideRecorder(options["optimized_attention_override"])
    options["optimized_attention_override"] = recorder
    start = torch.randn(FRAMES, 16, 16, 16, generator=torch.Generator().manual_seed(4))
    n.inversion.invert_latent("Picture Morph Latents", patched, positive, start, sigmas[-3:], 1,
                              lambda step: behaviour)
    text = positive[0][0].shape[1]
    assert recorder.calls and all(call["mask"] is not None for call in recorder.calls)
    assert all(n.attention_patch.layout_of(call["options"]).text == text for call in recorder.calls)
    for call in recorder.calls:
        torch.testing.assert_close(call["out"].double(), expected_inversion(call, behaviour), rtol=1e-4, atol=1e-5)

    latents = [{"samples": start[:1]}, {"samples": start[-1:]}]
    latent, sampled = morph.PictureMorphLatents.execute(flux, positive, *latents, schedule, sigmas, 0.5, 1, 0.3, 0.6,
                                                        0.875, 0).args
    model = morph.PictureMorphAttention.execute(flux, schedule, 0.2, 0.6, "self + cross", False, 0).args[0]
    frames = comfy.sample.sample_custom(model, torch.zeros_like(latent["samples"]), 1.0,
                                        comfy.samplers.sampler_object("euler"), sampled, positive, positive,
                                        latent["samples"], seed=0)
    assert frames.shape == (FRAMES, 16, 16, 16) and torch.isfinite(frames).all()
