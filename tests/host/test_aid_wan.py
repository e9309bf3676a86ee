"""AID on Wan 2.1 (T2V, I2V) and Wan 2.2 TI2V 5B inside ComfyUI's real sampler, on tiny random-weight models that
ComfyUI's model detection classes as ``WAN21_T2V``, ``WAN21_I2V`` and ``WAN22_T2V``. A row of the batch is a
clip: latents ``[5 clips, C, 2 frames, 8, 8]``, 32 video tokens a clip.

Every attention is told apart by its key length, independently of the pack: 32 video tokens (self-attention),
12 text tokens (cross-attention), 17 CLIP vision tokens (I2V's image cross-attention, from a real tiny CLIP vision
model); the I2V start image's latent is random, standing for a VAE encoding.
"""

import pytest
import torch

import joint_formulas
import tiny_models
from aid_support import FRAMES, make_dit_sequence, patch
from joint_formulas import OverrideRecorder
from sync_audit import (assert_one_graph_per_model_call, capture_attention_calls, replay_on_fake_cuda,
                        with_pytorch_attention)

VIDEO, TEXT, CLIP = 32, 12, 17
ROLE_OF_KEYS = {VIDEO: "self", TEXT: "cross", CLIP: "image_cross"}
LAYERS = {"self + cross": {"self", "cross", "image_cross"}, "self": {"self"}, "cross": {"cross", "image_cross"}}
# Wan 2.2 I2V A14B: Wan 2.1's blocks without the CLIP image projection, 36 channels in (latent, mask, start image).
FAMILIES = {"wan21_t2v": dict(), "wan21_i2v": dict(i2v=True), "wan22_ti2v_5b": dict(channels=48),
            "wan22_i2v_a14b": dict(extra={"patch_embedding.weight": (64, 36, 1, 2, 2)})}


@pytest.fixture(scope="module")
def models():
    return {name: tiny_models.build_wan_model_patcher(seed=0, **keys) for name, keys in FAMILIES.items()}


@pytest.fixture(scope="module")
def clip_vision_output(tmp_path_factory):
    clip_vision = tiny_models.build_wan_clip_vision(tmp_path_factory.mktemp("clip_vision") / "config.json")
    picture = torch.rand(1, 32, 32, 3, generator=torch.Generator().manual_seed(3))
    return clip_vision.encode_image(picture)


@pytest.fixture(scope="module")
def sequences(n, clip_vision_output):
    """One clip sequence per family: T2V and 5B text only, Wan 2.1 I2V with a start image (CLIP vision, latent,
    mask), Wan 2.2 I2V with its latent and mask only."""
    seq = make_dit_sequence(n)
    generator = torch.Generator().manual_seed(4)
    mask = torch.ones(1, 1, 2, 8, 8)
    mask[:, :, 0] = 0.0  # the first latent frame is the start image
    start = {"concat_mask": mask, "concat_latent_image": torch.randn(1, 16, 2, 8, 8, generator=generator)}
    clip = {"clip_vision_output": clip_vision_output}

    def with_start(conditioning, **more):
        return [[c, {**o, **start, **more}] for c, o in conditioning]

    def latent(channels):
        return {"samples": torch.zeros(FRAMES, channels, 2, 8, 8), "batch_index": [0] * FRAMES}

    return {"wan21_t2v": {**seq, "latent": latent(16)},
            "wan21_i2v": {**seq, "latent": latent(16), "positive": with_start(seq["positive"], **clip),
                          "negative": with_start(seq["negative"], **clip)},
            "wan22_ti2v_5b": {**seq, "latent": latent(48)},
            "wan22_i2v_a14b": {**seq, "latent": latent(16), "positive": with_start(seq["positive"]),
                               "negative": with_start(seq["negative"])}}


def _sample(model, seq, cfg=4.0, steps=2):
    import nodes as comfy_nodes

    return comfy_nodes.common_ksampler(model, 5, steps, cfg, "euler", "simple", seq["positive"], seq["negative"],
                                       seq["latent"])[0]["samples"]


def _recorded(n, model, seq, cfg=4.0, steps=2, **settings):
    patched = patch(n, model, seq["schedule"], **settings)
    options = patched.model_options["transformer_options"]
    recorder = OverrideRecorder(options["optimized_attention_override"])
    options["optimized_attention_override"] = recorder
    return _sample(patched, seq, cfg, steps), recorder.calls


