"""Frame shares on several participants: a share's frames out of the sampled latent, and the gathered sequence
checked after ComfyUI-Distributed's collector. The shares themselves are :mod:`.attention_patch.shares`'."""

from __future__ import annotations

import itertools

import torch
from comfy_api.latest import io

from .attention_patch import aid_config
from .attention_patch.shares import Share, share_of, shares
from .errors import InbetweenInputError

MODEL_TOOLTIP = "The model from AID Attention Patch (its schedule, max_rows, share_index and share_count)."
# Shares up to this many are searched for the ones whose frames are missing (2^count subsets).
SEARCHED_SHARES = 12


def _config(node: str, model):
    config = aid_config(model)
    if config is None:
        raise InbetweenInputError(node, "model", "has no AID patch; connect the model from AID Attention Patch "
                                                 "(the one the sampler used)")
    return config


def _frames(share: Share) -> str:
    return f"frames {share.frames.start}-{share.frames.stop - 1}"


class AIDShareFrames(io.ComfyNode):
    DISPLAY_NAME = "AID Share Frames"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenAIDShareFrames",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/attention",
            description="The frames of this participant's share (AID Attention Patch's share_index), out of the "
                        "sampled latent, for VAE Decode: the other rows were never computed. All frames without shares.",
            inputs=[
                io.Model.Input("model", tooltip=MODEL_TOOLTIP),
                io.Latent.Input("samples", tooltip="The sampler's output: the whole sequence's batch."),
            ],
            outputs=[io.Latent.Output(tooltip="The share's frames, in order (a contiguous run of the sequence).")],
        )

    @classmethod
    def execute(cls, model, samples) -> io.NodeOutput:
        config = _config(cls.DISPLAY_NAME, model)
        rows = samples["samples"].shape[0]
        if rows != config.frames:
            raise InbetweenInputError(cls.DISPLAY_NAME, "samples", f"the schedule has {config.frames} frames but the "
                                      f"latent has {rows} rows; connect the sampler's output of this sequence")
        share = share_of(config)
        if share is None:
            return io.NodeOutput(samples)
        return io.NodeOutput(take_frames(samples, share.frames))


def take_frames(latent: dict, frames: range) -> dict:
    """A new LATENT dict holding rows ``frames`` of ``latent``: its samples, and every per-row entry (batch_index, a
    per-row noise mask) with them; the input is left as it is."""
    rows = latent["samples"].shape[0]
    out = {}
    for key, value in latent.items():
        per_row = (isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == rows) or (
            isinstance(value, list) and len(value) == rows)
        out[key] = value[frames.start : frames.stop] if per_row else value
    return out


class AIDCheckGatheredFrames(io.ComfyNode):
    DISPLAY_NAME = "AID Check Gathered Frames"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenAIDCheckGatheredFrames",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/attention",
            description="After a collector (DistributedCollector): passes the pictures on when they are every share's "
                        "frames, else stops and names the shares missing (a worker that failed or timed out).",
            inputs=[
                io.Image.Input("images", tooltip="The gathered pictures: share 0's first, then each next share's."),
                io.Model.Input("model", tooltip=MODEL_TOOLTIP),
                io.Int.Input("pictures_per_frame", default=1, min=1, max=4096,
                             tooltip="Pictures each frame decodes to: 1 for images; a Wan clip's frame count."),
            ],
            outputs=[io.Image.Output(tooltip="The whole sequence, in order (the input, unchanged).")],
        )

    @classmethod
    def execute(cls, images, model, pictures_per_frame=1) -> io.NodeOutput:
        config = _config(cls.DISPLAY_NAME, model)
        parts = shares(config, config.share_count)
        got, expected = images.shape[0], config.frames * pictures_per_frame
        if got == expected:
            return io.NodeOutput(images)
        listing = ", ".join(f"share {s.index}: {_frames(s)}" for s in parts)
        detail = (f"expected the whole sequence, {expected} pictures ({config.frames} frames x {pictures_per_frame}; "
                  f"{listing}), got {got}; ")
        raise InbetweenInputError(cls.DISPLAY_NAME, "images", detail + missing(parts, got, pictures_per_frame))


def missing(parts: tuple[Share, ...], got: int, per_frame: int) -> str:
    """What the gathered count says is missing: the shares whose frames add up to the gap (fewest shares first)."""
    total = sum(len(s.frames) for s in parts) * per_frame
    if got > total:
        return ("more than the sequence: every participant must use the same share_count, and each share pass AID "
                "Share Frames before VAE Decode")
    if len(parts) <= SEARCHED_SHARES:
        for size in range(1, len(parts) + 1):
            found = [combo for combo in itertools.combinations(parts, size)
                     if sum(len(s.frames) for s in combo) * per_frame == total - got]
            if found:
                names = " or ".join(" and ".join(f"share {s.index} ({_frames(s)})" for s in combo) for combo in found)
                return (f"missing: {names}; a participant that failed or timed out sends nothing (with "
                        "DistributedSeed fixed at 0, share 0 is the master's, share i the i-th worker's)")
    return (f"{total - got} pictures missing, which no set of whole shares makes: check pictures_per_frame and that "
            "each participant decodes its share alone")
