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
                "Attention Interpolation (AID/PAID): when a sequence samples as one batch, each in-between also attends "
                "to the keys and values of its segment's two keyframes (A and B): the sequence stays consistent."
            ),
            inputs=[
                io.Model.Input("model", tooltip="SD1.x, SD2.x, SDXL, Flux, Flux 2, Chroma, Qwen-Image(-Edit), "
                                                "SD3/SD3.5, Z-Image, Wan 2.1/2.2 (each frame a clip; A14B: patch both "
                                                "models). LoRA, IP-Adapter patches and attention overrides are kept."),
                ScheduleIO.Input("schedule", tooltip="The frames' coefficients, as for the conditioning batch. The ends "
                                                     "stay plain generations; weights are relative to them, so 0 -> "
                                                     "1.5 blends like 0 -> 1."),
                io.Combo.Input("mode", options=list(aid.AID_MODES), default="outer",
                               tooltip="outer: blend the attention to A and to B by t (AID-O, best consistency and "
                                       "fidelity in the paper). inner: attend to keys/values interpolated by t (AID-I)."),
                io.Boolean.Input("fused", default=True,
                                 tooltip="Fused: the frame attends to its own keys/values as well as the endpoints' "
                                         "(the paper's fused interpolated attention). Off: endpoints only."),
                io.Combo.Input("layers", options=list(LAYERS), default="self + cross",
                               tooltip="Which attentions interpolate: self, cross or both (the paper). On a joint "
                                       "text-image transformer: which of the ends' tokens join, image (self), text "
                                       "(cross) or all. Wan: as on a UNet."),
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
                             tooltip="Rows per model call for long sequences (0: whole batch at once). Each keyframe "
                                     "(A, B) runs alone once per call, the in-betweens in parts of max_rows rows (cfg: "
                                     "2 rows a frame)."),
                io.Int.Input("share_index", default=0, min=0, max=4095, optional=True,
                             tooltip="Which frame share this participant samples (0 .. share_count - 1; several GPUs or "
                                     "machines: DistributedSeed fixed at 0). Other frames are not computed."),
                io.Int.Input("share_count", default=1, min=1, max=4096, optional=True,
                             tooltip="How many participants share the sequence (1: all frames here). Needs max_rows: "
                                     "a share is a run of whole parts. Take the frames out with AID Share Frames."),
            ],
            outputs=[io.Model.Output(tooltip="A patched clone; the input model is unchanged.")],
        )

    @classmethod
    def execute(cls, model, schedule, mode, fused, layers, start_percent, end_percent, apply_to_uncond,
                max_rows=0, share_index=0, share_count=1) -> io.NodeOutput:
        if layers not in LAYERS:
            raise InbetweenInputError(cls.DISPLAY_NAME, "layers", f"must be one of {list(LAYERS)}, got {layers!r}")
        config = AIDConfig(coefficients=tuple(schedule.coefficients), mode=mode, fused=fused,
                           start_percent=start_percent, end_percent=end_percent, apply_to_uncond=apply_to_uncond,
                           max_rows=max_rows, keyframed=schedule.keyframed, share_index=share_index,
                           share_count=share_count)
        self_attention, cross_attention = LAYERS[layers]
        return io.NodeOutput(patch_model(model, config, self_attention, cross_attention))
