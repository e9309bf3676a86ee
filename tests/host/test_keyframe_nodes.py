"""The keyframe nodes on real ComfyUI values: Keyframe Schedule, Encode Keyframe Prompts, Append Conditioning
Keyframe, Keyframe Conditioning Batch, Keyframe Latent Batch, and the two-value nodes given keyframed schedules.
Every frame is checked against the interpolation of its segment's keyframes written out here; bad input names
the input."""

import pytest
import torch

import tiny_models
from aid_support import dit_conditioning
from bad_input import expect_input_error

FRAMES_OPEN = [(0, 0.0), (0, 1 / 3), (0, 2 / 3), (1, 0.0), (1, 0.5), (1, 1.0)]  # (segment, t) of each frame
SEGMENTS = [(0, 1), (1, 2), (2, 0)]


def schedule(n, keyframes=3, loop=False, segment_frames="3, 2", frames=2, preset="uniform"):
    return n.schedule_nodes.KeyframeSchedule.execute(keyframes=keyframes, frames_per_segment=frames, loop=loop,
                                                     preset=preset, steps=20, alpha=2.0, beta=2.0,
                                                     segment_frames=segment_frames)


def encode(clip, text):
    import nodes as comfy_nodes

    return comfy_nodes.CLIPTextEncode().encode(clip, text)[0]


# Keyframe Schedule --------------------------------------------------------------------------------------------------

def test_keyframe_schedule_frames_and_text(n):
    result = schedule(n, keyframes=4, loop=True, segment_frames="", frames=8, preset="classic")
    made, text, curve = result.args
    assert len(made) == 32 and made.keyframed.keyframe_frames == (0, 8, 16, 24) and made.keyframed.loop
    assert "keyframes at frames [0, 8, 16, 24]" in text and "Beta(alpha=20, beta=20)" in text
    assert curve.shape[0] == 1 and curve.shape[-1] == 3
    opened = schedule(n, keyframes=4, segment_frames="", frames=10).args[0]
    assert len(opened) == 31 and opened.keyframed.keyframe_frames == (0, 10, 20, 30)
    per_segment = schedule(n, keyframes=3, segment_frames="3, 5").args[0]
    assert per_segment.keyframed.keyframe_frames == (0, 3, 8) and len(per_segment) == 9


@pytest.mark.parametrize("kwargs, input, message", [
    (dict(segment_frames="3, 1"), "segment_frames", "segment 2 has 1 frame"),
    (dict(segment_frames="3, 0"), "segment_frames", "segment 2 has 0 frame"),
    (dict(segment_frames="3"), "segment_frames", "3 keyframes make 2 segments, but 1 frame count"),
    (dict(segment_frames="3, 2", loop=True), "segment_frames", "in a loop make 3 segments, but 2"),
    (dict(segment_frames="3, two"), "segment_frames", "expected whole numbers"),
    (dict(keyframes=1, segment_frames=""), "keyframes", "must be an int >= 2"),
])
def test_keyframe_schedule_bad_input(n, kwargs, input, message):
    expect_input_error(lambda: schedule(n, **kwargs), "Keyframe Schedule", input, message)


# conditioning -------------------------------------------------------------------------------------------------------

def test_encode_keyframe_prompts_match_the_layout_of_every_prompt(n, tiny_clip):
    long = "a photo of a cat " + "sitting on a mat " * 20
    keyframes, count = n.prompt_pair_nodes.EncodeKeyframePrompts.execute(
        tiny_clip, f"a photo of a cat\n\n{long}\na photo of a fox\n").args
    assert count == 3
    rows = keyframes[0][0]
    assert rows.shape[:2] == (3, 154) and keyframes[0][1]["pooled_output"].shape[0] == 3
    assert torch.equal(rows[1:2], encode(tiny_clip, long)[0][0])
    # The short prompts' own chunk is unchanged; their second chunk is the empty prompt's.
    assert torch.equal(rows[0:1, :77], encode(tiny_clip, "a photo of a cat")[0][0])
    assert torch.equal(rows[2:3, 77:], encode(tiny_clip, "")[0][0])


def test_encode_keyframe_prompts_needs_two(n, tiny_clip):
    expect_input_error(lambda: n.prompt_pair_nodes.EncodeKeyframePrompts.execute(tiny_clip, "only one\n\n"),
                       "Encode Keyframe Prompts", "prompts", "at least 2 prompts, one a line, got 1")


def test_append_chains_keyframes_from_any_encoder_node(n, tiny_clip):
    texts = ("a photo of a cat", "a photo of a dog", "a photo of a fox")
    keyframes = None
    for text in texts:
        keyframes = n.conditioning_nodes.AppendConditioningKeyframe.execute(encode(tiny_clip, text), "error",
                                                                            keyframes).args[0]
    encoded = n.prompt_pair_nodes.EncodeKeyframePrompts.execute(tiny_clip, "\n".join(texts)).args[0]
    assert torch.equal(keyframes[0][0], encoded[0][0])
    assert torch.equal(keyframes[0][1]["pooled_output"], encoded[0][1]["pooled_output"])


