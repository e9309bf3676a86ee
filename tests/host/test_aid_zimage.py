"""AID on Z-Image (ComfyUI v0.12 on) inside ComfyUI's real sampler, on a tiny random-weight Z-Image that ComfyUI's
model detection classes as ``ZImage``.

The latent is 16x12 (8x6 = 48 image patches, padded to 64 by Z-Image's pad tokens) and the prompts 12 tokens
(padded to 32): the main layers' joint sequence is 96 tokens, the context refiner's 32, the noise refiner's 64, so
every attention is told apart by its length, and both kinds of padding are in play.
"""

import pytest
import torch

import joint_formulas
import tiny_models
from aid_support import FRAMES, make_dit_sequence, patch
from joint_formulas import OverrideRecorder
from sync_audit import (assert_one_graph_per_model_call, capture_attention_calls, replay_on_fake_cuda,
                        with_pytorch_attention)


pytestmark = pytest.mark.skipif("not tiny_models.host_has('ZImage')", reason="Z-Image exists from ComfyUI v0.12 on")

CAPTION, IMAGE = 32, 64  # padded token counts of the main layers' [caption; image]


@pytest.fixture(scope="module")
def model():
    return tiny_models.build_z_image_model_patcher(seed=0)


@pytest.fixture(scope="module")
def sequence(n):
    seq = make_dit_sequence(n)
    return {**seq, "latent": {"samples": torch.zeros(FRAMES, 16, 16, 12), "batch_index": [0] * FRAMES}}


def _sample(model, seq, cfg=4.0, steps=2):
    import nodes as comfy_nodes

    return comfy_nodes.common_ksampler(model, 5, steps, cfg, "euler", "simple", seq["positive"], seq["negative"],
                                       seq["latent"])[0]["samples"]


class BlockRecorder(OverrideRecorder):
    """Also keeps, per call, the block the model said it was in when the attention ran."""

    def __call__(self, func, *args, **kwargs):
        options = kwargs["transformer_options"]
        out = super().__call__(func, *args, **kwargs)
        self.calls[-1]["block"] = (options.get("block_type"), options.get("block_index"))
        return out


def _recorded(n, model, seq, cfg=4.0, steps=2, **settings):
    patched = patch(n, model, seq["schedule"], **settings)
    options = patched.model_options["transformer_options"]
    recorder = BlockRecorder(options["optimized_attention_override"])
    options["optimized_attention_override"] = recorder
    return _sample(patched, seq, cfg, steps), recorder.calls


def test_model_is_detected_as_z_image(model):
    assert type(model.model.model_config).__name__ == "ZImage"
    assert model.model.diffusion_model.pad_tokens_multiple == 32


@pytest.mark.parametrize("mode, fused", [("outer", True), ("inner", True), ("outer", False)])
def test_endpoints_are_plain_generations(n, model, sequence, mode, fused):
    plain = _sample(model, sequence)
    frames = _sample(patch(n, model, sequence["schedule"], mode, fused), sequence)
    assert torch.equal(frames[0], plain[0]) and torch.equal(frames[-1], plain[-1])
    for k in range(1, FRAMES - 1):
        assert not torch.allclose(frames[k], plain[k], atol=1e-4), f"in-between frame {k} unchanged by AID"
    assert torch.isfinite(frames).all()


@pytest.mark.parametrize("mode, fused", [("outer", True), ("outer", False), ("inner", True), ("inner", False)])
@pytest.mark.parametrize("layers, tokens", [("self + cross", "all"), ("self", "image"), ("cross", "text")])
def test_main_layers_compute_the_paper_formulas_refiners_stay_plain(n, model, sequence, mode, fused, layers, tokens):
    """Every attention of two steps at cfg 4 recomputed: the main layers' [caption; image] by the formulas (padded
    caption tokens count as text), the context and noise refiners' as plain attention."""
    _, calls = _recorded(n, model, sequence, mode=mode, fused=fused, layers=layers)
    weights = n.attention_patch.AIDConfig(coefficients=sequence["schedule"].coefficients).weights
    layout = n.attention_patch.transformer.Layout(CAPTION, IMAGE, ("double_block", 0))
    lengths = {}
    for call in calls:
        length = call["q"].shape[2]
        lengths.setdefault(length, set()).add(call["block"])
        main = length == CAPTION + IMAGE
        want = joint_formulas.expected(call, weights, mode, fused, tokens, n.attention_patch, layout if main else None)
        torch.testing.assert_close(call["out"].double(), want, rtol=1e-4, atol=1e-5)
    assert lengths == {CAPTION: {(None, None)}, IMAGE: {(None, None)},
                       CAPTION + IMAGE: {("double", 0), ("double", 1)}}, lengths
    assert all([(s.a, s.b) for s in n.attention_patch.plan_of(call["options"]).segments] == [(5, 9)]
               for call in calls), "with cfg > 1 the positive chunk (the second) interpolates, the negative stays plain"


