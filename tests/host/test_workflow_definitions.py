"""The shipped workflows are the generator's output (tools/workflows) for this server's /object_info, and each one
carries what a new user needs on the canvas: a note, groups, model metadata on its loaders."""

import importlib
import json

import comfy_host
import frontend
import pytest
from conftest import WORKFLOWS

generator = comfy_host.load_workflow_generator()
pictures = importlib.import_module(generator.__package__ + ".pictures")
SIDEBAR = 56  # px: the front end's left sidebar (1.3x on), over the canvas
NAMES = sorted(generator.REGISTRY)
# Loader -> how many of its first widgets name model files.
LOADER_MODEL_WIDGETS = {"CheckpointLoaderSimple": 1, "UNETLoader": 1, "CLIPLoader": 1, "DualCLIPLoader": 2,
                        "VAELoader": 1, "ControlNetLoader": 1, "StyleModelLoader": 1, "CLIPVisionLoader": 1}


@pytest.fixture(scope="module")
def built(object_info):
    return generator.build_all(object_info)


def test_every_shipped_workflow_is_generated_and_nothing_else():
    assert sorted(path.stem for path in WORKFLOWS.glob("*.json")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_committed_json_equals_the_generator_output(built, name):
    committed = (WORKFLOWS / f"{name}.json").read_text()
    assert committed == generator.render(built[name]), (
        f"workflows/{name}.json differs from tools/workflows: run `python -m tools.workflows.build` and commit")


def _height(node: dict) -> int:
    """The node's height below its title bar in either renderer: its saved size, or more in Nodes 2.0."""
    return max(node["size"][1], generator.NODES_2_HEIGHTS.get(node["type"], 0))


@pytest.mark.parametrize("name", NAMES)
def test_workflow_has_a_note_and_every_node_sits_in_a_group(built, name):
    """Every node lies in one group, at the height either renderer draws it."""
    ui = built[name]
    notes = [node for node in ui["nodes"] if node["type"] == "MarkdownNote"]
    assert notes and all("##" in note["widgets_values"][0] for note in notes)
    assert len(ui["groups"]) >= 4
    for node in ui["nodes"]:
        x, y = node["pos"]
        inside = [g["title"] for g in ui["groups"] if g["bounding"][0] <= x and g["bounding"][1] <= y
                  and x + node["size"][0] <= g["bounding"][0] + g["bounding"][2]
                  and y + _height(node) <= g["bounding"][1] + g["bounding"][3]]
        assert len(inside) == 1, f"{name}: node {node['id']} ({node['type']}) lies in groups {inside}"


def _overlap(a: list, b: list) -> bool:
    """Boxes [x, y, width, height] share an area (touching edges do not)."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


@pytest.mark.parametrize("name", NAMES)
def test_saved_view_clears_the_sidebar_and_nothing_overlaps(built, name):
    """The graph's left edge (its groups') opens right of the front end's 56 px sidebar; no two groups and no two
    nodes (title bars included, at the height either renderer draws them) overlap."""
    ui = built[name]
    scale, (offset_x, _) = ui["extra"]["ds"]["scale"], ui["extra"]["ds"]["offset"]
    left = min(group["bounding"][0] for group in ui["groups"])
    assert (left + offset_x) * scale >= SIDEBAR + 16, f"{name}: the graph starts under the sidebar"
    groups = [(group["title"], group["bounding"]) for group in ui["groups"]]
    nodes = [(node["id"], [node["pos"][0], node["pos"][1] - generator.TITLE_HEIGHT, node["size"][0],
                           _height(node) + generator.TITLE_HEIGHT]) for node in ui["nodes"]]
    for boxes in (groups, nodes):
        for index, (label, box) in enumerate(boxes):
            clashing = [other for other, second in boxes[index + 1:] if _overlap(box, second)]
            assert not clashing, f"{name}: {label} overlaps {clashing}"


@pytest.mark.parametrize("name", NAMES)
def test_template_browser_opens_it_readable(built, name):
    """The newest front end's template browser fits the view to the nodes; below scale 8/14 it draws them as empty
    boxes. From the saved geometry: readable on a 1600x1000 canvas, or for a large workflow at least the scale
    frontend.LARGE_TEMPLATES lists for 1920x1080 (test_template_browser measures both in the front end)."""
    if name not in frontend.LARGE_TEMPLATES:
        scale = frontend.fit_scale(built[name], frontend.FIT_CANVAS)
        assert scale >= frontend.READABLE_SCALE, f"{name}: opens at {scale:.3f} on 1600x1000, drawn as empty boxes"
        return
    scale = frontend.fit_scale(built[name], frontend.LARGE_CANVAS)
    assert scale >= frontend.LARGE_TEMPLATES[name], f"{name}: opens at {scale:.3f} on 1920x1080"
    assert frontend.fit_scale(built[name], frontend.FIT_CANVAS) < frontend.READABLE_SCALE, (
        f"{name} now fits 1600x1000 readable: take it off frontend.LARGE_TEMPLATES")


@pytest.mark.parametrize("name", NAMES)
def test_every_loader_names_its_model_with_a_download(built, name):
    note = next(node for node in built[name]["nodes"] if node["type"] == "MarkdownNote")["widgets_values"][0]
    for node in built[name]["nodes"]:
        files = LOADER_MODEL_WIDGETS.get(node["type"])
        if files is None:
            continue
        models = node["properties"].get("models")
        assert models, f"{name}: node {node['id']} ({node['type']}) has no properties.models"
        assert [model["name"] for model in models] == node["widgets_values"][:files]
        for model in models:
            assert model["url"].startswith("https://huggingface.co/") and model["url"].endswith(model["name"])
            assert model["directory"] in ("checkpoints", "diffusion_models", "text_encoders", "vae", "controlnet",
                                          "style_models", "clip_vision")
            assert model["url"] in note, f"{name}: the note does not link {model['name']}"


def test_save_nodes_sharing_a_prefix_are_refused(object_info):
    workflow, column = generator.Workflow("shared_prefix"), generator.Column(0, 200)
    image = workflow.node("EmptyImage", column.next(100))
    for _ in range(2):
        workflow.node("SaveImage", column.next(100), images=image["IMAGE"], filename_prefix="same")
    with pytest.raises(generator.WorkflowDefinitionError, match="share the filename prefix"):
        workflow.to_ui(object_info)


@pytest.mark.parametrize("title", ["aid_sdxl", "AID: SDXL", "Morph A/B (SD1.5)", 'Say "cheese"'])
def test_a_title_the_browser_would_show_otherwise_or_no_file_can_hold_is_refused(title):
    """The title is the template's file name, which the browser shows as it is: '_' would read as code (and as a
    space in 1.37's description), and \\ / : * ? " < > | cannot be in a Windows file name."""
    graph = importlib.import_module(generator.__package__ + ".graph")
    with pytest.raises(generator.WorkflowDefinitionError, match="write the title as a user reads it"):
        graph.workflow(title)


