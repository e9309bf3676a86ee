"""Every shipped workflow in ComfyUI's real web front end (comfyui-frontend-package) in headless Chromium: it loads
from the template route with no missing node type, no dialog but the missing-models one (listing the workflow's model
metadata, downloadable), no console error; its nodes are not smaller than the front end draws them and do not
overlap; ``app.graphToPrompt()`` equals the host suite's converter. The template browser lists every workflow and
finds its thumbnail. Each blueprint (ComfyUI v0.12 on), its node wired to a loader, loads clean and the front end
flattens it into the prompt the host suite runs against its template.

Every node of the pack opens its help page in the front end's help panel (select the node, press the selection
toolbox's info button), in English and in each translated locale, where the node also carries its translated title
and description; the front end's first request for the page finds it (no 404 before a fallback), and from 1.37 on
nothing on the page is wider than the panel.

Without a Chromium (``.ci/run`` installs the distribution's package) the browser tests are skipped and say why.
"""

import io
import json
import urllib.request

import blueprint_runs
import docs_pages
import frontend
import pytest
from browser import find_chromium
from conftest import WORKFLOWS
from PIL import Image
from server import PACK_FOLDER_NAME
from ui_workflow import expand_subgraphs, ui_to_api

SHIPPED = sorted(path.stem for path in WORKFLOWS.glob("*.json"))
MODEL_WIDGETS = frozenset({"ckpt_name", "unet_name", "lora_name", "clip_name", "clip_name1", "clip_name2", "vae_name",
                           "control_net_name", "style_model_name", "image"})
# Requests that fail without internet (the missing-models dialog asks huggingface.co for each file's size).
OFFLINE_NOISE = ("ERR_NAME_NOT_RESOLVED", "ERR_INTERNET_DISCONNECTED", "api.comfy.org", "Error fetching file size")


@pytest.fixture(scope="module")
def browser(comfy_server):
    executable = find_chromium()
    if executable is None:
        pytest.skip("front-end test skipped: no Chromium found (install Debian's chromium package; .ci/run does)")
    page = frontend.open_frontend(comfy_server, executable)
    yield page
    page.close()


def _fetch(server, path: str):
    with urllib.request.urlopen(server.url + path, timeout=30) as response:
        return response.headers.get("Content-Type", ""), response.read()


def test_template_route_lists_every_workflow_with_a_thumbnail(comfy_server):
    _, body = _fetch(comfy_server, "/workflow_templates")
    assert sorted(json.loads(body)[PACK_FOLDER_NAME]) == SHIPPED
    for name in SHIPPED:
        # The front end asks for <name>.jpg next to the template (mediaSubtype "jpg" for custom-node templates).
        content_type, data = _fetch(comfy_server, f"/api/workflow_templates/{PACK_FOLDER_NAME}/{name}.jpg")
        assert content_type == "image/jpeg", name
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "JPEG" and image.width >= 256 and image.height >= 128, name
    assert sorted(path.stem for path in WORKFLOWS.glob("*.jpg")) == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_workflow_in_the_real_front_end(browser, object_info, name):
    other_packs = sorted({node["type"] for node in json.loads((WORKFLOWS / f"{name}.json").read_text())["nodes"]}
                         - set(object_info) - {"MarkdownNote"})
    if other_packs:
        pytest.skip(f"{name} uses {other_packs}, another pack's nodes this server does not have (its thumbnail is "
                    "drawn with that pack; test_aid_shares_servers.py runs it)")
    browser.console.clear()
    workflow = frontend.load_template(browser, name)
    dialogs = frontend.open_dialogs(browser)
    models = [model for node in workflow["nodes"] for model in node["properties"].get("models", [])]
    missing_models = [text for text in dialogs if "models" in text.lower() and "download" in text.lower()]
    assert len(dialogs) == len(missing_models) <= 1, f"{name}: unexpected dialogs {dialogs}"
    # The test server has none of the real models: the dialog offers each one, from its metadata, downloadable.
    for model in models:
        assert missing_models and f"{model['directory']} / {model['name']}" in missing_models[0], (name, model)
    assert not missing_models or "not allowed" not in missing_models[0] and "Invalid directory" not in missing_models[0]
    if dialogs:
        frontend.close_dialogs(browser)

    assert _comparable(frontend.graph_to_prompt(browser), object_info) == _comparable(
        ui_to_api(workflow, object_info, unlisted_files=MODEL_WIDGETS), object_info)

    saved = {node["id"]: node for node in workflow["nodes"]}
    drawn = frontend.canvas_nodes(browser)
    for node in drawn:
        width, height = saved[node["id"]]["size"]
        assert width >= node["min"][0] and height >= node["min"][1], (
            f"{name}: node {node['id']} ({node['title']}) is {width}x{height}, the front end needs {node['min']}")
    for i, a in enumerate(drawn):
        for b in drawn[i + 1:]:
            assert not _overlap(a["bounding"], b["bounding"]), f"{name}: '{a['title']}' and '{b['title']}' overlap"

    # The images the workflows load are on the test server (conftest writes a picture under each name): no 404.
    errors = [entry for entry in browser.console if entry["level"] in ("error", "exception")
              and not any(noise in entry["text"] + entry["url"] for noise in OFFLINE_NOISE)]
    assert not errors, f"{name}: console errors {errors}"


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
# What of the help panel's content reaches past its right edge or scrolls sideways: [tag, text, px too wide].
# Checked from front end 1.37 on (a panel 282 px wide in 1.37.11, 285 in 1.58.1): 1.27's is 253 px, where code spans
# such as a template's name (`aid_text_interpolation_sd15`) cannot wrap and stand out by up to 34 px.
PANEL_WIDTH_CHECKED_FROM = (1, 37)
HELP_OVERFLOW_JS = """(() => {
    const content = document.querySelector(".node-help-content");
    const right = content.getBoundingClientRect().right;
    return [content, ...content.querySelectorAll("*")].map(e => [e, Math.max(e.getBoundingClientRect().right - right,
        e.clientWidth ? e.scrollWidth - e.clientWidth : 0)]).filter(([, excess]) => excess > 1)
        .map(([e, excess]) => [e.tagName, (e.innerText || "").slice(0, 40), Math.round(excess)]);
})()"""


