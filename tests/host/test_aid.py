"""AID Attention Patch inside ComfyUI's real sampler, on the tiny SD1.5-shaped UNet."""

import pytest
import torch

from aid_support import FRAMES, patch, sample
from unet_formulas import Recorder
from unet_formulas import expected as _expected


@pytest.mark.parametrize("cfg", [5.0, 1.0], ids=["cfg5-two-chunks", "cfg1-one-chunk"])
@pytest.mark.parametrize("mode, fused", [("outer", True), ("inner", True), ("outer", False)])
def test_endpoints_are_plain_generations_in_betweens_are_not(n, tiny_model, sequence, cfg, mode, fused):
    plain = sample(tiny_model, sequence, cfg)
    patched = sample(patch(n, tiny_model, sequence["schedule"], mode, fused), sequence, cfg)
    assert torch.equal(patched[0], plain[0]), "frame A must be exactly the plain generation"
    assert torch.equal(patched[-1], plain[-1]), "frame B must be exactly the plain generation"
    for k in range(1, FRAMES - 1):
        assert not torch.allclose(patched[k], plain[k], atol=1e-3), f"in-between frame {k} unchanged by AID"
    assert torch.isfinite(patched).all()


def test_input_model_is_not_modified(n, tiny_model, sequence):
    before = dict(tiny_model.model_options["transformer_options"])
    patched = patch(n, tiny_model, sequence["schedule"])
    assert patched is not tiny_model
    assert tiny_model.model_options["transformer_options"] == before
    assert "patches_replace" in patched.model_options["transformer_options"]


@pytest.mark.parametrize("mode, fused", [("outer", True), ("outer", False), ("inner", True), ("inner", False)])
@pytest.mark.parametrize("layer", ["attn1", "attn2"], ids=["self", "cross"])
def test_patch_computes_the_paper_formulas_on_captured_qkv(n, tiny_model, sequence, mode, fused, layer):
    patched = patch(n, tiny_model, sequence["schedule"], mode, fused)
    key = ("input", 1, 0)
    recorder = Recorder(patched.model_options["transformer_options"]["patches_replace"][layer][key])
    patched.set_model_patch_replace(recorder, layer, *key)
    sample(patched, sequence, cfg=5.0, steps=2)
    assert len(recorder.calls) == 2 and recorder.calls[0]["chunks"] in ([1, 0], [0, 1])
    for call in recorder.calls:
        expected = _expected(call, sequence["schedule"].coefficients, mode, fused, uncond=False)
        torch.testing.assert_close(call["out"].double(), expected, rtol=1e-4, atol=1e-5)


def test_a_sweep_beyond_one_blends_by_weights_relative_to_its_endpoints(n, tiny_model, sequence):
    """A schedule 0 -> 1.5 (an alpha sweep) gives AID the weights (c_k - c_0) / (c_last - c_0): 0.25, 0.5, 0.75,
    never 1.125 (which would blend with a negative 1 - t)."""
    sweep = n.schedule_nodes.BetaCoefficientSchedule.execute(
        frames=FRAMES, preset="uniform", steps=20, alpha=2.0, beta=2.0, start=0.0, end=1.5).args[0]
    patched = patch(n, tiny_model, sweep)
    key = ("input", 1, 0)
    recorder = Recorder(patched.model_options["transformer_options"]["patches_replace"]["attn1"][key])
    patched.set_model_patch_replace(recorder, "attn1", *key)
    sample(patched, sequence, steps=1)
    relative = [0.0, 0.25, 0.5, 0.75, 1.0]
    torch.testing.assert_close(recorder.calls[0]["out"].double(),
                               _expected(recorder.calls[0], relative, "outer", True, uncond=False), rtol=1e-4, atol=1e-5)


def test_apply_to_uncond_interpolates_the_negative_chunk(n, tiny_model, sequence):
    patched = patch(n, tiny_model, sequence["schedule"], uncond=True)
    key = ("middle", 0, 0)
    recorder = Recorder(patched.model_options["transformer_options"]["patches_replace"]["attn1"][key])
    patched.set_model_patch_replace(recorder, "attn1", *key)
    sample(patched, sequence, steps=1)
    call = recorder.calls[0]
    expected = _expected(call, sequence["schedule"].coefficients, "outer", True, uncond=True)
    torch.testing.assert_close(call["out"].double(), expected, rtol=1e-4, atol=1e-5)


