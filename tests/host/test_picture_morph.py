"""Picture morphs (FreeMorph) and inversion on the tiny models, through ComfyUI's real sampling path.

Inversion: sampling an inverted latent with the same sigmas (SamplerCustom's path: Euler, cfg 1, noise off) gives
the latent back, closer as steps and iterations grow, on eps-, v-prediction and rectified-flow models. A random-weight
UNet is a rough denoiser (its fixed-point iteration contracts slowly), so the bounds are the measured errors with a
margin, stated at each test; benchmarks/inversion.py prints the table.

FreeMorph: its attention phases by inversion step (FreeMorph's loop bounds), the layers' outputs recomputed from
FreeMorph's definitions on captured q/k/v, the shared high-frequency noise recomputed from its seed, the sampling
phases of Picture Morph Attention, and the pictures back as the first and last frame.
"""

import comfy.model_management
import comfy.model_sampling
import comfy.sample
import comfy.samplers
import comfy.utils
import pytest
import torch
from bad_input import expect_input_error, untouched
from comfy.patcher_extension import WrappersMP
from unet_formulas import Recorder, expected_inversion

import nodes as comfy_nodes

INVERT, LATENTS, ATTENTION, ENDS = "Invert Latent", "Picture Morph Latents", "Picture Morph Attention", \
    "Keep Picture Ends"
FRAMES = 5


def _latent(seed: int, shape=(1, 4, 8, 8)) -> dict:
    return {"samples": torch.randn(*shape, generator=torch.Generator().manual_seed(seed))}


def _sigmas(model, steps: int, scheduler: str = "normal") -> torch.Tensor:
    return comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), scheduler, steps).cpu()


