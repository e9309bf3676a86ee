"""The UI -> API converter on the front-end constructs our workflows may contain, checked by hand and
then accepted and executed by the real server."""

import pytest

from ui_workflow import WorkflowError, ui_to_api


def _graph():
    def node(node_id, node_type, inputs=(), widgets=(), mode=0, outputs=()):
        return {"id": node_id, "type": node_type, "mode": mode, "inputs": list(inputs), "outputs": list(outputs),
                "widgets_values": list(widgets), "pos": [0, 0], "size": [200, 100], "flags": {}, "properties": {}}

    return {
        "nodes": [
            node(1, "EmptyLatentImage", inputs=[{"name": "width", "type": "INT", "widget": {"name": "width"}, "link": 1}],
                 widgets=[512, 64, 2]),
            node(2, "PrimitiveNode", widgets=[96, "fixed"]),
            node(3, "Reroute", inputs=[{"name": "", "type": "*", "link": 2}]),
            node(4, "LatentUpscaleBy", inputs=[{"name": "samples", "type": "LATENT", "link": 3}],
                 widgets=["nearest-exact", 1.5], mode=4),
            node(5, "SaveLatent", inputs=[{"name": "samples", "type": "LATENT", "link": 4}],
                 widgets=["inbetween_tests/converter"]),
            node(6, "LatentBlend", inputs=[{"name": "samples1", "type": "LATENT", "link": 5},
                                          {"name": "samples2", "type": "LATENT", "link": 6}],
                 widgets=[0.5], mode=2),
            node(7, "Note", widgets=["notes are ignored"]),
        ],
        "links": [
            [1, 2, 0, 1, 0, "INT"],
            [2, 1, 0, 3, 0, "LATENT"],
            [3, 3, 0, 4, 0, "LATENT"],
            [4, 4, 0, 5, 0, "LATENT"],
            [5, 4, 0, 6, 0, "LATENT"],
            [6, 1, 0, 6, 1, "LATENT"],
        ],
    }


def test_primitive_reroute_bypass_mute_and_note(object_info, comfy_server):
    prompt = ui_to_api(_graph(), object_info)
    assert prompt == {
        "1": {"class_type": "EmptyLatentImage", "inputs": {"width": 96, "height": 64, "batch_size": 2},
              "_meta": {"title": object_info["EmptyLatentImage"]["display_name"]}},
        "5": {"class_type": "SaveLatent", "inputs": {"samples": ["1", 0], "filename_prefix": "inbetween_tests/converter"},
              "_meta": {"title": object_info["SaveLatent"]["display_name"]}},
    }
    entry = comfy_server.run_prompt(prompt)
    assert any(path.suffix == ".latent" and path.exists() for path in comfy_server.output_files(entry))


def test_seed_control_value_is_skipped(object_info):
    graph = {"nodes": [{"id": 9, "type": "KSampler", "mode": 0, "inputs": [], "outputs": [],
                        "widgets_values": [123, "randomize", 4, 5.0, "euler", "normal", 0.75]}], "links": []}
    inputs = ui_to_api(graph, object_info)["9"]["inputs"]
    assert inputs == {"seed": 123, "steps": 4, "cfg": 5.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 0.75}


def test_out_of_range_number_is_named(object_info):
    graph = _graph()
    graph["nodes"][0]["widgets_values"][1] = -5
    with pytest.raises(WorkflowError, match=r"node 1 \(EmptyLatentImage\): widget 'height': -5 is outside"):
        ui_to_api(graph, object_info)