def test_active_window_follows_the_steps(n, tiny_model, sequence):
    """end_percent 0.5 of 4 steps: AID on steps 0 and 1, plain attention on steps 2 and 3."""
    patched = patch(n, tiny_model, sequence["schedule"], end=0.5)
    key = ("input", 1, 0)
    recorder = Recorder(patched.model_options["transformer_options"]["patches_replace"]["attn1"][key])
    patched.set_model_patch_replace(recorder, "attn1", *key)
    sample(patched, sequence, steps=4)
    coefficients = sequence["schedule"].coefficients
    plain_rows = lambda call: _expected(dict(call, chunks=[1] * len(call["chunks"])), coefficients,  # noqa: E731
                                        "outer", True, uncond=False)
    for step, call in enumerate(recorder.calls):
        interpolated = _expected(call, coefficients, "outer", True, uncond=False)
        reference = interpolated if step < 2 else plain_rows(call)
        torch.testing.assert_close(call["out"].double(), reference, rtol=1e-4, atol=1e-5)


class PlainPlusZero:
    """An additive replace patch like IP-Adapter's (plain attention + its own term, here zero).

    Calls are counted on the class: ComfyUI deep-copies patch objects whenever it clones a model.
    """

    calls = 0

    def __call__(self, q, k, v, options):
        import comfy.ldm.modules.attention as attention

        type(self).calls += 1
        return attention.optimized_attention(q, k, v, options["n_heads"], attn_precision=options.get("attn_precision"),
                                             transformer_options=options)


def test_existing_replace_patch_is_wrapped_and_still_called(n, tiny_model, sequence):
    with_adapter = tiny_model.clone()
    with_adapter.set_model_attn2_replace(PlainPlusZero(), "input", 1)  # the (block, number) key IP-Adapter nodes use
    reference = sample(patch(n, tiny_model, sequence["schedule"]), sequence, steps=2)
    patched = patch(n, with_adapter, sequence["schedule"])
    PlainPlusZero.calls = 0
    out = sample(patched, sequence, steps=2)
    # AID claims the block-wide key too; the per-index patch falls back to it, as ComfyUI's lookup would.
    assert PlainPlusZero.calls == 2, "the block-wide patch runs once per step, on the whole batch"
    # The adapter adds nothing, so wrapping it must not change AID's result.
    torch.testing.assert_close(out, reference, rtol=0, atol=1e-5 * reference.abs().max().item())


def test_existing_attention_override_is_still_used(n, tiny_model, sequence):
    calls = []

    def override(func, *args, **kwargs):
        calls.append(args[0].shape[0])
        return func(*args, **kwargs)

    with_override = tiny_model.clone()
    with_override.model_options["transformer_options"]["optimized_attention_override"] = override
    patched = patch(n, with_override, sequence["schedule"])
    assert patched.model_options["transformer_options"]["optimized_attention_override"] is override
    sample(patched, sequence, steps=1)
    assert calls, "the plain attention of the endpoint and negative rows goes through the existing override"


def test_second_aid_patch_replaces_the_first(n, tiny_model, sequence):
    twice = patch(n, patch(n, tiny_model, sequence["schedule"], mode="inner"), sequence["schedule"])
    once = patch(n, tiny_model, sequence["schedule"])
    assert torch.equal(sample(twice, sequence, steps=2), sample(once, sequence, steps=2)), \
        "the second patch's settings, and no trace of the first's"


def test_layers_option(n, tiny_model, sequence):
    only_self = patch(n, tiny_model, sequence["schedule"], layers="self")
    replaces = only_self.model_options["transformer_options"]["patches_replace"]
    assert "attn1" in replaces and "attn2" not in replaces
    import comfy.ldm.modules.attention as attention

    diffusion_model = tiny_model.get_model_object("diffusion_model")
    blocks = sum(len(m.transformer_blocks) for m in diffusion_model.modules() if isinstance(m, attention.SpatialTransformer))
    assert sum(len(key) == 3 for key in replaces["attn1"]) == blocks == 10


