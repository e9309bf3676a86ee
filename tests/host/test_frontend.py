"""Every shipped workflow in ComfyUI's real web front end (comfyui-frontend-package) in headless Chromium, in two
front ends: the one the ComfyUI pins ("bundled") and the newest on the registry ("newest", served with
``--front-end-root``; ComfyUI v0.12 on, see conftest's newest_frontend_server). Each workflow loads from the template
route with no missing node type, no dialog but the missing-models listing (the workflow's model metadata,
downloadable), no console error; its nodes are not smaller than the front end draws them and do not overlap; no
note's text overflows it; its saved view shows the Read me note's left edge right of the side toolbar;
``app.graphToPrompt()`` equals the host suite's converter. The template browser lists every workflow and finds its thumbnail. Each blueprint (ComfyUI v0.12
on), its node wired to a loader, loads clean and the front end flattens it into the prompt the host suite runs
against its template; a blueprint added from the node search box, as a user adds it, runs on the test checkpoint.
In the newest front end's Nodes 2.0 renderer (``Comfy.VueNodes.Enabled``), whose nodes are drawn taller than their
saved size, no two drawn nodes overlap and each lies inside its group.

Every node of the pack opens its help page in each front end's help panel (select the node, press the selection
toolbox's info button), in English and in each translated locale, where the node also carries its translated title
and description; the front end's first request for the page finds it (no 404 before a fallback), and nothing on
the page is wider than the panel.

Without a Chromium (``.ci/run`` installs the distribution's package) the browser tests are skipped and say why.
"""

import io
import json
import time
import urllib.request
from urllib.parse import quote

import blueprint_runs
import docs_pages
import frontend
import numpy as np
import pytest
from conftest import WORKFLOWS
from PIL import Image
from server import PACK_FOLDER_NAME
from ui_workflow import expand_subgraphs, ui_to_api

SHIPPED = sorted(path.stem for path in WORKFLOWS.glob("*.json"))
MODEL_WIDGETS = frozenset({"ckpt_name", "unet_name", "lora_name", "clip_name", "clip_name1", "clip_name2", "vae_name",
                           "control_net_name", "style_model_name", "image"})
# Requests that fail without internet (the missing-models dialog asks huggingface.co for each file's size).
OFFLINE_NOISE = ("ERR_NAME_NOT_RESOLVED", "ERR_INTERNET_DISCONNECTED", "api.comfy.org", "Error fetching file size")


@pytest.fixture(scope="module", params=["bundled", "newest"])
def front_end_server(request, comfy_server):
    """The server of one front end; the tests that take it run once per front end, one browser each."""
    return comfy_server if request.param == "bundled" else request.getfixturevalue("newest_frontend_server")


@pytest.fixture(scope="module")
def browser(front_end_server):
    executable = frontend.chromium()
    page = frontend.open_frontend(front_end_server, executable)
    yield page
    page.close()


@pytest.fixture(scope="module")
def nodes_2_browser(newest_frontend_server):
    """The newest front end with Nodes 2.0, the renderer that draws nodes as DOM elements."""
    executable = frontend.chromium()
    page = frontend.open_frontend(newest_frontend_server, executable, settings={"Comfy.VueNodes.Enabled": True})
    yield page
    page.close()


def _fetch(server, path: str):
    with urllib.request.urlopen(server.url + path, timeout=30) as response:
        return response.headers.get("Content-Type", ""), response.read()


def test_template_route_lists_every_workflow_with_a_thumbnail(comfy_server):
    _, body = _fetch(comfy_server, "/workflow_templates")
    assert sorted(json.loads(body)[PACK_FOLDER_NAME]) == SHIPPED
    for name in SHIPPED:
        # The front end asks for <name>.jpg next to the template (mediaSubtype "jpg" for custom-node templates), the
        # name's spaces and brackets encoded as a browser encodes them.
        content_type, data = _fetch(comfy_server, f"/api/workflow_templates/{PACK_FOLDER_NAME}/{quote(name)}.jpg")
        assert content_type == "image/jpeg", name
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "JPEG" and image.width >= 256 and image.height >= 128, name
    assert sorted(path.stem for path in WORKFLOWS.glob("*.jpg")) == SHIPPED


