"""Frame shares: each participant samples its share of the sequence (AID Attention Patch's ``share_index`` /
``share_count``) and AID Share Frames takes it out; the shares put together in index order are the single-process
run with the same ``max_rows``, bit for bit (each part a share runs is the same model call on the same rows).

Sequences: the tiny UNet's 9-frame cat -> dog (at ``max_rows`` 4: A alone, a full part of in-betweens, a short one,
B alone; see ``test_rows_outside_the_share_are_not_computed``), the keyframed cat -> dog -> fox (open and loop, 6 and
7 frames) and the tiny Wan 2.1 T2V's 5 clips (a row is a clip: shares are whole clips).
"""

import pytest
import torch

import tiny_models
from aid_support import keyframe_sequence, make_dit_sequence, make_sequence, patch, sample
from bad_input import expect_input_error, untouched

NODE = "AID Attention Patch"


@pytest.fixture(scope="module")
def sequences(n, tiny_clip):
    return {"two_endpoints": make_sequence(n, tiny_clip, 9), "keyframed": keyframe_sequence(n, tiny_clip),
            "loop": keyframe_sequence(n, tiny_clip, loop=True)}


@pytest.fixture(scope="module")
def wan():
    return tiny_models.build_wan_model_patcher(seed=0)


@pytest.fixture(scope="module")
def wan_sequence(n):
    seq = make_dit_sequence(n, 5)
    return {**seq, "latent": {"samples": torch.zeros(5, 16, 2, 8, 8), "batch_index": [0] * 5}}


def shares_of(n, schedule, max_rows, count):
    config = n.aid_nodes.AIDConfig(coefficients=tuple(schedule.coefficients), max_rows=max_rows,
                                   keyframed=schedule.keyframed, share_count=count)
    return n.attention_patch.shares.shares(config, count)


def gathered(n, model, seq, schedule, cfg, steps, max_rows, count, sampler=sample):
    """Every share sampled apart and taken out with AID Share Frames, concatenated in share order."""
    frames = []
    for index in range(count):
        patched = patch(n, model, schedule, max_rows=max_rows, share_index=index, share_count=count)
        latent = dict(seq["latent"])
        latent["samples"] = sampler(patched, seq, cfg, steps)
        frames.append(n.share_nodes.AIDShareFrames.execute(patched, latent).args[0]["samples"])
    return frames


@pytest.mark.parametrize("name, cfg, max_rows, count", [
    ("two_endpoints", 5.0, 4, 2), ("two_endpoints", 1.0, 3, 3), ("keyframed", 5.0, 2, 2), ("loop", 5.0, 2, 3),
])
def test_gathered_shares_are_the_single_process_frames_bit_for_bit(n, tiny_model, sequences, name, cfg, max_rows,
                                                                   count):
    seq = sequences[name]
    whole = sample(patch(n, tiny_model, seq["schedule"], max_rows=max_rows), seq, cfg, steps=2)
    frames = gathered(n, tiny_model, seq, seq["schedule"], cfg, 2, max_rows, count)
    assert [len(f) for f in frames] == [len(s.frames) for s in shares_of(n, seq["schedule"], max_rows, count)]
    assert all(len(f) for f in frames)
    assert torch.equal(torch.cat(frames), whole)


def test_wan_shares_are_whole_clips_bit_for_bit(n, wan, wan_sequence):
    import nodes as comfy_nodes

    def wan_sample(model, seq, cfg, steps):
        return comfy_nodes.common_ksampler(model, 5, steps, cfg, "euler", "simple", seq["positive"],
                                           seq["negative"], seq["latent"])[0]["samples"]

    seq = wan_sequence
    whole = wan_sample(patch(n, wan, seq["schedule"], max_rows=2), seq, 4.0, 2)
    frames = gathered(n, wan, seq, seq["schedule"], 4.0, 2, 2, 2, sampler=wan_sample)
    assert [f.shape[1:] for f in frames] == [whole.shape[1:]] * 2, "a row is a whole clip [C, T, H, W]"
    assert torch.equal(torch.cat(frames), whole)