def test_schedule_and_batch_mismatch_names_both(n, tiny_model, sequence):
    seven = n.schedule_nodes.BetaCoefficientSchedule.execute(
        frames=7, preset="uniform", steps=20, alpha=2.0, beta=2.0, start=0.0, end=1.0).args[0]
    with pytest.raises(ValueError, match=r"AID Attention Patch: input 'schedule': schedule has 7 frames but the "
                                         r"latent batch has 5"):
        sample(patch(n, tiny_model, seven), sequence, steps=1)


def test_bad_window_and_short_schedule_fail_before_sampling(n, tiny_model, sequence):
    with pytest.raises(ValueError, match=r"input 'end_percent': must be greater than start_percent \(0.6\), got 0.4"):
        patch(n, tiny_model, sequence["schedule"], start=0.6, end=0.4)
    two = n.schedule_nodes.BetaCoefficientSchedule.execute(
        frames=2, preset="uniform", steps=20, alpha=2.0, beta=2.0, start=0.0, end=1.0).args[0]
    with pytest.raises(ValueError, match=r"input 'schedule': has 2 frames; AID needs at least 3"):
        patch(n, tiny_model, two)


def test_context_windows_are_refused(n, tiny_model, sequence):
    windowed = tiny_model.clone()
    windowed.model_options["context_handler"] = object()
    with pytest.raises(ValueError, match=r"AID Attention Patch: input 'model': context windows"):
        patch(n, windowed, sequence["schedule"])


def test_unsupported_model_is_named(n):
    """AuraFlow (a transformer whose blocks have no dit patch hook) is refused with the supported families."""
    import comfy.model_patcher
    import comfy.supported_models

    from tiny_models import init_random_

    config = {"cond_seq_dim": 32, "in_channels": 4, "out_channels": 4, "patch_size": 2, "dim": 64, "n_layers": 2,
              "n_double_layers": 1, "n_heads": 2, "global_conddim": 64, "max_seq": 64}
    aura = comfy.supported_models.AuraFlow(config).get_model({})
    init_random_(aura, 0)
    model = comfy.model_patcher.ModelPatcher(aura, load_device=torch.device("cpu"), offload_device=torch.device("cpu"))
    schedule = n.schedule_nodes.BetaCoefficientSchedule.execute(
        frames=3, preset="uniform", steps=20, alpha=2.0, beta=2.0, start=0.0, end=1.0).args[0]
    with pytest.raises(ValueError, match=r"input 'model': MMDiT \(comfy.ldm.aura.mmdit\) is not supported; AID works "
                                         r"on SD1.x, SD2.x and SDXL UNets and on Flux \(dev, schnell, Kontext\), "
                                         r"Flux 2 \(dev, Klein\), Chroma, Chroma Radiance, Qwen-Image \(and Edit\), "
                                         r"SD3 / SD3.5"):
        patch(n, model, schedule)


def test_half_precision_model_keeps_its_dtype(n, sequence):
    import tiny_models

    half = tiny_models.build_sd15_model_patcher(seed=0, dtype=torch.bfloat16)
    patched = patch(n, half, sequence["schedule"])
    key = ("input", 1, 0)
    recorder = Recorder(patched.model_options["transformer_options"]["patches_replace"]["attn1"][key])
    patched.set_model_patch_replace(recorder, "attn1", *key)
    out = sample(patched, sequence, steps=1)
    assert recorder.calls[0]["q"].dtype == torch.bfloat16 and recorder.calls[0]["out"].dtype == torch.bfloat16
    assert torch.isfinite(out).all()


def test_lora_weight_patches_compose(n, tiny_model, sequence):
    """A LoRA-style weight patch on an attention projection changes the frames; AID still keeps endpoints plain."""
    lora = tiny_model.clone()
    key = "diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight"
    weight = lora.model.state_dict()[key]
    lora.add_patches({key: (torch.randn_like(weight) * 0.05,)}, strength_patch=1.0)
    plain = sample(lora, sequence, steps=2)
    patched = sample(patch(n, lora, sequence["schedule"]), sequence, steps=2)
    without_lora = sample(tiny_model, sequence, steps=2)
    assert not torch.allclose(plain[0], without_lora[0]), "the weight patch is active"
    assert torch.equal(patched[0], plain[0]) and torch.equal(patched[-1], plain[-1])


