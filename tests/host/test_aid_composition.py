"""AID composes with the attention patches people stack, in either order (issue 15).

Each pairing is sampled in both orders on the tiny models: the frames must be identical, the endpoint
frames exactly what the other patch gives alone, and the other patch must still act. IPAdapter_plus
is played by its protocol double (``ipadapter_double``); the nodes of ComfyUI are the real ones.
"""

import pytest
import torch

import ipadapter_double as ipa
import tiny_models
from aid_support import FRAMES, hypertile, make_sdxl_sequence, patch, sample


@pytest.fixture(scope="module")
def sdxl_sequence(n):
    return make_sdxl_sequence(n)


@pytest.fixture(scope="module", params=["sd15", "sdxl"])
def family(request, tiny_model, sequence, sdxl_sequence):
    """(model, sequence, image embedding) of one model family."""
    if request.param == "sd15":
        return tiny_model, sequence, torch.randn(1, 4, 768, generator=torch.Generator().manual_seed(2))
    return tiny_models.build_small_sdxl_model_patcher(), sdxl_sequence, torch.randn(1, 4, 1280, generator=torch.Generator().manual_seed(2))


def _run(model, seq, steps=2, **kwargs):
    torch.manual_seed(0)  # for patches that draw from the global generator (Token Merging)
    return sample(model, seq, steps=steps, **kwargs)


def test_ipadapter_either_order_gives_the_same_frames(n, family):
    model, seq, embeds = family
    aid = lambda m: patch(n, m, seq["schedule"])  # noqa: E731
    adapter = lambda m, seed=0: ipa.apply_ipadapter(m, embeds, weight=0.8, seed=seed)  # noqa: E731
    alone, aid_alone = _run(adapter(model), seq), _run(aid(model), seq)
    ipa.Attn2Replace.callback_calls = 0
    adapter_first = _run(aid(adapter(model)), seq)
    calls = ipa.Attn2Replace.callback_calls
    ipa.Attn2Replace.callback_calls = 0
    aid_first = _run(adapter(aid(model)), seq)
    assert calls > 0 and ipa.Attn2Replace.callback_calls == calls, "the adapter runs on every layer in both orders"
    assert torch.equal(aid_first, adapter_first)
    assert torch.equal(aid_first[0], alone[0]) and torch.equal(aid_first[-1], alone[-1])
    assert not torch.allclose(aid_first, aid_alone, atol=1e-3), "the adapter is not hidden"


def test_two_adapters_stack_around_aid(n, family):
    model, seq, embeds = family
    aid = lambda m: patch(n, m, seq["schedule"])  # noqa: E731
    first = lambda m: ipa.apply_ipadapter(m, embeds, weight=0.8, seed=0)  # noqa: E731
    second = lambda m: ipa.apply_ipadapter(m, embeds.flip(1), weight=0.5, seed=1)  # noqa: E731
    reference = _run(aid(second(first(model))), seq)
    assert torch.equal(_run(second(aid(first(model))), seq), reference)
    assert torch.equal(_run(second(first(aid(model))), seq), reference)


def test_sd15_adapter_after_aid_stacks_on_the_block_wide_key(n, tiny_model, sequence):
    """SD1.5 IP-Adapter keys are (block, number); ComfyUI reads (block, number, index) first. AID holds both."""
    patched = ipa.apply_ipadapter(patch(n, tiny_model, sequence["schedule"]), torch.zeros(1, 4, 768))
    ipa.Attn2Replace.callback_calls = 0
    _run(patched, sequence, steps=1)
    blocks = n.attention_patch.unet.transformer_blocks(tiny_model.get_model_object("diffusion_model"))
    # IPAdapter_plus keys the middle block ("middle", 1), which ComfyUI never looks up: every other block counts.
    keyed = [block for block in blocks if block[0] != "middle"]
    assert ipa.Attn2Replace.callback_calls == len(keyed), "the adapter stacked on each block-wide key runs on the " \
                                                           "block's per-index layer, once"


class Carried:
    """A replace patch with what ComfyUI calls on patch objects besides calling them: ``to`` and ``models``."""

    moves: list = []  # on the class: ComfyUI deep-copies patch objects whenever it clones a model
    model = torch.nn.Linear(1, 1)

    def __call__(self, q, k, v, options):
        import comfy.ldm.modules.attention as attention

        return attention.optimized_attention(q, k, v, options["n_heads"], transformer_options=options)

    def to(self, target):
        type(self).moves.append(target)
        return self

    def models(self):
        return [self.model]


