"""Image Condition Interpolation Batch: image A to image B as per-row style-model tokens (Flux Redux).

ComfyUI's Apply Style Model (``StyleModelApply``) appends a style model's tokens to every row of a
conditioning, and a batch of images becomes more tokens of that one row, so it cannot give row k its own
image. This node gives row k the tokens of A and B interpolated at ``t_k``, and builds each row with
ComfyUI's own ``StyleModelApply``: strength, ``strength_type`` and the attention mask it adds for
``attn_bias`` (or extends when the conditioning has one) are exactly what that node makes, so row 0 is
what it gives for image A alone and the last row what it gives for image B (schedule from 0 to 1).

Where the interpolation happens: on the style model's output tokens, not on the CLIP vision outputs fed
into it.

- These tokens are what the diffusion model attends to, appended to the text tokens: interpolating them
  is what Conditioning Interpolation Batch does with the text encoder's output, so a row's text and image
  tokens move together, and AID (which blends the endpoints' keys and values, computed from these
  tokens) works on the same quantities.
- Redux is a per-token MLP (``down(silu(up(x)))``): fed a blend of two images' SigLIP states, it returns
  tokens that lie on neither image's path and scale non-linearly with t; its output tokens blended by t
  stay on the segment (or great circle) between the two images' conditions.
- ``multiply`` strength scales the tokens, and every method is homogeneous
  (``interp(s a, s b, t) = s interp(a, b, t)``), so scaling before or after interpolating gives the same
  rows up to rounding; StyleModelApply scales each row as it scales one image's tokens.
- The style model runs twice (A and B), not once per frame.

Endpoints are exact: the engine returns ``a`` itself for ``t = 0`` and ``b`` for ``t = 1``
(``inbetween.interpolation``), and ``a``, ``b`` are the tokens StyleModelApply computes from the same
CLIP vision outputs with the same call.
"""

from __future__ import annotations

import torch

import comfy.ldm.flux.redux
import comfy.t2i_adapter.adapter
import nodes as comfy_nodes  # ComfyUI's own nodes.py (this pack's folder is imported as a package)
from comfy_api.latest import io

from ..inbetween import interpolation
from ..inbetween.keyframes import interpolate_keyframes
from .comfy_values import Entry, entry_with, finite, read_clip_vision_output, read_conditioning
from .errors import InbetweenInputError, engine_errors
from .schedule_type import CONDITIONING_KEY, InterpSchedule, ScheduleIO, keyframes_of

STRENGTH_TYPES = ("multiply", "attn_bias")
PER_ROW = ("pooled_output", "attention_mask")  # the keys holding one row per prompt; the others apply to every row


class _RowTokens:
    """A STYLE_MODEL stand-in whose ``get_cond`` returns one row's tokens, so StyleModelApply builds that row."""

    def __init__(self, tokens: torch.Tensor):
        self.tokens = tokens

    def get_cond(self, clip_vision_output) -> torch.Tensor:
        # StyleModelApply scales the result in place: give it a copy, never the node's interpolated batch.
        return self.tokens.clone()


def _expected_width(style_model) -> int | None:
    """The CLIP vision width the style models ComfyUI loads (Flux Redux, the T2I style adapter) read; None for
    another kind, which then reports its own error."""
    model = getattr(style_model, "model", None)
    if isinstance(model, comfy.ldm.flux.redux.ReduxImageEncoder):
        return model.redux_up.in_features
    if isinstance(model, comfy.t2i_adapter.adapter.StyleAdapter):
        return model.style_embedding.shape[-1]
    return None


def _check_width(node: str, style_model, hidden: torch.Tensor) -> None:
    width = _expected_width(style_model)
    if width is not None and width != hidden.shape[2]:
        raise InbetweenInputError(node, "style_model", f"expected a style model for CLIP vision tokens of width "
                                                       f"{hidden.shape[2]} (the CLIP Vision outputs' width), got one "
                                                       f"for width {width}; Flux Redux reads "
                                                       "sigclip_vision_patch14_384 (width 1152)")


def _pair_tokens(node: str, style_model, hidden_a: torch.Tensor, hidden_b: torch.Tensor, outputs) -> torch.Tensor:
    """Both images' style tokens ``[2, images * tokens, width]``, as StyleModelApply computes them (before strength):
    several images of one output join into one condition, as there."""
    if hidden_b.shape[1:] != hidden_a.shape[1:]:
        raise InbetweenInputError(node, "clip_vision_b", f"expected {hidden_a.shape[1]} tokens of width "
                                                         f"{hidden_a.shape[2]} like clip_vision_a, got "
                                                         f"{hidden_b.shape[1]} of width {hidden_b.shape[2]}: encode "
                                                         "both images with the same CLIP Vision model")
    if hidden_b.shape[0] != hidden_a.shape[0]:
        raise InbetweenInputError(node, "clip_vision_b", f"expected {hidden_a.shape[0]} image(s) like clip_vision_a "
                                                         f"(their tokens are joined into one condition), got "
                                                         f"{hidden_b.shape[0]}")
    _check_width(node, style_model, hidden_a)
    return torch.cat([style_model.get_cond(output).flatten(start_dim=0, end_dim=1).unsqueeze(dim=0)
                      for output in outputs])


def _row_conditioning(entry: Entry, k: int) -> list:
    """Row k of an entry as a batch-1 conditioning (a batch-1 entry is every row)."""
    row = slice(k, k + 1) if entry.tokens.shape[0] > 1 else slice(0, 1)
    options = {key: value[row] if key in PER_ROW and value is not None and value.shape[0] > 1 else value
               for key, value in entry.options.items()}
    return [[entry.tokens[row], options]]


