"""Picture stories: FreeMorph through several pictures along a Keyframe Schedule, open and looping, on the tiny UNet.

Three pictures at frames 0, 3 and 5 (a loop adds frame 6, half way back to the first). Each span is a two-picture
morph: its in-betweens are inverted with the attention of their span, a picture between two spans with the mean of
both; the in-betweens' high frequencies come from the one shared noise, the pictures' rows keep theirs; sampling
runs AID per span; the pictures go back at their frames. (Two keyframes give the two-picture morph exactly:
test_picture_morph.py.)
"""

import comfy.sample
import comfy.samplers
import pytest
import torch
from aid_support import keyframe_schedule
from bad_input import expect_input_error, untouched
from unet_formulas import Recorder, expected_inversion

import nodes as comfy_nodes

STORY, ATTENTION, KEEP = "Picture Story Latents", "Picture Morph Attention", "Keep Picture Keyframes"
KEYFRAME_FRAMES = (0, 3, 5)


def _sigmas(model, steps: int) -> torch.Tensor:
    return comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "normal", steps).cpu()


@pytest.fixture(scope="module", params=[False, True], ids=["open", "loop"])
def story(request, n, tiny_clip):
    schedule = keyframe_schedule(n, request.param)
    keyframes = n.prompt_pair_nodes.EncodeKeyframePrompts.execute(
        tiny_clip, "a photo of a cat\na painting of a dog\na drawing of a fox").args[0]
    positive = n.conditioning_nodes.KeyframeConditioningBatch.execute(keyframes, schedule, "lerp", "error",
                                                                      None).args[0]
    pictures = {"samples": torch.randn(3, 4, 8, 8, generator=torch.Generator().manual_seed(5))}
    return dict(schedule=schedule, positive=positive, pictures=pictures,
                negative=comfy_nodes.CLIPTextEncode().encode(tiny_clip, "")[0])


def _story_latents(n, model, story, steps=6, iterations=1, low_frequencies=0.875, **changed):
    inputs = dict(model=model, positive=story["positive"], pictures=story["pictures"], schedule=story["schedule"],
                  sigmas=_sigmas(model, steps), strength=0.8, iterations=iterations, mean_from=0.3, ends_from=0.6,
                  low_frequencies=low_frequencies, noise_seed=3)
    return n.picture_morph_nodes.PictureStoryLatents.execute(**{**inputs, **changed}).args


def _spans(layout):
    frames = layout.keyframe_frames
    return [(frames[span.a], frames[span.b], inbetweens) for span, inbetweens in zip(layout.spans, layout.span_frames)]


@pytest.mark.parametrize("behaviour", ["rows_mean", "ends_mean"])
@pytest.mark.parametrize("layer", ["attn1", "attn2"])
def test_inversion_layers_give_each_row_its_spans(n, tiny_model, story, behaviour, layer):
    """Every row, pictures included, gets FreeMorph's definition within each span holding it, averaged over those
    spans (recomputed in float64 from the captured q, k, v)."""
    layout = story["schedule"].keyframed
    patched = n.picture_morph_nodes._morph_patch(STORY, tiny_model, story["schedule"], ())
    key = ("input", 1, 0)
    recorder = Recorder(patched.model_options["transformer_options"]["patches_replace"][layer][key])
    patched.set_model_patch_replace(recorder, layer, *key)
    start = story["pictures"]["samples"][[0] * layout.frames]
    n.inversion.invert_latent(STORY, patched, story["positive"], start, _sigmas(tiny_model, 2), 1,
                              lambda step: behaviour)
    assert len(recorder.calls) == 2 and all(call["chunks"] == [0] for call in recorder.calls)
    for call in recorder.calls:
        torch.testing.assert_close(call["out"].double(), expected_inversion(call, behaviour, _spans(layout)),
                                   rtol=1e-4, atol=1e-5)


