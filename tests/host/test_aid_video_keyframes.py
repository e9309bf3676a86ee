"""Keyframed sequences (issue 22) on Wan and Z-Image: the three-keyframe layout of test_aid_keyframes.py (open and
loop), each in-between clip / picture between its own segment's keyframes. Keyframe rows are plain sampling's, every
attention is recomputed from the formulas with the segment's keyframes, and with max_rows the keyframes are what
each keyframe's conditioning gives alone and the rest is the one batch's.
"""

import pytest
import torch

import joint_formulas
import tiny_models
from aid_support import KEYFRAME_FRAMES, LOOP, OPEN, alone, assert_close_frames, dit_sequence, patch, sample
from joint_formulas import OverrideRecorder


Z_IMAGE = pytest.mark.skipif("not tiny_models.host_has('ZImage')", reason="Z-Image exists from ComfyUI v0.12 on")
WAN_KEYS = {32: "self", 12: "cross"}  # key length -> attention, as in test_aid_wan.py


def _sequence(n, loop, shape):
    seq = dit_sequence(n, loop)
    frames = len(seq["schedule"])
    return {**seq, "latent": {"samples": torch.zeros(frames, *shape), "batch_index": [0] * frames}}


def _check(n, model, seq, loop, expected_of):
    plain = sample(model, seq, 1.0, steps=2)
    patched = patch(n, model, seq["schedule"])
    options = patched.model_options["transformer_options"]
    recorder = OverrideRecorder(options["optimized_attention_override"])
    options["optimized_attention_override"] = recorder
    out = sample(patched, seq, 1.0, steps=2)
    for frame in KEYFRAME_FRAMES:
        assert torch.equal(out[frame], plain[frame]), f"keyframe at frame {frame} must be plain sampling's"
    for frame in (LOOP if loop else OPEN):
        assert not torch.allclose(out[frame], plain[frame], atol=1e-4), f"in-between {frame} unchanged by AID"
    for call in recorder.calls:
        torch.testing.assert_close(call["out"].double(), expected_of(call, LOOP if loop else OPEN),
                                   rtol=1e-4, atol=1e-5)
    split = sample(patch(n, model, seq["schedule"], max_rows=2), seq, 1.0, steps=2)
    assert_close_frames(split, out)
    for frame in KEYFRAME_FRAMES:
        assert torch.equal(split[frame], alone(n, model, seq, frame, 1.0, 2))


@pytest.mark.parametrize("loop", [False, True], ids=["open", "loop"])
def test_wan_keyframed_clips(n, loop):
    def expected_of(call, weights):
        assert WAN_KEYS[call["k"].shape[2]]  # every attention is one of the two kinds
        return joint_formulas.expected(call, weights, "outer", True, "all", n.attention_patch, chosen=slice(None))

    _check(n, tiny_models.build_wan_model_patcher(seed=0), _sequence(n, loop, (16, 2, 8, 8)), loop, expected_of)


@Z_IMAGE
@pytest.mark.parametrize("loop", [False, True], ids=["open", "loop"])
def test_z_image_keyframes(n, loop):
    layout = n.attention_patch.transformer.Layout(32, 64, ("double_block", 0))

    def expected_of(call, weights):
        main = call["q"].shape[2] == layout.text + layout.image
        return joint_formulas.expected(call if main else {**call, "options": {}}, weights, "outer", True, "all",
                                       n.attention_patch, layout if main else None)

    _check(n, tiny_models.build_z_image_model_patcher(seed=0), _sequence(n, loop, (16, 16, 12)), loop, expected_of)
