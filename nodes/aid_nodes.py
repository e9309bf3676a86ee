"""The AID node: patch a model so a batch [A, in-betweens, B] samples with interpolated attention."""

from comfy_api.latest import io

from ..inbetween import aid
from .attention_patch import NODE_NAME, AIDConfig, patch_model
from .errors import InbetweenInputError
from .schedule_type import ScheduleIO

LAYERS = {"self + cross": (True, True), "self": (True, False), "cross": (False, True)}


class AIDAttentionPatch(io.ComfyNode):
    DISPLAY_NAME = NODE_NAME

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenAIDAttentionPatch",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/attention",
            description=(
                "Attention Interpolation of Diffusion (AID, training-free): sample the frames [A, in-betweens, B] "
                "as one batch and every in-between frame also attends to the endpoints' keys and values, which "
                "makes the sequence consistent. Feed a conditioning batch (Conditioning Interpolation Batch, "
                "optionally with a guide for PAID) and a latent of the same batch (Shared Noise Latent)."
            ),
            inputs=[
                io.Model.Input("model", tooltip="An SD1.x, SD2.x or SDXL UNet, or a Flux, Qwen-Image(-Edit) or SD3/SD3.5 "
                                                "transformer (LoRA, IP-Adapter patches and attention overrides "
                                                "are kept)."),
                ScheduleIO.Input("schedule", tooltip="The coefficients of the frames; the same schedule as the "
                                                     "conditioning batch. Endpoint frames stay plain generations. "
                                                     "AID weights are relative to the endpoints: (c_k - c_0) / "
                                                     "(c_last - c_0), so a sweep 0 -> 1.5 blends like 0 -> 1."),
                io.Combo.Input("mode", options=list(aid.AID_MODES), default="outer",
                               tooltip="outer: blend the attention to A and to B by t (AID-O, best consistency and "
                                       "fidelity in the paper). inner: attend to keys/values interpolated by t (AID-I)."),
                io.Boolean.Input("fused", default=True,
                                 tooltip="Fused: the frame attends to its own keys/values as well as the endpoints' "
                                         "(the paper's fused interpolated attention). Off: endpoints only."),
                io.Combo.Input("layers", options=list(LAYERS), default="self + cross",
                               tooltip="Which attention layers interpolate: self-attention, cross-attention or both "
                                       "(the reference uses both). On a transformer, whose blocks attend over text "
                                       "and image tokens jointly: which of the endpoints' tokens join, image (self), "
                                       "text (cross) or all (both)."),
                io.Float.Input("start_percent", default=0.0, min=0.0, max=1.0, step=0.01,
                               tooltip="Fraction of the sampling steps where AID starts: the first AID step is "
                                       "int(steps * start_percent), 0-based."),
                io.Float.Input("end_percent", default=0.5, min=0.0, max=1.0, step=0.01,
                               tooltip="Fraction of the sampling steps where AID stops: steps i < int(steps * "
                                       "end_percent) interpolate, later ones use plain attention (the reference's "
                                       "warmup ratio, 0.5: 12 of 25 steps)."),
                io.Boolean.Input("apply_to_uncond", default=False,
                                 tooltip="Also interpolate the negative (unconditional) pass; the reference leaves it "
                                         "plain."),
                io.Int.Input("max_rows", default=0, min=0, max=4096, optional=True,
                             tooltip="Rows per model call for long sequences (0: the whole batch at once, as ComfyUI "
                                     "does). Each model call then runs endpoint A and endpoint B once, keeping their "
                                     "keys/values, and the in-between frames in parts of at most max_rows rows (with "
                                     "cfg, one frame is two rows: positive and negative). Memory stays about that of "
                                     "max_rows rows whatever the number of frames; the frames are the same as in "
                                     "one batch up to the kernels' rounding, and the endpoints are exactly what "
                                     "sampling each picture alone gives."),
            ],
            outputs=[io.Model.Output(tooltip="A patched clone; the input model is unchanged.")],
        )

    @classmethod
    def execute(cls, model, schedule, mode, fused, layers, start_percent, end_percent, apply_to_uncond,
                max_rows=0) -> io.NodeOutput:
        if layers not in LAYERS:
            raise InbetweenInputError(cls.DISPLAY_NAME, "layers", f"must be one of {list(LAYERS)}, got {layers!r}")
        config = AIDConfig(coefficients=tuple(schedule.coefficients), mode=mode, fused=fused,
                           start_percent=start_percent, end_percent=end_percent, apply_to_uncond=apply_to_uncond,
                           max_rows=max_rows)
        self_attention, cross_attention = LAYERS[layers]
        return io.NodeOutput(patch_model(model, config, self_attention, cross_attention))
