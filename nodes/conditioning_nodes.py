"""Nodes that build interpolated CONDITIONING batches."""

from comfy_api.latest import io

from ..inbetween import interpolation
from .comfy_values import paired, read_conditioning, stacked_entry, token_alignment_input
from .schedule_type import ScheduleIO
from .text_interpolation import interpolation_batch

KEYFRAME_CONDITIONING_BATCH = "Keyframe Conditioning Batch"
KEYFRAME_HINT = f"; for more keyframes use {KEYFRAME_CONDITIONING_BATCH}"
METHOD_TOOLTIP = ("lerp: plain text-embedding interpolation (the usual baseline). slerp: along the great circle per "
                  "prompt. normalized_lerp: lerp rescaled to keep variance.")


class ConditioningInterpolationBatch(io.ComfyNode):
    """Text-embedding interpolation as one batched conditioning (the AID paper's baseline), or PAID's guide."""

    DISPLAY_NAME = "Conditioning Interpolation Batch"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenConditioningInterpolationBatch",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/conditioning",
            description=(
                "Prompt A to prompt B as one conditioning of batch N: row k is the interpolation at t_k, so one "
                "sampler run makes the sequence. With a guide (PAID) the in-between rows carry the guide."
            ),
            inputs=[
                io.Conditioning.Input("conditioning_a", tooltip="Prompt at t = 0 (one prompt per entry)."),
                io.Conditioning.Input("conditioning_b", tooltip="Prompt at t = 1, encoded with the same text encoder."),
                ScheduleIO.Input("schedule", tooltip="One coefficient per frame; the latent batch must have as many rows."),
                io.Combo.Input("method", options=list(interpolation.INTERPOLATION_METHODS), default="lerp",
                               tooltip=METHOD_TOOLTIP),
                token_alignment_input(),
                io.Conditioning.Input("guide", optional=True,
                                      tooltip="Optional guide prompt (PAID): the in-between rows use it instead of "
                                              "the interpolation of A and B."),
            ],
            outputs=[io.Conditioning.Output(tooltip="One entry per input entry, each of batch N (one row per frame).")],
        )

    @classmethod
    def execute(cls, conditioning_a, conditioning_b, schedule, method, token_alignment, guide=None) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        a = read_conditioning(node, "conditioning_a", conditioning_a, batch_one=True)
        b = read_conditioning(node, "conditioning_b", conditioning_b, batch_one=True)
        g = None if guide is None else read_conditioning(node, "guide", guide, batch_one=True)
        return io.NodeOutput(interpolation_batch(node, [a, b], schedule, method, token_alignment, g, hint=KEYFRAME_HINT))


class KeyframeConditioningBatch(io.ComfyNode):
    """Keyframe prompts K0 -> K1 -> ... as one batched conditioning, one row per frame of a Keyframe Schedule."""

    DISPLAY_NAME = KEYFRAME_CONDITIONING_BATCH

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenKeyframeConditioningBatch",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/conditioning",
            description=(
                "Keyframe prompts as one conditioning of batch N: each frame interpolates the two keyframes of its "
                "segment. With a guide (PAID) the in-between rows carry the guide of their segment."
            ),
            inputs=[
                io.Conditioning.Input("keyframes", tooltip="One row per keyframe, in order: Encode Keyframe Prompts "
                                                           "or Append Conditioning Keyframe."),
                ScheduleIO.Input("schedule", tooltip="Keyframe Schedule with as many keyframes; the latent batch must "
                                                     "have one row per frame."),
                io.Combo.Input("method", options=list(interpolation.INTERPOLATION_METHODS), default="lerp",
                               tooltip=METHOD_TOOLTIP),
                token_alignment_input(),
                io.Conditioning.Input("guide", optional=True,
                                      tooltip="Optional guide prompts (PAID): one for every segment, or one row per "
                                              "segment (Append Conditioning Keyframe)."),
            ],
            outputs=[io.Conditioning.Output(tooltip="One entry per keyframes entry, each of batch N (one row per "
                                                    "frame).")],
        )

    @classmethod
    def execute(cls, keyframes, schedule, method, token_alignment, guide=None) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        rows = read_conditioning(node, "keyframes", keyframes)
        g = None if guide is None else read_conditioning(node, "guide", guide)
        return io.NodeOutput(interpolation_batch(node, [rows], schedule, method, token_alignment, g,
                                                 hint=" (one row per keyframe)"))


class AppendConditioningKeyframe(io.ComfyNode):
    """Adds one conditioning, from any text encoder node, as the next keyframe of a keyframes conditioning."""

    DISPLAY_NAME = "Append Conditioning Keyframe"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenAppendConditioningKeyframe",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/conditioning",
            description=(
                "Chains keyframes from any node that makes a CONDITIONING: the output holds the keyframes so far and "
                "this one as its last row. Other settings (guidance, reference latents) come from the first."
            ),
            inputs=[
                io.Conditioning.Input("conditioning", tooltip="The next keyframe (one prompt)."),
                io.Conditioning.Input("keyframes", optional=True,
                                      tooltip="The keyframes so far (another Append Conditioning Keyframe); empty: "
                                              "this is the first."),
                token_alignment_input(),
            ],
            outputs=[io.Conditioning.Output(display_name="keyframes", tooltip="The keyframes, one row each.")],
        )

    @classmethod
    def execute(cls, conditioning, token_alignment, keyframes=None) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        new = read_conditioning(node, "conditioning", conditioning, batch_one=True)
        if keyframes is None:
            return io.NodeOutput([stacked_entry(node, [entry], token_alignment) for entry in new])
        before = read_conditioning(node, "keyframes", keyframes)
        return io.NodeOutput([stacked_entry(node, pair, token_alignment) for pair in paired(node, before, new)])