def _active_calls(n, model, sequence, steps, sampler="euler", **window):
    """Per model call of a sampling run: whether the AID layers interpolate (read from the wrapper's step)."""
    import comfy.patcher_extension as extension

    seen = []

    def record(executor, *args, **kwargs):
        seen.append(n.attention_patch.plan_of(args[5]).active)  # transformer_options, after the AID wrapper
        return executor(*args, **kwargs)

    patched = patch(n, model, sequence["schedule"], **window)
    patched.add_wrapper_with_key(extension.WrappersMP.DIFFUSION_MODEL, "test", record)
    sample(patched, sequence, cfg=1.0, steps=steps, sampler=sampler)
    return seen


@pytest.mark.parametrize("steps, start, end, active", [
    (25, 0.0, 0.5, range(0, 12)),  # the reference: i < int(25 * 0.5) = 12, not 13
    (10, 0.2, 0.7, range(2, 7)),
    (7, 0.0, 1.0, range(0, 7)),
    (3, 0.5, 0.6, range(1, 1)),  # int(1.5) = int(1.8): an empty window samples plainly
])
def test_window_counts_steps_as_the_reference(n, tiny_model, sequence, steps, start, end, active):
    seen = _active_calls(n, tiny_model, sequence, steps, start=start, end=end)
    assert seen == [step in active for step in range(steps)]


def test_window_of_a_two_call_sampler_follows_its_steps(n, tiny_model, sequence):
    """DPM2 calls the model twice per step (the last once), the second time at a sigma between two steps:
    that call belongs to the earlier step."""
    seen = _active_calls(n, tiny_model, sequence, 4, sampler="dpm_2", end=0.5)
    assert seen == [True, True, True, True, False, False, False]


def test_weights_are_relative_to_the_endpoints(n):
    config = n.attention_patch.AIDConfig(coefficients=(0.0, 0.375, 0.75, 1.5))
    assert config.weights == (0.25, 0.5)
    assert n.attention_patch.AIDConfig(coefficients=(1.0, 0.75, 0.0)).weights == (0.25,)


@pytest.mark.parametrize("coefficients, message", [
    ((0.0, float("nan"), 1.0), r"input 'schedule': coefficients must be finite"),
    ((0.5, 0.2, 0.5), r"input 'schedule': starts and ends at 0.5"),
])
def test_bad_coefficients_fail_when_patching(n, tiny_model, coefficients, message):
    with pytest.raises(n.errors.InbetweenInputError, match=message):
        n.attention_patch.AIDConfig(coefficients=coefficients)


def test_conditioning_batch_must_match_the_schedule(n, tiny_model, sequence):
    """Three prompts against five frames would be tiled by ComfyUI ([a, g, b, a, g]): an error, not frame B = a."""
    three = n.schedule_nodes.BetaCoefficientSchedule.execute(
        frames=3, preset="uniform", steps=20, alpha=2.0, beta=2.0, start=0.0, end=1.0).args[0]
    positive = n.conditioning_nodes.ConditioningInterpolationBatch.execute(
        sequence["encode"]("a cat"), sequence["encode"]("a dog"), three, "lerp", "error").args[0]
    with pytest.raises(n.errors.InbetweenInputError, match=r"input 'schedule': has 5 frames but the positive "
                                                           r"conditioning \(cross_attn\) has batch 3"):
        sample(patch(n, tiny_model, sequence["schedule"]), sequence, steps=1, positive=positive)


def test_one_prompt_for_every_frame_is_fine(n, tiny_model, sequence):
    out = sample(patch(n, tiny_model, sequence["schedule"]), sequence, steps=1, positive=sequence["encode"]("a cat"))
    assert out.shape[0] == FRAMES


def test_rows_without_shared_noise_are_warned_about(n, tiny_model, sequence, caplog):
    import nodes as comfy_nodes

    patched = patch(n, tiny_model, sequence["schedule"])
    with caplog.at_level("WARNING"):
        sample(patched, sequence, steps=1)
    assert "different noise" not in caplog.text, "Shared Noise Latent gives every row the same noise"
    empty = comfy_nodes.EmptyLatentImage().generate(64, 64, FRAMES)[0]
    with caplog.at_level("WARNING"):
        sample(patched, sequence, steps=1, latent=empty)
    assert "AID Attention Patch: the 5 frames start from different noise" in caplog.text
