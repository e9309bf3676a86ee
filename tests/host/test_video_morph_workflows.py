"""Video morph FreeMorph and Wan 2.1 FLF2V and Video story loop (Wan 2.2 I2V) (issue 32): their Wan models (14B, umT5, CLIP-H) cannot be built
small, so each workflow is validated against the real server's /object_info (node types, links, widget values; model
and picture file names only have to be file names) and its Wan part runs on tiny random Wan models found by ComfyUI's
detection: Wan Clips From Stills with the workflow's `loop` (and the CLIP vision of the stills where the workflow
encodes them), the workflow's own sampler settings, steps included (Wan 2.1 FLF2V: one KSampler; Wan 2.2 I2V A14B:
two KSamplerAdvanced, the high-noise expert's steps then the low-noise one's), VAE Decode and Join Clips, on as many
stills as the workflow's picture part makes, at 32x32 and 5 frames a clip. The picture parts are the nodes and
settings of Picture morph FreeMorph (SD2.1) and Keyframe story loop (SD1.5), run by the host suite in those workflows."""

import importlib

import pytest
import torch

import comfy_host
import tiny_models
from aid_support import dit_conditioning
from test_transformer_workflows import _prompt, valid_prompt

MORPH, STORY = "Video morph FreeMorph and Wan 2.1 FLF2V.json", "Video story loop (Wan 2.2 I2V).json"
SIZE, LENGTH = 32, 5


def _all(prompt, class_type):
    return [node["inputs"] for node in prompt.values() if node["class_type"] == class_type]


def _only(prompt, class_type):
    (inputs,) = _all(prompt, class_type)
    return inputs


def _origin(prompt, link):
    return prompt[link[0]]


def _loaded_model(prompt, link) -> str:
    """The file of the UNETLoader behind a ModelSamplingSD3."""
    shift = _origin(prompt, link)
    assert shift["class_type"] == "ModelSamplingSD3" and shift["inputs"]["shift"] == 8.0
    loader = _origin(prompt, shift["inputs"]["model"])
    assert loader["class_type"] == "UNETLoader"
    return loader["inputs"]["unet_name"]


@pytest.mark.parametrize("name", [MORPH, STORY])
def test_workflow_is_valid_on_the_server(name, object_info):
    prompt = valid_prompt(name, object_info)
    clips, join = _only(prompt, "InbetweenWanClipsFromStills"), _only(prompt, "InbetweenJoinClips")
    assert (join["clip_length"], join["loop"]) == (clips["length"], clips["loop"])
    assert clips["loop"] == (name == STORY) and (clips["length"] - 1) % 4 == 0
    (video,) = _all(prompt, "CreateVideo")
    assert _origin(prompt, video["images"])["class_type"] == "InbetweenJoinClips"
    assert _origin(prompt, _only(prompt, "SaveVideo")["video"])["class_type"] == "CreateVideo"
    if name == MORPH:
        # the stills: the picture morph's frames, its photos as the ends; the clips' model is the one sampling them
        assert _origin(prompt, clips["stills"])["class_type"] == "InbetweenKeepPictureEnds"
        assert _loaded_model(prompt, clips["model"]) == "wan2.1_flf2v_720p_14B_fp16.safetensors"
        assert _only(prompt, "KSampler")["model"] == clips["model"]
        assert _origin(prompt, clips["clip_vision_stills"])["inputs"]["image"] == clips["stills"]
    else:
        assert _origin(prompt, clips["stills"])["class_type"] == "VAEDecode"
        high, low = _all(prompt, "KSamplerAdvanced")
        assert high["model"] == clips["model"] and high["latent_image"][0] in prompt
        assert "high_noise" in _loaded_model(prompt, high["model"]) and "low_noise" in _loaded_model(prompt,
                                                                                                   low["model"])
        assert (high["add_noise"], high["return_with_leftover_noise"]) == ("enable", "enable")
        assert (low["add_noise"], low["return_with_leftover_noise"]) == ("disable", "disable")
        assert high["steps"] == low["steps"] and 0 == high["start_at_step"] < high["end_at_step"] == \
            low["start_at_step"] < high["steps"] <= low["end_at_step"]
        assert _origin(prompt, low["latent_image"])["class_type"] == "KSamplerAdvanced"


