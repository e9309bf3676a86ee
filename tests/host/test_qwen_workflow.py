"""Expression edit (Qwen-Image-Edit).json and its AID variant: Qwen-Image-Edit (a 20B model and a 7B LLM encoder) cannot be built small, so
the workflow is validated against the real server's /object_info (every node type, link and widget value; model
and image file names only have to be file names) and the pack's part of it runs on conditionings of Qwen's real
shapes, with the workflow's own widget values, and ComfyUI's own ReferenceLatent node in between. The AID variant's
patch settings run on a tiny random Qwen-Image model with reference latents, endpoints exact."""

import json

import pytest
import torch

from conftest import WORKFLOWS
from ui_workflow import ui_to_api

NAMES = ["Expression edit (Qwen-Image-Edit).json", "Expression edit with AID (Qwen-Image-Edit).json"]
MODEL_FILES = frozenset({"unet_name", "lora_name", "clip_name", "vae_name", "image"})


@pytest.fixture(scope="module", params=NAMES)
def workflow(request):
    return json.loads((WORKFLOWS / request.param).read_text())


@pytest.fixture(scope="module")
def prompt(workflow, object_info):
    return ui_to_api(workflow, object_info, unlisted_files=MODEL_FILES)


def test_every_node_and_widget_is_valid_on_the_server(workflow, prompt, object_info):
    graph_nodes = [node for node in workflow["nodes"] if node["type"] != "MarkdownNote"]  # notes stay in the UI
    assert {node["type"] for node in graph_nodes} <= object_info.keys()
    assert len(prompt) == len(graph_nodes)
    types = {node["class_type"] for node in prompt.values()}
    assert {"LoraLoaderModelOnly", "TextEncodeQwenImageEdit", "ReferenceLatent", "InbetweenEncodePromptPair",
            "InbetweenEmbeddingDelta", "InbetweenAlphaBlend", "KSampler"} <= types
    clip_loader = next(node for node in prompt.values() if node["class_type"] == "CLIPLoader")
    assert clip_loader["inputs"]["type"] == "qwen_image"


def test_every_link_joins_matching_types(workflow, object_info):
    nodes = {node["id"]: node for node in workflow["nodes"]}
    for link_id, origin, slot, target, target_slot, link_type in workflow["links"]:
        produced = object_info[nodes[origin]["type"]]["output"][slot]
        socket = nodes[target]["inputs"][target_slot]
        info = object_info[nodes[target]["type"]]["input"]
        spec = {**info.get("required", {}), **info.get("optional", {})}[socket["name"]]
        expected = "COMBO" if isinstance(spec[0], list) else spec[0]
        assert produced == link_type == expected, (link_id, produced, link_type, socket["name"], expected)
        assert socket["link"] == link_id


def _qwen_conditioning(tokens, real, seed):
    """What the Qwen2.5-VL encoder gives for an edit prompt: [1, tokens, 3584], pad tokens masked (all-ones masks are
    dropped by ComfyUI), no pooled output."""
    embedding = torch.randn(1, tokens, 3584, generator=torch.Generator().manual_seed(seed))
    if real == tokens:
        return [[embedding, {}]]
    mask = torch.zeros(1, tokens, dtype=torch.long)
    mask[:, :real] = 1
    return [[embedding, {"attention_mask": mask}]]


