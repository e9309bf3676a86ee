"""AID on keyframed sequences, in ComfyUI's real sampler: every segment between its own two keyframes.

Three keyframes (cat, dog, fox), uniform in-betweens, segments of 3 and 2 frames (and 2 more back to the cat for
the loop), so the frames are, by hand:

    open: 0 K0 | 1 (K0 -> K1, 1/3) | 2 (K0 -> K1, 2/3) | 3 K1 | 4 (K1 -> K2, 1/2) | 5 K2
    loop: the same, then 6 (K2 -> K0, 1/2), after which the sequence starts again at frame 0.
"""

import pytest
import torch

import joint_formulas
import tiny_models
from aid_support import (KEYFRAME_FRAMES, LOOP, OPEN, alone, assert_close_frames, dit_conditioning, dit_sequence,
                          keyframe_sequence, patch, sample)
from unet_formulas import Recorder
from unet_formulas import expected as unet_expected




@pytest.fixture(scope="module", params=[False, True], ids=["open", "loop"])
def keyframed(request, n, tiny_clip):
    return keyframe_sequence(n, tiny_clip, loop=request.param)


def inbetweens(seq):
    return LOOP if seq["schedule"].keyframed.loop else OPEN


def test_the_schedule_is_the_one_drawn_by_hand(keyframed):
    layout = keyframed["schedule"].keyframed
    assert layout.keyframe_frames == KEYFRAME_FRAMES
    assert len(keyframed["schedule"]) == (7 if layout.loop else 6)
    for frame, (_, _, t) in inbetweens(keyframed).items():
        assert keyframed["schedule"].coefficients[frame] == pytest.approx(t, abs=1e-12)


@pytest.mark.parametrize("cfg", [5.0, 1.0], ids=["cfg5", "cfg1"])
def test_keyframe_rows_are_the_plain_rows_of_the_batch(n, tiny_model, keyframed, cfg):
    plain = sample(tiny_model, keyframed, cfg)
    patched = sample(patch(n, tiny_model, keyframed["schedule"]), keyframed, cfg)
    for frame in KEYFRAME_FRAMES:
        assert torch.equal(patched[frame], plain[frame]), f"keyframe at frame {frame} must be plain sampling's"
    for frame in inbetweens(keyframed):
        assert not torch.allclose(patched[frame], plain[frame], atol=1e-3), f"frame {frame} unchanged by AID"


@pytest.mark.parametrize("mode, fused", [("outer", True), ("outer", False), ("inner", True), ("inner", False)])
@pytest.mark.parametrize("layer", ["attn1", "attn2"], ids=["self", "cross"])
def test_each_in_between_attends_to_its_own_segments_keyframes(n, tiny_model, keyframed, mode, fused, layer):
    patched = patch(n, tiny_model, keyframed["schedule"], mode, fused)
    key = ("input", 1, 0)
    recorder = Recorder(patched.model_options["transformer_options"]["patches_replace"][layer][key])
    patched.set_model_patch_replace(recorder, layer, *key)
    sample(patched, keyframed, cfg=5.0, steps=2)
    assert len(recorder.calls) == 2
    for call in recorder.calls:
        torch.testing.assert_close(call["out"].double(), unet_expected(call, inbetweens(keyframed), mode, fused,
                                                                       uncond=False), rtol=1e-4, atol=1e-5)