def _wan22_expert(seed: int):
    """A tiny Wan 2.2 I2V A14B expert as detection finds the real one: Wan 2.1's I2V layout (36 channels in: latent,
    the stills' latent, mask) without the CLIP image projection."""
    keys = tiny_models.wan_keys(i2v=True)
    del keys["img_emb.proj.0.bias"]
    return tiny_models.detected_model_patcher(keys, seed, num_heads=2, text_dim=tiny_models.TINY_CONTEXT)


def _stills_count(prompt, name) -> int:
    if name == MORPH:
        return {inputs["frames"] for inputs in _all(prompt, "InbetweenBetaCoefficientSchedule")}.pop()
    return _only(prompt, "InbetweenSharedNoiseLatent")["frames"]


def _settings(inputs: dict) -> dict:
    """A node's widget values (its links left out)."""
    return {key: value for key, value in inputs.items() if not isinstance(value, list)}


@pytest.mark.parametrize("name", [MORPH, STORY])
@torch.no_grad()
def test_wan_part_runs_on_tiny_wan(name, object_info, n, tmp_path):
    """The workflow's Wan part on tiny models: one clip row between each two neighbouring stills (and back, for the
    loop), sampled with the workflow's own sampler settings, decoded and joined into (N-1)(L-1)+1 frames (N(L-1)
    for the loop), each clip its own."""
    import nodes as comfy_nodes

    prompt = _prompt(name, object_info)
    clips_settings = _only(prompt, "InbetweenWanClipsFromStills")
    stills = torch.rand(_stills_count(prompt, name), SIZE + 8, SIZE + 8, 3, generator=torch.Generator().manual_seed(3))
    vae = tiny_models.build_wan_vae(seed=1)
    extra = {}
    if "clip_vision_stills" in clips_settings:
        vision = tiny_models.build_wan_clip_vision(tmp_path / "config.json")
        extra["clip_vision_stills"] = vision.encode_image(stills, crop=False)
    models = [tiny_models.build_wan_flf2v_model_patcher(seed=0)] if name == MORPH else [_wan22_expert(0),
                                                                                      _wan22_expert(5)]
    loop = clips_settings["loop"]
    positive, negative, latent = n.video_morph_nodes.WanClipsFromStills.execute(
        positive=dit_conditioning(1), negative=dit_conditioning(2), vae=vae, stills=stills, width=SIZE, height=SIZE,
        length=LENGTH, loop=loop, model=models[0], **extra).args
    clips = stills.shape[0] if loop else stills.shape[0] - 1
    assert latent["samples"].shape[0] == clips and latent["batch_index"] == [0] * clips
    if name == MORPH:
        sampler = _only(prompt, "KSampler")
        samples = comfy_nodes.common_ksampler(models[0], sampler["seed"], sampler["steps"], sampler["cfg"],
                                              sampler["sampler_name"], sampler["scheduler"], positive, negative,
                                              latent, denoise=sampler["denoise"])[0]
    else:
        samples = latent
        for model, sampler in zip(models, _all(prompt, "KSamplerAdvanced")):
            samples = comfy_nodes.KSamplerAdvanced().sample(model=model, positive=positive, negative=negative,
                                                            latent_image=samples, **_settings(sampler))[0]
    assert torch.isfinite(samples["samples"]).all()
    images = comfy_nodes.VAEDecode().decode(vae, samples)[0]
    assert images.shape[0] == clips * LENGTH
    join = _only(prompt, "InbetweenJoinClips")
    video = n.video_morph_nodes.JoinClips.execute(images, LENGTH, join["loop"]).args[0]
    assert video.shape == (clips * (LENGTH - 1) + (0 if loop else 1), SIZE, SIZE, 3)
    # Each row read its own pair (the tiny random models read the stills weakly: rows differ, if little).
    rows = samples["samples"]
    assert not torch.equal(rows[0], rows[1]), "clips of other stills came out alike"


def test_memory_in_the_notes_is_computed_as_the_video_table():
    """The notes' memory per clip count comes from the formula of docs/long-sequences.md's video memory table
    (benchmarks/aid_overhead.py): its Wan 2.1 14B line at 832x480x81, one batch of 3 and of 5 clips, fp16."""
    comfy_host.load_workflow_generator()
    video_morphs = importlib.import_module("inbetween_workflows.video_morphs")
    assert [round(video_morphs.wan14b_memory_gb(832, 480, 81, clips, 2), 1) for clips in (3, 5)] == [42.1, 51.1]