@pytest.mark.parametrize("locale", ["en", *docs_pages.TRANSLATED])
def test_node_help_pages_in_the_front_end(comfy_server, object_info, locale):
    executable = find_chromium()
    if executable is None:
        pytest.skip("front-end test skipped: no Chromium found (install Debian's chromium package; .ci/run does)")
    pack_nodes = sorted(name for name, info in object_info.items()
                        if info["python_module"] == f"custom_nodes.{PACK_FOLDER_NAME}")
    assert set(pack_nodes) == docs_pages.page_node_ids()
    messages = docs_pages.locale_messages(locale)["nodeDefs"] if locale != "en" else {}
    page = frontend.open_frontend(comfy_server, executable, locale=locale)
    try:
        page.evaluate("performance.setResourceTimingBufferSize(100000)")
        version = tuple(int(part) for part in page.evaluate("window.__COMFYUI_FRONTEND_VERSION__").split(".")[:2])
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
            overflow = page.evaluate(HELP_OVERFLOW_JS) if version >= PANEL_WIDTH_CHECKED_FROM else []
            assert not overflow, f"{node_id} ({locale}): wider than the help panel: {overflow}"
            assert "**" not in shown["panel"], f"{node_id} ({locale}): emphasis the renderer did not take"
            expected_title = messages[node_id]["display_name"] if messages else object_info[node_id]["display_name"]
            assert shown["title"] == expected_title, (node_id, locale)
            expected_description = messages[node_id]["description"] if messages else object_info[node_id]["description"]
            assert shown["description"] == expected_description, (node_id, locale)
    finally:
        page.close()


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
def test_blueprint_in_the_real_front_end(browser, comfy_server, object_info, test_checkpoints, name):
    """A blueprint's node wired to a checkpoint loader, loaded in the front end (v0.12.1's 1.37): no dialog, no
    console error, and the prompt the front end makes of it (the subgraph flattened) is the one the host suite runs
    against the blueprint's template (test_blueprints.py)."""
    blueprint_runs.listed_blueprints(comfy_server)
    browser.console.clear()
    workflow = blueprint_runs.blueprint_run(name, test_checkpoints["v1-5-pruned-emaonly-fp16.safetensors"].name,
                                            {"steps": 3})
    browser.evaluate(f"window.app.loadGraphData({json.dumps(workflow)}, true, true, {json.dumps(name)})")
    assert frontend.open_dialogs(browser) == [], name
    assert _canonical(frontend.graph_to_prompt(browser), object_info) == _canonical(
        ui_to_api(expand_subgraphs(workflow), object_info, unlisted_files=MODEL_WIDGETS), object_info)
    errors = [entry for entry in browser.console if entry["level"] in ("error", "exception")
              and not any(noise in entry["text"] + entry["url"] for noise in OFFLINE_NOISE)]
    assert not errors, f"{name}: console errors {errors}"
