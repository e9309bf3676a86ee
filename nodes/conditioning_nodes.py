"""Nodes that build interpolated CONDITIONING batches."""

from comfy_api.latest import io

from ..inbetween import interpolation
from .comfy_values import read_conditioning, token_alignment_input
from .schedule_type import ScheduleIO
from .text_interpolation import interpolation_batch


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
                               tooltip="lerp: plain text-embedding interpolation (the usual baseline). slerp: along "
                                       "the great circle per prompt. normalized_lerp: lerp rescaled to keep variance."),
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
        return io.NodeOutput(interpolation_batch(node, a, b, schedule, method, token_alignment, g))
