"""AID on long sequences: ``max_rows`` carries out every model call of the sampler in parts.

Endpoint parts are each exactly the model call plain sampling of that picture alone makes, so the
endpoint rows equal those generations bit for bit. In-between rows equal the one-batch AID result
within the rounding of kernels run at another batch size: on the CPU the tiny UNet's 1x1 convolutions
(``proj_in``/``proj_out``) round differently per batch size (plain sampling of one picture alone and
in a batch differ by 2e-6 of the largest value after three steps), the tiny Flux does not.
"""

import gc
import weakref

import pytest
import torch

import tiny_models
import ipadapter_double as ipa
from aid_support import hypertile, make_dit_sequence, make_sdxl_sequence, make_sequence, patch, sample

FRAMES = 13
# In-between rows against one batch, relative to the frames' largest value (measured at most 2e-6).
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def unet_sequence(n, tiny_clip):
    return make_sequence(n, tiny_clip, FRAMES)


@pytest.fixture(scope="module")
def transformers():
    return {"flux": tiny_models.build_flux_model_patcher(seed=0),
            "qwen_image": tiny_models.build_qwen_image_model_patcher(seed=0),
            "sd35_mmdit_x": tiny_models.build_sd3_model_patcher(seed=0, mmdit_x=True)}


@pytest.fixture(scope="module")
def dit_sequence(n):
    return make_dit_sequence(n, FRAMES)


def alone(n, model, seq, row, cfg, steps=3, positive=None):
    """Plain sampling of frame ``row``'s picture alone: batch 1, the same seed and noise."""
    latent = {"samples": seq["latent"]["samples"][:1], "batch_index": [0]}
    one = n.adaptive_render.conditioning_row(positive or seq["positive"], row)
    return sample(model, seq, cfg, steps=steps, positive=one, latent=latent)[0]


def assert_same_frames(split, whole):
    torch.testing.assert_close(split, whole, rtol=0, atol=TOLERANCE * whole.abs().max().item())


def controlnet(n, seq):
    """The sequence's conditionings through a random-weight ControlNet for the tiny UNet (ComfyUI's loader)."""
    import comfy.controlnet
    import comfy.supported_models
    import nodes as comfy_nodes
    from comfy.cldm.cldm import ControlNet

    config = comfy.supported_models.SD15(tiny_models.sd15_unet_config()).unet_config
    config = {key: value for key, value in config.items() if key != "out_channels"}
    weights = tiny_models.init_random_(ControlNet(hint_channels=3, **config), 5).state_dict()
    control = comfy.controlnet.load_controlnet_state_dict({f"control_model.{k}": v for k, v in weights.items()})
    hint = torch.zeros(1, 64, 64, 3)
    hint[:, 16:48, 16:48] = 1.0
    positive, negative = comfy_nodes.ControlNetApplyAdvanced().apply_controlnet(
        seq["positive"], seq["negative"], control, hint, 1.0, 0.0, 1.0)
    return {**seq, "positive": positive, "negative": negative}


def paid(n, seq):
    guided = n.conditioning_nodes.ConditioningInterpolationBatch.execute(
        seq["encode"]("a photo of a cat"), seq["encode"]("a photo of a dog"), seq["schedule"], "lerp", "error",
        guide=seq["encode"]("a photo of a fox")).args[0]
    return {**seq, "positive": guided}


# variant -> (sequence change, patch options, steps)
UNET_VARIANTS = {
    "plain": (None, {}, 3),
    "window": (None, {"end": 0.5}, 4),  # steps 0-1 interpolate, 2-3 do not
    "apply_to_uncond": (None, {"uncond": True}, 3),
    "paid": (paid, {}, 3),
    "inner": (None, {"mode": "inner"}, 3),
    "controlnet": (controlnet, {}, 3),
}


