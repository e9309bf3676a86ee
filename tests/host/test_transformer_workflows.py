"""AID prompt morph (Flux), AID prompt morph (Qwen-Image), AID prompt morph (SD3.5), Picture morph Redux (Flux), Picture morph FreeMorph (Flux), Keyframe story (Flux), AID video prompt morph (Wan 2.1 T2V),
AID video prompt morph (Wan 2.2 TI2V 5B) and AID prompt morph (Z-Image): their models (5-20B transformers, T5-XXL, umT5, Qwen2.5-VL and Qwen3 encoders,
SigLIP and Redux, video VAEs) cannot be built small, so each workflow is validated against the real server's
/object_info (node types, links, widget values; model and picture file names only have to be file names), and its
sequence part (the schedule, conditioning batch and AID settings it carries) runs on the tiny random model of its
family, where the end frames (the end clips, on video) must equal plain sampling (Picture morph FreeMorph (Flux): the pictures).

The video workflows and Z-Image run with their own sampler settings, steps included (Wan 2.1: 30, Wan 2.2 5B: 20,
Z-Image Turbo: 8 at cfg 1), and with their own latent nodes at test size, so the shared noise of the clips is the
workflow's own. Z-Image exists from ComfyUI v0.12 on: its run is skipped by name on older hosts (its nodes are core
loaders and latents, so the workflow itself loads and validates on both)."""

import json

import pytest
import torch

import tiny_models
from conftest import WORKFLOWS
from ui_workflow import ui_to_api

FAMILY = {"AID prompt morph (Flux).json": tiny_models.build_flux_model_patcher,
          "AID prompt morph (Qwen-Image).json": tiny_models.build_qwen_image_model_patcher,
          "AID prompt morph (SD3.5).json": lambda: tiny_models.build_sd3_model_patcher(mmdit_x=True)}
KEYFRAMED = {"Keyframe story (Flux).json": tiny_models.build_flux_model_patcher}
REDUX = "Picture morph Redux (Flux).json"
PHOTO_MORPH = "Picture morph FreeMorph (Flux).json"
# Video workflows: (tiny builder, latent channels, test width and height of the workflow's latent node).
VIDEO = {"AID video prompt morph (Wan 2.1 T2V).json": (tiny_models.build_wan_model_patcher, 64),
         "AID video prompt morph (Wan 2.2 TI2V 5B).json": (lambda: tiny_models.build_wan_model_patcher(channels=48), 128)}
Z_IMAGE = "AID prompt morph (Z-Image).json"


NEEDS_Z_IMAGE = pytest.mark.skipif("not tiny_models.host_has('ZImage')", reason="Z-Image exists from ComfyUI v0.12 on")
UNLISTED_FILES = frozenset({"unet_name", "clip_name", "clip_name1", "clip_name2", "vae_name", "ckpt_name",
                            "style_model_name", "image"})


def _prompt(name, object_info):
    return ui_to_api(json.loads((WORKFLOWS / name).read_text()), object_info, unlisted_files=UNLISTED_FILES)


def _only(prompt, class_type):
    (node,) = [node for node in prompt.values() if node["class_type"] == class_type]
    return node["inputs"]


def valid_prompt(name, object_info) -> dict:
    """The workflow's API prompt, checked against the server's /object_info: every node a listed type, every link
    of the type its origin gives and its target takes."""
    workflow = json.loads((WORKFLOWS / name).read_text())
    prompt = _prompt(name, object_info)
    graph_nodes = [node for node in workflow["nodes"] if node["type"] != "MarkdownNote"]
    assert len(prompt) == len(graph_nodes) and {node["type"] for node in graph_nodes} <= object_info.keys()
    nodes = {node["id"]: node for node in workflow["nodes"]}
    for link_id, origin, slot, target, target_slot, link_type in workflow["links"]:
        produced = object_info[nodes[origin]["type"]]["output"][slot]
        info = object_info[nodes[target]["type"]]["input"]
        spec = {**info.get("required", {}), **info.get("optional", {})}[nodes[target]["inputs"][target_slot]["name"]]
        assert produced == link_type == ("COMBO" if isinstance(spec[0], list) else spec[0]), link_id
    return prompt


