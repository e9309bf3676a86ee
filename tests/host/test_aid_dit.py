"""AID on diffusion transformers (Flux, Qwen-Image, SD3, SD3.5's MMDiT-X) inside ComfyUI's real sampler,
on tiny random-weight models built from ComfyUI's own configs.

Conditionings are random tensors of the families' layout (tokens and pooled outputs; Flux guidance):
their text encoders cannot be built small, and the patch only sees their shapes.
"""


import pytest
import torch

import tiny_models
import joint_formulas
from aid_support import FRAMES, dit_conditioning, make_dit_sequence
from joint_formulas import OverrideRecorder
from sync_audit import (assert_one_graph_per_model_call, capture_attention_calls, replay_on_fake_cuda,
                        with_pytorch_attention)

FAMILIES = {
    "flux": (tiny_models.build_flux_model_patcher, 1.0),  # Flux dev samples at cfg 1 with guidance
    "qwen_image": (tiny_models.build_qwen_image_model_patcher, 4.0),
    "sd3": (tiny_models.build_sd3_model_patcher, 4.0),
    "sd35_mmdit_x": (lambda: tiny_models.build_sd3_model_patcher(mmdit_x=True), 4.0),
}


@pytest.fixture(scope="module")
def models():
    return {name: build() for name, (build, _) in FAMILIES.items()}


@pytest.fixture(scope="module")
def dit_sequence(n):
    return make_dit_sequence(n)


def dit_patch(n, model, schedule, mode="outer", fused=True, layers="self + cross", end=1.0, uncond=False):
    return n.aid_nodes.AIDAttentionPatch.execute(model, schedule, mode, fused, layers, 0.0, end, uncond).args[0]


def dit_sample(model, seq, cfg, steps=2, positive=None):
    import nodes as comfy_nodes

    return comfy_nodes.common_ksampler(model, 5, steps, cfg, "euler", "simple", positive or seq["positive"],
                                       seq["negative"], seq["latent"])[0]["samples"]


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("mode, fused", [("outer", True), ("inner", True), ("outer", False)])
def test_endpoints_are_plain_generations(n, models, dit_sequence, family, mode, fused):
    model, cfg = models[family], FAMILIES[family][1]
    plain = dit_sample(model, dit_sequence, cfg)
    patched = dit_sample(dit_patch(n, model, dit_sequence["schedule"], mode, fused), dit_sequence, cfg)
    assert torch.equal(patched[0], plain[0]) and torch.equal(patched[-1], plain[-1])
    for k in range(1, FRAMES - 1):
        assert not torch.allclose(patched[k], plain[k], atol=1e-4), f"in-between frame {k} unchanged by AID"
    assert torch.isfinite(patched).all()


def _expected(call, weights, mode, fused, tokens, n):
    return joint_formulas.expected(call, weights, mode, fused, tokens, n.attention_patch)


@pytest.mark.parametrize("family", ["flux", "qwen_image", "sd35_mmdit_x"])
@pytest.mark.parametrize("mode, fused", [("outer", True), ("outer", False), ("inner", True), ("inner", False)])
@pytest.mark.parametrize("layers, tokens", [("self + cross", "all"), ("self", "image"), ("cross", "text")])
def test_joint_attention_computes_the_paper_formulas(n, models, dit_sequence, family, mode, fused, layers, tokens):
    """Every attention of two sampling steps (cfg > 1: the negative chunk stays plain), recomputed."""
    patched = dit_patch(n, models[family], dit_sequence["schedule"], mode, fused, layers)
    options = patched.model_options["transformer_options"]
    recorder = OverrideRecorder(options["optimized_attention_override"])
    options["optimized_attention_override"] = recorder
    dit_sample(patched, dit_sequence, cfg=4.0, steps=2)
    weights = n.attention_patch.AIDConfig(coefficients=dit_sequence["schedule"].coefficients).weights
    kinds = set()
    for call in recorder.calls:
        layout = n.attention_patch.layout_of(call["options"])
        kinds.add("joint" if call["q"].shape[2] == layout.text + layout.image else "image-only")
        expected = _expected(call, weights, mode, fused, tokens, n)
        torch.testing.assert_close(call["out"].double(), expected, rtol=1e-4, atol=1e-5)
    assert "joint" in kinds and (family != "sd35_mmdit_x" or "image-only" in kinds)
    assert all([(segment.a, segment.b) for segment in n.attention_patch.plan_of(call["options"]).segments] == [(5, 9)]
               for call in recorder.calls), \
        "with cfg > 1 the positive chunk (the second) interpolates, the negative stays plain"


def test_window_and_cfg_one(n, models, dit_sequence):
    """Flux at cfg 1 (one chunk), AID on the first of two steps only."""
    patched = dit_patch(n, models["flux"], dit_sequence["schedule"], end=0.5)
    options = patched.model_options["transformer_options"]
    recorder = OverrideRecorder(options["optimized_attention_override"])
    options["optimized_attention_override"] = recorder
    dit_sample(patched, dit_sequence, cfg=1.0, steps=2)
    active = [[(segment.a, segment.b) for segment in n.attention_patch.plan_of(call["options"]).segments]
              for call in recorder.calls]
    per_step = len(active) // 2
    assert active[:per_step] == [[(0, 4)]] * per_step and active[per_step:] == [[]] * per_step