def test_models_are_detected_as_their_family(models):
    classes = {name: type(model.model.model_config).__name__ for name, model in models.items()}
    assert classes == {"wan21_t2v": "WAN21_T2V", "wan21_i2v": "WAN21_I2V", "wan22_ti2v_5b": "WAN22_T2V",
                       "wan22_i2v_a14b": "WAN21_T2V"}


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("mode, fused", [("outer", True), ("inner", True), ("outer", False)])
def test_end_clips_are_plain_generations(n, models, sequences, family, mode, fused):
    model, seq = models[family], sequences[family]
    plain = _sample(model, seq)
    clips = _sample(patch(n, model, seq["schedule"], mode, fused), seq)
    assert torch.equal(clips[0], plain[0]) and torch.equal(clips[-1], plain[-1])
    for k in range(1, FRAMES - 1):
        assert not torch.allclose(clips[k], plain[k], atol=1e-4), f"in-between clip {k} unchanged by AID"
    assert torch.isfinite(clips).all()


@pytest.mark.parametrize("family", ["wan21_t2v", "wan21_i2v"])
@pytest.mark.parametrize("mode, fused", [("outer", True), ("outer", False), ("inner", True), ("inner", False)])
@pytest.mark.parametrize("layers", list(LAYERS))
def test_attentions_compute_the_paper_formulas(n, models, sequences, family, mode, fused, layers):
    """Every attention of two steps at cfg 4 recomputed: those ``layers`` names by the formulas with all the end
    clips' keys of that attention joined, the others plain."""
    seq = sequences[family]
    _, calls = _recorded(n, models[family], seq, mode=mode, fused=fused, layers=layers)
    weights = n.attention_patch.AIDConfig(coefficients=seq["schedule"].coefficients).weights
    seen = set()
    for call in calls:
        role = ROLE_OF_KEYS[call["k"].shape[2]]
        seen.add(role)
        chosen = slice(None) if role in LAYERS[layers] else None
        want = joint_formulas.expected(call if chosen else {**call, "options": {}}, weights, mode, fused, "all",
                                       n.attention_patch, chosen=chosen)
        torch.testing.assert_close(call["out"].double(), want, rtol=1e-4, atol=1e-5)
    assert seen == ({"self", "cross", "image_cross"} if family == "wan21_i2v" else {"self", "cross"})
    assert all([(s.a, s.b) for s in n.attention_patch.plan_of(call["options"]).segments] == [(5, 9)]
               for call in calls), "with cfg > 1 the positive chunk (the second) interpolates, the negative stays plain"


def test_window_and_cfg_one(n, models, sequences):
    """cfg 1 (one chunk), AID on the first of two steps only: 2 blocks x 2 attentions a step."""
    seq = sequences["wan21_t2v"]
    _, calls = _recorded(n, models["wan21_t2v"], seq, cfg=1.0, end=0.5)
    active = [[(s.a, s.b) for s in n.attention_patch.plan_of(call["options"]).segments] for call in calls]
    assert active == [[(0, 4)]] * 4 + [[]] * 4


@pytest.mark.parametrize("family", ["wan21_t2v", "wan21_i2v"])
@pytest.mark.parametrize("max_rows", [1, 2])
def test_parts_give_the_one_batch_clips(n, models, sequences, family, max_rows):
    model, seq = models[family], sequences[family]
    whole = _sample(patch(n, model, seq["schedule"], uncond=True), seq)
    split = _sample(patch(n, model, seq["schedule"], uncond=True, max_rows=max_rows), seq)
    torch.testing.assert_close(split, whole, rtol=0, atol=1e-5 * whole.abs().max().item())


@pytest.mark.parametrize("family", ["wan21_t2v", "wan21_i2v"])
def test_patched_attention_makes_no_device_sync(n, models, sequences, family):
    """Wan attention calls captured in real sampling, replayed on fake CUDA tensors (flash and efficient)."""
    seq = sequences[family]
    patched = patch(n, models[family], seq["schedule"], end=0.5)
    override, captured = capture_attention_calls(patched, lambda: _sample(patched, seq, cfg=1.0, steps=2))
    assert any(n.attention_patch.plan_of(kwargs["transformer_options"]).active for _, _, kwargs in captured)
    for dtype in (torch.bfloat16, torch.float32):
        # The block's call count lives in the options: each replay starts a block afresh.
        events = replay_on_fake_cuda(override, _fresh_blocks(n, captured), n.attention_patch, dtype)
        assert all(call == [] for call in events), events


def _fresh_blocks(n, captured):
    """The captured calls with a fresh block call count at each block's first call, as the block wrapper gives."""
    wan = n.attention_patch.wan
    replayed, current = [], {}
    for func, args, kwargs in captured:
        options = kwargs["transformer_options"]
        calls = options.get(wan.CALLS_KEY)
        if calls is not None:
            key = id(calls)
            if key not in current:
                current[key] = wan.WanBlockCalls(calls.index, calls.roles)
            options = {**options, wan.CALLS_KEY: current[key]}
        replayed.append((func, args, {**kwargs, "transformer_options": options}))
    return replayed


