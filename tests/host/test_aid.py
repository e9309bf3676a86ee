"""AID Attention Patch inside ComfyUI's real sampler, on the tiny SD1.5-shaped UNet."""

import math

import pytest
import torch

FRAMES = 5


@pytest.fixture(scope="module")
def n(pack):
    return pack.nodes


@pytest.fixture(scope="module")
def sequence(n, tiny_clip):
    """Schedule, interpolated conditioning batch (cat -> dog), negative prompt and a shared-noise latent."""
    import nodes as comfy_nodes

    encode = lambda text: comfy_nodes.CLIPTextEncode().encode(tiny_clip, text)[0]  # noqa: E731
    schedule = n.schedule_nodes.BetaCoefficientSchedule.execute(
        frames=FRAMES, preset="uniform", steps=20, alpha=2.0, beta=2.0, start=0.0, end=1.0).args[0]
    batch = n.conditioning_nodes.ConditioningInterpolationBatch.execute(
        encode("a photo of a cat"), encode("a photo of a dog"), schedule, "lerp", "error").args[0]
    latent = n.latent_nodes.SharedNoiseLatent.execute(64, 64, 1, schedule).args[0]
    return dict(schedule=schedule, positive=batch, negative=encode("blurry"), latent=latent, encode=encode)


def patch(n, model, schedule, mode="outer", fused=True, layers="self + cross", start=0.0, end=1.0, uncond=False):
    return n.aid_nodes.AIDAttentionPatch.execute(model, schedule, mode, fused, layers, start, end, uncond).args[0]


def sample(model, seq, cfg=5.0, steps=3, positive=None, latent=None):
    import nodes as comfy_nodes

    return comfy_nodes.common_ksampler(model, 11, steps, cfg, "euler", "normal", positive or seq["positive"],
                                       seq["negative"], latent or seq["latent"])[0]["samples"]


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


class Recorder:
    """Stands in front of a replace patch and keeps what it was given and what it returned."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __call__(self, q, k, v, options):
        out = self.inner(q, k, v, options)
        self.calls.append(dict(q=q.clone(), k=k.clone(), v=v.clone(), out=out.clone(), heads=options["n_heads"],
                               chunks=list(options.get("cond_or_uncond") or [0])))
        return out


def _softmax_attention(q, k, v):
    """[T, H, D] x [S, H, D] -> [T, H, D], float64, straight from the definition."""
    scores = torch.einsum("thd,shd->hts", q, k) / math.sqrt(q.shape[-1])
    return torch.einsum("hts,shd->thd", torch.softmax(scores, dim=-1), v)


def _expected(call, coefficients, mode, fused, uncond):
    """The whole layer output recomputed from the paper's formulas on the captured q, k, v."""
    heads, frames = call["heads"], len(coefficients)
    q, k, v = (call[x].double().unflatten(-1, (heads, -1)) for x in ("q", "k", "v"))  # [B, T, H, D]
    out = torch.stack([_softmax_attention(q[r], k[r], v[r]) for r in range(q.shape[0])])
    for c, kind in enumerate(call["chunks"]):
        if kind == 1 and not uncond:
            continue
        a, b = c * frames, (c + 1) * frames - 1
        for row in range(a + 1, b):
            t = coefficients[row - a]
            if mode == "outer":
                key_sets = [(k[a], v[a]), (k[b], v[b])]
                if fused:
                    key_sets = [(torch.cat([k[row], kk]), torch.cat([v[row], vv])) for kk, vv in key_sets]
                (ka, va), (kb, vb) = key_sets
                out[row] = (1 - t) * _softmax_attention(q[row], ka, va) + t * _softmax_attention(q[row], kb, vb)
            else:
                kt, vt = (1 - t) * k[a] + t * k[b], (1 - t) * v[a] + t * v[b]
                if fused:
                    kt, vt = torch.cat([k[row], kt]), torch.cat([v[row], vt])
                out[row] = _softmax_attention(q[row], kt, vt)
    return out.flatten(-2)


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
