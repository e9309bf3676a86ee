"""AID on transformer attentions that carry a mask: Qwen-Image's text padding (which ComfyUI passes into every
joint attention since v0.11) and Flux's attention bias (Flux Redux's ``attn_bias``, see
test_image_condition_nodes.py). Each row's own keys keep its own mask, each endpoint's keys bring the endpoint's.

Prompts of different lengths padded to one layout carry a key-padding mask; here random conditionings of the tiny
Qwen-Image's layout get one, per row or one for the batch (what Conditioning Interpolation Batch makes).
"""

import pytest
import torch

import joint_formulas
import tiny_models
from aid_support import FRAMES, dit_conditioning, patch, sample
from joint_formulas import OverrideRecorder
from sync_audit import capture_attention_calls, replay_on_fake_cuda

TOKENS = 12


def padded(seed: int, padding: int) -> list:
    """A random Qwen-layout prompt of TOKENS tokens whose last ``padding`` are padding, masked as ComfyUI's text
    encoders mask them (1 keeps, 0 pads)."""
    (tokens, options), = dit_conditioning(seed, TOKENS)
    mask = torch.ones(1, TOKENS, dtype=torch.long)
    mask[:, TOKENS - padding :] = 0
    return [[tokens, {**options, "attention_mask": mask}]]


def unmasked(conditioning: list) -> list:
    return [[c, {k: v for k, v in o.items() if k != "attention_mask"}] for c, o in conditioning]


def host_reads_masks() -> bool:
    """Whether this ComfyUI passes Qwen-Image's text mask into attention: from v0.11 on."""
    import comfyui_version

    return tuple(int(part) for part in comfyui_version.__version__.split(".")[:2]) >= (0, 11)


@pytest.fixture(scope="module")
def qwen():
    return tiny_models.build_qwen_image_model_patcher(seed=0)


@pytest.fixture(scope="module")
def sequences(n):
    """``batch``: A (4 padded tokens) -> B (1 padded) through Conditioning Interpolation Batch, one mask for every
    row; ``per_row``: the same rows, each with its own padding (4, 3, 2, 1, 1 tokens)."""
    schedule = n.schedule_nodes.BetaCoefficientSchedule.execute(
        frames=FRAMES, preset="uniform", steps=20, alpha=2.0, beta=2.0, start=0.0, end=1.0).args[0]
    batch = n.conditioning_nodes.ConditioningInterpolationBatch.execute(
        padded(1, 4), padded(2, 1), schedule, "lerp", "error").args[0]
    rows = torch.ones(FRAMES, TOKENS, dtype=torch.long)
    for row, padding in enumerate((4, 3, 2, 1, 1)):
        rows[row, TOKENS - padding :] = 0
    per_row = [[batch[0][0], {**batch[0][1], "attention_mask": rows}]]
    latent = {"samples": torch.zeros(FRAMES, 16, 16, 16), "batch_index": [0] * FRAMES}
    return dict(schedule=schedule, batch=batch, per_row=per_row, negative=padded(3, 2), latent=latent)


def _sample(model, seqs, positive, cfg=4.0, steps=2):
    return sample(model, {**seqs, "positive": positive}, cfg, steps=steps)


@pytest.mark.parametrize("masks", ["batch", "per_row"])
def test_padded_prompts_interpolate_and_keep_their_end_frames(n, qwen, sequences, masks):
    """A Qwen-Image sequence from padded prompts: end frames bit for bit plain sampling of the same batch, in-between
    frames changed by AID. On a ComfyUI that passes the mask into attention (v0.11+), the mask changes plain
    sampling, and AID's attentions receive it."""
    positive = sequences[masks]
    plain = _sample(qwen, sequences, positive)
    patched = patch(n, qwen, sequences["schedule"])
    options = patched.model_options["transformer_options"]
    recorder = OverrideRecorder(options["optimized_attention_override"])
    options["optimized_attention_override"] = recorder
    frames = _sample(patched, sequences, positive)
    assert torch.equal(frames[0], plain[0]) and torch.equal(frames[-1], plain[-1])
    for k in range(1, FRAMES - 1):
        assert (frames[k] - plain[k]).abs().max() > 1e-4, f"in-between frame {k} is plain text interpolation"
    mask_used = not torch.equal(plain, _sample(qwen, sequences, unmasked(positive)))
    assert mask_used == host_reads_masks()
    assert any(call["mask"] is not None for call in recorder.calls) == mask_used


@pytest.mark.parametrize("mode, fused", [("outer", True), ("outer", False), ("inner", True), ("inner", False)])
@pytest.mark.parametrize("layers, tokens", [("self + cross", "all"), ("cross", "text")])
def test_masked_attention_computes_the_paper_formulas(n, qwen, sequences, mode, fused, layers, tokens):
    """Every attention of two steps recomputed on the captured q, k, v and mask (per-row padding: the endpoints'
    masks differ from the in-betweens')."""
    patched = patch(n, qwen, sequences["schedule"], mode, fused, layers)
    options = patched.model_options["transformer_options"]
    recorder = OverrideRecorder(options["optimized_attention_override"])
    options["optimized_attention_override"] = recorder
    _sample(patched, sequences, sequences["per_row"])
    weights = n.attention_patch.AIDConfig(coefficients=sequences["schedule"].coefficients).weights
    for call in recorder.calls:
        expected = joint_formulas.expected(call, weights, mode, fused, tokens, n.attention_patch)
        torch.testing.assert_close(call["out"].double(), expected, rtol=1e-4, atol=1e-5)
    assert any(call["mask"] is not None for call in recorder.calls) == host_reads_masks()


@pytest.mark.parametrize("max_rows", [1, 2])
def test_masked_parts_give_the_one_batch_frames(n, qwen, sequences, max_rows):
    """Under max_rows each endpoint's mask is kept with its keys/values: the parts give the one-batch frames."""
    positive = sequences["per_row"]
    whole = _sample(patch(n, qwen, sequences["schedule"]), sequences, positive)
    split = _sample(patch(n, qwen, sequences["schedule"], max_rows=max_rows), sequences, positive)
    torch.testing.assert_close(split, whole, rtol=0, atol=1e-5 * whole.abs().max().item())
    plain = _sample(qwen, sequences, positive)
    assert not torch.allclose(split[1:-1], plain[1:-1], atol=1e-4)


def test_masked_joint_attention_makes_no_device_sync(n, qwen, sequences):
    """Masked attention calls captured in real sampling, replayed on fake CUDA tensors: in half precision the masked
    attention takes the memory-efficient kernel with its bias, in float32 too; no sync, no host->device copy."""
    patched = patch(n, qwen, sequences["schedule"], end=0.5)
    aid_override, captured = capture_attention_calls(patched, lambda: _sample(patched, sequences,
                                                                              sequences["per_row"]))
    assert any(len(args) > 4 and args[4] is not None for _, args, _ in captured) == host_reads_masks()
    for dtype in (torch.float16, torch.float32):
        events = replay_on_fake_cuda(aid_override, captured, n.attention_patch, dtype)
        assert all(call == [] for call in events), events
