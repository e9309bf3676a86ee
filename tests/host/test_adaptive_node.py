"""Adaptive Beta Schedule end to end in a real ComfyUI: tiny SD1.5-shaped UNet, real CLIP and VAE classes,
ComfyUI's sampler, its progress bar hook and its cancel flag."""

import pytest
import torch

STEPS, FRAMES, BUDGET, SEED = 2, 4, 6, 5
# Same frames sampled in a batch of 3 here and of FRAMES there: float rounding differs, ~2e-6 measured.
TOLERANCE = 2e-5


@pytest.fixture(scope="module")
def prompts(tiny_clip):
    import nodes as comfy_nodes

    encode = lambda text: comfy_nodes.CLIPTextEncode().encode(tiny_clip, text)[0]  # noqa: E731
    return dict(a=encode("a photo of a cat"), b=encode("a photo of a dog"), negative=encode("blurry"))


@pytest.fixture(scope="module")
def vae():
    import tiny_models

    return tiny_models.build_sd_vae(seed=2)


@pytest.fixture
def progress_hook(monkeypatch):
    """Records every update of every comfy.utils.ProgressBar, the way the server's hook sees them. ComfyUI v0.12 on
    drops updates that come within 100 ms of the last one (the node's own values are what is checked): no wait."""
    import comfy.utils

    if hasattr(comfy.utils, "PROGRESS_THROTTLE_MIN_INTERVAL"):
        monkeypatch.setattr(comfy.utils, "PROGRESS_THROTTLE_MIN_INTERVAL", 0.0)
    updates, actions = [], []

    def hook(value, total, preview, node_id=None):
        updates.append((value, total))
        for action in actions:
            action(value, total)

    previous = comfy.utils.PROGRESS_BAR_HOOK
    comfy.utils.set_progress_bar_global_hook(hook)
    try:
        yield updates, actions
    finally:
        comfy.utils.set_progress_bar_global_hook(previous)


@torch.inference_mode()  # as ComfyUI's executor runs every node
def adaptive(n, model, vae, prompts, attention="AID outer", distance="pixel", frames=FRAMES, budget=BUDGET,
             clip_vision=None, guide=None):
    return n.adaptive_nodes.AdaptiveBetaSchedule.execute(
        model=model, vae=vae, positive_a=prompts["a"], positive_b=prompts["b"], negative=prompts["negative"], seed=SEED,
        steps=STEPS, cfg=5.0, sampler_name="euler", scheduler="normal", width=64, height=64, frames=frames,
        exploration_budget=budget, attention=attention, aid_end_percent=0.5, token_alignment="error",
        distance=distance, guide=guide, clip_vision=clip_vision).args


@torch.inference_mode()
def regenerate(n, model, vae, prompts, schedule, aid: bool):
    """The sequence made the ordinary way from the node's schedule: Conditioning Interpolation Batch, Shared Noise
    Latent, (AID Attention Patch), KSampler, VAE Decode."""
    import nodes as comfy_nodes

    positive = n.conditioning_nodes.ConditioningInterpolationBatch.execute(
        prompts["a"], prompts["b"], schedule, "lerp", "error").args[0]
    latent = n.latent_nodes.SharedNoiseLatent.execute(64, 64, 1, schedule).args[0]
    if aid:
        model = n.aid_nodes.AIDAttentionPatch.execute(model, schedule, "outer", True, "self + cross", 0.0, 0.5,
                                                      False).args[0]
    samples = comfy_nodes.common_ksampler(model, SEED, STEPS, 5.0, "euler", "normal", positive, prompts["negative"],
                                          latent)[0]["samples"]
    return vae.decode(samples)


def test_end_to_end_with_aid_progress_and_a_reusable_schedule(n, tiny_model, vae, prompts, progress_hook):
    updates, _ = progress_hook
    images, schedule, alpha, beta, report = adaptive(n, tiny_model, vae, prompts)

    assert images.shape == (FRAMES, 64, 64, 3) and torch.isfinite(images).all()
    t = schedule.coefficients
    assert len(t) == FRAMES and t[0] == 0.0 and t[-1] == 1.0 and all(a < b for a, b in zip(t, t[1:]))
    assert alpha > 0 and beta > 0 and f"Beta(alpha={alpha:.4f}, beta={beta:.4f})" in report
    assert f"{FRAMES} of {BUDGET} explored frames" in report and report.count(" t=") == BUDGET

    # One bar for the whole exploration: (budget - 2) renders x steps, advancing to the end.
    total = (BUDGET - 2) * STEPS
    assert updates and {u[1] for u in updates} == {total}
    values = [u[0] for u in updates]
    assert values == sorted(values) and values[-1] == total and len(set(values)) == total

    # The frames are what the ordinary AID graph makes with the returned schedule (up to batch-size rounding),
    # and AID was applied: without it the in-betweens differ by far more than that.
    expected = regenerate(n, tiny_model, vae, prompts, schedule, aid=True)
    torch.testing.assert_close(images, expected, rtol=0, atol=TOLERANCE)
    plain = regenerate(n, tiny_model, vae, prompts, schedule, aid=False)
    assert float((images[1:-1] - plain[1:-1]).abs().amax()) > 10 * TOLERANCE