def test_to_and_models_reach_the_wrapped_patch(n, tiny_model, sequence):
    before = tiny_model.clone()
    before.set_model_attn2_replace(Carried(), "input", 1, 0)
    patched = patch(n, before, sequence["schedule"])
    Carried.moves = []
    patched.model_patches_to(torch.device("cpu"))
    patched.model_patches_to(torch.float32)
    assert Carried.moves == [torch.device("cpu"), torch.float32]
    assert Carried.model in patched.model_patches_models()
    ipa.Attn2Replace.to_calls = []
    with_adapter = patch(n, ipa.apply_ipadapter(tiny_model, torch.zeros(1, 4, 768)), sequence["schedule"])
    with_adapter.model_patches_to(torch.device("cpu"))
    assert ipa.Attn2Replace.to_calls, "the adapter's to() is reached through AID"


def _sag(model):
    from comfy_extras.nodes_sag import SelfAttentionGuidance

    return SelfAttentionGuidance.execute(model, scale=0.5, blur_sigma=2.0).args[0]


def _pag(model):
    from comfy_extras.nodes_pag import PerturbedAttentionGuidance

    return PerturbedAttentionGuidance.execute(model, scale=1.0).args[0]


def _tome(model):
    from comfy_extras.nodes_tomesd import TomePatchModel

    return TomePatchModel.execute(model, ratio=0.5).args[0]


def _freeu(model):
    from comfy_extras.nodes_freelunch import FreeU

    return FreeU().patch(model, b1=1.3, b2=1.4, s1=0.9, s2=0.2)[0]


def _freeu_v2(model):
    from comfy_extras.nodes_freelunch import FreeU_V2

    return FreeU_V2().patch(model, b1=1.3, b2=1.4, s1=0.9, s2=0.2)[0]


def _lora(model):
    lora = model.clone()
    for key, weight in model.model.state_dict().items():
        if key.endswith(("attn1.to_q.weight", "attn2.to_v.weight")):
            noise = torch.randn(weight.shape, generator=torch.Generator().manual_seed(3)) * 0.05
            lora.add_patches({key: (noise,)}, strength_patch=1.0)
    return lora


def _slg(model):
    from comfy_extras.nodes_slg import SkipLayerGuidanceDiT

    return SkipLayerGuidanceDiT.execute(model, scale=3.0, start_percent=0.0, end_percent=1.0, double_layers="0",
                                        single_layers="0").args[0]


# node -> does it change a plain generation on the tiny model (SLG's skips name transformer blocks, which a
# UNet does not have: its extra pass equals the plain one)
NODES = {"self_attention_guidance": (_sag, True), "perturbed_attention_guidance": (_pag, True),
         "hypertile": (hypertile, True), "token_merging": (_tome, True), "freeu": (_freeu, True),
         "freeu_v2": (_freeu_v2, True), "lora": (_lora, True), "skip_layer_guidance_dit": (_slg, False)}


@pytest.mark.parametrize("name", NODES)
def test_comfy_node_either_order_gives_the_same_frames(n, tiny_model, sequence, name):
    node, acts = NODES[name]
    aid = lambda m: patch(n, m, sequence["schedule"])  # noqa: E731
    alone = _run(node(tiny_model), sequence)
    node_first, aid_first = _run(aid(node(tiny_model)), sequence), _run(node(aid(tiny_model)), sequence)
    assert torch.equal(aid_first, node_first), "the order of the two nodes must not matter"
    assert torch.equal(aid_first[0], alone[0]) and torch.equal(aid_first[-1], alone[-1]), "endpoints as the node alone"
    assert not torch.allclose(aid_first[1:-1], alone[1:-1], atol=1e-3), "AID interpolates the in-betweens"
    if acts:
        assert not torch.allclose(alone, _run(tiny_model, sequence), atol=1e-3), f"{name} changes the frames"


def test_self_attention_guidance_after_aid_keeps_both(n, tiny_model, sequence):
    """SAG sets ("middle", 0, 0) by assignment; AID takes it back in each model call's options, not in the model."""
    sag_last = _sag(patch(n, tiny_model, sequence["schedule"]))
    replaces = sag_last.model_options["transformer_options"]["patches_replace"]["attn1"]
    assert not isinstance(replaces[("middle", 0, 0)], n.attention_patch.unet.AIDAttentionReplace)
    _run(sag_last, sequence, steps=1)
    assert replaces[("middle", 0, 0)] is sag_last.model_options["transformer_options"]["patches_replace"]["attn1"][
        ("middle", 0, 0)], "the model's own options are left as they are"
    assert not isinstance(replaces[("middle", 0, 0)], n.attention_patch.unet.AIDAttentionReplace)