def _skip_other_packs(name: str, object_info: dict) -> None:
    other_packs = sorted({node["type"] for node in json.loads((WORKFLOWS / f"{name}.json").read_text())["nodes"]}
                         - set(object_info) - {"MarkdownNote"})
    if other_packs:
        pytest.skip(f"{name} uses {other_packs}, another pack's nodes this server does not have (its thumbnail is "
                    "drawn with that pack; test_aid_shares_servers.py runs it)")


@pytest.mark.parametrize("name", SHIPPED)
def test_workflow_in_the_real_front_end(browser, object_info, name, tmp_path):
    _skip_other_packs(name, object_info)
    browser.console.clear()
    workflow = frontend.load_template(browser, name)
    assert frontend.unknown_node_types(browser) == [], name
    dialogs, listing = frontend.missing_models(browser)
    models = [model for node in workflow["nodes"] for model in node["properties"].get("models", [])]
    assert not dialogs, f"{name}: unexpected dialogs {dialogs}"
    assert not listing or "missing node" not in listing.lower(), f"{name}: {listing}"
    # The test server has none of the real models: the listing offers each one, from its metadata, downloadable
    # (1.37 writes "directory / name"; the newest front end the name, then the directory, under it).
    for model in models:
        assert listing and (f"{model['directory']} / {model['name']}" in listing or
                            f"{model['name']}\n{model['directory']}" in listing), (name, model, listing)
    assert not listing or "not allowed" not in listing and "Invalid directory" not in listing
    frontend.close_dialogs(browser)

    # The saved view opens with the Read me readable: its left edge right of the toolbar, the page shows the note
    # there, not the toolbar, and so does a screenshot: the note's left margin looks like its right margin.
    edge = frontend.read_me_edge(browser)
    assert edge["note_left"] >= edge["toolbar_right"] and not edge["under_toolbar"], (
        f"{name}: the Read me's left edge is at x={edge['note_left']:.0f} px, under the side toolbar (its right edge "
        f"x={edge['toolbar_right']:.0f} px; the page shows {edge['shown']} at {edge['probe']})")
    margins = [_mean_colour(browser, tmp_path / f"margin_{side}.png", x, edge["probe"][1])
               for side, x in (("left", edge["note_left"] + 2), ("right", edge["note_right"] - 6))]
    assert max(abs(a - b) for a, b in zip(*margins)) <= 12, (
        f"{name}: the screenshot shows the Read me's left margin {margins[0]} unlike its right margin {margins[1]}")

    # note_height gives each note the room its text takes in every front end tested, with some to spare
    overflowing = frontend.overflowing_notes(browser)
    assert not overflowing, f"{name}: a note's text overflows it ([id, text height, shown height]): {overflowing}"

    assert _comparable(frontend.graph_to_prompt(browser), object_info) == _comparable(
        ui_to_api(workflow, object_info, unlisted_files=MODEL_WIDGETS), object_info)

    saved = {str(node["id"]): node for node in workflow["nodes"]}  # the newest front end's ids are strings
    drawn = frontend.canvas_nodes(browser)
    for node in drawn:
        width, height = saved[str(node["id"])]["size"]
        assert width >= node["min"][0] and height >= node["min"][1], (
            f"{name}: node {node['id']} ({node['title']}) is {width}x{height}, the front end needs {node['min']}")
    for i, a in enumerate(drawn):
        for b in drawn[i + 1:]:
            assert not _overlap(a["bounding"], b["bounding"]), f"{name}: '{a['title']}' and '{b['title']}' overlap"

    # The images the workflows load are on the test server (conftest writes a picture under each name): no 404.
    errors = [entry for entry in browser.console if entry["level"] in ("error", "exception")
              and not any(noise in entry["text"] + entry["url"] for noise in OFFLINE_NOISE)]
    assert not errors, f"{name}: console errors {errors}"


def _mean_colour(browser, path, x: float, y: float) -> tuple[float, ...]:
    """Mean RGB of a 4 x 40 px strip of the page, screenshot from (x, y - 20)."""
    browser.screenshot(path, {"x": x, "y": y - 20, "width": 4, "height": 40})
    with Image.open(path) as image:
        return tuple(np.asarray(image.convert("RGB"), dtype=np.float64).reshape(-1, 3).mean(axis=0).round(1))