def test_the_negative_pass_and_the_window(n, tiny_model, keyframed):
    """apply_to_uncond interpolates the negative chunk between the same keyframes; end_percent 0.5 of 4 steps leaves
    steps 2 and 3 plain."""
    patched = patch(n, tiny_model, keyframed["schedule"], end=0.5, uncond=True)
    key = ("middle", 0, 0)
    recorder = Recorder(patched.model_options["transformer_options"]["patches_replace"]["attn1"][key])
    patched.set_model_patch_replace(recorder, "attn1", *key)
    sample(patched, keyframed, steps=4)
    assert len(recorder.calls) == 4
    for step, call in enumerate(recorder.calls):
        reference = unet_expected(call, inbetweens(keyframed) if step < 2 else {}, "outer", True, uncond=True)
        torch.testing.assert_close(call["out"].double(), reference, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("max_rows", [1, 2, 3])
def test_max_rows_computes_every_keyframe_once_alone(n, tiny_model, keyframed, max_rows):
    cfg, steps = (5.0, 3) if max_rows > 1 else (1.0, 3)
    whole = sample(patch(n, tiny_model, keyframed["schedule"]), keyframed, cfg, steps=steps)
    split = sample(patch(n, tiny_model, keyframed["schedule"], max_rows=max_rows), keyframed, cfg, steps=steps)
    assert_close_frames(split, whole)
    for frame in KEYFRAME_FRAMES:
        assert torch.equal(split[frame], alone(n, tiny_model, keyframed, frame, cfg, steps)), \
            f"keyframe at frame {frame} must be plain sampling of its prompt alone"


def test_max_rows_runs_each_keyframe_once_per_model_call(n, tiny_model, keyframed):
    """Counted on a layer, per model call: each keyframe alone just before the first part that needs it, the
    in-betweens two frames a part: K0, K1, frames 1-2, K2, frame 4 (and 6, back to K0, in the loop)."""
    patched = patch(n, tiny_model, keyframed["schedule"], max_rows=2)
    key = ("input", 1, 0)
    recorder = Recorder(patched.model_options["transformer_options"]["patches_replace"]["attn1"][key])
    patched.set_model_patch_replace(recorder, "attn1", *key)
    sample(patched, keyframed, cfg=1.0, steps=1)
    assert [call["q"].shape[0] for call in recorder.calls] == [1, 1, 2, 1, 2 if keyframed["schedule"].keyframed.loop
                                                                else 1]


class KeptRecorder:
    """Stands in front of an AID replace patch and notes, at each in-between part, which keyframes are kept."""

    def __init__(self, inner, plan_of):
        self.inner, self.plan_of, self.kept = inner, plan_of, []

    def __call__(self, q, k, v, options):
        plan = self.plan_of(options)
        if plan.segments:
            self.kept.append(sorted({end.keyframe for _, end in plan.kept}))
        return self.inner(q, k, v, options)


@pytest.mark.parametrize("loop", [False, True], ids=["open", "loop"])
def test_max_rows_keeps_only_the_keyframes_still_needed(n, tiny_model, tiny_clip, loop):
    """Four keyframes, segments of a keyframe and two in-betweens, max_rows 2 at cfg 1: each in-between part finds
    its own segment's two keyframes kept, the earlier ones gone (a loop keeps the first for its last segment); the
    frames equal the one batch's."""
    import nodes as comfy_nodes

    keyframes = n.prompt_pair_nodes.EncodeKeyframePrompts.execute(
        tiny_clip, "a photo of a cat\na photo of a dog\na photo of a fox\na photo of a bird").args[0]
    schedule = n.schedule_nodes.KeyframeSchedule.execute(keyframes=4, frames_per_segment=3, loop=loop,
                                                         preset="uniform", steps=20, alpha=2.0, beta=2.0).args[0]
    seq = dict(schedule=schedule, negative=comfy_nodes.CLIPTextEncode().encode(tiny_clip, "blurry")[0],
               positive=n.conditioning_nodes.KeyframeConditioningBatch.execute(keyframes, schedule, "lerp",
                                                                               "error").args[0],
               latent=n.latent_nodes.SharedNoiseLatent.execute(64, 64, 1, schedule).args[0])
    patched = patch(n, tiny_model, schedule, max_rows=2)
    key = ("input", 1, 0)
    recorder = KeptRecorder(patched.model_options["transformer_options"]["patches_replace"]["attn1"][key],
                            n.attention_patch.plan_of)
    patched.set_model_patch_replace(recorder, "attn1", *key)
    split = sample(patched, seq, cfg=1.0, steps=1)
    # In a loop the first keyframe waits for the last segment, which leads back to it.
    assert recorder.kept == ([[0, 1], [0, 1, 2], [0, 2, 3], [0, 3]] if loop else [[0, 1], [1, 2], [2, 3]])
    assert_close_frames(split, sample(patch(n, tiny_model, schedule), seq, cfg=1.0, steps=1))


@pytest.mark.parametrize("segment", [0, 1, 2])
def test_each_segment_is_its_two_endpoint_sequence(n, tiny_model, tiny_clip, segment):
    """Segment s sampled inside the keyframed batch equals the two-endpoint AID sequence of its two keyframes with
    its coefficients, up to the rounding of another batch size; its keyframes are equal bit for bit with max_rows."""
    seq = keyframe_sequence(n, tiny_clip, loop=True)
    frames = [(0, 1, 2, 3), (3, 4, 5), (5, 6, 0)][segment]
    a, b = ((0, 1), (1, 2), (2, 0))[segment]
    coefficients = tuple(seq["schedule"].coefficients[f] for f in frames[:-1]) + (1.0,)
    schedule = n.schedule_type.InterpSchedule(coefficients, f"segment {segment}")
    positive = n.conditioning_nodes.ConditioningInterpolationBatch.execute(
        n.adaptive_render.conditioning_row(seq["keyframes"], a), n.adaptive_render.conditioning_row(seq["keyframes"], b),
        schedule, "lerp", "error").args[0]
    pair = dict(seq, positive=positive, latent=n.latent_nodes.SharedNoiseLatent.execute(64, 64, 1, schedule).args[0])
    keyframed = sample(patch(n, tiny_model, seq["schedule"], max_rows=2), seq, 5.0)
    two = sample(patch(n, tiny_model, schedule, max_rows=2), pair, 5.0)
    assert_close_frames(keyframed[list(frames)], two)
    assert torch.equal(keyframed[frames[0]], two[0]) and torch.equal(keyframed[frames[-1]], two[-1])


def test_paid_with_a_guide_per_segment(n, tiny_model, tiny_clip):
    import nodes as comfy_nodes

    guides = None
    for text in ("a photo of a lion", "a photo of a wolf"):
        guides = n.conditioning_nodes.AppendConditioningKeyframe.execute(
            comfy_nodes.CLIPTextEncode().encode(tiny_clip, text)[0], "error", guides).args[0]
    seq = keyframe_sequence(n, tiny_clip, guide=guides)
    rows = seq["positive"][0][0]
    for frame, (_, frame_b, _) in OPEN.items():
        assert torch.equal(rows[frame], guides[0][0][0 if frame_b == 3 else 1])
    plain = sample(tiny_model, seq, 5.0)
    patched = patch(n, tiny_model, seq["schedule"])
    key = ("input", 1, 0)
    recorder = Recorder(patched.model_options["transformer_options"]["patches_replace"]["attn2"][key])
    patched.set_model_patch_replace(recorder, "attn2", *key)
    out = sample(patched, seq, 5.0)
    for frame in KEYFRAME_FRAMES:
        assert torch.equal(out[frame], plain[frame])
    for call in recorder.calls:
        torch.testing.assert_close(call["out"].double(), unet_expected(call, OPEN, "outer", True, uncond=False),
                                   rtol=1e-4, atol=1e-5)


# transformers -------------------------------------------------------------------------------------------------------

TRANSFORMERS = {"flux": tiny_models.build_flux_model_patcher, "qwen_image": tiny_models.build_qwen_image_model_patcher,
                "sd35_mmdit_x": lambda seed: tiny_models.build_sd3_model_patcher(seed=seed, mmdit_x=True)}


@pytest.fixture(scope="module")
def transformers():
    return {family: build(seed=0) for family, build in TRANSFORMERS.items()}


@pytest.mark.parametrize("family, loop, layers, tokens", [
    ("flux", False, "self + cross", "all"), ("flux", True, "self + cross", "all"), ("flux", True, "self", "image"),
    ("flux", False, "cross", "text"), ("qwen_image", True, "self + cross", "all"),
    ("sd35_mmdit_x", True, "self + cross", "all"),  # two attentions per block: the joint one and the image-only one
])
def test_transformer_keyframes(n, transformers, family, loop, layers, tokens):
    model = transformers[family]
    seq = dit_sequence(n, loop)
    plain = sample(model, seq, 1.0, steps=2)
    patched = patch(n, model, seq["schedule"], layers=layers)
    options = patched.model_options["transformer_options"]
    recorder = joint_formulas.OverrideRecorder(options["optimized_attention_override"])
    options["optimized_attention_override"] = recorder
    out = sample(patched, seq, 1.0, steps=2)
    for frame in KEYFRAME_FRAMES:
        assert torch.equal(out[frame], plain[frame]), f"keyframe at frame {frame} must be plain sampling's"
    for call in recorder.calls:
        torch.testing.assert_close(call["out"].double(), joint_formulas.expected(
            call, LOOP if loop else OPEN, "outer", True, tokens, n.attention_patch), rtol=1e-4, atol=1e-5)
    split = sample(patch(n, model, seq["schedule"], layers=layers, max_rows=2), seq, 1.0, steps=2)
    assert_close_frames(split, out)
    for frame in KEYFRAME_FRAMES:
        assert torch.equal(split[frame], alone(n, model, seq, frame, 1.0, 2))


# bad input ----------------------------------------------------------------------------------------------------------

def test_a_latent_of_another_length_is_named(n, tiny_model, keyframed):
    short = n.latent_nodes.SharedNoiseLatent.execute(64, 64, 5, None).args[0]
    frames = len(keyframed["schedule"])
    with pytest.raises(n.errors.InbetweenInputError, match=f"schedule has {frames} frames but the latent batch has 5"):
        sample(patch(n, tiny_model, keyframed["schedule"]), keyframed, latent=short)


def test_a_schedule_with_its_keyframes_elsewhere_is_named(n, tiny_model, tiny_clip):
    """A conditioning made along the keyframed schedule and a patch given a two-endpoint schedule of as many frames
    (or the reverse) would attend to the wrong keyframes without a word: the patch refuses it."""
    seq = keyframe_sequence(n, tiny_clip)
    beta = n.schedule_nodes.BetaCoefficientSchedule.execute(frames=6, preset="uniform", steps=20, alpha=2.0,
                                                            beta=2.0, start=0.0, end=1.0).args[0]
    with pytest.raises(n.errors.InbetweenInputError, match="has 6 frames with keyframes at frames \\[0, 5\\], but the "
                       "positive conditioning was made for 6 frames with keyframes at frames \\[0, 3, 5\\]"):
        sample(patch(n, tiny_model, beta), seq)
    two = n.conditioning_nodes.ConditioningInterpolationBatch.execute(
        n.adaptive_render.conditioning_row(seq["keyframes"], 0), n.adaptive_render.conditioning_row(seq["keyframes"], 1),
        beta, "lerp", "error").args[0]
    with pytest.raises(n.errors.InbetweenInputError, match="keyframes at frames \\[0, 3, 5\\], but the positive"):
        sample(patch(n, tiny_model, seq["schedule"]), dict(seq, positive=two))