def _with_image_rows(entry: Entry, rows: torch.Tensor, strength: float, strength_type: str) -> list:
    """The entry of batch N: row k is StyleModelApply of the entry's row k with image tokens ``rows[k]``."""
    apply = comfy_nodes.StyleModelApply()
    built = [apply.apply_stylemodel(_row_conditioning(entry, k), _RowTokens(rows[k:k + 1]), None, strength,
                                    strength_type)[0][0] for k in range(rows.shape[0])]
    options = built[0][1]
    joined = {key: torch.cat([row[1][key] for row in built]) for key in PER_ROW if options.get(key) is not None}
    return entry_with(options, torch.cat([row[0] for row in built]), **joined)


class ImageConditionInterpolationBatch(io.ComfyNode):
    """Image A to image B as per-row style-model (Flux Redux) tokens: one conditioning of batch N."""

    DISPLAY_NAME = "Image Condition Interpolation Batch"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenImageConditionInterpolationBatch",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/conditioning",
            description=(
                "Apply Style Model (Flux Redux) for a sequence: row k carries the style tokens of its segment's two images "
                "(A and B) at t_k. Keyframe rows are exactly Apply Style Model of their image alone."
            ),
            inputs=[
                io.Conditioning.Input("conditioning",
                                      tooltip="The prompt: batch 1 (one prompt for every frame) or the batch N of "
                                              "Conditioning Interpolation Batch with this schedule (row k's prompt)."),
                io.StyleModel.Input("style_model", tooltip="Load Style Model: Flux Redux (flux1-redux-dev)."),
                io.ClipVisionOutput.Input("clip_vision_a",
                                          tooltip="CLIP Vision Encode of image A (the first frame's image condition); "
                                                  "without clip_vision_b, of one image per keyframe, in order."),
                io.ClipVisionOutput.Input("clip_vision_b", optional=True,
                                          tooltip="CLIP Vision Encode of image B (the last frame's), with the same "
                                                  "CLIP Vision model."),
                ScheduleIO.Input("schedule",
                                 tooltip="One coefficient per frame; the latent batch must have as many rows."),
                io.Combo.Input("method", options=list(interpolation.INTERPOLATION_METHODS), default="lerp",
                               tooltip="How the image tokens move from A to B: lerp (straight line), slerp (great "
                                       "circle over all of a row's image tokens), normalized_lerp (lerp rescaled by "
                                       "1 / sqrt((1-t)^2 + t^2))."),
                io.Float.Input("strength", default=1.0, min=0.0, max=10.0, step=0.001,
                               tooltip="As in Apply Style Model: multiply scales the image tokens; attn_bias adds "
                                       "log(strength) to the attention towards them."),
                io.Combo.Input("strength_type", options=list(STRENGTH_TYPES), default="multiply",
                               tooltip="As in Apply Style Model. attn_bias other than 1 adds an attention mask, "
                                       "which AID Attention Patch carries."),
            ],
            outputs=[io.Conditioning.Output(tooltip="One entry per input entry, each of batch N (one row per frame).")],
        )

    @classmethod
    def execute(cls, conditioning, style_model, clip_vision_a, schedule: InterpSchedule, method: str,
                strength: float, strength_type: str, clip_vision_b=None) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        entries = read_conditioning(node, "conditioning", conditioning, joint_mask=True)
        frames = len(schedule)
        for entry in entries:
            batch = entry.tokens.shape[0]
            if batch not in (1, frames):
                raise InbetweenInputError(node, "conditioning", f"entry {entry.index} has batch {batch} but the "
                                                                f"schedule has {frames} frames; expected batch 1 or "
                                                                f"{frames} (Conditioning Interpolation Batch with the "
                                                                "same schedule)")
        hidden_a = read_clip_vision_output(node, "clip_vision_a", clip_vision_a)
        strength = finite(node, "strength", strength)
        if clip_vision_b is None:
            _check_width(node, style_model, hidden_a)
            values = style_model.get_cond(clip_vision_a)
            layout = keyframes_of(node, schedule, values.shape[0], "clip_vision_a holds", " image(s), one per "
                                  "keyframe (or connect clip_vision_b for two endpoints)")
        else:
            hidden_b = read_clip_vision_output(node, "clip_vision_b", clip_vision_b)
            values = _pair_tokens(node, style_model, hidden_a, hidden_b, (clip_vision_a, clip_vision_b))
            layout = keyframes_of(node, schedule, 2, "clip_vision_a and clip_vision_b give", "; for more keyframes "
                                  "encode one image per keyframe into clip_vision_a and leave clip_vision_b empty")
        for entry in entries:
            width = entry.tokens.shape[2]
            if width != values.shape[2]:
                raise InbetweenInputError(node, "style_model", f"makes tokens of width {values.shape[2]} but entry "
                                                               f"{entry.index} of the conditioning has width {width}; "
                                                               "Flux Redux belongs with Flux's text encoders (T5-XXL, "
                                                               "width 4096)")
        with engine_errors(node, t="schedule"):
            rows = interpolate_keyframes(values, layout, method)
        tagged = [Entry(entry.input, entry.index, entry.tokens, {**entry.options, CONDITIONING_KEY: layout.signature})
                  for entry in entries]
        return io.NodeOutput([_with_image_rows(entry, rows, strength, strength_type) for entry in tagged])