def test_guide_prompt_paid(n, models, dit_sequence):
    guided = n.conditioning_nodes.ConditioningInterpolationBatch.execute(
        dit_conditioning(1), dit_conditioning(2), dit_sequence["schedule"], "lerp", "error", guide=dit_conditioning(4)).args[0]
    model = models["flux"]
    plain = dit_sample(model, dit_sequence, 1.0, positive=guided)
    patched = dit_sample(dit_patch(n, model, dit_sequence["schedule"]), dit_sequence, 1.0, positive=guided)
    assert torch.equal(patched[0], plain[0]) and torch.equal(patched[-1], plain[-1])
    assert not torch.allclose(patched[2], plain[2], atol=1e-4)


def test_existing_override_and_block_patch_are_chained(n, models, dit_sequence):
    model = models["flux"].clone()
    seen = {"override": 0, "block": 0}

    def override(func, *args, **kwargs):
        seen["override"] += 1
        return func(*args, **kwargs)

    def block_patch(args, extra):
        seen["block"] += 1
        return extra["original_block"](args)

    model.model_options["transformer_options"]["optimized_attention_override"] = override
    model.set_model_patch_replace(block_patch, "dit", "double_block", 0)
    before = dit_sample(model, dit_sequence, 1.0)
    seen.update(override=0, block=0)
    after = dit_sample(dit_patch(n, model, dit_sequence["schedule"]), dit_sequence, 1.0)
    assert seen["block"] == 2, "the block patch that was there runs on both steps"
    assert seen["override"] >= 8, "the override that was there computes every attention (2 steps x 4 blocks)"
    assert torch.equal(after[0], before[0]) and torch.equal(after[-1], before[-1])


def test_lora_and_half_precision(n, dit_sequence):
    model = tiny_models.build_flux_model_patcher(seed=1, dtype=torch.bfloat16)
    key = "diffusion_model.double_blocks.0.img_attn.qkv.weight"
    weight = model.model.state_dict()[key]
    model.add_patches({key: (torch.randn_like(weight, dtype=torch.float32) * 0.05,)}, strength_patch=1.0)
    plain = dit_sample(model, dit_sequence, 1.0)
    patched = dit_sample(dit_patch(n, model, dit_sequence["schedule"]), dit_sequence, 1.0)
    assert torch.equal(patched[0], plain[0]) and torch.equal(patched[-1], plain[-1])
    assert torch.isfinite(patched).all()


def test_patched_joint_attention_makes_no_device_sync(n, models, dit_sequence):
    """Flux attention calls captured in real sampling, replayed on fake CUDA tensors (flash and efficient)."""
    patched = dit_patch(n, models["flux"], dit_sequence["schedule"], end=0.5)
    aid_override, captured = capture_attention_calls(patched, lambda: dit_sample(patched, dit_sequence, cfg=1.0,
                                                                                 steps=2))
    for dtype in (torch.bfloat16, torch.float32):
        events = replay_on_fake_cuda(aid_override, captured, n.attention_patch, dtype)
        assert all(call == [] for call in events), events


@pytest.mark.parametrize("family", ["flux", "qwen_image", "sd35_mmdit_x"])
def test_patched_transformer_is_one_graph(n, models, dit_sequence, family):
    """With PyTorch attention (an override, as ``--use-pytorch-cross-attention`` gives on CPU), the patched
    transformer body is one graph without breaks, window on and off."""
    base = with_pytorch_attention(models[family])
    patched = dit_patch(n, base, dit_sequence["schedule"], end=0.5)
    assert_one_graph_per_model_call(n, base.get_model_object("diffusion_model"),
                                    lambda: dit_sample(patched, dit_sequence, cfg=4.0, steps=2))


def test_flux_kontext_reference_image_tokens(n, models, dit_sequence):
    """Kontext appends a reference latent's tokens to the image part: they join as image tokens."""
    reference = torch.randn(1, 16, 8, 8, generator=torch.Generator().manual_seed(9))
    positive = [[c, {**o, "reference_latents": [reference]}] for c, o in dit_sequence["positive"]]
    model = models["flux"]
    plain = dit_sample(model, dit_sequence, 1.0, positive=positive)
    patched = dit_patch(n, model, dit_sequence["schedule"], layers="self")
    options = patched.model_options["transformer_options"]
    recorder = OverrideRecorder(options["optimized_attention_override"])
    options["optimized_attention_override"] = recorder
    out = dit_sample(patched, dit_sequence, 1.0, positive=positive)
    assert torch.equal(out[0], plain[0]) and torch.equal(out[-1], plain[-1])
    layout = n.attention_patch.layout_of(recorder.calls[0]["options"])
    assert layout.image == 8 * 8 + 4 * 4, "64 latent tokens and 16 reference tokens"
    weights = n.attention_patch.AIDConfig(coefficients=dit_sequence["schedule"].coefficients).weights
    for call in recorder.calls:
        torch.testing.assert_close(call["out"].double(), _expected(call, weights, "outer", True, "image", n),
                                   rtol=1e-4, atol=1e-5)