def test_append_stacks_masks_row_by_row(n):
    first = dit_conditioning(1)
    masked = [[first[0][0], {**first[0][1], "attention_mask": torch.tensor([[1.0] * 8 + [0.0] * 4])}]]
    keyframes = n.conditioning_nodes.AppendConditioningKeyframe.execute(dit_conditioning(2), "error").args[0]
    keyframes = n.conditioning_nodes.AppendConditioningKeyframe.execute(masked, "error", keyframes).args[0]
    assert keyframes[0][1]["attention_mask"].tolist() == [[1.0] * 12, [1.0] * 8 + [0.0] * 4]


def test_append_refuses_another_encoder_or_layout(n, tiny_clip):
    node = "Append Conditioning Keyframe"
    keyframes = n.conditioning_nodes.AppendConditioningKeyframe.execute(encode(tiny_clip, "a cat"), "error").args[0]
    expect_input_error(lambda: n.conditioning_nodes.AppendConditioningKeyframe.execute(
        dit_conditioning(1), "error", keyframes), node, "conditioning", "comes from")
    long = encode(tiny_clip, "a cat " * 60)
    expect_input_error(lambda: n.conditioning_nodes.AppendConditioningKeyframe.execute(long, "error", keyframes),
                       node, "token_alignment", "has 77 tokens but conditioning has 154")


def test_a_joint_style_mask_is_named(n):
    """Apply Style Model with attn_bias leaves a joint text + image mask, which a keyframe row cannot carry."""
    first = dit_conditioning(1)
    joint = [[first[0][0], {**first[0][1], "attention_mask": torch.zeros(1, 16, 16),
                            "attention_mask_img_shape": (2, 2)}]]
    expect_input_error(lambda: n.conditioning_nodes.AppendConditioningKeyframe.execute(joint, "error"),
                       "Append Conditioning Keyframe", "conditioning", "joint text \\+ image mask",
                       "strength_type multiply")


def _keyframe_values(seeds=(1, 2, 3)):
    return [dit_conditioning(seed) for seed in seeds]


def _keyframes(n, conditionings):
    keyframes = None
    for conditioning in conditionings:
        keyframes = n.conditioning_nodes.AppendConditioningKeyframe.execute(conditioning, "error", keyframes).args[0]
    return keyframes


@pytest.mark.parametrize("loop", [False, True], ids=["open", "loop"])
def test_keyframe_conditioning_batch_interpolates_each_segment(n, loop):
    values = _keyframe_values()
    made = schedule(n, loop=loop, segment_frames="3, 2, 2" if loop else "3, 2").args[0]
    ((rows, options),) = n.conditioning_nodes.KeyframeConditioningBatch.execute(
        _keyframes(n, values), made, "lerp", "error").args[0]
    frames = FRAMES_OPEN[:-1] + ([(2, 0.0), (2, 0.5)] if loop else [(1, 1.0)])
    assert rows.shape[0] == len(frames) == len(made)
    for frame, (segment, t) in enumerate(frames):
        a, b = SEGMENTS[segment]
        for key, got in (("tokens", rows), ("pooled_output", options["pooled_output"])):
            ka, kb = ((values[j][0][0] if key == "tokens" else values[j][0][1][key]) for j in (a, b))
            torch.testing.assert_close(got[frame : frame + 1], (1 - t) * ka + t * kb, rtol=0, atol=1e-6)
    for j, frame in enumerate((0, 3, 5)):
        assert torch.equal(rows[frame], values[j][0][0][0]), f"keyframe {j} is its conditioning exactly"
    assert options["guidance"] == 3.5


def test_keyframe_conditioning_batch_bad_input(n):
    node = "Keyframe Conditioning Batch"
    made = schedule(n).args[0]
    keyframes = _keyframes(n, _keyframe_values((1, 2)))
    expect_input_error(lambda: n.conditioning_nodes.KeyframeConditioningBatch.execute(
        keyframes, made, "lerp", "error"), node, "schedule", "schedule has 3 keyframes but keyframes give 2")
    three = _keyframes(n, _keyframe_values())
    expect_input_error(lambda: n.conditioning_nodes.KeyframeConditioningBatch.execute(
        three, made, "lerp", "error", _keyframes(n, _keyframe_values((4, 5, 6)))), node, "guide",
        "one per segment \\(2\\)")


def test_pair_nodes_take_a_two_keyframe_loop_and_name_more(n):
    loop = schedule(n, keyframes=2, loop=True, segment_frames="3, 2").args[0]
    a, b = dit_conditioning(1), dit_conditioning(2)
    ((rows, _),) = n.conditioning_nodes.ConditioningInterpolationBatch.execute(a, b, loop, "lerp", "error").args[0]
    assert [round(float((row - a[0][0][0]).norm() / (b[0][0][0] - a[0][0][0]).norm()), 4) for row in rows] == \
        [0.0, 0.3333, 0.6667, 1.0, 0.5]
    expect_input_error(lambda: n.conditioning_nodes.ConditioningInterpolationBatch.execute(
        a, b, schedule(n).args[0], "lerp", "error"), "Conditioning Interpolation Batch", "schedule",
        "schedule has 3 keyframes but conditioning_a and conditioning_b give 2; for more keyframes use Keyframe "
        "Conditioning Batch")


