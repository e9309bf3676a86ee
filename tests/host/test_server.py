"""A real ComfyUI server with the pack installed: /object_info, and every shipped workflow run as users run it."""

import json
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from conftest import WORKFLOWS
from ui_workflow import WorkflowError, ui_to_api

SHIPPED = sorted(path.name for path in WORKFLOWS.glob("*.json"))
# Workflows whose models cannot be built small; each is validated and partly executed by its own test.
NOT_RUNNABLE_HERE = {"Expression edit (Qwen-Image-Edit).json": "test_qwen_workflow.py",
                     "Expression edit with AID (Qwen-Image-Edit).json": "test_qwen_workflow.py",
                     **{name: "test_transformer_workflows.py" for name in ("AID prompt morph (Flux).json", "AID prompt morph (Qwen-Image).json",
                                                                         "AID prompt morph (SD3.5).json",
                                                                         "Picture morph Redux (Flux).json",
                                                                         "Picture morph FreeMorph (Flux).json",
                                                                         "Keyframe story (Flux).json",
                                                                         "AID video prompt morph (Wan 2.1 T2V).json", "AID video prompt morph (Wan 2.2 TI2V 5B).json",
                                                                         "AID prompt morph (Z-Image).json")},
                     # Wan 14B video morphs: validated, their Wan part run on tiny Wan models.
                     **{name: "test_video_morph_workflows.py" for name in ("Video morph FreeMorph and Wan 2.1 FLF2V.json",
                                                                           "Video story loop (Wan 2.2 I2V).json")},
                     # ComfyUI-Distributed's nodes: run on a master and a worker that have that pack.
                     "AID long sequence on several GPUs (SD1.5).json": "test_aid_shares_servers.py"}
RUNNABLE = [name for name in SHIPPED if name not in NOT_RUNNABLE_HERE]
# Overrides beyond the test checkpoint and 64x64, by workflow: fewer steps (schedule and sampler alike) where the
# frames are many, so the suite stays short; the AID window still covers the first half of them.
OVERRIDES = {"AID long sequence (SD1.5).json": {"steps": 8}, "Keyframe story loop (SD1.5).json": {"steps": 6},
             "Keyframe pictures img2img (SD1.5).json": {"steps": 6},
             # FreeMorph's 50 steps x 0.8 x 5 iterations: 6 steps (5 inverted, 25 inversion calls) keep it short.
             **{name: {"steps": 6} for name in ("Picture morph FreeMorph (SD2.1).json", "Picture morph FreeMorph (SDXL).json",
                                                "Picture story FreeMorph (SD1.5).json")}}
ENDS_PREFIX = "inbetween_tests/picture_ends"


def test_workflows_are_shipped():
    assert SHIPPED, f"no workflow in {WORKFLOWS}"


def test_object_info_lists_every_pack_node(object_info, pack, comfy_server):
    missing = [n.GET_SCHEMA().node_id for n in pack.nodes.NODES if n.GET_SCHEMA().node_id not in object_info]
    assert not missing, f"server does not list {missing}; server log:\n{comfy_server.log_tail()}"
    for node in pack.nodes.NODES:
        info = object_info[node.GET_SCHEMA().node_id]
        assert info["python_module"] == "custom_nodes.ComfyUI-Inbetween"
        assert info["category"].startswith("inbetween/")


def test_not_runnable_workflows_are_shipped_and_have_their_own_test():
    for name, test in NOT_RUNNABLE_HERE.items():
        assert name in SHIPPED and (Path(__file__).parent / test).is_file()


@pytest.mark.parametrize("name", RUNNABLE)
def test_shipped_workflow_executes(run_workflow, name):
    entry, files = run_workflow(name, OVERRIDES.get(name), edit=_save_picture_ends)
    assert entry["status"]["status_str"] == "success"
    _assert_picture_ends(entry, files)
    images = [f for f in files if f.suffix.lower() in (".png", ".webp")]
    assert images, f"{name} wrote no image; outputs: {json.dumps(entry['outputs'])[:2000]}"
    for path in images:
        with Image.open(path) as image:
            assert image.width > 0 and image.height > 0
    # A Save Video node writes an MP4 (PyAV, a ComfyUI requirement) holding every frame of the sequence.
    videos = [f for f in files if f.suffix.lower() == ".mp4"]
    assert len(videos) == sum(node["type"] == "SaveVideo" for node in _shipped(name)["nodes"]), (name, files)
    frames = {node["inputs"]["frames"] for node in entry["prompt"][2].values()
              if node["class_type"] == "InbetweenSharedNoiseLatent"}
    for path in videos:
        with av.open(str(path)) as container:
            assert {container.streams.video[0].frames} == frames, (path, frames)
    # An animated WEBP repeats forever, so a looping keyframe sequence cycles seamlessly. (Its frame count is not
    # checked: the WebP encoder merges equal neighbouring frames, which the tiny model's 64x64 frames often are.)
    for path in (f for f in files if f.suffix.lower() == ".webp"):
        with Image.open(path) as image:
            assert image.info.get("loop") == 0, (path, image.info)


