"""Wan 2.2 A14B: a high-noise and a low-noise model sample one schedule one after the other, with two
KSamplerAdvanced (8 steps, split at step 4; the first returns its leftover noise). AID on both, with one step
window over the whole schedule (``end_percent`` 0.75: steps 0-5, so all four of the first model's and the first
two of the second's), and the end clips those of the plain pair.

The two tiny models are Wan 2.1-shaped T2V models of different weights, as A14B's two checkpoints are.
"""

import pytest
import torch

import tiny_models
from aid_support import FRAMES, make_dit_sequence, patch
from joint_formulas import OverrideRecorder

STEPS, SPLIT = 8, 4


@pytest.fixture(scope="module")
def pair():
    return tiny_models.build_wan_model_patcher(seed=0), tiny_models.build_wan_model_patcher(seed=1)


@pytest.fixture(scope="module")
def sequence(n):
    return {**make_dit_sequence(n),
            "latent": {"samples": torch.zeros(FRAMES, 16, 2, 8, 8), "batch_index": [0] * FRAMES}}


def _pair_sample(high, low, seq, scheduler, cfg=1.0):
    import nodes as comfy_nodes

    sampler = comfy_nodes.KSamplerAdvanced()
    common = dict(noise_seed=5, steps=STEPS, cfg=cfg, sampler_name="euler", scheduler=scheduler,
                  positive=seq["positive"], negative=seq["negative"])
    middle = sampler.sample(high, "enable", latent_image=seq["latent"], start_at_step=0, end_at_step=SPLIT,
                            return_with_leftover_noise="enable", **common)[0]
    return sampler.sample(low, "disable", latent_image=middle, start_at_step=SPLIT, end_at_step=10000,
                          return_with_leftover_noise="disable", **common)[0]["samples"]


def _recording(n, model, schedule, end):
    patched = patch(n, model, schedule, end=end)
    options = patched.model_options["transformer_options"]
    recorder = OverrideRecorder(options["optimized_attention_override"])
    options["optimized_attention_override"] = recorder
    return patched, recorder


def _active_steps(n, recorder) -> list[bool]:
    """Whether each model call (2 blocks x 2 attentions at cfg 1) interpolated."""
    active = [n.attention_patch.plan_of(call["options"]).active for call in recorder.calls]
    return [any(active[i : i + 4]) for i in range(0, len(active), 4)]


@pytest.mark.parametrize("scheduler", ["simple", "normal", "beta"])
def test_one_window_over_both_models(n, pair, sequence, scheduler):
    high, low = pair
    plain = _pair_sample(high, low, sequence, scheduler)
    high_aid, high_calls = _recording(n, high, sequence["schedule"], end=0.75)
    low_aid, low_calls = _recording(n, low, sequence["schedule"], end=0.75)
    clips = _pair_sample(high_aid, low_aid, sequence, scheduler)
    assert _active_steps(n, high_calls) == [True] * 4, "steps 0-3 of 8, all in the window"
    assert _active_steps(n, low_calls) == [True, True, False, False], "steps 4-7 of 8: 4 and 5 in the window"
    assert torch.equal(clips[0], plain[0]) and torch.equal(clips[-1], plain[-1])
    assert all(not torch.allclose(clips[k], plain[k], atol=1e-4) for k in range(1, FRAMES - 1))


def test_window_ending_in_the_first_model_leaves_the_second_plain(n, pair, sequence):
    high, low = pair
    high_aid, high_calls = _recording(n, high, sequence["schedule"], end=0.25)
    low_aid, low_calls = _recording(n, low, sequence["schedule"], end=0.25)
    _pair_sample(high_aid, low_aid, sequence, "simple")
    assert _active_steps(n, high_calls) == [True, True, False, False] and _active_steps(n, low_calls) == [False] * 4


def test_one_sampler_keeps_its_own_steps(n, pair, sequence):
    """A whole schedule in one KSampler (and img2img's lower start) counts the window on its own steps, as before."""
    import nodes as comfy_nodes

    patched, recorder = _recording(n, pair[0], sequence["schedule"], end=0.75)
    comfy_nodes.common_ksampler(patched, 5, STEPS, 1.0, "euler", "simple", sequence["positive"],
                                sequence["negative"], sequence["latent"], denoise=0.5)
    assert _active_steps(n, recorder) == [True] * 6 + [False] * 2