def _comparable(prompt: dict, object_info: dict) -> dict:
    """Class and inputs of every node, less inputs the server does not declare (the front end sends PreviewAny's
    display widget, which the server ignores); titles are left out: the front end localizes untitled nodes'."""
    def declared(node):
        info = object_info[node["class_type"]]["input"]
        return {**info.get("required", {}), **info.get("optional", {})}

    return {node_id: (node["class_type"], {k: v for k, v in node["inputs"].items() if k in declared(node)})
            for node_id, node in prompt.items()}


def _overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


# The Markdown files the page fetched since the last clearResourceTimings(), with their HTTP status.
HELP_REQUESTS_JS = """performance.getEntriesByType("resource").map(e => [new URL(e.name).pathname, e.responseStatus])
    .filter(([path]) => path.endsWith(".md"))"""
# What of the help panel's content reaches past its right edge or scrolls sideways: [tag, text, px too wide]. The
# panel is 253 px wide in 1.27.10, 282 in 1.37.11, 285 in 1.58.1; a code span does not wrap, so one of more than
# about 22 characters (a path, a file name) sticks out.
HELP_OVERFLOW_JS = """(() => {
    const content = document.querySelector(".node-help-content");
    const right = content.getBoundingClientRect().right;
    return [content, ...content.querySelectorAll("*")].map(e => [e, Math.max(e.getBoundingClientRect().right - right,
        e.clientWidth ? e.scrollWidth - e.clientWidth : 0)]).filter(([, excess]) => excess > 1)
        .map(([e, excess]) => [e.tagName, (e.innerText || "").slice(0, 40), Math.round(excess)]);
})()"""


@pytest.mark.parametrize("locale", ["en", *docs_pages.TRANSLATED])
def test_node_help_pages_in_the_front_end(front_end_server, object_info, locale):
    executable = frontend.chromium()
    pack_nodes = sorted(name for name, info in object_info.items()
                        if info["python_module"] == f"custom_nodes.{PACK_FOLDER_NAME}")
    assert set(pack_nodes) == docs_pages.page_node_ids()
    messages = docs_pages.locale_messages(locale)["nodeDefs"] if locale != "en" else {}
    page = frontend.open_frontend(front_end_server, executable, locale=locale)
    try:
        page.evaluate("performance.setResourceTimingBufferSize(100000)")
        too_wide = {}  # node -> what sticks out: every page named at once
        for node_id in pack_nodes:
            path = docs_pages.english_page(node_id) if locale == "en" else docs_pages.translated_page(node_id, locale)
            opening = docs_pages.opening(path)
            page.evaluate("performance.clearResourceTimings()")
            page.console.clear()
            shown = frontend.show_node_help(page, node_id, [opening.title, opening.sentence])
            assert opening.title in shown["panel"] and opening.sentence in shown["panel"], (
                f"{node_id} ({locale}): the help panel shows {shown['panel'][:300]!r}")
            # The page the front end asks for first is there: no 404 before a fallback, in the network or the log.
            asked = page.evaluate(HELP_REQUESTS_JS)
            assert asked == [[f"/extensions/{PACK_FOLDER_NAME}/docs/{node_id}/{locale}.md", 200]], (node_id, asked)
            assert not [entry for entry in page.console if "404" in entry["text"]], (node_id, page.console)
            overflow = page.evaluate(HELP_OVERFLOW_JS)
            if overflow:
                too_wide[node_id] = overflow
            assert "**" not in shown["panel"], f"{node_id} ({locale}): emphasis the renderer did not take"
            expected_title = messages[node_id]["display_name"] if messages else object_info[node_id]["display_name"]
            assert shown["title"] == expected_title, (node_id, locale)
            expected_description = messages[node_id]["description"] if messages else object_info[node_id]["description"]
            assert shown["description"] == expected_description, (node_id, locale)
    finally:
        page.close()
    assert not too_wide, f"pages wider than the help panel ({locale}): {too_wide}"


def _canonical(prompt: dict, object_info: dict) -> list[str]:
    """The prompt's nodes whatever their ids (the front end numbers a subgraph's nodes "outer:inner"): each node as
    its class and inputs, a link as the canonical form of the node it comes from and the slot, sorted."""
    nodes = _comparable(prompt, object_info)
    forms: dict = {}

    def value_form(value):
        if isinstance(value, list) and len(value) == 2 and str(value[0]) in nodes:
            return ["link", form(str(value[0])), value[1]]
        return int(value) if isinstance(value, float) and value.is_integer() else value  # JavaScript's 2 is 2.0

    def form(node_id: str) -> str:
        if node_id not in forms:
            class_type, inputs = nodes[node_id]
            forms[node_id] = json.dumps([class_type, {name: value_form(value) for name, value in sorted(inputs.items())}])
        return forms[node_id]

    return sorted(form(node_id) for node_id in nodes)