def test_aid_renders_sample_one_frame_per_model_call(n, tiny_model, vae, prompts):
    """Each render's model calls run A, B, then the explored frame, each as its positive and negative rows."""
    import comfy.patcher_extension as extension

    batches = []

    def spy(executor, *args, **kwargs):
        batches.append(args[0].shape[0])
        return executor(*args, **kwargs)

    model = tiny_model.clone()
    model.add_wrapper_with_key(extension.WrappersMP.DIFFUSION_MODEL, "test", spy)
    adaptive(n, model, vae, prompts, frames=3, budget=4)
    assert batches == [2] * (2 * STEPS * 3), "2 renders x steps x (A, B, the frame), two rows each"


def test_attention_off_with_clip_vision_distance(n, tiny_model, vae, prompts, tmp_path):
    import tiny_models

    clip_vision = tiny_models.build_clip_vision(tmp_path / "config.json", seed=0)
    images, schedule, *_, report = adaptive(n, tiny_model, vae, prompts, attention="off (text interpolation)",
                                            distance="clip_vision", clip_vision=clip_vision, frames=3, budget=5)
    assert "distance: CLIP vision cosine distance" in report
    expected = regenerate(n, tiny_model, vae, prompts, schedule, aid=False)
    torch.testing.assert_close(images, expected, rtol=0, atol=TOLERANCE)


def test_cancel_stops_between_steps_and_resets_the_flag(n, tiny_model, vae, prompts, progress_hook):
    import comfy.model_management

    updates, actions = progress_hook

    def cancel_in_second_render(value, total):
        if value == STEPS + 1:  # first step of the second render
            comfy.model_management.interrupt_current_processing(True)

    actions.append(cancel_in_second_render)
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        adaptive(n, tiny_model, vae, prompts, budget=8)
    assert not comfy.model_management.processing_interrupted(), "the flag is reset, as ComfyUI's executor expects"
    assert max(u[0] for u in updates) == STEPS + 1, "nothing runs after the cancel"
    # The next run is unaffected.
    images, *_ = adaptive(n, tiny_model, vae, prompts, frames=3, budget=3)
    assert images.shape[0] == 3


def test_cancel_before_a_render_starts(n, tiny_model, vae, prompts, progress_hook):
    import comfy.model_management

    updates, _ = progress_hook
    comfy.model_management.interrupt_current_processing(True)
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        adaptive(n, tiny_model, vae, prompts)
    assert updates == [] and not comfy.model_management.processing_interrupted()


@pytest.mark.parametrize("change, name, message", [
    (dict(frames=7, budget=6), "frames", r"7 frames cannot be chosen from an exploration budget of 6"),
    (dict(attention="off (text interpolation)", guide="a"), "guide", r"a guide prompt \(PAID\) needs AID attention"),
    (dict(distance="clip_vision"), "clip_vision", r"the clip_vision distance needs a CLIP Vision model"),
])
def test_input_errors_before_any_sampling(n, tiny_model, vae, prompts, progress_hook, change, name, message):
    updates, _ = progress_hook
    if "guide" in change:
        change["guide"] = prompts[change["guide"]]
    with pytest.raises(ValueError, match=rf"Adaptive Beta Schedule: input '{name}': {message}"):
        adaptive(n, tiny_model, vae, prompts, **change)
    assert updates == []


def test_a_model_already_patched_with_aid_is_refused(n, tiny_model, vae, prompts):
    schedule = n.schedule_nodes.BetaCoefficientSchedule.execute(7, "uniform", 20, 2.0, 2.0, 0.0, 1.0).args[0]
    patched = n.aid_nodes.AIDAttentionPatch.execute(tiny_model, schedule, "outer", True, "self + cross", 0.0, 0.5,
                                                    False).args[0]
    with pytest.raises(ValueError, match=r"input 'model': already carries an AID Attention Patch"):
        adaptive(n, patched, vae, prompts)


def test_conditioning_errors_name_this_nodes_inputs(n, tiny_model, vae, prompts):
    twice = prompts["b"] + prompts["b"]
    with pytest.raises(ValueError, match=r"Adaptive Beta Schedule: input 'positive_b': has 2 entries but "
                                         r"positive_a has 1"):
        adaptive(n, tiny_model, vae, dict(prompts, b=twice))
