"""Translated input and output names: the real server's /object_info against each ``locales/<locale>/main.json``,
and what the real front end (the comfyui-frontend-package the server serves) labels the slots and widgets of every
node of the pack in that locale.

The front ends (1.27 to the newest) name an input ``nodeDefs.<NodeId>.inputs.<input>.name`` (its socket's
``localized_name`` and its widget's ``label``) and an output ``nodeDefs.<NodeId>.outputs.<index>.name``, except an
output named as its type (``LATENT``), which they name by their own ``dataTypes.<TYPE>`` and never by the pack's key.

Without a Chromium (``.ci/run`` installs the distribution's package) the browser test is skipped and says why.
"""

import json

import docs_pages
import frontend
import pytest
from browser import find_chromium
from server import PACK_FOLDER_NAME

# A slot's label shares the node's width with its widget's value: names are words, not sentences.
NAME_LIMIT = 12
# Parameters of a formula, named as the tooltips and pages write them: the only names that stay the English ones.
KEPT_ENGLISH = {"alpha", "beta"}

# What the front end shows for each slot and widget of a node it creates.
LABELS_JS = """(type => {
    window.app.graph.clear();
    const node = window.LiteGraph.createNode(type);
    window.app.graph.add(node);
    const shown = slot => slot.label || slot.localized_name || slot.name;
    return {inputs: Object.fromEntries(node.inputs.map(slot => [slot.name, shown(slot)])),
            outputs: node.outputs.map(shown),
            widgets: Object.fromEntries((node.widgets ?? []).map(widget => [widget.name, widget.label ?? null]))};
})"""


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
    executable = find_chromium()
    if executable is None:
        pytest.skip("front-end test skipped: no Chromium found (install Debian's chromium package; .ci/run does)")
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