@pytest.mark.parametrize("name", blueprint_runs.NAMES)
def test_blueprint_in_the_real_front_end(browser, front_end_server, object_info, test_checkpoints, name):
    """A blueprint's node wired to a checkpoint loader, loaded in the front end: no dialog, no console error, and
    the prompt the front end makes of it (the subgraph flattened) is the one the host suite runs against the
    blueprint's template (test_blueprints.py)."""
    blueprint_runs.listed_blueprints(front_end_server)
    browser.console.clear()
    workflow = blueprint_runs.blueprint_run(name, test_checkpoints["v1-5-pruned-emaonly-fp16.safetensors"].name,
                                            {"steps": 3})
    browser.evaluate(f"window.app.loadGraphData({json.dumps(workflow)}, true, true, {json.dumps(name)})")
    assert frontend.open_dialogs(browser) == [], name
    assert frontend.unknown_node_types(browser) == [], name
    assert _canonical(frontend.graph_to_prompt(browser), object_info) == _canonical(
        ui_to_api(expand_subgraphs(workflow), object_info, unlisted_files=MODEL_WIDGETS), object_info)
    errors = [entry for entry in browser.console if entry["level"] in ("error", "exception")
              and not any(noise in entry["text"] + entry["url"] for noise in OFFLINE_NOISE)]
    assert not errors, f"{name}: console errors {errors}"


@pytest.mark.parametrize("name", blueprint_runs.NAMES)
def test_blueprint_from_the_node_search_holds_its_values_in_the_real_front_end(browser, front_end_server, name):
    """Every blueprint added from the search box carries, in each node inside it, the widget values its file gives
    (1.37 once wrote a promoted value into the widget at its socket's position: steps into a schedule's preset)."""
    blueprint_runs.listed_blueprints(front_end_server)
    browser.evaluate("window.app.graph.clear()")
    frontend.close_dialogs(browser)
    (added,) = frontend.node_search_add(browser, name)
    assert added["subgraph"] == name, added
    # The newest front end renumbers the nodes inside; their order stays the file's.
    shown = browser.evaluate(f"""window.app.graph.getNodeById({json.dumps(added["id"])}).subgraph.nodes
        .map(n => [n.type, (n.widgets ?? []).map(w => [w.name, w.value])])""")
    (graph,) = blueprint_runs.blueprint_file(name)["definitions"]["subgraphs"]
    assert [node_type for node_type, _ in shown] == [node["type"] for node in graph["nodes"]], name
    for node, (_, widgets) in zip(graph["nodes"], shown):
        # a widget fed by the blueprint's input takes that input's value, whatever the widget holds
        fed = {socket["widget"]["name"] for socket in node["inputs"] if "widget" in socket and socket["link"]}
        wrong = [(widget, value, saved) for (widget, value), saved in zip(widgets, node.get("widgets_values", []))
                 if widget not in fed and value != saved]
        assert not wrong, f"{name}: node {node['id']} ({node['type']}) holds (widget, value, its file's) {wrong}"


# what the blueprint added from the search box is given: few frames and steps, the test checkpoint's size
SEARCHED_BLUEPRINT = "AID prompt morph"
SEARCHED_SETTINGS = {"frames": 3, "steps": 2, "width": 64, "height": 64}


