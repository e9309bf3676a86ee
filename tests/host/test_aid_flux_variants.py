"""AID on the models built from Flux's blocks besides Flux dev: Flux 2 (dev and Klein; ComfyUI v0.12 on, which builds
them with the Flux class), Chroma and Chroma Radiance (pixel space), on tiny models whose configs ComfyUI's model
detection writes. Shared Noise Latent gives each the latent its sampler expects."""

import pytest
import torch

import joint_formulas
import tiny_models
from aid_support import FRAMES, make_dit_sequence, patch
from joint_formulas import OverrideRecorder


def _has_flux2() -> bool:
    import comfy.supported_models

    return hasattr(comfy.supported_models, "Flux2")


FLUX2 = pytest.mark.skipif("not _has_flux2()", reason="Flux 2 exists from ComfyUI v0.12 on")
FAMILIES = {
    "flux2_dev": pytest.param(lambda: tiny_models.build_flux2_model_patcher(seed=0), marks=FLUX2),
    "flux2_klein": pytest.param(lambda: tiny_models.build_flux2_model_patcher(seed=0, klein=True), marks=FLUX2),
    "chroma": pytest.param(lambda: tiny_models.build_chroma_model_patcher(seed=0)),
    "chroma_radiance": pytest.param(lambda: tiny_models.build_chroma_model_patcher(seed=0, radiance=True)),
}


@pytest.fixture(scope="module")
def sequence(n):
    seq = make_dit_sequence(n)
    return {**seq, "latent": n.latent_nodes.SharedNoiseLatent.execute(64, 64, 1, seq["schedule"]).args[0]}


def _sample(model, seq, cfg=1.0, steps=2):
    import nodes as comfy_nodes

    return comfy_nodes.common_ksampler(model, 5, steps, cfg, "euler", "simple", seq["positive"], seq["negative"],
                                       seq["latent"])[0]["samples"]


@pytest.mark.parametrize("build", list(FAMILIES.values()), ids=list(FAMILIES))
def test_end_frames_exact_in_betweens_interpolated(n, sequence, build):
    model = build()
    plain = _sample(model, sequence)
    patched = patch(n, model, sequence["schedule"])
    options = patched.model_options["transformer_options"]
    recorder = OverrideRecorder(options["optimized_attention_override"])
    options["optimized_attention_override"] = recorder
    frames = _sample(patched, sequence)
    assert torch.equal(frames[0], plain[0]) and torch.equal(frames[-1], plain[-1])
    for k in range(1, FRAMES - 1):
        assert not torch.allclose(frames[k], plain[k], atol=1e-4), f"in-between frame {k} unchanged by AID"
    weights = n.attention_patch.AIDConfig(coefficients=sequence["schedule"].coefficients).weights
    layouts = {n.attention_patch.layout_of(call["options"]) for call in recorder.calls}
    assert len(layouts) == 4, "every double and single block's attention interpolates"
    for call in recorder.calls:
        torch.testing.assert_close(call["out"].double(), joint_formulas.expected(
            call, weights, "outer", True, "all", n.attention_patch), rtol=1e-4, atol=1e-5)


@FLUX2
def test_flux2_gets_the_picture_size_asked_for(n, sequence):
    """A 64x64 Shared Noise Latent becomes Flux 2's 128-channel latent at 1/16 (4x4), as Empty Latent Image's does,
    not a 1/16 reading of a 1/8 latent (a picture twice as wide and high)."""
    import nodes as comfy_nodes

    model = tiny_models.build_flux2_model_patcher(seed=0)
    core = comfy_nodes.EmptyLatentImage().generate(64, 64, FRAMES)[0]
    ours = _sample(model, sequence, steps=1)
    reference = comfy_nodes.common_ksampler(model, 5, 1, 1.0, "euler", "simple", sequence["positive"],
                                            sequence["negative"], core)[0]["samples"]
    assert ours.shape == reference.shape == (FRAMES, 128, 4, 4)


def test_chroma_radiance_samples_pixels(n, sequence):
    """Chroma Radiance's latent is the picture itself; on ComfyUI v0.12 on it has the size asked for."""
    frames = _sample(tiny_models.build_chroma_model_patcher(seed=0, radiance=True), sequence, steps=1)
    assert frames.shape[:2] == (FRAMES, 3)
    if _has_flux2():  # the samplers read the latent's ratio from v0.12 on
        assert frames.shape[-2:] == (64, 64)


@pytest.mark.parametrize("build", [FAMILIES["chroma"], FAMILIES["flux2_klein"]], ids=["chroma", "flux2_klein"])
def test_parts_give_the_one_batch_frames(n, sequence, build):
    model = build()
    whole = _sample(patch(n, model, sequence["schedule"]), sequence)
    split = _sample(patch(n, model, sequence["schedule"], max_rows=2), sequence)
    torch.testing.assert_close(split, whole, rtol=0, atol=1e-5 * whole.abs().max().item())
