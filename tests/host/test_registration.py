"""The pack loads through ComfyUI's own custom-node loader and follows the pack's naming rules."""

import asyncio
import re

import pytest

import comfy_host


@pytest.fixture(scope="module")
def registered():
    import nodes as comfy_nodes

    loaded = asyncio.run(comfy_nodes.load_custom_node(str(comfy_host.PACK_DIR)))
    assert loaded, "ComfyUI's load_custom_node refused the pack (see the log above)"
    return comfy_nodes


def test_every_pack_node_is_registered_by_comfyui(registered, pack):
    assert pack.nodes.NODES
    ids = [node.GET_SCHEMA().node_id for node in pack.nodes.NODES]
    assert len(ids) == len(set(ids))
    for node_id in ids:
        assert node_id in registered.NODE_CLASS_MAPPINGS, node_id
        assert registered.NODE_DISPLAY_NAME_MAPPINGS[node_id]


@pytest.mark.parametrize("node", comfy_host.load_pack().nodes.NODES, ids=lambda node: node.__name__)
def test_node_naming_category_and_tooltips(node):
    schema = node.GET_SCHEMA()
    assert re.fullmatch(r"Inbetween[A-Z][A-Za-z0-9]+", schema.node_id), schema.node_id
    assert schema.node_id == "Inbetween" + node.__name__, "one naming pattern: the class is its node id unprefixed"
    assert schema.display_name == node.DISPLAY_NAME
    assert schema.display_name and not schema.display_name.lower().startswith("inbetween")
    assert re.fullmatch(r"[A-Z][A-Za-z0-9 /()-]+", schema.display_name), schema.display_name
    assert schema.category.startswith("inbetween/"), schema.category
    assert schema.description
    for item in schema.inputs:
        assert item.tooltip, f"{schema.node_id}: input '{item.id}' has no tooltip"