@pytest.mark.parametrize("name, max_rows, count", [
    ("two_endpoints", 4, 2), ("two_endpoints", 4, 4), ("two_endpoints", 1, 4), ("two_endpoints", 5, 3),
    ("keyframed", 2, 3), ("loop", 3, 2),
])
def test_shares_are_contiguous_runs_of_whole_parts(n, sequences, name, max_rows, count):
    schedule = sequences[name]["schedule"]
    parts_of = n.attention_patch.plan.parts
    found = shares_of(n, schedule, max_rows, count)
    assert [f for s in found for f in s.frames] == list(range(len(schedule))), "every frame once, in order"
    config = found[0] and n.aid_nodes.AIDConfig(coefficients=tuple(schedule.coefficients), max_rows=max_rows,
                                                keyframed=schedule.keyframed)
    keyframes = set(config.keyframe_frames)
    for chunks in (1, 2):
        for part in parts_of(chunks, config, max_rows)[0]:
            owners = {s.index for s in found if set(part.frames) & set(s.frames)}
            assert len(owners) == 1, f"part {part.frames} lies in one share"
    for share in found:
        ends = {f for span in config.spans for f in (span.a_frame, span.b_frame)
                if set(span.inbetweens) & set(share.frames)}
        assert share.computes == set(share.frames) | ends
        assert share.computes - set(share.frames) <= keyframes


def _model_rows(model):
    """The rows of every call of the diffusion model while ``model`` (a clone is returned) samples."""
    import comfy.patcher_extension as extension

    rows = []

    def spy(executor, *args, **kwargs):
        rows.append(args[0].shape[0])
        return executor(*args, **kwargs)

    model = model.clone()
    model.add_wrapper_with_key(extension.WrappersMP.DIFFUSION_MODEL, "test", spy)
    return model, rows


def test_rows_outside_the_share_are_not_computed(n, tiny_model, sequences):
    """9 frames, max_rows 4: runs [0] [1-4] [5-7] [8] (whole parts at cfg 1, [1-4] [5-7], and with cfg, 2 frames a
    part: [1, 2] [3, 4] [5, 6] [7]). Two shares: frames 0-4 compute 6 frames (B for their in-betweens), frames 5-8
    compute 5 (A): the least largest cost (cutting after [0] or after [5-7] leaves one share 9). With cfg, share 1
    runs A, B and its in-between parts [5, 6] [7], two rows (negative and positive) a frame; the rows the model did
    not see come out of the sampler where they started."""
    seq = sequences["two_endpoints"]
    found = shares_of(n, seq["schedule"], 4, 2)
    assert [(s.frames, sorted(s.computes)) for s in found] == [(range(0, 5), [0, 1, 2, 3, 4, 8]),
                                                               (range(5, 9), [0, 5, 6, 7, 8])]
    model, rows = _model_rows(patch(n, tiny_model, seq["schedule"], max_rows=4, share_index=1, share_count=2))
    out = sample(model, seq, 5.0, steps=2)
    assert rows == [2, 2, 4, 2] * 2, "two steps, only the share's parts and the keyframes they attend to"
    assert torch.equal(out[1:5], out[1:2].expand(4, -1, -1, -1)), "shared noise rows left where they started"
    assert not torch.equal(out[5], out[1]) and not torch.equal(out[0], out[1])


def test_one_share_is_the_whole_sequence(n, tiny_model, sequences):
    seq = sequences["two_endpoints"]
    patched = patch(n, tiny_model, seq["schedule"], max_rows=4)
    latent = {**seq["latent"], "samples": torch.zeros(9, 4, 8, 8)}
    assert n.share_nodes.AIDShareFrames.execute(patched, latent).args[0] is latent


def test_share_frames_takes_per_row_entries_and_leaves_its_input(n, tiny_model, sequences):
    seq = sequences["two_endpoints"]
    patched = patch(n, tiny_model, seq["schedule"], max_rows=4, share_index=1, share_count=2)
    latent = {"samples": torch.arange(9.0).view(9, 1, 1, 1).expand(9, 4, 8, 8), "batch_index": list(range(9)),
              "noise_mask": torch.ones(1, 1, 8, 8)}
    with untouched(latent):
        out = n.share_nodes.AIDShareFrames.execute(patched, latent).args[0]
    assert out["samples"][:, 0, 0, 0].tolist() == list(range(5, 9))
    assert out["batch_index"] == list(range(5, 9)) and out["noise_mask"].shape[0] == 1