def test_story_end_to_end_keeps_every_picture(n, tiny_model, story):
    """The in-betweens take the shared noise's high frequencies, the pictures' rows keep theirs; sampling interpolates
    each span's in-betweens; Keep Picture Keyframes puts each picture back at its frame."""
    layout = story["schedule"].keyframed
    with untouched(story["pictures"], story["positive"]):
        latent, sampled = _story_latents(n, tiny_model, story, iterations=2, low_frequencies=0.5)
    kept, _ = _story_latents(n, tiny_model, story, iterations=2, low_frequencies=1.0)
    inbetweens = [f for f in range(layout.frames) if f not in KEYFRAME_FRAMES]
    assert latent["samples"].shape == (layout.frames, 4, 8, 8)
    assert torch.equal(latent["samples"][list(KEYFRAME_FRAMES)], kept["samples"][list(KEYFRAME_FRAMES)])
    assert not torch.allclose(latent["samples"][inbetweens], kept["samples"][inbetweens], atol=1e-2)

    patched = n.picture_morph_nodes.PictureMorphAttention.execute(tiny_model, story["schedule"], 0.2, 0.6,
                                                                 "self + cross", False, 0).args[0]
    segments = []
    wrapped = patched.model_options["transformer_options"]["patches_replace"]["attn1"][("input", 1, 0)]

    def log(q, k, v, options):
        plan = n.attention_patch.plan_of(options)
        segments.append([(s.first, s.stop, s.a, s.b) for s in plan.segments])
        return wrapped(q, k, v, options)

    patched.set_model_patch_replace(log, "attn1", "input", 1, 0)
    samples = comfy.sample.sample_custom(patched, torch.zeros_like(latent["samples"]), 5.0,
                                         comfy.samplers.sampler_object("euler"), sampled, story["positive"],
                                         story["negative"], latent["samples"], seed=0)
    assert torch.isfinite(samples).all()
    offset = segments[0][0][0] - 1  # the positive chunk's first row: ComfyUI may batch the negative first
    spans = [(1, 3, 0, 3), (4, 5, 3, 5)] + ([(6, 7, 5, 0)] if layout.loop else [])
    assert [tuple(x - offset for x in s) for s in segments[0]] == spans and segments[-1] == [], segments

    frames, pictures = torch.rand(layout.frames, 16, 16, 3), torch.rand(3, 16, 16, 3)
    out = n.picture_morph_nodes.KeepPictureKeyframes.execute(frames, pictures, story["schedule"], "pictures").args[0]
    assert torch.equal(out[list(KEYFRAME_FRAMES)], pictures) and torch.equal(out[inbetweens], frames[inbetweens])
    regenerated = n.picture_morph_nodes.KeepPictureKeyframes.execute(frames, pictures, story["schedule"],
                                                                     "regenerated").args[0]
    assert torch.equal(regenerated, frames)


def test_bad_input_is_named(n, tiny_model, story):
    nodes = n.picture_morph_nodes
    two = {"samples": story["pictures"]["samples"][:2]}
    expect_input_error(lambda: _story_latents(n, tiny_model, story, pictures=two), STORY, "schedule",
                       "3 keyframes", "pictures give 2")
    masked = {**story["pictures"], "noise_mask": torch.ones(3, 1, 8, 8)}
    expect_input_error(lambda: _story_latents(n, tiny_model, story, pictures=masked), STORY, "pictures",
                       "noise mask")
    frames = len(story["schedule"])
    expect_input_error(lambda: nodes.KeepPictureKeyframes.execute(torch.rand(frames - 1, 16, 16, 3),
                                                                  torch.rand(3, 16, 16, 3), story["schedule"],
                                                                  "pictures"),
                       KEEP, "images", f"{frames - 1} frames", f"schedule has {frames}")
    expect_input_error(lambda: nodes.KeepPictureKeyframes.execute(torch.rand(frames, 16, 16, 3),
                                                                  torch.rand(2, 16, 16, 3), story["schedule"],
                                                                  "pictures"),
                       KEEP, "pictures", "expected 3 picture", r"\(2, 16, 16, 3\)")
    latent = {"samples": story["pictures"]["samples"][:1]}
    expect_input_error(lambda: nodes.PictureMorphLatents.execute(tiny_model, story["positive"], latent, latent,
                                                                 story["schedule"], _sigmas(tiny_model, 4), 0.8, 1,
                                                                 0.3, 0.6, 0.875, 0),
                       "Picture Morph Latents", "schedule", "3 keyframes", "Picture Story Latents")