def testhypertile_tiles_reach_aid_as_tiles(n, tiny_model, sequence):
    """HyperTile's self-attention batch is frames x tiles; AID interpolates tile by tile, endpoints untouched."""
    seen = []

    class Spy:
        def __init__(self, inner):
            self.inner = inner

        def __call__(self, q, k, v, options):
            seen.append((q.shape[0], k.shape[0]))
            return self.inner(q, k, v, options)

    patched = patch(n, hypertile(tiny_model), sequence["schedule"])
    key = ("input", 1, 0)
    patched.set_model_patch_replace(Spy(patched.model_options["transformer_options"]["patches_replace"]["attn1"][key]),
                                    "attn1", *key)
    _run(patched, sequence, steps=1)
    assert seen == [(2 * FRAMES * 4, 2 * FRAMES)], "queries in 2 x 2 tiles per row, keys whole"


def test_second_aid_node(n, tiny_model, sequence):
    schedule = sequence["schedule"]
    outer = _run(patch(n, tiny_model, schedule), sequence)
    assert torch.equal(_run(patch(n, patch(n, tiny_model, schedule, mode="inner"), schedule), sequence), outer)
    embeds = torch.randn(1, 4, 768, generator=torch.Generator().manual_seed(2))
    adapter = lambda m: ipa.apply_ipadapter(m, embeds)  # noqa: E731
    # An adapter stacked on the first AID node stays when a second replaces it.
    assert torch.equal(_run(patch(n, adapter(patch(n, tiny_model, schedule, mode="inner")), schedule), sequence),
                       _run(patch(n, adapter(tiny_model), schedule), sequence))
    # A second node on self-attention only leaves cross-attention plain.
    assert torch.equal(_run(patch(n, patch(n, tiny_model, schedule), schedule, layers="self"), sequence),
                       _run(patch(n, tiny_model, schedule, layers="self"), sequence))


def test_torch_compile_model_either_order(n, sequence):
    """ComfyUI's TorchCompileModel before or after AID: the same frames (AID decides outside the compiled model)."""
    from comfy_extras.nodes_torch_compile import TorchCompileModel

    import tiny_models

    model = tiny_models.build_sd15_model_patcher(seed=0, model_channels=32, channel_mult=(1, 2))
    compiled = lambda m: TorchCompileModel.execute(m, backend="inductor").args[0]  # noqa: E731
    aid = lambda m: patch(n, m, sequence["schedule"], end=0.5)  # noqa: E731
    torch._dynamo.reset()
    try:
        assert torch.equal(_run(compiled(aid(model)), sequence, steps=2), _run(aid(compiled(model)), sequence, steps=2))
    finally:
        torch._dynamo.reset()


def test_skip_layer_guidance_on_flux_either_order(n):
    """SLG replaces transformer blocks in its own extra model call; AID on a transformer sits in the attention
    override. Flux samples at cfg 1 with guidance."""
    import nodes as comfy_nodes

    import tiny_models

    model, cfg = tiny_models.build_flux_model_patcher(), 1.0
    g = torch.Generator().manual_seed(1)
    cond = lambda: [[torch.randn(1, 12, tiny_models.TINY_CONTEXT, generator=g),  # noqa: E731
                     {"pooled_output": torch.randn(1, tiny_models.TINY_POOLED, generator=g), "guidance": 3.5}]]
    schedule = n.schedule_nodes.BetaCoefficientSchedule.execute(
        frames=FRAMES, preset="uniform", steps=20, alpha=2.0, beta=2.0, start=0.0, end=1.0).args[0]
    positive = n.conditioning_nodes.ConditioningInterpolationBatch.execute(cond(), cond(), schedule, "lerp",
                                                                           "error").args[0]
    negative, latent = cond(), {"samples": torch.zeros(FRAMES, 16, 16, 16), "batch_index": [0] * FRAMES}

    def run(m):
        return comfy_nodes.common_ksampler(m, 5, 2, cfg, "euler", "simple", positive, negative, latent)[0]["samples"]

    aid = lambda m: patch(n, m, schedule)  # noqa: E731
    alone, plain = run(_slg(model)), run(model)
    node_first, aid_first = run(aid(_slg(model))), run(_slg(aid(model)))
    assert torch.equal(aid_first, node_first)
    assert torch.equal(aid_first[0], alone[0]) and torch.equal(aid_first[-1], alone[-1])
    assert not torch.allclose(alone, plain, atol=1e-3), "SLG changes the frames"
    assert not torch.allclose(aid_first[1:-1], alone[1:-1], atol=1e-3)