@pytest.mark.parametrize("family", ["wan21_t2v", "wan21_i2v"])
def test_patched_model_is_one_graph(n, models, sequences, family):
    """With PyTorch attention, the patched Wan body is one graph without breaks, window on and off."""
    base = with_pytorch_attention(models[family])
    patched = patch(n, base, sequences[family]["schedule"], end=0.5)
    assert_one_graph_per_model_call(n, base.get_model_object("diffusion_model"),
                                    lambda: _sample(patched, sequences[family], cfg=4.0, steps=2))


@pytest.mark.parametrize("extra, name", [
    ({"vace_patch_embedding.weight": (64, 96, 1, 2, 2), "vace_blocks.0.ffn.0.weight": (128, 64)}, "Wan VACE"),
    ({"control_adapter.conv.weight": (64, 24, 2, 2), "patch_embedding.weight": (64, 36, 1, 2, 2)},
     "Wan camera control"),
])
def test_variants_are_refused_by_name(n, sequences, extra, name):
    model = tiny_models.build_wan_model_patcher(seed=0, extra=extra)
    with pytest.raises(n.errors.InbetweenInputError, match=f"{name} is not supported"):
        patch(n, model, sequences["wan21_t2v"]["schedule"])


@pytest.mark.parametrize("max_rows", [0, 2])
def test_wan22_5b_image_to_video(n, models, sequences, max_rows):
    """Wan 2.2 TI2V 5B from a start image, as Wan22ImageToVideoLatent makes it: the first latent frame given and
    kept by a noise mask, which 5B turns into a timestep per token. End clips as plain sampling, start frame kept in
    every clip, in-betweens interpolated; in parts as in one batch."""
    model, seq = models["wan22_ti2v_5b"], sequences["wan22_ti2v_5b"]
    start = torch.randn(1, 48, 1, 8, 8, generator=torch.Generator().manual_seed(6))
    samples = torch.zeros(FRAMES, 48, 2, 8, 8)
    samples[:, :, :1] = start
    mask = torch.ones(FRAMES, 1, 2, 8, 8)
    mask[:, :, :1] = 0.0
    image_seq = {**seq, "latent": {"samples": samples, "noise_mask": mask, "batch_index": [0] * FRAMES}}
    plain = _sample(model, image_seq)
    clips = _sample(patch(n, model, seq["schedule"]), image_seq)
    assert torch.equal(clips[0], plain[0]) and torch.equal(clips[-1], plain[-1])
    assert all(not torch.allclose(clips[k], plain[k], atol=1e-4) for k in range(1, FRAMES - 1))
    torch.testing.assert_close(clips[:, :, :1], samples[:, :, :1], rtol=0, atol=1e-5)
    if max_rows:
        split = _sample(patch(n, model, seq["schedule"], max_rows=max_rows), image_seq)
        torch.testing.assert_close(split, clips, rtol=0, atol=1e-5 * clips.abs().max().item())


class KeptValues:
    """Stands in front of the AID override and counts, at each attention of an in-between part, the values kept
    (the store is emptied once no later part needs it, so it is read while the parts run)."""

    def __init__(self, inner, plan_of):
        self.inner, self.plan_of, self.stores, self.values, self.biased = inner, plan_of, set(), [], 0

    def __call__(self, func, *args, **kwargs):
        plan = self.plan_of(kwargs["transformer_options"])
        if plan.segments:
            self.stores.add(id(plan.kept))
            self.values.append(sum(x.numel() for keys in plan.kept.values() for x in (keys.keys, keys.values)))
            self.biased += sum(keys.bias is not None for keys in plan.kept.values())
        return self.inner(func, *args, **kwargs)


@pytest.mark.parametrize("layers, tokens", [("self + cross", VIDEO + TEXT), ("self", VIDEO), ("cross", TEXT)])
def test_max_rows_keeps_what_the_memory_table_counts(n, models, sequences, layers, tokens):
    """Under max_rows a model call keeps, per end clip and block, the keys and values of the attentions ``layers``
    names: ``2 x tokens x width`` values (the node page's memory table), and nothing else."""
    seq = sequences["wan21_t2v"]
    patched = patch(n, models["wan21_t2v"], seq["schedule"], layers=layers, max_rows=1)
    options = patched.model_options["transformer_options"]
    watch = KeptValues(options["optimized_attention_override"], n.attention_patch.plan_of)
    options["optimized_attention_override"] = watch
    _sample(patched, seq, cfg=1.0, steps=1)
    width, blocks, ends = 64, 2, 2
    assert len(watch.stores) == 1, "one model call, one store of kept endpoints"
    assert set(watch.values) == {ends * blocks * 2 * tokens * width}, "every in-between part finds both ends kept"
    assert watch.biased == 0