# bad input --------------------------------------------------------------------------------------------------------

def test_share_index_must_be_below_share_count(n, tiny_model, sequences):
    schedule = sequences["two_endpoints"]["schedule"]
    expect_input_error(lambda: patch(n, tiny_model, schedule, max_rows=4, share_index=2, share_count=2), NODE,
                       "share_index", r"below share_count \(2\)", r"got 2")


def test_shares_need_max_rows(n, tiny_model, sequences):
    schedule = sequences["two_endpoints"]["schedule"]
    expect_input_error(lambda: patch(n, tiny_model, schedule, share_count=2), NODE, "max_rows",
                       r"share_count 2 needs max_rows > 0", r"got 0")


def test_more_shares_than_runs_of_parts_are_refused_before_sampling(n, tiny_model, sequences):
    """9 frames at max_rows 8: A, B and the 7 in-betweens in one part at cfg 1 (two parts, [1-4] and [5-7], with
    cfg, whose edge the cfg 1 part crosses): three runs."""
    schedule = sequences["two_endpoints"]["schedule"]
    expect_input_error(lambda: patch(n, tiny_model, schedule, max_rows=8, share_count=5), NODE, "share_count",
                       r"split into 3 runs", r"at most 3 shares", r"got 5")


def test_a_model_call_in_one_part_cannot_be_shared(n, tiny_model, sequences):
    seq = sequences["two_endpoints"]
    patched = patch(n, tiny_model, seq["schedule"], max_rows=9, share_count=2)
    expect_input_error(lambda: sample(patched, seq, 1.0, steps=1), NODE, "max_rows",
                       r"holds the whole model call \(9 rows\)", r"share_count to 1")


def test_share_frames_needs_the_aid_model_and_its_latent(n, tiny_model, sequences):
    seq = sequences["two_endpoints"]
    node = n.share_nodes.AIDShareFrames
    expect_input_error(lambda: node.execute(tiny_model, seq["latent"]), "AID Share Frames", "model", "no AID patch")
    patched = patch(n, tiny_model, seq["schedule"], max_rows=4, share_count=2)
    expect_input_error(lambda: node.execute(patched, {"samples": torch.zeros(5, 4, 8, 8)}), "AID Share Frames",
                       "samples", r"9 frames", r"5 rows")


@pytest.mark.parametrize("got, shown", [
    (9, None),
    (5, r"missing: share 1 \(frames 5-8\); a participant that failed or timed out"),
    (4, r"missing: share 0 \(frames 0-4\)"),
    (10, r"more than the sequence"),
    (6, r"3 pictures missing, which no set of whole shares makes"),
])
def test_gathered_frames_are_checked_and_the_missing_share_named(n, tiny_model, sequences, got, shown):
    patched = patch(n, tiny_model, sequences["two_endpoints"]["schedule"], max_rows=4, share_count=2)
    images = torch.zeros(got, 8, 8, 3)
    node = n.share_nodes.AIDCheckGatheredFrames
    if shown is None:
        assert node.execute(images, patched, 1).args[0] is images
    else:
        expect_input_error(lambda: node.execute(images, patched, 1), "AID Check Gathered Frames", "images",
                           r"expected the whole sequence, 9 pictures", rf"got {got}", shown)


def test_gathered_clips_count_pictures_per_frame(n, wan, wan_sequence):
    patched = patch(n, wan, wan_sequence["schedule"], max_rows=2, share_count=2)
    node = n.share_nodes.AIDCheckGatheredFrames
    assert node.execute(torch.zeros(5 * 5, 8, 8, 3), patched, 5).args[0].shape[0] == 25
    expect_input_error(lambda: node.execute(torch.zeros(3 * 5, 8, 8, 3), patched, 5), "AID Check Gathered Frames",
                       "images", r"missing: share 1")
