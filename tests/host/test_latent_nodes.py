"""Slerp Latent and Beta Coefficient Schedule executed in-process, and their output sampled for real."""

import copy

import pytest
import torch


@pytest.fixture(scope="module")
def latent_nodes(pack):
    return pack.nodes.latent_nodes, pack.nodes.schedule_nodes, pack.inbetween


def _schedule(schedule_nodes, frames=5, preset="uniform", **kw):
    args = dict(frames=frames, preset=preset, steps=20, alpha=2.0, beta=2.0, start=0.0, end=1.0)
    args.update(kw)
    return schedule_nodes.BetaCoefficientSchedule.execute(**args)


def _latent(seed, batch=1, **extra):
    generator = torch.Generator().manual_seed(seed)
    return {"samples": torch.randn(batch, 4, 8, 8, generator=generator), **extra}


def test_schedule_node_outputs(latent_nodes):
    _, schedule_nodes, engine = latent_nodes
    schedule, text, curve = _schedule(schedule_nodes, frames=7, preset=schedule_nodes.PRESET_CLASSIC, steps=25).args
    expected = engine.schedules.beta_schedule(7, 25.0, 25.0)
    assert schedule.coefficients == tuple(expected.tolist())
    assert schedule.coefficients[0] == 0.0 and schedule.coefficients[-1] == 1.0
    assert "alpha=25" in text and f"{schedule.coefficients[1]:.4f}" in text
    assert curve.shape[0] == 1 and curve.shape[-1] == 3 and curve.dtype == torch.float32
    assert 0.0 <= curve.min() and curve.max() <= 1.0


def test_schedule_node_range_and_presets(latent_nodes):
    _, schedule_nodes, _ = latent_nodes
    uniform = _schedule(schedule_nodes, frames=4, preset=schedule_nodes.PRESET_UNIFORM, start=0.0, end=1.5).args[0]
    torch.testing.assert_close(torch.tensor(uniform.coefficients, dtype=torch.float64),
                               torch.tensor([0.0, 0.5, 1.0, 1.5], dtype=torch.float64),
                               rtol=0, atol=1e-12)
    custom = _schedule(schedule_nodes, frames=5, preset=schedule_nodes.PRESET_CUSTOM, alpha=3.0, beta=0.5).args[0]
    assert list(custom.coefficients) == sorted(custom.coefficients)
    assert custom.coefficients[2] > 0.5  # alpha > beta pushes the middle frame toward the end


def test_slerp_latent_schedule_rows(latent_nodes):
    latent_nodes_module, schedule_nodes, engine = latent_nodes
    schedule = _schedule(schedule_nodes, frames=5).args[0]
    a, b = _latent(1), _latent(2)
    a_before, b_before = copy.deepcopy(a), copy.deepcopy(b)

    (out,) = latent_nodes_module.SlerpLatent.execute(a, b, "slerp", 0.5, schedule).args

    samples = out["samples"]
    assert samples.shape == (5, 4, 8, 8)
    assert torch.equal(samples[0], a["samples"][0]) and torch.equal(samples[-1], b["samples"][0])
    expected = engine.interpolation.slerp(a["samples"], b["samples"], schedule.as_tensor())
    torch.testing.assert_close(samples, expected, rtol=0, atol=0)
    for before, after in ((a_before, a), (b_before, b)):
        assert before.keys() == after.keys() and torch.equal(before["samples"], after["samples"])


def test_slerp_latent_single_factor_and_methods(latent_nodes):
    latent_nodes_module, _, engine = latent_nodes
    a, b = _latent(3), _latent(4)
    for method in engine.interpolation.INTERPOLATION_METHODS:
        (out,) = latent_nodes_module.SlerpLatent.execute(a, b, method, 0.25).args
        expected = engine.interpolation.interpolate(a["samples"], b["samples"], 0.25, method)
        torch.testing.assert_close(out["samples"], expected, rtol=0, atol=0)
    (same,) = latent_nodes_module.SlerpLatent.execute(a, a, "slerp", 0.3).args
    torch.testing.assert_close(same["samples"], a["samples"], rtol=1e-6, atol=1e-6)


def test_slerp_latent_masks_and_batch_index(latent_nodes):
    latent_nodes_module, schedule_nodes, _ = latent_nodes
    schedule = _schedule(schedule_nodes, frames=3).args[0]
    a = _latent(5, noise_mask=torch.zeros(1, 1, 8, 8), batch_index=[3])
    b = _latent(6)
    (out,) = latent_nodes_module.SlerpLatent.execute(a, b, "lerp", 0.5, schedule).args
    assert out["batch_index"] == [0, 0, 0], "shared noise (the default): every row gets the noise of index 0"
    torch.testing.assert_close(out["noise_mask"][:, 0, 0, 0], torch.tensor([0.0, 0.5, 1.0]))
    (per_row,) = latent_nodes_module.SlerpLatent.execute(a, b, "lerp", 0.5, schedule, shared_noise=False).args
    assert "batch_index" not in per_row, "A's batch_index does not apply to the new rows"
    assert a["batch_index"] == [3]


def test_slerp_latent_shape_mismatch_names_node_and_input(latent_nodes):
    latent_nodes_module, _, _ = latent_nodes
    a, b = _latent(1), {"samples": torch.zeros(1, 4, 8, 16)}
    with pytest.raises(ValueError, match=r"Slerp Latent: input 'latent_b'.*\(4, 8, 8\).*\(4, 8, 16\)"):
        latent_nodes_module.SlerpLatent.execute(a, b, "slerp", 0.5)


def test_slerp_latent_batch_mismatch_names_schedule(latent_nodes):
    latent_nodes_module, schedule_nodes, _ = latent_nodes
    schedule = _schedule(schedule_nodes, frames=5).args[0]
    with pytest.raises(ValueError, match=r"Slerp Latent: input 'schedule'"):
        latent_nodes_module.SlerpLatent.execute(_latent(1, batch=2), _latent(2, batch=2), "slerp", 0.5, schedule)


def test_slerp_latent_feeds_a_real_sampler(latent_nodes, tiny_model, tiny_clip):
    """The interpolated batch goes through ComfyUI's own KSampler path on the tiny UNet."""
    import nodes as comfy_nodes

    latent_nodes_module, schedule_nodes, _ = latent_nodes
    schedule = _schedule(schedule_nodes, frames=4).args[0]
    (blend,) = latent_nodes_module.SlerpLatent.execute(_latent(7), _latent(8), "slerp", 0.5, schedule).args
    (positive,) = comfy_nodes.CLIPTextEncode().encode(tiny_clip, "a red fox")
    (negative,) = comfy_nodes.CLIPTextEncode().encode(tiny_clip, "")
    (result,) = comfy_nodes.common_ksampler(tiny_model, 0, 3, 5.0, "euler", "normal", positive, negative, blend, denoise=0.5)
    assert result["samples"].shape == (4, 4, 8, 8)
    assert torch.isfinite(result["samples"]).all()
