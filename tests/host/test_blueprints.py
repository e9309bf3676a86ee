"""The blueprints (subgraphs/*.json): made by the generator, described for the node library, listed by the server
(ComfyUI v0.12 on; v0.3.64 has no /global_subgraphs and is unaffected), and each one, run on the test checkpoints,
gives the frames of its equivalent template."""

import json

import numpy as np
import pytest
from PIL import Image

import comfy_host
from blueprint_runs import SUBGRAPHS, blueprint_file, blueprint_run, listed_blueprints
from conftest import WORKFLOWS
from ui_workflow import WorkflowError, expand_subgraphs, ui_to_api

generator = comfy_host.load_workflow_generator()
NAMES = sorted(generator.BLUEPRINTS)
# blueprint -> (equivalent template, settings for both runs besides the checkpoint and 64x64): few steps and frames,
# so the comparison stays short. The template runs first; the blueprint's run then finds every node whose inputs
# are the same in ComfyUI's cache, so it costs only the nodes that differ (none but Attribute slider's delta labels).
EQUIVALENT = {
    "AID prompt morph": ("AID prompt morph (SD1.5).json", {"steps": 4, "frames": 5}),
    "Keyframe story": ("Keyframe story loop (SD1.5).json", {"steps": 4, "frames_per_segment": 2}),
    "Attribute slider": ("Attribute slider (SD1.5).json", {"steps": 4, "frames": 5}),
    "Picture morph": ("Picture morph FreeMorph (SD2.1).json", {"steps": 4, "frames": 3, "iterations": 1}),
}
# settings every blueprint's node shows (promoted), and those of one
COMMON = {"steps", "seed", "cfg"}
OWN = {"Keyframe story": {"loop", "prompts", "keyframes", "frames_per_segment"},
       "Attribute slider": {"frames", "alpha_start", "alpha_end", "neutral", "target"},
       "AID prompt morph": {"frames", "prompt_a", "prompt_b"},
       "Picture morph": {"frames", "caption_a", "caption_b", "strength", "iterations"}}


def test_every_blueprint_is_generated_and_nothing_else(object_info):
    assert sorted(path.stem for path in SUBGRAPHS.glob("*.json")) == NAMES == sorted(EQUIVALENT)
    for name in NAMES:
        assert (SUBGRAPHS / f"{name}.json").read_text() == generator.render(
            generator.build_blueprint(name, object_info)), (
            f"subgraphs/{name}.json differs from tools/workflows: run `python -m tools.workflows.build` and commit")


@pytest.mark.parametrize("name", NAMES)
def test_blueprint_is_one_described_node_with_its_settings_promoted(name):
    blueprint = blueprint_file(name)
    (node,) = blueprint["nodes"]
    (graph,) = blueprint["definitions"]["subgraphs"]
    assert node["type"] == graph["id"] and graph["name"] == name
    assert graph["category"].startswith("Inbetween/") and len(graph["description"]) > 60
    assert blueprint["extra"]["BlueprintDescription"] == graph["description"]
    promoted = [widget for source, widget in node["properties"]["proxyWidgets"] if source == "-1"]
    assert COMMON | OWN[name] <= set(promoted)
    assert len(node["widgets_values"]) == len(promoted)
    assert [i["name"] for i in node["inputs"]] == [i["name"] for i in graph["inputs"]]
    assert {"model", "clip", "vae"} <= {i["name"] for i in graph["inputs"] if i["type"] in ("MODEL", "CLIP", "VAE")}
    assert [o["type"] for o in graph["outputs"]] == ["IMAGE"]
    # every subgraph input and output is wired inside
    inner = {link["id"]: link for link in graph["links"]}
    for entry in graph["inputs"] + graph["outputs"]:
        assert entry["linkIds"] and all(link_id in inner for link_id in entry["linkIds"]), entry["name"]


def test_server_lists_the_blueprints(comfy_server):
    listed = listed_blueprints(comfy_server)
    ours = {entry["name"]: key for key, entry in listed.items()
            if entry["info"]["node_pack"] == "custom_nodes.ComfyUI-Inbetween"}
    assert sorted(ours) == NAMES
    for name, key in ours.items():
        entry = comfy_server.get_json(f"/global_subgraphs/{key}")
        assert json.loads(entry["data"]) == blueprint_file(name)


def _frames(files) -> list[np.ndarray]:
    pictures = []
    for path in sorted(f for f in files if f.suffix == ".png"):
        with Image.open(path) as image:
            pictures.append(np.asarray(image.convert("RGB")))
    return pictures


@pytest.mark.parametrize("name", NAMES)
def test_blueprint_gives_the_frames_of_its_template(name, comfy_server, object_info, run_workflow, test_checkpoints):
    listed_blueprints(comfy_server)
    template, settings = EQUIVALENT[name]

    def save_frames(prompt: dict) -> None:
        """Save what the template's animated WEBP saves (its frames) as PNGs too."""
        (webp,) = [node for node in prompt.values() if node["class_type"] == "SaveAnimatedWEBP"]
        prompt["template_frames"] = {"class_type": "SaveImage", "inputs": {
            "images": webp["inputs"]["images"], "filename_prefix": f"inbetween_tests/template_{name}"}}

    entry, files = run_workflow(template, settings, edit=save_frames)
    expected = _frames(f for f in files if "template_" in f.name)
    checkpoints = {node["widgets_values"][0] for node in json.loads((WORKFLOWS / template).read_text())["nodes"]
                   if node["type"] == "CheckpointLoaderSimple"}
    workflow = blueprint_run(name, test_checkpoints[checkpoints.pop()].name, {"size": 64, **settings})
    prompt = ui_to_api(expand_subgraphs(workflow), object_info)
    got = _frames(comfy_server.output_files(comfy_server.run_prompt(prompt, timeout=900)))
    assert len(got) == len(expected) >= 3, (len(got), len(expected))
    for index, (a, b) in enumerate(zip(got, expected)):
        assert np.array_equal(a, b), f"{name}: frame {index} differs from {template}'s"


def test_flattening_names_an_unconnected_input_and_keeps_promoted_values():
    """What the test runs above rely on: an input left unconnected is named; a promoted widget's value reaches every
    inner widget it feeds (steps: the schedule's and the sampler's)."""
    with pytest.raises(WorkflowError, match=r"titled 'AID prompt morph'\): input '(clip|model|vae)' is not connected"):
        expand_subgraphs(blueprint_file("AID prompt morph"))
    workflow = blueprint_run("AID prompt morph", "any.safetensors", {"steps": 3})
    flat = expand_subgraphs(workflow)
    primitives = {node["id"]: node["widgets_values"][0] for node in flat["nodes"] if node["type"] == "PrimitiveNode"}
    steps = [link for link in flat["links"] if link[1] in primitives and primitives[link[1]] == 3]
    targets = {node["type"] for node in flat["nodes"] for link in steps if node["id"] == link[3]}
    assert targets == {"InbetweenBetaCoefficientSchedule", "KSampler"}