@pytest.mark.parametrize("cfg, max_rows, variant", [
    (5.0, 2, "plain"), (5.0, 3, "plain"), (5.0, 1, "plain"), (1.0, 2, "plain"), (1.0, 3, "plain"),
    *[(5.0, 3, variant) for variant in UNET_VARIANTS if variant != "plain"],
])
def test_unet_parts_give_the_one_batch_frames(n, tiny_model, unet_sequence, cfg, max_rows, variant):
    change, options, steps = UNET_VARIANTS[variant]
    seq = change(n, unet_sequence) if change else unet_sequence
    whole = sample(patch(n, tiny_model, seq["schedule"], **options), seq, cfg, steps=steps)
    split = sample(patch(n, tiny_model, seq["schedule"], max_rows=max_rows, **options), seq, cfg, steps=steps)
    assert_same_frames(split, whole)
    for row in (0, FRAMES - 1):
        expected = alone(n, tiny_model, seq, row, cfg, steps, seq["positive"])
        if variant == "controlnet" or max_rows < 2 <= cfg:
            # ComfyUI runs the ControlNet on the whole batch before the model call: its residuals for an
            # endpoint come from a batch of 26 rows, not 2, and carry that batch's rounding. max_rows 1 runs
            # an endpoint's positive and negative rows apart, where sampling it alone runs them together.
            assert_same_frames(split[row], expected)
        else:
            assert torch.equal(split[row], expected), f"endpoint {row} must be plain sampling of its picture alone"
    plain = sample(tiny_model, seq, cfg, steps=steps)
    assert not torch.allclose(split[1:-1], plain[1:-1], atol=1e-3), "AID acts on the in-betweens"


@pytest.mark.parametrize("family, cfg, max_rows, end", [
    ("flux", 1.0, 2, 1.0), ("flux", 1.0, 3, 0.5), ("qwen_image", 4.0, 3, 1.0),
    ("sd35_mmdit_x", 4.0, 4, 1.0),  # two attentions per block: the joint one and the image-only one
])
def test_transformer_parts_give_the_one_batch_frames(n, transformers, dit_sequence, family, cfg, max_rows, end):
    model = transformers[family]
    whole = sample(patch(n, model, dit_sequence["schedule"], end=end), dit_sequence, cfg, steps=2)
    split = sample(patch(n, model, dit_sequence["schedule"], end=end, max_rows=max_rows), dit_sequence, cfg, steps=2)
    assert_same_frames(split, whole)
    for row in (0, FRAMES - 1):
        assert torch.equal(split[row], alone(n, model, dit_sequence, row, cfg, steps=2))
    plain = sample(model, dit_sequence, cfg, steps=2)
    assert not torch.allclose(split[1:-1], plain[1:-1], atol=1e-4), "AID acts on the in-betweens"


def test_flux_kontext_reference_latents_are_split_with_the_rows(n, transformers, dit_sequence):
    reference = torch.randn(1, 16, 8, 8, generator=torch.Generator().manual_seed(9))
    seq = {**dit_sequence, "positive": [[c, {**o, "reference_latents": [reference]}]
                                         for c, o in dit_sequence["positive"]]}
    model = transformers["flux"]
    whole = sample(patch(n, model, seq["schedule"], layers="self"), seq, 1.0, steps=2)
    split = sample(patch(n, model, seq["schedule"], layers="self", max_rows=4), seq, 1.0, steps=2)
    assert_same_frames(split, whole)
    assert torch.equal(split[0], alone(n, model, seq, 0, 1.0, steps=2))


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_ip_adapter_in_either_order_follows_the_parts(n, tiny_model, unet_sequence, family):
    """IPAdapter_plus (its protocol double) before and after AID; on SDXL the 2816-wide ADM input ``y`` is cut
    with the rows."""
    model, seq, width = tiny_model, unet_sequence, 768
    if family == "sdxl":
        model, seq, width = tiny_models.build_small_sdxl_model_patcher(), make_sdxl_sequence(n, FRAMES), 1280
    embeds = torch.randn(1, 4, width, generator=torch.Generator().manual_seed(2))
    adapter = lambda m: ipa.apply_ipadapter(m, embeds, weight=0.8, seed=0)  # noqa: E731
    whole = sample(patch(n, adapter(model), seq["schedule"]), seq, 5.0, steps=2)
    for split in (sample(patch(n, adapter(model), seq["schedule"], max_rows=4), seq, 5.0, steps=2),
                  sample(adapter(patch(n, model, seq["schedule"], max_rows=4)), seq, 5.0, steps=2)):
        assert_same_frames(split, whole)
    assert not torch.allclose(whole, sample(patch(n, model, seq["schedule"]), seq, 5.0, steps=2), atol=1e-3)