@pytest.mark.parametrize("name", [*sorted(FAMILY), *sorted(KEYFRAMED), REDUX, PHOTO_MORPH, *sorted(VIDEO), Z_IMAGE])
def test_workflow_is_valid_on_the_server(name, object_info):
    prompt = valid_prompt(name, object_info)
    (sampler,) = [node["inputs"] for node in prompt.values() if node["class_type"] in ("KSampler", "SamplerCustom")]
    patches = ("InbetweenAIDAttentionPatch", "InbetweenPictureMorphAttention")
    assert prompt[sampler["model"][0]]["class_type"] in patches


@pytest.mark.parametrize("name", sorted(FAMILY))
def test_workflow_sequence_runs_on_its_family(name, object_info, n):
    """The workflow's own schedule, AID and sampler settings on the tiny model of its family (2 steps)."""
    prompt = _prompt(name, object_info)
    schedule = n.schedule_nodes.BetaCoefficientSchedule.execute(**_only(prompt, "InbetweenBetaCoefficientSchedule")
                                                               ).args[0]
    g = torch.Generator().manual_seed(0)
    positive = _prompt_pair_batch(n, prompt, schedule, g)
    _assert_aid_keeps_end_frames(n, prompt, FAMILY[name](), schedule, positive, _random_text(g))


def _random_text(g: torch.Generator) -> list:
    """A random conditioning of the tiny transformers' widths (tokens and pooled output)."""
    return [[torch.randn(1, 10, tiny_models.TINY_CONTEXT, generator=g),
             {"pooled_output": torch.randn(1, tiny_models.TINY_POOLED, generator=g)}]]


def _prompt_pair_batch(n, prompt: dict, schedule, g: torch.Generator) -> list:
    """The workflow's Conditioning Interpolation Batch of two random prompts along ``schedule``, then its FluxGuidance
    if it has one."""
    import nodes as comfy_nodes

    batch = _only(prompt, "InbetweenConditioningInterpolationBatch")
    positive = n.conditioning_nodes.ConditioningInterpolationBatch.execute(
        _random_text(g), _random_text(g), schedule, batch["method"], batch["token_alignment"]).args[0]
    if any(node["class_type"] == "FluxGuidance" for node in prompt.values()):
        positive = comfy_nodes.node_helpers.conditioning_set_values(
            positive, {"guidance": _only(prompt, "FluxGuidance")["guidance"]})
    return positive


@pytest.mark.parametrize("name", sorted(KEYFRAMED))
def test_keyframe_workflow_runs_on_its_family(name, object_info, n):
    """The workflow's Keyframe Schedule, keyframe conditioning and AID settings on the tiny model of its family (2
    steps), one random conditioning per keyframe prompt line: every keyframe as plain sampling."""
    import nodes as comfy_nodes

    prompt = _prompt(name, object_info)
    schedule = n.schedule_nodes.KeyframeSchedule.execute(**_only(prompt, "InbetweenKeyframeSchedule")).args[0]
    g = torch.Generator().manual_seed(0)
    encode = lambda: [[torch.randn(1, 10, tiny_models.TINY_CONTEXT, generator=g),  # noqa: E731
                       {"pooled_output": torch.randn(1, tiny_models.TINY_POOLED, generator=g)}]]
    keyframes = None
    for _ in _only(prompt, "InbetweenEncodeKeyframePrompts")["prompts"].splitlines():
        keyframes = n.conditioning_nodes.AppendConditioningKeyframe.execute(encode(), "error", keyframes).args[0]
    batch = _only(prompt, "InbetweenKeyframeConditioningBatch")
    positive = n.conditioning_nodes.KeyframeConditioningBatch.execute(keyframes, schedule, batch["method"],
                                                                      batch["token_alignment"]).args[0]
    positive = comfy_nodes.node_helpers.conditioning_set_values(
        positive, {"guidance": _only(prompt, "FluxGuidance")["guidance"]})
    _assert_aid_keeps_end_frames(n, prompt, KEYFRAMED[name](), schedule, positive, encode())