def test_turbo_eight_steps_cfg_one_default_window(n, model, sequence):
    """Z-Image Turbo's sampling (8 steps, cfg 1: one chunk) with the node's default window (end_percent 0.5): AID
    on steps 0-3, where a flow model at Z-Image's shift settles the layout, plain attention on steps 4-7."""
    plain = _sample(model, sequence, cfg=1.0, steps=8)
    patched = n.aid_nodes.AIDAttentionPatch.execute(model, sequence["schedule"], "outer", True, "self + cross",
                                                    0.0, 0.5, False).args[0]
    options = patched.model_options["transformer_options"]
    recorder = BlockRecorder(options["optimized_attention_override"])
    options["optimized_attention_override"] = recorder
    frames = _sample(patched, sequence, cfg=1.0, steps=8)
    main = [call for call in recorder.calls if call["q"].shape[2] == CAPTION + IMAGE]
    active = [[(s.a, s.b) for s in n.attention_patch.plan_of(call["options"]).segments] for call in main]
    assert len(active) == 8 * 2, "two main layers a step, one model call a step at cfg 1"
    assert active[:8] == [[(0, 4)]] * 8 and active[8:] == [[]] * 8
    assert torch.equal(frames[0], plain[0]) and torch.equal(frames[-1], plain[-1])
    assert all(not torch.allclose(frames[k], plain[k], atol=1e-4) for k in range(1, FRAMES - 1))


@pytest.mark.parametrize("max_rows", [1, 2])
def test_parts_give_the_one_batch_frames(n, model, sequence, max_rows):
    whole = _sample(patch(n, model, sequence["schedule"]), sequence)
    split = _sample(patch(n, model, sequence["schedule"], max_rows=max_rows), sequence)
    torch.testing.assert_close(split, whole, rtol=0, atol=1e-5 * whole.abs().max().item())


def test_negative_pass_interpolates_with_apply_to_uncond(n, model, sequence):
    _, calls = _recorded(n, model, sequence, uncond=True)
    main = [call for call in calls if call["block"][0] == "double"]
    assert main and all([(s.a, s.b) for s in n.attention_patch.plan_of(call["options"]).segments] == [(0, 4), (5, 9)]
                        for call in main)


def test_patched_attention_makes_no_device_sync(n, model, sequence):
    """Z-Image attention calls captured in real sampling, replayed on fake CUDA tensors (flash and efficient)."""
    patched = patch(n, model, sequence["schedule"], end=0.5)
    override, captured = capture_attention_calls(patched, lambda: _sample(patched, sequence, cfg=1.0, steps=2))
    assert any(n.attention_patch.plan_of(kwargs["transformer_options"]).active for _, _, kwargs in captured)
    for dtype in (torch.bfloat16, torch.float32):
        events = replay_on_fake_cuda(override, captured, n.attention_patch, dtype)
        assert all(call == [] for call in events), events


def test_patched_model_is_one_graph(n, model, sequence):
    """With PyTorch attention, the patched Z-Image body (its split wrapper included) is one graph, window on and
    off."""
    base = with_pytorch_attention(model)
    patched = patch(n, base, sequence["schedule"], end=0.5)
    assert_one_graph_per_model_call(n, base.get_model_object("diffusion_model"),
                                    lambda: _sample(patched, sequence, cfg=4.0, steps=2))


def test_reference_latents_are_refused_by_name(n, model, sequence):
    reference = torch.zeros(1, 16, 16, 12)
    positive = [[c, {**o, "reference_latents": [reference]}] for c, o in sequence["positive"]]
    with pytest.raises(n.errors.InbetweenInputError, match="reference latents on Z-Image"):
        _sample(patch(n, model, sequence["schedule"]), {**sequence, "positive": positive}, cfg=1.0, steps=1)


def test_lumina_2_is_refused_by_name(n, sequence):
    """Lumina 2 itself (no pad tokens, another width) is the same class; it is refused by name, not patched."""
    keys = {"cap_embedder.1.weight": (2304, tiny_models.TINY_CONTEXT), "layers.0.ffn_norm1.weight": (2304,)}
    lumina = tiny_models.shrunk_model_patcher(keys, dim=64, n_heads=2, n_kv_heads=2, axes_dims=[8, 12, 12],
                                              n_refiner_layers=1, multiple_of=32)
    assert type(lumina.model.model_config).__name__ == "Lumina2"
    with pytest.raises(n.errors.InbetweenInputError, match="Lumina 2 .* is not supported"):
        patch(n, lumina, sequence["schedule"])