def _regenerate(model, positive, latent: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """What SamplerCustom returns for ``latent`` with noise off: Euler (DDIM), cfg 1."""
    sampler = comfy.samplers.sampler_object("euler")
    return comfy.sample.sample_custom(model, torch.zeros_like(latent), 1.0, sampler, sigmas, positive, positive,
                                      latent, seed=0)


def _round_trip_error(n, model, positive, latent: dict, steps: int, iterations: int, strength=0.8) -> float:
    """Relative RMS error ``|regenerated - latent| / |latent|`` after inverting ``latent``."""
    inverted, sampled = n.picture_morph_nodes.InvertLatent.execute(model, positive, latent, _sigmas(model, steps),
                                                                   strength, iterations).args
    back = _regenerate(model, positive, inverted["samples"], sampled)
    return float(torch.linalg.vector_norm(back - latent["samples"]) / torch.linalg.vector_norm(latent["samples"]))


@pytest.fixture(scope="module")
def caption(tiny_clip):
    return comfy_nodes.CLIPTextEncode().encode(tiny_clip, "a photo of a cat")[0]


@pytest.fixture(scope="module")
def v_model():
    """The tiny UNet as a v-prediction model (SD 2.x 768's sampling)."""
    import comfy.model_base
    import comfy.supported_models

    import tiny_models

    class SD15V(comfy.supported_models.SD15):
        def model_type(self, state_dict, prefix=""):
            return comfy.model_base.ModelType.V_PREDICTION

    return tiny_models.model_patcher(SD15V(tiny_models.sd15_unet_config()), 0, torch.float32)


def test_round_trip_error_falls_with_steps_and_iterations(n, tiny_model, caption):
    """Relative RMS error, measured on this random UNet (a rough denoiser): 10 steps 3.6 (1 iteration) -> 0.95 (5);
    20 steps 2.9 -> 0.11. Bound at the defaults (strength 0.8, 5 iterations, 20 steps): 0.2."""
    latent = _latent(1)
    errors = {(steps, iterations): _round_trip_error(n, tiny_model, caption, latent, steps, iterations)
              for steps in (10, 20) for iterations in (1, 5)}
    for steps in (10, 20):
        assert errors[steps, 5] < 0.5 * errors[steps, 1], errors
    for iterations in (1, 5):
        assert errors[20, iterations] < errors[10, iterations], errors
    assert errors[20, 5] < 0.2, errors


@pytest.mark.parametrize("kind", ["v", "flow"])
def test_round_trip_on_v_prediction_and_rectified_flow(n, request, kind, caption):
    if kind == "v":
        model, positive, latent = request.getfixturevalue("v_model"), caption, _latent(1)
    else:
        import tiny_models
        from aid_support import dit_conditioning

        model, positive, latent = tiny_models.build_flux_model_patcher(), dit_conditioning(1), _latent(1, (1, 16, 8, 8))
    one, five = (_round_trip_error(n, model, positive, latent, 20, iterations) for iterations in (1, 5))
    assert five < 0.5 * one and five < 0.1, (one, five)


def test_strength_one_on_rectified_flow_is_refused(n):
    """On rectified flow an inverted LATENT is x / (1 - sigma) (SamplerCustom's noise_scaling with zero noise makes it
    the inverted sample again): at sigma 1 no LATENT can carry it."""
    import tiny_models
    from aid_support import dit_conditioning

    model = tiny_models.build_flux_model_patcher()
    expect_input_error(lambda: n.picture_morph_nodes.InvertLatent.execute(
        model, dit_conditioning(1), _latent(1, (1, 16, 8, 8)), _sigmas(model, 4, "simple"), 1.0, 1),
        INVERT, "strength", "rectified-flow", "below 1")


def test_progress_and_interrupt(n, tiny_model, caption):
    """Progress as a sampler reports it (the front end's bar), and the queue's interrupt stops the inversion before its
    next model call (not only between steps: a step is five calls)."""
    seen = []
    comfy.utils.set_progress_bar_global_hook(lambda value, total, preview, **kwargs: seen.append((value, total)))
    try:
        n.picture_morph_nodes.InvertLatent.execute(tiny_model, caption, _latent(1), _sigmas(tiny_model, 5), 0.6, 2)
    finally:
        comfy.utils.set_progress_bar_global_hook(None)
    # ComfyUI 0.12 throttles the updates between the first and the last by time; 0.3.64 sends every one.
    assert seen[0] == (1, 3) and seen[-1] == (3, 3) and seen == sorted(set(seen)), seen
    assert set(seen) <= {(i, 3) for i in (1, 2, 3)}, seen

    calls = []

    def interrupt_on_second_call(executor, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            comfy.model_management.interrupt_current_processing(True)
        return executor(*args, **kwargs)

    model = tiny_model.clone()
    model.add_wrapper_with_key(WrappersMP.APPLY_MODEL, "test", interrupt_on_second_call)
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        n.picture_morph_nodes.InvertLatent.execute(model, caption, _latent(1), _sigmas(model, 10), 0.8, 5)
    assert len(calls) == 2 and not comfy.model_management.processing_interrupted()


# FreeMorph ----------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def morph(n, tiny_clip):
    encode = lambda text: comfy_nodes.CLIPTextEncode().encode(tiny_clip, text)[0]  # noqa: E731
    uniform = n.schedule_nodes.BetaCoefficientSchedule.execute(FRAMES, "uniform", 20, 1.0, 1.0, 0.0, 1.0).args[0]
    beta = n.schedule_nodes.BetaCoefficientSchedule.execute(FRAMES, "custom", 20, 20.0, 20.0, 0.0, 1.0).args[0]
    positive = n.conditioning_nodes.ConditioningInterpolationBatch.execute(
        encode("a photo of a cat"), encode("a painting of a dog"), uniform, "lerp", "error").args[0]
    return dict(uniform=uniform, beta=beta, positive=positive, a=_latent(1), b=_latent(2), negative=encode(""))


def _morph_latents(n, model, morph, steps=10, strength=0.8, iterations=1, low_frequencies=0.875, seed=3, **changed):
    inputs = dict(model=model, positive=morph["positive"], latent_a=morph["a"], latent_b=morph["b"],
                  schedule=morph["uniform"], sigmas=_sigmas(model, steps), strength=strength, iterations=iterations,
                  mean_from=0.3, ends_from=0.6, low_frequencies=low_frequencies, noise_seed=seed)
    return n.picture_morph_nodes.PictureMorphLatents.execute(**{**inputs, **changed}).args


class BehaviourLog:
    """An APPLY_MODEL wrapper that keeps the behaviour each model call was given."""

    def __init__(self):
        self.calls = []

    def __call__(self, executor, x, t, *args, **kwargs):
        options = kwargs.get("transformer_options", args[3] if len(args) > 3 else {})
        self.calls.append(options.get("inbetween_aid_behaviour", "unset"))
        return executor(x, t, *args, **kwargs)


def test_inversion_phases_follow_freemorphs_loop_bounds(n, tiny_model, morph):
    """50 steps at strength 0.8: 40 inversion steps; plain 0-15, rows' mean 16-29, plain at 30, ends' mean 31-39."""
    log, model = BehaviourLog(), tiny_model.clone()
    model.add_wrapper_with_key(WrappersMP.APPLY_MODEL, "test", log)
    _morph_latents(n, model, morph, steps=50)
    assert log.calls == [None] * 16 + ["rows_mean"] * 14 + [None] + ["ends_mean"] * 9


@pytest.mark.parametrize("behaviour", ["rows_mean", "ends_mean"])
@pytest.mark.parametrize("layer", ["attn1", "attn2"])
def test_inversion_layers_compute_freemorphs_definitions(n, tiny_model, morph, behaviour, layer):
    patched = n.picture_morph_nodes._morph_patch(LATENTS, tiny_model, morph["uniform"], ())
    key = ("input", 1, 0)
    recorder = Recorder(patched.model_options["transformer_options"]["patches_replace"][layer][key])
    patched.set_model_patch_replace(recorder, layer, *key)
    start = torch.cat([morph["a"]["samples"]] * FRAMES)
    n.inversion.invert_latent(LATENTS, patched, morph["positive"], start, _sigmas(tiny_model, 2), 2,
                              lambda step: behaviour)
    assert len(recorder.calls) == 4 and all(call["chunks"] == [0] for call in recorder.calls)
    for call in recorder.calls:
        torch.testing.assert_close(call["out"].double(), expected_inversion(call, behaviour), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("behaviour", ["rows_mean", "ends_mean"])
def test_inversion_on_flux_computes_freemorphs_definitions(n, behaviour):
    """Flux's joint attentions (double and single blocks) through the same plan: every row, ends included."""
    import tiny_models
    from aid_support import dit_conditioning
    from joint_formulas import OverrideRecorder, expected_inversion

    flux = tiny_models.build_flux_model_patcher()
    schedule = n.schedule_nodes.BetaCoefficientSchedule.execute(3, "uniform", 20, 1.0, 1.0, 0.0, 1.0).args[0]
    patched = n.picture_morph_nodes._morph_patch(LATENTS, flux, schedule, ())
    options = patched.model_options["transformer_options"]
    recorder = OverrideRecorder(options["optimized_attention_override"])
    options["optimized_attention_override"] = recorder
    start = torch.randn(3, 16, 8, 8, generator=torch.Generator().manual_seed(4))
    n.inversion.invert_latent(LATENTS, patched, dit_conditioning(1), start, _sigmas(flux, 4, "simple")[-3:], 1,
                              lambda step: behaviour)
    assert recorder.calls and all(call["options"]["cond_or_uncond"] == [0] for call in recorder.calls)
    for call in recorder.calls:
        torch.testing.assert_close(call["out"].double(), expected_inversion(call, behaviour), rtol=1e-4, atol=1e-5)


def test_inversion_attention_makes_no_device_sync(n):
    """The inversion's attentions (both behaviours, on Flux's joint attention), captured in a real inversion and
    replayed on fake CUDA tensors through each kernel path: no sync, no host-to-device copy."""
    import tiny_models
    from aid_support import dit_conditioning
    from sync_audit import capture_attention_calls, replay_on_fake_cuda

    flux = tiny_models.build_flux_model_patcher()
    schedule = n.schedule_nodes.BetaCoefficientSchedule.execute(3, "uniform", 20, 1.0, 1.0, 0.0, 1.0).args[0]
    patched = n.picture_morph_nodes._morph_patch(LATENTS, flux, schedule, ())
    start = torch.randn(3, 16, 8, 8, generator=torch.Generator().manual_seed(4))
    behaviours = ["rows_mean", "ends_mean"]
    override, captured = capture_attention_calls(patched, lambda: n.inversion.invert_latent(
        LATENTS, patched, dit_conditioning(1), start, _sigmas(flux, 4, "simple")[-3:], 1, behaviours.__getitem__))
    plans = [n.attention_patch.plan_of(kwargs["transformer_options"]) for _, _, kwargs in captured]
    assert {bool(plan.means) for plan in plans} == {True, False} and all(plan.active for plan in plans)
    for dtype, capability in ((torch.float16, (9, 0)), (torch.float32, (9, 0)), (torch.float16, None)):
        events = replay_on_fake_cuda(override, captured, n.attention_patch, dtype, capability)
        assert all(not call_events for call_events in events), (dtype, capability, events)


def test_inbetweens_get_the_shared_noise_high_frequencies(n, tiny_model, morph):
    """The same inversion with every frequency kept, then FreeMorph's filter by hand in the model's latent space (the
    LATENT is the VAE's; SD scales it by 0.18215), with the noise drawn from the seed as ComfyUI draws noise (CPU
    generator), at the scale of a pure-noise latent at the first sampled sigma: sqrt(1 + sigma^2) n on this eps model."""
    kept, sampled = _morph_latents(n, tiny_model, morph, low_frequencies=1.0)
    mixed, _ = _morph_latents(n, tiny_model, morph, low_frequencies=0.5)
    scale = tiny_model.model.latent_format.process_in
    noise = torch.randn((1, 4, 8, 8), generator=torch.Generator().manual_seed(3)) * torch.sqrt(1 + sampled[0] ** 2)
    assert torch.equal(mixed["samples"][[0, -1]], kept["samples"][[0, -1]])
    torch.testing.assert_close(scale(mixed["samples"][1:-1]),
                               n.picture_morph_nodes.frequency.replace_high_frequencies(scale(kept["samples"][1:-1]),
                                                                                        noise, 0.5),
                               rtol=0, atol=1e-5)
    assert not torch.allclose(mixed["samples"][1:-1], kept["samples"][1:-1], atol=1e-2)


class PlanLog(Recorder):
    """A replace patch's recorder that keeps each call's AID plan: (fused, interpolated rows)."""

    def __call__(self, q, k, v, options):
        from comfy_host import load_pack

        plan = load_pack().nodes.attention_patch.plan_of(options)
        self.calls.append((plan.fused, [(s.first, s.stop) for s in plan.segments]))
        return self.inner(q, k, v, options)


def test_sampling_phases_pure_then_fused_then_plain(n, tiny_model, morph):
    """10 sampled steps: pure outer AID on steps 0-1 (< int(10 * 0.2)), fused on 2-5, plain after; the positive
    chunk's in-betweens only (FreeMorph's cfg sampling leaves the negative pass plain)."""
    patched = n.picture_morph_nodes.PictureMorphAttention.execute(tiny_model, morph["beta"], 0.2, 0.6, "self + cross",
                                                                 False, 0).args[0]
    key = ("input", 1, 0)
    log = PlanLog(patched.model_options["transformer_options"]["patches_replace"]["attn1"][key])
    patched.set_model_patch_replace(log, "attn1", *key)
    latent = torch.cat([morph["a"]["samples"]] * FRAMES)
    comfy.sample.sample_custom(patched, torch.zeros_like(latent), 7.5, comfy.samplers.sampler_object("euler"),
                               _sigmas(tiny_model, 10), morph["positive"], morph["negative"], latent, seed=0)
    kinds = [(fused, bool(rows)) for fused, rows in log.calls]
    assert kinds == [(False, True)] * 2 + [(True, True)] * 4 + [(True, False)] * 4, log.calls
    assert all(len(rows) == 1 and rows[0][1] - rows[0][0] == FRAMES - 2 for _, rows in log.calls[:6]), log.calls


def test_a_story_of_two_pictures_is_the_two_picture_morph(n, tiny_model, morph):
    """Picture Story Latents on a Keyframe Schedule of two pictures gives Picture Morph Latents' frames bit for bit."""
    two = n.schedule_nodes.KeyframeSchedule.execute(keyframes=2, frames_per_segment=FRAMES - 1, loop=False,
                                                    preset="uniform", steps=20, alpha=2.0, beta=2.0,
                                                    segment_frames="").args[0]
    assert two.coefficients == morph["uniform"].coefficients
    pictures = {"samples": torch.cat([morph["a"]["samples"], morph["b"]["samples"]])}
    story = n.picture_morph_nodes.PictureStoryLatents.execute(tiny_model, morph["positive"], pictures, two,
                                                              _sigmas(tiny_model, 6), 0.8, 2, 0.3, 0.6, 0.5, 3).args
    latent, sampled = _morph_latents(n, tiny_model, morph, steps=6, iterations=2, low_frequencies=0.5)
    assert torch.equal(story[0]["samples"], latent["samples"]) and torch.equal(story[1], sampled)


def test_morph_end_to_end_keeps_the_pictures_as_ends(n, tiny_model, morph):
    with untouched(morph["a"], morph["b"], morph["positive"]):
        latent, sampled = _morph_latents(n, tiny_model, morph, steps=6, iterations=2)
    assert latent["samples"].shape == (FRAMES, 4, 8, 8) and sampled.shape == (6,)
    patched = n.picture_morph_nodes.PictureMorphAttention.execute(tiny_model, morph["beta"], 0.2, 0.6, "self + cross",
                                                                 False, 0).args[0]
    samples = comfy.sample.sample_custom(patched, torch.zeros_like(latent["samples"]), 5.0,
                                         comfy.samplers.sampler_object("euler"), sampled, morph["positive"],
                                         morph["negative"], latent["samples"], seed=0)
    assert torch.isfinite(samples).all()
    frames = torch.rand(FRAMES, 16, 16, 3)
    picture_a, picture_b = torch.rand(1, 16, 16, 3), torch.rand(1, 16, 16, 3)
    kept = n.picture_morph_nodes.KeepPictureEnds.execute(frames, picture_a, picture_b, "pictures").args[0]
    assert torch.equal(kept[0], picture_a[0]) and torch.equal(kept[-1], picture_b[0])
    assert torch.equal(kept[1:-1], frames[1:-1])
    regenerated = n.picture_morph_nodes.KeepPictureEnds.execute(frames, picture_a, picture_b, "regenerated").args[0]
    assert torch.equal(regenerated, frames)


# bad input ----------------------------------------------------------------------------------------------------------

def test_bad_input_is_named(n, tiny_model, morph, caption):
    nodes = n.picture_morph_nodes
    expect_input_error(lambda: _morph_latents(n, tiny_model, morph, latent_b=_latent(2, (1, 4, 8, 12))), LATENTS,
                       "latent_b", r"\(4, 8, 8\)", r"\(4, 8, 12\)", "resize")
    expect_input_error(lambda: _morph_latents(n, tiny_model, morph, latent_a=_latent(1, (2, 4, 8, 8))), LATENTS,
                       "latent_a", "one picture", "batch 2")
    for strength in (0.0, 1.5):
        expect_input_error(lambda: _morph_latents(n, tiny_model, morph, strength=strength), LATENTS, "strength",
                           str(strength))
    two_captions = [[torch.cat([morph["negative"][0][0]] * 2), {}]]
    expect_input_error(lambda: _morph_latents(n, tiny_model, morph, positive=two_captions), LATENTS, "positive",
                       "batch 2", "5 frames")
    expect_input_error(lambda: _morph_latents(n, tiny_model, morph, mean_from=0.7), LATENTS, "ends_from",
                       "mean_from 0.7")
    two = n.schedule_nodes.BetaCoefficientSchedule.execute(2, "uniform", 20, 1.0, 1.0, 0.0, 1.0).args[0]
    expect_input_error(lambda: _morph_latents(n, tiny_model, morph, schedule=two), LATENTS, "schedule", "2 frames")
    from aid_support import keyframe_schedule

    expect_input_error(lambda: _morph_latents(n, tiny_model, morph, schedule=keyframe_schedule(n)), LATENTS,
                       "schedule", "3 keyframes", "Picture Story Latents")
    expect_input_error(lambda: _morph_latents(n, tiny_model, morph, sigmas=torch.tensor([1.0])), LATENTS, "sigmas",
                       "at least two")
    x0 = tiny_model.clone()
    x0.add_object_patch("model_sampling", type("X0Sampling", (comfy.model_sampling.ModelSamplingDiscrete,
                                                               comfy.model_sampling.X0), {})())
    expect_input_error(lambda: nodes.InvertLatent.execute(x0, caption, _latent(1), _sigmas(tiny_model, 4), 0.5, 1),
                       INVERT, "model", "X0Sampling", "no inversion path")
    expect_input_error(lambda: nodes.PictureMorphAttention.execute(tiny_model, morph["beta"], 0.7, 0.6,
                                                                  "self + cross", False, 0),
                       ATTENTION, "fused_until", "pure_until 0.7")
    frames = torch.rand(FRAMES, 16, 16, 3)
    expect_input_error(lambda: nodes.KeepPictureEnds.execute(frames, torch.rand(1, 16, 20, 3), torch.rand(1, 16, 16, 3),
                                                             "pictures"), ENDS, "picture_a", r"\(16, 16, 3\)",
                       r"\(1, 16, 20, 3\)")
    expect_input_error(lambda: nodes.KeepPictureEnds.execute(frames[:1], frames[:1], frames[:1], "pictures"), ENDS,
                       "images", "at least 2")
