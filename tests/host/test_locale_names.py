"""Translated input and output names: the real server's /object_info against each ``locales/<locale>/main.json``,
and what the real front end (the comfyui-frontend-package the server serves) labels the slots and widgets of every
node of the pack in that locale.

The front ends (1.27 to the newest) name an input ``nodeDefs.<NodeId>.inputs.<input>.name`` (its socket's
``localized_name`` and its widget's ``label``) and an output ``nodeDefs.<NodeId>.outputs.<index>.name``, except an
output named as its type (``LATENT``), which they name by their own ``dataTypes.<TYPE>`` and never by the pack's key.

Nodes 2.0 (the renderer that draws nodes as page elements, ``Comfy.VueNodes.Enabled``, a user setting from 1.30 on;
1.27's hidden experiment is left out) shows the same names, none cut short.

Without a Chromium (``.ci/run`` installs the distribution's package) the browser test is skipped and says why.
"""

import json

import docs_pages
import frontend
import pytest
from browser import BrowserError
from server import PACK_FOLDER_NAME

# A slot's label shares the node's width with its widget's value: names are words, not sentences.
NAME_LIMIT = 12
# Parameters of a formula, named as the tooltips and pages write them: the only names that stay the English ones.
KEPT_ENGLISH = {"alpha", "beta"}

# One node of ``type`` alone on the canvas.
PLACE_JS = """(type => {
    window.app.graph.clear();
    const node = window.LiteGraph.createNode(type);
    window.app.graph.add(node);
    return node;
})"""
# What the front end shows for each slot and widget of that node.
LABELS_JS = f"""(type => {{
    const node = {PLACE_JS}(type);
    const shown = slot => slot.label || slot.localized_name || slot.name;
    return {{inputs: Object.fromEntries(node.inputs.map(slot => [slot.name, shown(slot)])),
             outputs: node.outputs.map(shown),
             widgets: Object.fromEntries((node.widgets ?? []).map(widget => [widget.name, widget.label ?? null]))}};
}})"""

VUE_NODES = "Comfy.VueNodes.Enabled"
# Nodes 2.0 as users find it: a setting they can see (1.27 has it hidden, an experiment that ignores the graph).
HAS_VUE_NODES_JS = f"(window.app.ui.settings.settingsLookup?.[{json.dumps(VUE_NODES)}]?.type ?? 'hidden') !== 'hidden'"
# The text of every leaf element of the Nodes 2.0 node ``id``, with its width and the width it is given.
VUE_TEXTS_JS = """(id => [...document.querySelectorAll(`[data-node-id="${id}"] *`)]
    .filter(element => element.children.length === 0 && element.textContent.trim())
    .map(element => ({text: element.textContent.trim(), width: element.scrollWidth, given: element.clientWidth})))"""


def _pack_nodes(object_info: dict) -> dict:
    return {name: info for name, info in object_info.items()
            if info["python_module"] == f"custom_nodes.{PACK_FOLDER_NAME}"}


def _input_names(info: dict) -> list[str]:
    return [*info["input"].get("required", {}), *info["input"].get("optional", {})]


def _named_outputs(info: dict) -> list[int]:
    """Indexes of the outputs the front end names by the pack's key (those not named as their type)."""
    return [index for index, (kind, name) in enumerate(zip(info["output"], info["output_name"])) if name != kind]


@pytest.mark.parametrize("locale", docs_pages.TRANSLATED)
def test_every_input_and_output_has_a_translated_name(object_info, locale):
    messages = docs_pages.locale_messages(locale)["nodeDefs"]
    for node_id, info in _pack_nodes(object_info).items():
        entry = messages[node_id]
        inputs = [entry["inputs"][name].get("name", "") for name in _input_names(info)]
        named = _named_outputs(info)
        outputs = [entry["outputs"].get(str(index), {}).get("name", "") for index in named]
        english = [*_input_names(info), *(info["output_name"][index] for index in named)]
        for name, source in zip([*inputs, *outputs], english):
            assert name.strip() == name and 0 < len(name) <= NAME_LIMIT, (node_id, source, name)
            assert name != source or source in KEPT_ENGLISH, f"{node_id}: '{source}' is not translated"
        assert len(set(inputs)) == len(inputs), (node_id, inputs)
        assert len(set(outputs)) == len(outputs), (node_id, outputs)
        unread = [index for index in range(len(info["output"])) if index not in named
                  and "name" in entry["outputs"].get(str(index), {})]
        assert not unread, f"{node_id}: outputs {unread} are named as their type; the front end never reads a name"


@pytest.mark.parametrize("locale", docs_pages.TRANSLATED)
def test_the_front_end_shows_the_translated_names(comfy_server, object_info, locale):
    executable = frontend.chromium()
    messages = docs_pages.locale_messages(locale)["nodeDefs"]
    page = frontend.open_frontend(comfy_server, executable, locale=locale)
    try:
        for node_id, info in _pack_nodes(object_info).items():
            shown = page.evaluate(f"{LABELS_JS}({json.dumps(node_id)})")
            entry = messages[node_id]
            for name in _input_names(info):
                expected = entry["inputs"][name]["name"]
                if name in shown["widgets"]:
                    assert shown["widgets"][name] == expected, (node_id, name, shown["widgets"][name])
                if name in shown["inputs"]:
                    assert shown["inputs"][name] == expected, (node_id, name, shown["inputs"][name])
                assert name in shown["widgets"] or name in shown["inputs"], (node_id, name, shown)
            for index, (kind, name) in enumerate(zip(info["output"], info["output_name"])):
                label = shown["outputs"][index]
                if name != kind:
                    assert label == entry["outputs"][str(index)]["name"], (node_id, index, label)
                else:  # the front end's own translation of the type
                    assert label != name, (node_id, index, label)
            assert len(set(shown["outputs"])) == len(shown["outputs"]), (node_id, shown["outputs"])
    finally:
        page.close()


@pytest.mark.parametrize("locale", docs_pages.TRANSLATED)
def test_nodes_2_0_shows_the_translated_names(comfy_server, object_info, locale):
    executable = frontend.chromium()
    messages = docs_pages.locale_messages(locale)["nodeDefs"]
    # Every page the suite opens sets Nodes 2.0 as it asks (off unless asked), so no later page gets it.
    page = frontend.open_frontend(comfy_server, executable, locale=locale, settings={VUE_NODES: True})
    try:
        if not page.evaluate(HAS_VUE_NODES_JS):
            pytest.skip("this front end has no Nodes 2.0 setting")
        for node_id, info in _pack_nodes(object_info).items():
            entry = messages[node_id]
            expected = [entry["inputs"][name]["name"] for name in _input_names(info)]
            expected += [entry["outputs"][str(index)]["name"] for index in _named_outputs(info)]
            shown_id = page.evaluate(f"{PLACE_JS}({json.dumps(node_id)}).id")
            texts_js = f"{VUE_TEXTS_JS}({json.dumps(shown_id)})"
            try:  # the node's rows appear one render after another
                page.wait_for(f"(texts => {json.dumps(expected)}.every(name => texts.some(t => t.text === name)))"
                              f"({texts_js})", timeout=30, what=f"{node_id}'s names in Nodes 2.0")
            except BrowserError:
                pass  # the assertion says which name is missing
            texts = page.evaluate(texts_js)
            for name in expected:
                found = [text for text in texts if text["text"] == name]
                assert found, f"{node_id} in Nodes 2.0 does not show '{name}': {[t['text'] for t in texts]}"
                assert all(text["width"] <= text["given"] for text in found), (node_id, name, found)
    finally:
        page.close()