def test_sweep_nodes_refuse_keyframed_schedules(n):
    made = schedule(n).args[0]
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    expect_input_error(lambda: n.latent_nodes.LatentSlide.execute(latent, latent, "slide", 9, made),
                       "Latent Slide", "schedule", "expected a schedule between two endpoints")


# latents and noise --------------------------------------------------------------------------------------------------

def test_keyframe_latent_batch(n):
    samples = torch.randn(3, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    made = schedule(n, loop=True, segment_frames="3, 2, 2").args[0]
    out = n.latent_nodes.KeyframeLatentBatch.execute({"samples": samples}, made, "lerp", True).args[0]
    assert out["samples"].shape[0] == 7 and out["batch_index"] == [0] * 7
    for j, frame in enumerate((0, 3, 5)):
        assert torch.equal(out["samples"][frame], samples[j])
    torch.testing.assert_close(out["samples"][6], 0.5 * samples[2] + 0.5 * samples[0], rtol=0, atol=1e-6)
    expect_input_error(lambda: n.latent_nodes.KeyframeLatentBatch.execute({"samples": samples[:2]}, made, "lerp",
                                                                             True),
                       "Keyframe Latent Batch", "schedule", "3 keyframes but keyframes give 2 \\(one latent per")


def test_slerp_latent_with_a_keyframed_pair(n):
    a, b = (torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(s)) for s in (1, 2))
    loop = schedule(n, keyframes=2, loop=True, segment_frames="2, 2").args[0]
    out = n.latent_nodes.SlerpLatent.execute({"samples": a}, {"samples": b}, "lerp", 0.5, loop).args[0]
    expected = torch.cat([a, 0.5 * a + 0.5 * b, b, 0.5 * b + 0.5 * a])
    torch.testing.assert_close(out["samples"], expected, rtol=0, atol=1e-6)
    expect_input_error(lambda: n.latent_nodes.SlerpLatent.execute({"samples": a}, {"samples": b}, "lerp", 0.5,
                                                                      schedule(n).args[0]),
                       "Slerp Latent", "schedule", "use Keyframe Latent Batch")


def test_interpolated_noise_with_keyframe_seeds(n):
    import comfy.sample

    made = schedule(n).args[0]
    latent = {"samples": torch.zeros(6, 4, 8, 8)}
    noise = n.noise_nodes.InterpolatedNoise.execute(0, 1, made, "slerp", "7, 8, 9").args[0]
    rows = noise.generate_noise(latent)
    for seed, frame in zip((7, 8, 9), (0, 3, 5)):
        assert torch.equal(rows[frame], comfy.sample.prepare_noise(latent["samples"][:1], seed)[0])
    expect_input_error(lambda: n.noise_nodes.InterpolatedNoise.execute(0, 1, made, "slerp", ""),
                       "Interpolated Noise", "schedule", "3 keyframes but seed_a and seed_b give 2; list one seed")
    expect_input_error(lambda: n.noise_nodes.InterpolatedNoise.execute(0, 1, made, "slerp", "1, 2"),
                       "Interpolated Noise", "schedule", "3 keyframes but keyframe_seeds lists 2")


# image conditions ---------------------------------------------------------------------------------------------------

def test_one_redux_image_per_keyframe(n, tmp_path):
    import nodes as comfy_nodes

    clip_vision = tiny_models.build_clip_vision(tmp_path / "config.json", seed=0)
    style = tiny_models.build_redux_style_model(seed=0)
    images = torch.rand(3, 32, 32, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        together = clip_vision.encode_image(images)
        singles = [clip_vision.encode_image(images[j : j + 1]) for j in range(3)]
    prompt = dit_conditioning(1)
    made = schedule(n).args[0]
    with torch.no_grad():
        out = n.image_condition_nodes.ImageConditionInterpolationBatch.execute(
            conditioning=prompt, style_model=style, clip_vision_a=together, schedule=made, method="lerp",
            strength=1.0, strength_type="multiply").args[0]
        for j, frame in enumerate((0, 3, 5)):
            ((single, _),) = comfy_nodes.StyleModelApply().apply_stylemodel(prompt, style, singles[j], 1.0,
                                                                            "multiply")[0]
            torch.testing.assert_close(out[0][0][frame], single[0], rtol=0, atol=1e-6)
    expect_input_error(lambda: n.image_condition_nodes.ImageConditionInterpolationBatch.execute(
        conditioning=prompt, style_model=style, clip_vision_a=singles[0], schedule=made, method="lerp",
        strength=1.0, strength_type="multiply"), "Image Condition Interpolation Batch", "schedule",
        "3 keyframes but clip_vision_a holds 1 image")