def _model_calls(model, **record):
    """Every call of the diffusion model (after AID's split): its batch and ``cond_or_uncond``."""
    import comfy.patcher_extension as extension

    calls = []

    def spy(executor, *args, **kwargs):
        calls.append((args[0].shape[0], list(args[5]["cond_or_uncond"])))
        if "interrupt_after" in record and len(calls) == record["interrupt_after"]:
            import comfy.model_management

            comfy.model_management.interrupt_current_processing(True)
        return executor(*args, **kwargs)

    model = model.clone()
    model.add_wrapper_with_key(extension.WrappersMP.DIFFUSION_MODEL, "test", spy)
    return model, calls


@pytest.mark.parametrize("cfg, max_rows, rows", [
    (5.0, 4, [2, 2] + [4] * 5 + [2]),  # A, B (uncond and cond together), then two frames a part
    (5.0, 3, [2, 2] + [2] * 11),  # three rows cannot hold two frames of both chunks
    (5.0, 1, [1] * 26),  # each chunk alone
    (1.0, 4, [1, 1] + [4, 4, 3]),
])
def test_parts_hold_at_most_max_rows(n, tiny_model, unet_sequence, cfg, max_rows, rows):
    model, calls = _model_calls(patch(n, tiny_model, unet_sequence["schedule"], max_rows=max_rows))
    sample(model, unet_sequence, cfg, steps=2)
    assert [batch for batch, _ in calls] == rows * 2, "every model call of the sampler in the same parts"
    chunks = [1, 0] if cfg > 1 else [0]
    assert all(kinds == chunks for _, kinds in calls if len(kinds) > 1 or max_rows >= len(chunks))


def test_a_batch_within_max_rows_is_one_call(n, tiny_model, unet_sequence):
    model, calls = _model_calls(patch(n, tiny_model, unet_sequence["schedule"], max_rows=26))
    sample(model, unet_sequence, 5.0, steps=1)
    assert [batch for batch, _ in calls] == [26]


def _host_attention_rows(model, run) -> list[list[int]]:
    """The batch of every host attention call (ComfyUI's attention override, which AID's plain rows pass) while
    ``run(clone)`` samples a clone of ``model``: one list per call of the diffusion model."""
    calls = []

    def override(func, *args, **kwargs):
        calls[-1].append(args[0].shape[0])
        return func(*args, **kwargs)

    model = model.clone()
    model.model_options["transformer_options"]["optimized_attention_override"] = override
    hook = model.get_model_object("diffusion_model").register_forward_pre_hook(lambda *_: calls.append([]))
    try:
        run(model)
    finally:
        hook.remove()
    return calls


@pytest.mark.parametrize("cfg, max_rows, host_rows", [
    (5.0, 4, [2, 2] + [2] * 5 + [1]),  # the in-between parts' negative rows only
    (5.0, 1, [1, 1, 1, 1] + [1, 0] * 11),  # negative parts plain, positive in-between parts all AID
    (1.0, 4, [1, 1, 0, 0, 0]),
])
def test_in_between_parts_leave_their_interpolated_rows_to_aid(n, tiny_model, unet_sequence, cfg, max_rows, host_rows):
    """In an in-between part every row of the interpolating chunk is replaced by AID, so the host's attention runs
    on the other chunk's rows alone: no plain attention computed and thrown away (20 attention layers a call)."""
    calls = _host_attention_rows(tiny_model, lambda model: sample(
        patch(n, model, unet_sequence["schedule"], max_rows=max_rows), unet_sequence, cfg, steps=1))
    assert [sum(batches) for batches in calls] == [20 * rows for rows in host_rows]