def test_two_workflows_with_one_title_are_refused():
    graph = importlib.import_module(generator.__package__ + ".graph")
    with pytest.raises(generator.WorkflowDefinitionError, match=r"two workflows are called AID prompt morph \(SDXL\)"):
        graph.workflow("AID prompt morph (SDXL)")(lambda w: None)
    assert "AID prompt morph (SDXL)" in NAMES and len(generator.REGISTRY) == len(NAMES)


def test_unknown_input_and_output_names_are_refused(object_info):
    workflow, column = generator.Workflow("typo"), generator.Column(0, 300)
    workflow.node("CheckpointLoaderSimple", column.next(100), ckpt_nme="x.safetensors")
    with pytest.raises(generator.WorkflowDefinitionError, match=r"no input \['ckpt_nme'\]"):
        workflow.to_ui(object_info)
    workflow, column = generator.Workflow("typo"), generator.Column(0, 300)
    checkpoint = workflow.node("CheckpointLoaderSimple", column.next(100), ckpt_name="x.safetensors")
    workflow.node("VAEDecode", column.next(100), samples=checkpoint["MODEL"], vae=checkpoint["VAES"])
    with pytest.raises(generator.WorkflowDefinitionError, match="has no output 'VAES'"):
        workflow.to_ui(object_info)


@pytest.mark.parametrize("name", NAMES)
def test_thumbnail_shows_the_graph_alone_as_the_picture_maker_draws_it(name):
    """The thumbnail is the saved graph's extent (at the picture maker's zoom, above the front end's low-detail
    threshold), not the front end's window: a thumbnail older than its workflow's layout, or a shot of the whole
    page, has another size."""
    from PIL import Image

    ui = json.loads((WORKFLOWS / f"{name}.json").read_text())
    with Image.open(WORKFLOWS / f"{name}.jpg") as thumbnail:
        size = thumbnail.size
    assert size == pictures.thumbnail_size(ui), f"redraw it: python -m tools.workflows.pictures '{name}'"