def _assert_aid_keeps_end_frames(n, prompt, model, schedule, positive, negative, latent=None, steps=2):
    """The workflow's AID settings and KSampler (``steps`` steps) on ``model``: end frames (every keyframe) as plain
    sampling, bit for bit. ``latent``: by default one 16x16 image latent a frame, shared noise."""
    import nodes as comfy_nodes

    settings = {k: v for k, v in _only(prompt, "InbetweenAIDAttentionPatch").items() if k not in ("model", "schedule")}
    patched = n.aid_nodes.AIDAttentionPatch.execute(model=model, schedule=schedule, **settings).args[0]
    sampler = _only(prompt, "KSampler")
    latent = latent or {"samples": torch.zeros(len(schedule), 16, 16, 16), "batch_index": [0] * len(schedule)}

    def run(target, conditioning=positive, rows=latent):
        return comfy_nodes.common_ksampler(target, sampler["seed"], steps, sampler["cfg"], sampler["sampler_name"],
                                           sampler["scheduler"], conditioning, negative, rows)[0]["samples"]

    plain, frames = run(model), run(patched)
    layout = schedule.layout
    for frame in layout.keyframe_frames:
        # With max_rows every keyframe runs alone, as plain sampling of its prompt alone does.
        expected = plain[frame] if not settings["max_rows"] else run(
            model, n.adaptive_render.conditioning_row(positive, frame),
            {**latent, "samples": latent["samples"][:1], "batch_index": [0]})[0]
        assert torch.equal(frames[frame], expected), f"keyframe at frame {frame} must be plain sampling's"
    middle = layout.span_frames[0][len(layout.span_frames[0]) // 2]
    assert not torch.allclose(frames[middle], plain[middle], atol=1e-4)


@torch.no_grad()  # no autograd, as ComfyUI's executor (not inference mode: AID caches its weight tensor per schedule)
def test_image_morph_runs_on_tiny_flux(object_info, n, tmp_path):
    """Picture morph Redux (Flux)'s own settings (schedule, CLIP Vision Encode crop, Image Condition Interpolation Batch,
    FluxGuidance, AID, sampler) on the tiny Flux with a tiny CLIP vision model and a random Redux: the conditioning's
    end rows are Apply Style Model of each picture alone, and the end frames sampled with AID equal plain sampling."""
    import nodes as comfy_nodes

    prompt = _prompt(REDUX, object_info)
    schedule = n.schedule_nodes.BetaCoefficientSchedule.execute(**_only(prompt, "InbetweenBetaCoefficientSchedule")
                                                               ).args[0]
    clip_vision = tiny_models.build_clip_vision(tmp_path / "config.json", seed=0)
    g = torch.Generator().manual_seed(0)
    crops = [node["inputs"]["crop"] for node in prompt.values() if node["class_type"] == "CLIPVisionEncode"]
    pictures = [comfy_nodes.CLIPVisionEncode().encode(clip_vision, torch.rand(1, 48, 40, 3, generator=g), crop)[0]
                for crop in crops]
    style_model = tiny_models.build_redux_style_model(seed=0)
    text = [[torch.randn(1, 10, tiny_models.TINY_CONTEXT, generator=g),
             {"pooled_output": torch.randn(1, tiny_models.TINY_POOLED, generator=g)}]]
    settings = {k: v for k, v in _only(prompt, "InbetweenImageConditionInterpolationBatch").items()
                if k in ("method", "strength", "strength_type")}
    batch = n.image_condition_nodes.ImageConditionInterpolationBatch.execute(
        conditioning=text, style_model=style_model, clip_vision_a=pictures[0], clip_vision_b=pictures[1],
        schedule=schedule, **settings).args[0]
    for row, picture in ((0, pictures[0]), (-1, pictures[1])):
        ((single, _),) = comfy_nodes.StyleModelApply().apply_stylemodel(text, style_model, picture,
                                                                        settings["strength"],
                                                                        settings["strength_type"])[0]
        assert torch.equal(batch[0][0][row], single[0])
    positive = comfy_nodes.node_helpers.conditioning_set_values(
        batch, {"guidance": _only(prompt, "FluxGuidance")["guidance"]})
    _assert_aid_keeps_end_frames(n, prompt, tiny_models.build_flux_model_patcher(), schedule, positive, text)


def _run_node(cls, **inputs):
    """A core node's first output, whether the host defines it in the V1 or the V3 node API."""
    if hasattr(cls, "define_schema"):
        return cls.execute(**inputs).args[0]
    return getattr(cls(), cls.FUNCTION)(**inputs)[0]


def _sequence_inputs(n, prompt):
    """The workflow's schedule and its conditioning batch of two random prompts (and a random negative)."""
    schedule = n.schedule_nodes.BetaCoefficientSchedule.execute(**_only(prompt, "InbetweenBetaCoefficientSchedule")
                                                               ).args[0]
    g = torch.Generator().manual_seed(0)
    encode = lambda: [[torch.randn(1, 10, tiny_models.TINY_CONTEXT, generator=g), {}]]  # noqa: E731
    batch = _only(prompt, "InbetweenConditioningInterpolationBatch")
    positive = n.conditioning_nodes.ConditioningInterpolationBatch.execute(
        encode(), encode(), schedule, batch["method"], batch["token_alignment"]).args[0]
    return schedule, positive, encode()


def _video_latent(prompt, size: int) -> dict:
    """The workflow's own latent chain at ``size`` x ``size`` and 5 frames a clip (2 latent frames): Wan 2.1's Empty
    Hunyuan Latent Video, or Wan 2.2's latent (no start image) and Repeat Latent Batch, then Latent Batch Seed
    Behavior."""
    import comfy_extras.nodes_hunyuan
    # First: in v0.12.1 nodes_latent and nodes_post_processing import each other.
    import comfy_extras.nodes_post_processing  # noqa: F401
    import comfy_extras.nodes_latent
    import comfy_extras.nodes_wan
    import nodes as comfy_nodes

    small = {"width": size, "height": size, "length": 5}
    if any(node["class_type"] == "EmptyHunyuanLatentVideo" for node in prompt.values()):
        settings = {**_only(prompt, "EmptyHunyuanLatentVideo"), **small}
        latent = _run_node(comfy_extras.nodes_hunyuan.EmptyHunyuanLatentVideo, **settings)
    else:
        settings = {k: v for k, v in _only(prompt, "Wan22ImageToVideoLatent").items() if k != "vae"}
        latent = _run_node(comfy_extras.nodes_wan.Wan22ImageToVideoLatent, vae=None, **{**settings, **small})
        latent = _run_node(comfy_nodes.RepeatLatentBatch, samples=latent,
                           amount=_only(prompt, "RepeatLatentBatch")["amount"])
    behavior = _only(prompt, "LatentBatchSeedBehavior")["seed_behavior"]
    return _run_node(comfy_extras.nodes_latent.LatentBatchSeedBehavior, samples=latent, seed_behavior=behavior)


@pytest.mark.parametrize("name", sorted(VIDEO))
def test_video_workflow_runs_on_tiny_wan(name, object_info, n):
    """The workflow's schedule, AID and KSampler settings (its own steps and cfg) on the tiny Wan of its family, with
    its own latent nodes: one row a clip, every clip from the same noise, the end clips as plain sampling."""
    import comfy.sample

    build, size = VIDEO[name]
    prompt = _prompt(name, object_info)
    schedule, positive, negative = _sequence_inputs(n, prompt)
    latent = _video_latent(prompt, size)
    assert latent["samples"].shape[0] == len(schedule) and latent["batch_index"] == [0] * len(schedule)
    noise = comfy.sample.prepare_noise(latent["samples"], _only(prompt, "KSampler")["seed"], latent["batch_index"])
    assert all(torch.equal(noise[k], noise[0]) for k in range(len(schedule))), "every clip starts from one noise"
    _assert_aid_keeps_end_frames(n, prompt, build(), schedule, positive, negative, latent,
                                 steps=_only(prompt, "KSampler")["steps"])


@NEEDS_Z_IMAGE
def test_z_image_workflow_runs_on_tiny_z_image(object_info, n):
    """AID prompt morph (Z-Image)'s schedule, AID and KSampler settings (8 steps, cfg 1, res_multistep) on the tiny Z-Image, with
    its Shared Noise Latent at 128x96: the end frames as plain sampling, the default window on steps 0 to 3."""
    prompt = _prompt(Z_IMAGE, object_info)
    sampler = _only(prompt, "KSampler")
    assert (sampler["steps"], sampler["cfg"]) == (8, 1.0)
    schedule, positive, negative = _sequence_inputs(n, prompt)
    latent = n.latent_nodes.SharedNoiseLatent.execute(128, 96, 1, schedule).args[0]
    _assert_aid_keeps_end_frames(n, prompt, tiny_models.build_z_image_model_patcher(), schedule, positive, negative,
                                 latent, steps=sampler["steps"])


@torch.no_grad()
def test_photo_morph_runs_on_tiny_flux(object_info, n):
    """Picture morph FreeMorph (Flux)'s own settings on the tiny Flux, its own steps included: both schedules, Conditioning
    Interpolation Batch and FluxGuidance, BasicScheduler, Picture Morph Latents, Picture Morph Attention, and the
    sampler, cfg and add_noise of KSamplerSelect and SamplerCustom (ComfyUI's own nodes); Keep Picture Ends with the
    workflow's `ends` puts the pictures back exactly. (The Flux VAE cannot be built small: random frames stand in for
    VAE Decode's.)"""
    import comfy_extras.nodes_custom_sampler as custom_sampler

    prompt = _prompt(PHOTO_MORPH, object_info)
    latents_inputs, attention_inputs = (_only(prompt, node) for node in ("InbetweenPictureMorphLatents",
                                                                         "InbetweenPictureMorphAttention"))
    morph_schedule, attention_schedule = (
        n.schedule_nodes.BetaCoefficientSchedule.execute(**prompt[inputs["schedule"][0]]["inputs"]).args[0]
        for inputs in (latents_inputs, attention_inputs))
    assert len(morph_schedule) == len(attention_schedule) == 7
    g = torch.Generator().manual_seed(0)
    positive = _prompt_pair_batch(n, prompt, morph_schedule, g)
    model = tiny_models.build_flux_model_patcher()
    scheduler = {k: v for k, v in _only(prompt, "BasicScheduler").items() if k != "model"}
    sigmas = _run_node(custom_sampler.BasicScheduler, model=model, **scheduler)
    pictures = [{"samples": torch.randn(1, 16, 8, 8, generator=g)} for _ in range(2)]
    settings = {k: v for k, v in latents_inputs.items()
                if k not in ("model", "positive", "latent_a", "latent_b", "schedule", "sigmas")}
    assert settings["strength"] < 1.0, "inversion on rectified flow needs strength below 1"
    latent, sampled = n.picture_morph_nodes.PictureMorphLatents.execute(
        model=model, positive=positive, latent_a=pictures[0], latent_b=pictures[1], schedule=morph_schedule,
        sigmas=sigmas, **settings).args
    assert len(sampled) - 1 == round(settings["strength"] * scheduler["steps"])
    patched = n.picture_morph_nodes.PictureMorphAttention.execute(
        model=model, schedule=attention_schedule, **{k: v for k, v in attention_inputs.items()
                                                      if k not in ("model", "schedule")}).args[0]
    sampler_inputs = {k: v for k, v in _only(prompt, "SamplerCustom").items()
                      if k in ("add_noise", "noise_seed", "cfg")}
    assert sampler_inputs["add_noise"] is False and sampler_inputs["cfg"] == 1.0
    sampler = _run_node(custom_sampler.KSamplerSelect, **_only(prompt, "KSamplerSelect"))
    frames = _run_node(custom_sampler.SamplerCustom, model=patched, positive=positive, negative=_random_text(g),
                       sampler=sampler, sigmas=sampled, latent_image=latent, **sampler_inputs)["samples"]
    assert frames.shape == (7, 16, 8, 8) and torch.isfinite(frames).all()
    assert not torch.allclose(frames[3], frames[2], atol=1e-3) and not torch.allclose(frames[3], frames[4], atol=1e-3)

    decoded, picture_a, picture_b = (torch.rand(rows, 64, 64, 3, generator=g) for rows in (7, 1, 1))
    ends = _only(prompt, "InbetweenKeepPictureEnds")["ends"]
    kept = n.picture_morph_nodes.KeepPictureEnds.execute(decoded, picture_a, picture_b, ends).args[0]
    assert torch.equal(kept[0], picture_a[0]) and torch.equal(kept[-1], picture_b[0])
    assert torch.equal(kept[1:-1], decoded[1:-1])
