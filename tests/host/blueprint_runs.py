"""The blueprints (subgraphs/*.json) as the host suite runs them: the file, the server's listing, and a blueprint's
node wired to a checkpoint loader (and the templates' photos) with its frames saved."""

import json
import urllib.error

import pytest

import comfy_host

SUBGRAPHS = comfy_host.PACK_DIR / "subgraphs"
NAMES = sorted(path.stem for path in SUBGRAPHS.glob("*.json"))
PICTURES = {"picture_a": "photo_a.png", "picture_b": "photo_b.png"}


def blueprint_file(name: str) -> dict:
    return json.loads((SUBGRAPHS / f"{name}.json").read_text())


def listed_blueprints(comfy_server) -> dict:
    """/global_subgraphs; a skip on ComfyUI v0.3, which has no blueprints (the templates are the same graphs)."""
    import comfyui_version

    try:
        return comfy_server.get_json("/global_subgraphs")
    except urllib.error.HTTPError as err:
        assert comfyui_version.__version__.startswith("0.3."), "only v0.3 has no /global_subgraphs"
        assert err.code == 404
        pytest.skip(f"ComfyUI {comfyui_version.__version__} has no blueprints (/global_subgraphs: 404)")


def blueprint_run(name: str, checkpoint: str, settings: dict) -> dict:
    """The blueprint's node fed by a checkpoint loader (and the template's photos), its frames saved."""
    workflow = blueprint_file(name)
    node = workflow["nodes"][0]
    promoted = [widget for _, widget in node["properties"]["proxyWidgets"]]
    for key, value in {"width": 64, "height": 64, **settings}.items():
        if key in promoted:
            node["widgets_values"][promoted.index(key)] = value
    outputs = {"MODEL": [], "CLIP": [], "VAE": []}
    loader = {"id": 2, "type": "CheckpointLoaderSimple", "pos": [-400, 0], "size": [300, 100], "inputs": [],
              "outputs": [{"name": kind, "type": kind, "links": links} for kind, links in outputs.items()],
              "widgets_values": [checkpoint]}
    save = {"id": 3, "type": "SaveImage", "pos": [500, 0], "size": [300, 300], "outputs": [],
            "widgets_values": [f"inbetween_tests/blueprint_{name}"],
            "inputs": [{"name": "images", "type": "IMAGE", "link": 1}]}
    workflow["nodes"] += [loader, save]
    workflow["links"] = [[1, 1, 0, 3, 0, "IMAGE"]]
    node["outputs"][0]["links"] = [1]
    for slot, socket in enumerate(node["inputs"]):
        link = len(workflow["links"]) + 1
        if socket["type"] in outputs:
            workflow["links"].append([link, 2, list(outputs).index(socket["type"]), 1, slot, socket["type"]])
            outputs[socket["type"]].append(link)
        elif socket["name"] in PICTURES:
            picture = {"id": 10 + len(workflow["nodes"]), "type": "LoadImage", "pos": [-400, 200 * link],
                       "size": [300, 300], "inputs": [], "widgets_values": [PICTURES[socket["name"]], "image"],
                       "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [link]},
                                   {"name": "MASK", "type": "MASK", "links": []}]}
            workflow["nodes"].append(picture)
            workflow["links"].append([link, picture["id"], 0, 1, slot, "IMAGE"])
        else:
            continue
        socket["link"] = link
    return workflow