def test_blueprint_added_from_the_node_search_in_the_real_front_end(browser, front_end_server, test_checkpoints):
    """A user's way to a blueprint: double-click the canvas, type its name, Enter. The node that comes is the
    blueprint (its subgraph, its promoted settings); wired to a checkpoint loader and a Save Image, the prompt the
    front end makes of it runs on the server and saves one picture a frame."""
    blueprint_runs.listed_blueprints(front_end_server)
    browser.evaluate("window.app.graph.clear()")
    frontend.close_dialogs(browser)
    (added,) = frontend.node_search_add(browser, SEARCHED_BLUEPRINT)
    assert added["title"] == added["subgraph"] == SEARCHED_BLUEPRINT, added
    checkpoint = test_checkpoints["v1-5-pruned-emaonly-fp16.safetensors"].name
    missing = browser.evaluate(f"""(() => {{
        const graph = window.app.graph, node = graph.getNodeById({json.dumps(added["id"])});
        const loader = window.LiteGraph.createNode("CheckpointLoaderSimple");
        const save = window.LiteGraph.createNode("SaveImage");
        graph.add(loader); graph.add(save);
        loader.widgets.find(w => w.name === "ckpt_name").value = {json.dumps(checkpoint)};
        save.widgets.find(w => w.name === "filename_prefix").value = "inbetween_tests/searched_blueprint";
        for (const kind of ["MODEL", "CLIP", "VAE"])
            loader.connect(loader.outputs.findIndex(o => o.type === kind), node,
                           node.inputs.findIndex(i => i.type === kind));
        node.connect(0, save, 0);
        const settings = {json.dumps(SEARCHED_SETTINGS)};
        const missing = [];
        for (const [name, value] of Object.entries(settings)) {{
            const widget = node.widgets?.find(w => w.name === name || w.label === name);
            if (widget) widget.value = value; else missing.push(name);
        }}
        return missing;
    }})()""")
    assert missing == [], f"{SEARCHED_BLUEPRINT}: settings not on its node: {missing}"
    prompt = frontend.graph_to_prompt(browser)
    files = front_end_server.output_files(front_end_server.run_prompt(prompt, timeout=900))
    frames = sorted(path for path in files if path.suffix == ".png" and "searched_blueprint" in path.name)
    assert len(frames) == SEARCHED_SETTINGS["frames"], files
    for path in frames:
        with Image.open(path) as image:
            assert image.size == (64, 64), path


@pytest.mark.parametrize("name", SHIPPED)
def test_workflow_in_nodes_2(nodes_2_browser, object_info, name):
    """Nodes 2.0 draws nodes taller than their saved size (a footer badge, taller widget rows): what it draws must
    still leave every node clear of the others and inside its group. Overlaps and overhangs are reported in graph
    units (px at zoom 1), every one of the workflow, so the generator's margins can be set from one run."""
    _skip_other_packs(name, object_info)
    frontend.load_template(nodes_2_browser, name)
    frontend.close_dialogs(nodes_2_browser)
    # Nodes 2.0 mounts a node's element, then sizes it from its content: read when two readings agree.
    geometry, previous = None, frontend.vue_geometry(nodes_2_browser)
    for _ in range(40):
        time.sleep(0.25)
        geometry = frontend.vue_geometry(nodes_2_browser)
        if geometry == previous and len(geometry["nodes"]) == geometry["count"]:
            break
        previous = geometry
    assert len(geometry["nodes"]) == geometry["count"], f"{name}: {len(geometry['nodes'])} of {geometry['count']} drawn"
    problems = []
    nodes = geometry["nodes"]
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            width, height = _intersection(a["rect"], b["rect"])
            if width > 0 and height > 0:
                problems.append(f"'{a['title']}' and '{b['title']}' overlap by {width:.0f} x {height:.0f}")
    for node in nodes:
        x, y, width, height = node["rect"]
        centre = (x + width / 2, y + height / 2)
        holders = [g for g in geometry["groups"] if _contains(g["rect"], centre)]
        if not holders:
            problems.append(f"'{node['title']}' is in no group")
            continue
        gx, gy, gw, gh = min(holders, key=lambda g: g["rect"][2] * g["rect"][3])["rect"]
        out = {"left": gx - x, "top": gy - y, "right": x + width - gx - gw, "bottom": y + height - gy - gh}
        out = {side: amount for side, amount in out.items() if amount > 0.5}
        if out:
            sides = ", ".join(f"{amount:.0f} {side}" for side, amount in out.items())
            problems.append(f"'{node['title']}' is out of its group by {sides}")
    assert not problems, f"{name} in Nodes 2.0: " + "; ".join(problems)


def _intersection(a, b) -> tuple[float, float]:
    return (min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]), min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))


def _contains(rect, point) -> bool:
    return rect[0] <= point[0] <= rect[0] + rect[2] and rect[1] <= point[1] <= rect[1] + rect[3]