def test_the_pack_part_runs_on_qwen_shaped_conditionings(prompt, pack):
    from comfy_extras.nodes_edit_model import ReferenceLatent

    by_type = {}
    for node_id, node in prompt.items():
        by_type.setdefault(node["class_type"], []).append(node_id)
    pair_id, = by_type["InbetweenEncodePromptPair"]
    encode_id, = by_type["VAEEncode"]
    # Stand-ins for the parts that need the real Qwen models: the encoder's outputs and the VAE's latent.
    produced = {
        (pair_id, 0): _qwen_conditioning(118, 109, seed=1), (pair_id, 1): _qwen_conditioning(118, 118, seed=2),
        (encode_id, 0): torch.randn(1, 16, 128, 128, generator=torch.Generator().manual_seed(3)),
    }
    runners = {node.GET_SCHEMA().node_id: node for node in pack.nodes.NODES}
    runners["ReferenceLatent"] = ReferenceLatent
    order = ["InbetweenBetaCoefficientSchedule", "ReferenceLatent", "InbetweenEmbeddingDelta", "InbetweenAlphaBlend"]
    for class_type in order:
        node_id, = by_type[class_type]
        inputs = {name: produced[tuple(value)] if isinstance(value, list) else value
                  for name, value in prompt[node_id]["inputs"].items()}
        if class_type == "ReferenceLatent":
            inputs["latent"] = {"samples": inputs["latent"]}
        for slot, value in enumerate(runners[class_type].execute(**inputs).args):
            produced[(node_id, slot)] = value

    alpha_id, = by_type["InbetweenAlphaBlend"]
    schedule = produced[(by_type["InbetweenBetaCoefficientSchedule"][0], 0)]
    assert schedule.coefficients[0] == 0.0 and schedule.coefficients[-1] == 1.5
    (rows, options), = produced[(alpha_id, 0)]
    frames = len(schedule)
    assert rows.shape == (frames, 118, 3584)
    neutral, target = produced[(pair_id, 0)][0][0], produced[(pair_id, 1)][0][0]
    assert torch.equal(rows[0], neutral[0])
    latent = produced[(encode_id, 0)]
    assert len(options["reference_latents"]) == 1 and torch.equal(options["reference_latents"][0], latent)
    assert options["attention_mask"].shape == (frames, 118)
    assert torch.equal(options["attention_mask"][0], produced[(pair_id, 0)][0][1]["attention_mask"][0])
    assert bool(options["attention_mask"][1:].all()), "moved rows see the target's longer prompt"
    repeat_id, = by_type["RepeatLatentBatch"]
    assert prompt[repeat_id]["inputs"]["amount"] == frames, "one latent row per alpha"
    expected_last = (neutral.double() + 1.5 * (target.double() - neutral.double())).float()
    assert torch.equal(rows[-1], expected_last[0])


def test_the_aid_variant_keeps_its_endpoints_on_a_qwen_image_model(object_info, n):
    """The AID variant's patch, with its own 0 -> 1.5 schedule and settings, on a tiny Qwen-Image model with a
    reference latent (Edit's image tokens inside the image part): the neutral and the last edit stay exact."""
    import nodes as comfy_nodes

    import tiny_models

    prompt = ui_to_api(json.loads((WORKFLOWS / NAMES[1]).read_text()), object_info, unlisted_files=MODEL_FILES)
    (patch_inputs,) = [node["inputs"] for node in prompt.values() if node["class_type"] == "InbetweenAIDAttentionPatch"]
    (schedule_inputs,) = [node["inputs"] for node in prompt.values()
                          if node["class_type"] == "InbetweenBetaCoefficientSchedule"]
    schedule = n.schedule_nodes.BetaCoefficientSchedule.execute(**schedule_inputs).args[0]
    frames = len(schedule)
    g = torch.Generator().manual_seed(0)
    reference = torch.randn(1, 16, 1, 16, 16, generator=g)  # the edited image's latent, as the Qwen VAE gives it
    rows = torch.randn(1, 10, tiny_models.TINY_CONTEXT, generator=g) + torch.linspace(0, 1.5, frames).reshape(-1, 1, 1)
    positive = [[rows, {"reference_latents": [reference]}]]
    negative = [[torch.randn(1, 10, tiny_models.TINY_CONTEXT, generator=g), {"reference_latents": [reference]}]]
    model = tiny_models.build_qwen_image_model_patcher()
    settings = {k: v for k, v in patch_inputs.items() if k not in ("model", "schedule")}
    patched = n.aid_nodes.AIDAttentionPatch.execute(model=model, schedule=schedule, **settings).args[0]
    latent = {"samples": torch.zeros(frames, 16, 16, 16), "batch_index": [0] * frames}

    def run(target):
        return comfy_nodes.common_ksampler(target, 42, 2, 2.5, "euler", "simple", positive, negative, latent)[0]["samples"]

    plain, edited = run(model), run(patched)
    assert torch.equal(edited[0], plain[0]) and torch.equal(edited[-1], plain[-1])
    assert not torch.allclose(edited[2], plain[2], atol=1e-4)
