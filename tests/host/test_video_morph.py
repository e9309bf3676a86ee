"""Video morphs from stills on Wan's first-last-frame models (issue 32): Wan Clips From Stills and Join Clips.

On a tiny Wan 2.1 FLF2V found by ComfyUI's detection (the I2V model with both ends' CLIP image positions), a random
Wan 2.1 VAE loaded by ``comfy.sd.VAE`` and the tiny CLIP vision model: 3 stills of 40x48 (scaled and cropped to
32x32 clips by ComfyUI's node), clips of 5 frames (2 latent frames of 4x4).
"""

import copy

import pytest
import torch

import tiny_models
from aid_support import dit_conditioning
from bad_input import expect_input_error, untouched

STILLS, SIZE, LENGTH = 3, 32, 5
NODE = "Wan Clips From Stills"


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    clip_vision = tiny_models.build_wan_clip_vision(tmp_path_factory.mktemp("clip_vision") / "config.json")
    stills = torch.rand(STILLS, 40, 48, 3, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        return dict(model=tiny_models.build_wan_flf2v_model_patcher(seed=0), vae=tiny_models.build_wan_vae(seed=1),
                    clip_vision=clip_vision, stills=stills, encoded=clip_vision.encode_image(stills),
                    positive=dit_conditioning(1), negative=dit_conditioning(2))


def _clips(n, parts, loop, clip_vision=True, **changed):
    inputs = dict(positive=parts["positive"], negative=parts["negative"], vae=parts["vae"], stills=parts["stills"],
                  width=SIZE, height=SIZE, length=LENGTH, loop=loop,
                  clip_vision_stills=parts["encoded"] if clip_vision else None, model=parts["model"])
    with torch.no_grad():
        return n.video_morph_nodes.WanClipsFromStills.execute(**{**inputs, **changed}).args


def _core_pair(parts, first, last, clip_vision=True, positive=None):
    """ComfyUI's WanFirstLastFrameToVideo for one pair of stills, each still encoded by CLIP vision on its own."""
    from comfy_extras.nodes_wan import WanFirstLastFrameToVideo

    ends = {}
    if clip_vision:
        with torch.no_grad():
            ends = {"clip_vision_start_image": parts["clip_vision"].encode_image(parts["stills"][first:first + 1]),
                    "clip_vision_end_image": parts["clip_vision"].encode_image(parts["stills"][last:last + 1])}
    with torch.no_grad():
        return WanFirstLastFrameToVideo.execute(
            positive=positive or parts["positive"], negative=parts["negative"], vae=parts["vae"], width=SIZE,
            height=SIZE, length=LENGTH, batch_size=1, start_image=parts["stills"][first:first + 1],
            end_image=parts["stills"][last:last + 1], **ends).args


def _pairs(loop):
    pairs = [(i, i + 1) for i in range(STILLS - 1)]
    return pairs + [(STILLS - 1, 0)] if loop else pairs


@pytest.mark.parametrize("clip_vision", [True, False])
@pytest.mark.parametrize("loop", [False, True])
def test_each_row_is_core_conditioning_for_its_pair(n, parts, loop, clip_vision):
    """Row r of every conditioning value equals, bit for bit, what WanFirstLastFrameToVideo gives its pair alone."""
    inputs = (parts["positive"], parts["negative"], parts["stills"], parts["encoded"].penultimate_hidden_states)
    with untouched(*inputs):
        positive, negative, latent = _clips(n, parts, loop, clip_vision)
    pairs = _pairs(loop)
    assert latent["batch_index"] == [0] * len(pairs)
    for row, (first, last) in enumerate(pairs):
        core = _core_pair(parts, first, last, clip_vision)
        assert torch.equal(latent["samples"][row:row + 1], core[2]["samples"])
        for ours, theirs in ((positive, core[0]), (negative, core[1])):
            assert len(ours) == len(theirs) == 1
            assert torch.equal(ours[0][0], theirs[0][0])
            options, wanted = ours[0][1], theirs[0][1]
            assert options.keys() == wanted.keys()
            for key in ("concat_latent_image", "concat_mask"):
                assert options[key].shape[0] == len(pairs)
                assert torch.equal(options[key][row:row + 1], wanted[key]), (row, key)
            if clip_vision:
                states = options["clip_vision_output"].penultimate_hidden_states
                assert torch.equal(states[row:row + 1], wanted["clip_vision_output"].penultimate_hidden_states)
            assert all(options[key] is wanted[key] for key in ("pooled_output", "guidance"))


def _sample(model, positive, negative, latent):
    import nodes as comfy_nodes

    with torch.no_grad():
        return comfy_nodes.common_ksampler(model, 11, 3, 4.0, "euler", "simple", positive, negative,
                                           latent)[0]["samples"]


@pytest.mark.parametrize("prompts", ["one", "per clip"])
@pytest.mark.parametrize("loop", [False, True])
def test_all_clips_at_once_are_each_pair_sampled_alone(n, parts, loop, prompts):
    """One KSampler over every clip row (no AID) gives each row what KSampler gives its pair alone (core node's
    conditioning and latent, batch 1, same seed) to the last bits: one shared noise, each row its own ends (and, with
    a prompt per clip, its own prompt)."""
    clips = len(_pairs(loop))
    per_clip = [[[dit_conditioning(10 + row)[0][0], {}]] for row in range(clips)]
    positive = parts["positive"] if prompts == "one" else [[torch.cat([c[0][0] for c in per_clip]), {}]]
    positive, negative, latent = _clips(n, parts, loop, positive=positive)
    together = _sample(parts["model"], positive, negative, latent)
    assert torch.isfinite(together).all()
    for row, (first, last) in enumerate(_pairs(loop)):
        alone = _sample(parts["model"], *_core_pair(parts, first, last, positive=None if prompts == "one" else
                                                    per_clip[row]))
        # Not bit for bit: the host's CPU kernels round a batch of 2R rows and one of 2 differently (measured 7e-6 of
        # values up to 5; docs/development.md, "Exactness of end frames"); another pair's ends or noise is O(1) off.
        torch.testing.assert_close(together[row:row + 1], alone, rtol=0, atol=5e-6 * alone.abs().max().item())
    assert not torch.allclose(together[0], together[1], atol=1e-3), "clips of other stills came out alike"


@pytest.mark.parametrize("loop", [False, True])
def test_joined_video_shows_each_still_once(n, parts, loop):
    """The sampled clips through ComfyUI's VAE Decode (clip after clip), joined: (N-1)(L-1)+1 frames, N(L-1) for a
    loop; clip r's frames but its last, then the last clip's last frame unless the clips loop."""
    import nodes as comfy_nodes

    positive, negative, latent = _clips(n, parts, loop, clip_vision=False)
    sampled = {"samples": _sample(parts["model"], positive, negative, latent)}
    with torch.no_grad():
        images = comfy_nodes.VAEDecode().decode(parts["vae"], sampled)[0]
    clips = len(_pairs(loop))
    assert images.shape[0] == clips * LENGTH
    with untouched(images):
        video = n.video_morph_nodes.JoinClips.execute(images, LENGTH, loop).args[0]
    assert video.shape == ((STILLS if loop else STILLS - 1) * (LENGTH - 1) + (0 if loop else 1), SIZE, SIZE, 3)
    kept = [r * LENGTH + f for r in range(clips) for f in range(LENGTH - 1)] + ([] if loop else [clips * LENGTH - 1])
    assert torch.equal(video, images[kept])


def test_a_single_still_is_named(n, parts):
    expect_input_error(lambda: _clips(n, parts, True, stills=parts["stills"][:1]), NODE, "stills",
                       "at least 2 frames, got 1")


@pytest.mark.parametrize("length, hint", [(80, "e.g. 77 or 81, got 80"), (7, "e.g. 5 or 9, got 7"),
                                          (3, "at least 5, got 3")])
def test_clip_length_wan_cannot_take_is_named(n, parts, length, hint):
    expect_input_error(lambda: _clips(n, parts, False, length=length), NODE, "length", "4k \\+ 1", hint)


def test_prompts_per_clip_and_other_batches(n, parts):
    """A prompt per clip row is taken (row r of the text meets clip r); another batch, which ComfyUI would tile over
    the rows, is named."""
    per_clip = [[torch.cat([parts["positive"][0][0]] * 2), {}]]
    positive = _clips(n, parts, False, clip_vision=False, positive=per_clip)[0]
    assert positive[0][0] is per_clip[0][0] and positive[0][1]["concat_latent_image"].shape[0] == 2
    expect_input_error(lambda: _clips(n, parts, True, negative=[[torch.cat([parts["negative"][0][0]] * 2), {}]]),
                       NODE, "negative", "one per clip \\(3 for 3 stills, loop\\), got batch 2")


def test_pictures_without_rgb_are_named(n, parts):
    rgba = torch.cat([parts["stills"], torch.ones(STILLS, 40, 48, 1)], dim=-1)
    expect_input_error(lambda: _clips(n, parts, False, stills=rgba), NODE, "stills", "3 channels\\), got 4")


def test_clip_vision_of_other_stills_is_named(n, parts):
    fewer = copy.copy(parts["encoded"])
    fewer.penultimate_hidden_states = parts["encoded"].penultimate_hidden_states[:2]
    expect_input_error(lambda: _clips(n, parts, False, clip_vision_stills=fewer), NODE, "clip_vision_stills",
                       "one encoding per still \\(3\\), got 2")


def test_an_image_vae_is_named(n, parts):
    expect_input_error(lambda: _clips(n, parts, False, vae=tiny_models.build_sd_vae(seed=2)), NODE, "vae",
                       "video VAE \\(3-D latents\\), got a VAE of 2-D latents")


@pytest.mark.parametrize("family", ["wan21_t2v", "wan22_ti2v_5b", "sd15"])
def test_a_model_without_first_last_frame_conditioning_is_named(n, parts, family):
    model = {"wan21_t2v": lambda: tiny_models.build_wan_model_patcher(seed=3),
             "wan22_ti2v_5b": lambda: tiny_models.build_wan_model_patcher(seed=3, channels=48),
             "sd15": lambda: tiny_models.build_sd15_model_patcher(seed=3)}[family]()
    shown = "got UNetModel" if family == "sd15" else f"got one reading {16 if family == 'wan21_t2v' else 48}"
    expect_input_error(lambda: _clips(n, parts, False, model=model), NODE, "model", shown)


def test_join_of_partial_clips_is_named(n):
    expect_input_error(lambda: n.video_morph_nodes.JoinClips.execute(torch.zeros(12, 8, 8, 3), 5, False),
                       "Join Clips", "images", "multiple of 5\\), got 12 frames")


@pytest.mark.parametrize("max_rows", [1, 2])
def test_aid_across_clip_rows_in_parts_gives_the_one_batch_clips(n, parts, max_rows):
    """AID with a row per clip (the first and last clip as the ends, as AID on Wan takes clips): every row's own
    concat latent, mask and CLIP vision states are cut with the rows, so ``max_rows`` parts give the one-batch
    clips; the end clips are the plain batch's bit for bit, the clip between them changed by AID."""
    from aid_support import patch

    positive, negative, latent = _clips(n, parts, True)
    rows = latent["samples"].shape[0]
    schedule = n.schedule_nodes.BetaCoefficientSchedule.execute(
        frames=rows, preset="uniform", steps=20, alpha=2.0, beta=2.0, start=0.0, end=1.0).args[0]
    plain = _sample(parts["model"], positive, negative, latent)
    whole = _sample(patch(n, parts["model"], schedule, uncond=True), positive, negative, latent)
    split = _sample(patch(n, parts["model"], schedule, uncond=True, max_rows=max_rows), positive, negative, latent)
    torch.testing.assert_close(split, whole, rtol=0, atol=1e-5 * whole.abs().max().item())
    assert torch.equal(whole[0], plain[0]) and torch.equal(whole[-1], plain[-1])
    assert not torch.allclose(whole[1], plain[1], atol=1e-4)


def test_clip_vision_without_what_wan_reads_is_named(n, parts):
    expect_input_error(lambda: _clips(n, parts, False, clip_vision_stills="image"), NODE, "clip_vision_stills",
                       "CLIP_VISION_OUTPUT \\(CLIP Vision Encode's output\\), got str 'image' \\(no "
                       "penultimate_hidden_states\\)")