@pytest.mark.parametrize("family, cfg, max_rows, host_rows", [
    ("flux", 1.0, 4, [1, 1, 0, 0, 0]),  # 4 blocks (2 double, 2 single), one attention each
    ("qwen_image", 4.0, 4, [2, 2] + [2] * 5 + [1]),
    ("sd35_mmdit_x", 4.0, 4, [2, 2] + [2] * 5 + [1]),
])
def test_transformer_in_between_parts_leave_their_rows_to_aid(n, transformers, dit_sequence, family, cfg, max_rows,
                                                              host_rows):
    calls = _host_attention_rows(transformers[family], lambda model: sample(
        patch(n, model, dit_sequence["schedule"], max_rows=max_rows), dit_sequence, cfg, steps=1))
    per_row = sum(calls[0]) // host_rows[0]
    assert per_row > 0 and [sum(batches) for batches in calls] == [per_row * rows for rows in host_rows]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_batch_invariant_backends_give_each_row_the_same_bits(n, dtype):
    """The backends a layer trusts to compute endpoint rows apart from the rest of the batch: each row's bits do not
    depend on the rows beside it (the tiny UNet's and Flux's attention shapes, and a large one)."""
    import importlib

    generator = torch.Generator().manual_seed(0)
    for module, name in n.attention_patch.layer.BATCH_INVARIANT_ON_CPU:
        attention = getattr(importlib.import_module(module), name)
        for batch, tokens, keys, heads, dim in ((26, 64, 64, 8, 8), (26, 16, 77, 8, 20), (7, 1024, 1024, 8, 8),
                                                (13, 80, 80, 2, 32), (26, 4, 77, 8, 40)):
            q, k, v = (torch.randn(batch, t, heads * dim, generator=generator).to(dtype) for t in (tokens, keys, keys))
            whole = attention(q, k, v, heads)
            for rows in (slice(0, 1), slice(batch - 1, batch), slice(0, batch // 2), slice(1, 4)):
                assert torch.equal(attention(q[rows], k[rows], v[rows], heads), whole[rows]), (name, batch, rows)


def test_one_batch_computes_endpoint_rows_apart_on_a_batch_invariant_backend(n, tiny_model, unet_sequence,
                                                                             monkeypatch):
    """With PyTorch attention (``--use-pytorch-cross-attention``) the host's attention runs on the endpoints and the
    negative chunk only; the end frames stay plain sampling's bit for bit. ComfyUI's CPU default (sub-quadratic)
    keeps the whole batch."""
    import functools

    import comfy.ldm.modules.attention as attention

    rows = []

    @functools.wraps(attention.attention_pytorch)
    def pytorch_attention(q, *args, **kwargs):
        rows.append(q.shape[0])
        return attention.attention_pytorch(q, *args, **kwargs)

    patched = patch(n, tiny_model, unet_sequence["schedule"])
    default = sample(patched, unet_sequence, 5.0, steps=1)
    monkeypatch.setattr(attention, "optimized_attention", pytorch_attention)
    plain = sample(tiny_model, unet_sequence, 5.0, steps=1)
    rows.clear()
    apart = sample(patched, unet_sequence, 5.0, steps=1)
    assert sum(rows) == 20 * (FRAMES + 2), "20 layers: the negative chunk's 13 rows and the two endpoints"
    assert torch.equal(apart[0], plain[0]) and torch.equal(apart[-1], plain[-1])
    assert_same_frames(apart, default)


def test_kept_keys_values_are_released_after_each_model_call(n, tiny_model, unet_sequence):
    """The endpoints' keys/values live in a dict of one model call: the in-between parts see every AID layer's
    (2 layers x 10 transformer blocks x 2 endpoints, the positive chunk only), and nothing outlives sampling."""
    sizes, refs, dicts = [], [], set()

    def spy(out, options):  # attn1's output patch: sees the layer's options, after AID kept its endpoints
        plan = n.attention_patch.plan_of(options)
        if plan.segments:
            sizes.append(len(plan.kept))
            dicts.add(id(plan.kept))
            refs.extend(weakref.ref(x) for kept in plan.kept.values() for x in kept if x is not None)
        return out

    patched = patch(n, tiny_model, unet_sequence["schedule"], max_rows=4, end=0.5)
    patched.set_model_attn1_output_patch(spy)
    sample(patched, unet_sequence, 5.0, steps=4)
    blocks = sum(n.attention_patch.unet.transformer_blocks(tiny_model.get_model_object("diffusion_model")).values())
    assert blocks == 10 and set(sizes) == {2 * blocks * 2}, "every layer's endpoints, no more"
    assert len(dicts) == 2, "one dict per model call in the window (2 of 4 steps)"
    gc.collect()
    assert refs and all(ref() is None for ref in refs), "kept keys/values must be released after the model call"


def test_cancel_is_honoured_between_parts(n, tiny_model, unet_sequence):
    import comfy.model_management

    model, calls = _model_calls(patch(n, tiny_model, unet_sequence["schedule"], max_rows=4), interrupt_after=3)
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        sample(model, unet_sequence, 5.0, steps=2)
    assert len(calls) == 3, "the next part of the model call checks for cancel"


def test_progress_bar_follows_the_steps(n, tiny_model, unet_sequence):
    import comfy.utils

    seen = []
    comfy.utils.set_progress_bar_global_hook(lambda value, total, preview, node_id=None: seen.append((value, total)))
    try:
        sample(patch(n, tiny_model, unet_sequence["schedule"], max_rows=4), unet_sequence, 5.0, steps=3)
    finally:
        comfy.utils.set_progress_bar_global_hook(None)
    assert seen == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize("bad, name", [
    ({"guidance": torch.full((1,), 3.5)}, "'guidance' has 1 rows for a batch of 13"),
    ({"control": {"input": [torch.zeros(2, 128, 8, 8)]}}, "'control.input[0]' has 2 rows for a batch of 13"),
])
def test_inputs_that_cannot_be_split_are_refused(n, transformers, dit_sequence, bad, name):
    patched = patch(n, transformers["flux"], dit_sequence["schedule"], max_rows=4)
    rows = FRAMES
    inputs = dict(x=torch.zeros(rows, 16, 8, 8), t=torch.full((rows,), 0.5),
                  c_crossattn=torch.zeros(rows, 12, tiny_models.TINY_CONTEXT), y=torch.zeros(rows, tiny_models.TINY_POOLED),
                  guidance=torch.full((rows,), 3.5))
    # What the sampler hands the model: the patch's options and wrappers, one chunk of 13 rows.
    options = {**patched.model_options["transformer_options"], "wrappers": patched.wrappers, "cond_or_uncond": [0]}
    with pytest.raises(n.errors.InbetweenInputError, match=r"AID Attention Patch.*max_rows.*" + name.replace("[", r"\[")
                       .replace("]", r"\]")):
        patched.model.apply_model(**{**inputs, **bad}, transformer_options=options)


@pytest.mark.parametrize("value", [-1, 2.5, True])
def test_max_rows_is_checked(n, tiny_model, unet_sequence, value):
    with pytest.raises(n.errors.InbetweenInputError, match="max_rows"):
        patch(n, tiny_model, unet_sequence["schedule"], max_rows=value)


def _pag(model):
    from comfy_extras.nodes_pag import PerturbedAttentionGuidance

    return PerturbedAttentionGuidance.execute(model, scale=1.0).args[0]


@pytest.mark.parametrize("node", [hypertile, _pag], ids=["hypertile", "perturbed_attention_guidance"])
def test_model_patches_that_follow_the_parts(n, tiny_model, unet_sequence, node):
    """HyperTile's tiles and PAG's extra model call (itself carried out in parts) give the one-batch frames."""
    whole = sample(patch(n, node(tiny_model), unet_sequence["schedule"]), unet_sequence, 5.0, steps=2)
    split = sample(patch(n, node(tiny_model), unet_sequence["schedule"], max_rows=4), unet_sequence, 5.0, steps=2)
    assert_same_frames(split, whole)


def test_self_attention_guidance_is_refused_with_max_rows(n, tiny_model, unet_sequence):
    from comfy_extras.nodes_sag import SelfAttentionGuidance

    sag = SelfAttentionGuidance.execute(tiny_model, scale=0.5, blur_sigma=2.0).args[0]
    with pytest.raises(n.errors.InbetweenInputError, match="Self-Attention Guidance records the attention"):
        sample(patch(n, sag, unet_sequence["schedule"], max_rows=4), unet_sequence, 5.0, steps=1)