def test_sd21_test_checkpoint_loads_as_sd21_v(test_sd21_checkpoint):
    """What CheckpointLoaderSimple calls: Picture morph FreeMorph (SD2.1) really runs on an SD 2.x v-prediction model with OpenCLIP-H."""
    import comfy.model_base
    import comfy.sd
    import comfy.supported_models
    import comfy.text_encoders.sd2_clip

    import nodes as comfy_nodes

    model, clip, vae, _ = comfy.sd.load_checkpoint_guess_config(str(test_sd21_checkpoint), output_vae=True,
                                                                output_clip=True)
    assert type(model.model.model_config) is comfy.supported_models.SD20
    assert model.model.model_type == comfy.model_base.ModelType.V_PREDICTION
    assert isinstance(clip.cond_stage_model, comfy.text_encoders.sd2_clip.SD2ClipModel) and vae is not None
    assert comfy_nodes.CLIPTextEncode().encode(clip, "a cat")[0][0][0].shape == (1, 77, 1024)


# The nodes that put a picture morph's pictures back, and their inputs that hold the pictures.
KEEPING = {"InbetweenKeepPictureEnds": ("picture_a", "picture_b"), "InbetweenKeepPictureKeyframes": ("pictures",)}


def _save_picture_ends(prompt: dict) -> None:
    """A Save Image of the frames of the node that keeps a morph's pictures and of the pictures it was given (a
    workflow has at most one)."""
    for node in [node for node in prompt.values() if node["class_type"] in KEEPING]:
        for part, images in (("frames", None), *((name, node["inputs"][name])
                                                 for name in KEEPING[node["class_type"]])):
            origin = images or [next(k for k, v in prompt.items() if v is node), 0]
            prompt[f"ends_{part}"] = {"class_type": "SaveImage",
                                      "inputs": {"images": origin, "filename_prefix": f"{ENDS_PREFIX}_{part}"}}


def _assert_picture_ends(entry: dict, files: list[Path]) -> None:
    """A picture morph (ends "pictures") begins with its first picture, pixel for pixel, and shows every picture in
    order among its frames (the last one as its last frame, Keep Picture Ends'); its middle frame is none of them."""
    keeping = [node for node in entry["prompt"][2].values() if node["class_type"] in KEEPING]
    if not keeping:
        return
    assert [node["inputs"]["ends"] for node in keeping] == ["pictures"]
    parts = ("frames", *KEEPING[keeping[0]["class_type"]])
    saved = {part: sorted(f for f in files if f.name.startswith(f"{Path(ENDS_PREFIX).name}_{part}_"))
             for part in parts}
    read = lambda path: np.asarray(Image.open(path))  # noqa: E731
    frames = [read(path) for path in saved["frames"]]
    pictures = [read(path) for part in parts[1:] for path in saved[part]]
    at = [next((i for i, frame in enumerate(frames) if np.array_equal(frame, picture)), None) for picture in pictures]
    assert len(frames) >= 3 and at[0] == 0 and None not in at and at == sorted(at), at
    if keeping[0]["class_type"] == "InbetweenKeepPictureEnds":
        assert at[-1] == len(frames) - 1, at
    middle = frames[len(frames) // 2]
    assert not any(np.array_equal(middle, picture) for picture in pictures)


# The bad-input tests edit one workflow that has a KSampler and a checkpoint loader.
EDITED = "Seed morph latent slerp (SD1.5).json"


def _shipped(name: str) -> dict:
    return json.loads((WORKFLOWS / name).read_text())


def test_unknown_node_type_is_named(object_info):
    workflow = _shipped(EDITED)
    workflow["nodes"][0]["type"] = "NoSuchNodeAnywhere"
    node_id = workflow["nodes"][0]["id"]
    with pytest.raises(WorkflowError, match=rf"node {node_id} \(NoSuchNodeAnywhere.*unknown node type"):
        ui_to_api(workflow, object_info)


def test_bad_widget_value_is_named(object_info, test_checkpoint):
    workflow = _shipped(EDITED)
    sampler = next(n for n in workflow["nodes"] if n["type"] == "KSampler")
    sampler["widgets_values"][4] = "not_a_sampler"
    with pytest.raises(WorkflowError, match=rf"node {sampler['id']} \(KSampler.*'sampler_name'.*not_a_sampler"):
        ui_to_api(workflow, object_info, overrides={"ckpt_name": test_checkpoint.name})


def test_widget_count_mismatch_is_named(object_info, test_checkpoint):
    workflow = _shipped(EDITED)
    sampler = next(n for n in workflow["nodes"] if n["type"] == "KSampler")
    values = sampler["widgets_values"]
    sampler["widgets_values"] = values + [1.0]
    with pytest.raises(WorkflowError, match=rf"node {sampler['id']} \(KSampler.*has {len(values) + 1} entries but "
                                            rf"the node's widgets take {len(values)}"):
        ui_to_api(workflow, object_info, overrides={"ckpt_name": test_checkpoint.name})
    # Fewer values (a workflow saved where the node had fewer widgets): the missing last ones keep their default,
    # as the front end keeps a new widget's.
    sampler["widgets_values"] = values[:-1]
    prompt = ui_to_api(workflow, object_info, overrides={"ckpt_name": test_checkpoint.name})
    assert prompt[str(sampler["id"])]["inputs"]["denoise"] == 1.0
