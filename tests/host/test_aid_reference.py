"""AID Attention Patch against AID's own code (QY-H00/attention-interpolation-diffusion at dfa4e13, run from its
archive, never copied here): one model call of the diffusers twin of the tiny SD2 UNet with the reference's attention
processors, and the same call of ComfyUI's model with the pack's patch, same weights, inputs and coefficients.

How the reference is run, from its ``pipeline_interpolated_sd.py``: ``load_aid`` puts its processor on every
attention of the UNet (self and cross, every block: the pack's "self + cross"); each denoising step calls the UNet
twice, the conditional rows ``[A, in-betweens, B]`` with the processors active and the unconditional rows with them
deactivated (their original processor: plain attention). So the pack's model call here has the negative chunk and
the positive chunk (``cond_or_uncond`` ``[1, 0]``), as a sampler's cfg call, and its two halves are compared with the
reference's two calls.

How the reference weights the coefficient (``interpolation.py``): ``coef`` is ``generate_beta_tensor(size, alpha,
beta)`` (``prior.py``: the Beta inverse CDF at ``k / (size - 1)``) with its ends set to exactly 0 and 1, and a row's
output is ``(1 - coef) * attention to the first row + coef * attention to the last row`` (outer; inner lerps the keys
and values the same way): the weight of endpoint B is the coefficient, as in the pack, whose weight is
``(c_k - c_0) / (c_{N-1} - c_0)``, the coefficient itself on a 0..1 schedule. The schedules are compared first.

``interpolation.py`` imports ``prior.py`` (the Beta prior, used here) and through it ``utils.py``; those import
``bayes_opt`` (the adaptive prior's search) and ``matplotlib`` (plots), which this test does not run: where the
environment lacks them they are stand-ins in ``sys.modules`` (``reference_code.import_reference``), nothing else.
"""

import pytest
import torch

from aid_support import patch

FRAMES = 5
ALPHA, BETA = 3.0, 2.0  # an asymmetric prior, so that the rows' coefficients differ from their mirror images
TIMESTEP = 501  # a step of SD 2.1's 50-step "leading" schedule
MODES = [("outer", True), ("outer", False), ("inner", True), ("inner", False)]
PROCESSORS = {"outer": "OuterInterpolatedAttnProcessor", "inner": "InnerInterpolatedAttnProcessor"}
# Measured on this CPU (torch 2.14.1, ComfyUI 0.12.1 and 0.3.64, every mode): at most 1.6e-6 between the pack's
# positive rows and the reference's, 1.9e-6 on the negative rows, on predictions up to 1.4; AID itself moves every
# in-between row by 3e-2 to 9e-2 from plain attention. The bound, ten times the measured, leaves room for other CPUs.
TOLERANCE = dict(rtol=0.0, atol=2e-5)


@pytest.fixture(scope="module")
def interpolation(tmp_path_factory):
    """The reference's ``interpolation`` module (its processors), imported from its archive."""
    import reference_code

    return reference_code.import_reference("attention-interpolation-diffusion-dfa4e13.tar.gz", ["interpolation"],
                                           tmp_path_factory.mktemp("aid_reference"),
                                           stubs=("bayes_opt", "matplotlib", "matplotlib.pyplot"))["interpolation"]


@pytest.fixture(scope="module")
def twin():
    pytest.importorskip("diffusers", reason="diffusers runs the reference code")
    from diffusers_twin import build_sd2_twin

    return build_sd2_twin("v", seed=0)  # SD 2.1 is a v-prediction model


@pytest.fixture(scope="module")
def schedule(n):
    return n.schedule_nodes.BetaCoefficientSchedule.execute(
        frames=FRAMES, preset=n.schedule_nodes.PRESET_CUSTOM, steps=20, alpha=ALPHA, beta=BETA, start=0.0,
        end=1.0).args[0]


@pytest.fixture(scope="module")
def inputs(schedule):
    """Rows [A, in-betweens, B] as the reference's pipeline makes them: text embeddings interpolated along the
    coefficients (positive and negative), one latent a row (diffusers' scale) at ``TIMESTEP``."""
    g = torch.Generator().manual_seed(3)
    t = torch.tensor(schedule.coefficients).reshape(-1, 1, 1)
    prompts = [torch.randn(2, 1, 8, 1024, generator=g) for _ in range(2)]  # (A, B) for positive, negative
    positive, negative = ((1 - t) * a + t * b for a, b in prompts)
    return dict(x=torch.randn(FRAMES, 4, 16, 16, generator=g), positive=positive, negative=negative)


def _reference_processors(twin, interpolation, mode: str, fused: bool) -> dict:
    """``load_aid``'s processors for every attention of the twin, each over ``FRAMES`` rows on the Beta prior."""
    cls = getattr(interpolation, PROCESSORS[mode])
    return {name: cls(size=FRAMES, is_fused=fused, alpha=ALPHA, beta=BETA, original_attn=original)
            for name, original in twin.diffusers.attn_processors.items()}


def test_the_reference_weights_rows_as_the_schedule(interpolation, schedule):
    """The reference's coefficients are the pack's schedule; its row output weights endpoint B by the coefficient."""
    reference = interpolation.OuterInterpolatedAttnProcessor(size=FRAMES, alpha=ALPHA, beta=BETA)
    torch.testing.assert_close(reference.coef.double(), torch.tensor(schedule.coefficients, dtype=torch.float64),
                               rtol=0.0, atol=1e-7)  # float32 against float64


@pytest.mark.parametrize("mode, fused", MODES)
def test_one_cfg_model_call_matches_the_reference(n, twin, interpolation, schedule, inputs, mode, fused):
    unet, timestep = twin.diffusers, torch.tensor(TIMESTEP)
    plain = unet.attn_processors
    processors = _reference_processors(twin, interpolation, mode, fused)
    try:
        with torch.no_grad():
            unet.set_attn_processor(dict(processors))  # it empties the dict it gets
            positive = unet(inputs["x"], timestep, encoder_hidden_states=inputs["positive"]).sample
            for processor in processors.values():
                processor.deactivate()
            negative = unet(inputs["x"], timestep, encoder_hidden_states=inputs["negative"]).sample
            unet.set_attn_processor(dict(plain))
            without_aid = unet(inputs["x"], timestep, encoder_hidden_states=inputs["positive"]).sample
    finally:
        unet.set_attn_processor(dict(plain))

    model = patch(n, twin.comfy, schedule, mode=mode, fused=fused, layers="self + cross", start=0.0, end=1.0)
    with torch.no_grad():
        out = twin.comfy_prediction(torch.cat([inputs["x"]] * 2), TIMESTEP,
                                    torch.cat([inputs["negative"], inputs["positive"]]), model=model,
                                    transformer_options={"cond_or_uncond": [1, 0]})

    torch.testing.assert_close(out[FRAMES:], positive, **TOLERANCE)
    torch.testing.assert_close(out[:FRAMES], negative, **TOLERANCE)
    # The comparison means something: AID moves the in-between rows far beyond the tolerance, not the ends.
    assert (positive - without_aid)[1:-1].abs().amax(dim=(1, 2, 3)).min() > 1e-2
    torch.testing.assert_close(positive[[0, -1]], without_aid[[0, -1]], **TOLERANCE)
