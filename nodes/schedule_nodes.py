"""Nodes that make interpolation coefficient schedules."""

from comfy_api.latest import io

from ..inbetween import schedules
from ..inbetween.keyframes import beta_keyframes
from .comfy_values import finite, whole_numbers
from .errors import engine_errors
from .plots import schedule_curve_image
from .schedule_type import InterpSchedule, ScheduleIO

PRESET_CLASSIC = "classic"
PRESET_UNIFORM = "uniform"
PRESET_CUSTOM = "custom"
PRESETS = [PRESET_CLASSIC, PRESET_UNIFORM, PRESET_CUSTOM]
# Frames of one keyframe segment, frames_per_segment's max and every count of segment_frames'.
MAX_SEGMENT_FRAMES = 4096


def _prior_inputs() -> list:
    """The Beta-prior widgets both schedule nodes share."""
    return [
        io.Combo.Input("preset", options=PRESETS, default=PRESET_CLASSIC,
                       tooltip="classic: alpha = beta = steps, the AID default (frames dense near the middle, where "
                               "text interpolation changes fastest). uniform: evenly spaced. custom: alpha and beta."),
        io.Int.Input("steps", default=20, min=1, max=10000,
                     tooltip="Sampling steps; sets alpha = beta = steps for the classic preset only."),
        io.Float.Input("alpha", default=2.0, min=0.01, max=10000.0, step=0.01,
                       tooltip="Beta prior alpha, used by the custom preset only. Larger alpha moves frames toward "
                               "the end."),
        io.Float.Input("beta", default=2.0, min=0.01, max=10000.0, step=0.01,
                       tooltip="Beta prior beta, used by the custom preset only. Larger beta moves frames toward the "
                               "start."),
    ]


def _prior(node: str, preset: str, steps: int, alpha: float, beta: float) -> tuple[float, float]:
    """The preset's alpha and beta."""
    if preset == PRESET_CLASSIC:
        return float(steps), float(steps)
    if preset == PRESET_UNIFORM:
        return 1.0, 1.0
    return finite(node, "alpha", alpha), finite(node, "beta", beta)


class BetaCoefficientSchedule(io.ComfyNode):
    """Beta-prior interpolation coefficients of the AID paper: t_k = BetaInvCDF(alpha, beta)(k / (n - 1))."""

    DISPLAY_NAME = "Beta Coefficient Schedule"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenBetaCoefficientSchedule",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/schedule",
            description=(
                "Interpolation coefficients for a sequence of frames from a Beta prior (AID paper). "
                "The first frame is exactly start (0) and the last exactly end (1)."
            ),
            inputs=[
                io.Int.Input("frames", default=7, min=2, max=4096,
                             tooltip="Number of frames in the sequence, endpoints included."),
                *_prior_inputs(),
                io.Float.Input("start", default=0.0, min=-10.0, max=10.0, step=0.01,
                               tooltip="Value of the first frame. Change start/end for sweeps such as alpha 0 -> 1.5."),
                io.Float.Input("end", default=1.0, min=-10.0, max=10.0, step=0.01,
                               tooltip="Value of the last frame."),
            ],
            outputs=[
                ScheduleIO.Output(display_name="schedule", tooltip="One coefficient per frame."),
                io.String.Output(display_name="coefficients", tooltip="The coefficients as text."),
                io.Image.Output(display_name="curve", tooltip="The coefficients plotted against the frame index."),
            ],
        )

    @classmethod
    def execute(cls, frames, preset, steps, alpha, beta, start, end) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        start, end = (finite(node, name, value) for name, value in (("start", start), ("end", end)))
        alpha, beta = _prior(node, preset, steps, alpha, beta)
        with engine_errors(node, frames="frames", alpha="alpha", beta="beta", start="start", end="end"):
            values = schedules.beta_schedule(frames, alpha, beta, start=start, end=end).tolist()
        schedule = InterpSchedule(
            coefficients=tuple(values),
            description=f"Beta(alpha={alpha:g}, beta={beta:g}) on [{start:g}, {end:g}]",
        )
        curve = schedule_curve_image(values, schedule.description)
        return io.NodeOutput(schedule, schedule.summary(), curve)


class KeyframeSchedule(io.ComfyNode):
    """Frames through K keyframes (open or looping), Beta-prior in-betweens in every segment."""

    DISPLAY_NAME = "Keyframe Schedule"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenKeyframeSchedule",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/schedule",
            description=(
                "A sequence through K keyframes: [K0, in-betweens, K1, in-betweens, K2, ...], every keyframe once, "
                "Beta-prior coefficients in each segment. loop: the last keyframe leads back to the first."
            ),
            inputs=[
                io.Int.Input("keyframes", default=4, min=2, max=256,
                             tooltip="Number of keyframes (prompts, pictures); the keyframe inputs must have as many."),
                io.Int.Input("frames_per_segment", default=8, min=2, max=MAX_SEGMENT_FRAMES,
                             tooltip="Frames of each segment: its start keyframe and the in-betweens (8: a keyframe "
                                     "and 7 in-betweens)."),
                io.Boolean.Input("loop", default=False,
                                 tooltip="Add a segment from the last keyframe back to the first, so the frames "
                                         "cycle; the first keyframe is not repeated at the end."),
                *_prior_inputs(),
                io.String.Input("segment_frames", default="", optional=True,
                                tooltip="Optional frames per segment, one count each, comma-separated (e.g. 8, 8, "
                                        f"12), each 2 to {MAX_SEGMENT_FRAMES}; replaces frames_per_segment when not "
                                        "empty."),
            ],
            outputs=[
                ScheduleIO.Output(display_name="schedule", tooltip="One coefficient per frame, with the keyframes."),
                io.String.Output(display_name="coefficients", tooltip="The coefficients and keyframe frames as text."),
                io.Image.Output(display_name="curve",
                                tooltip="Each frame's place between the keyframes (keyframe k at height k)."),
            ],
        )

    @classmethod
    def execute(cls, keyframes, frames_per_segment, loop, preset, steps, alpha, beta,
                segment_frames="") -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        alpha, beta = _prior(node, preset, steps, alpha, beta)
        segments = keyframes if loop else keyframes - 1
        counts = (whole_numbers(node, "segment_frames", segment_frames, MAX_SEGMENT_FRAMES)
                  or [frames_per_segment] * segments)
        source = "segment_frames" if segment_frames.strip() else "frames_per_segment"
        with engine_errors(node, keyframes="keyframes", segment_frames=source, alpha="alpha", beta="beta"):
            layout = beta_keyframes(keyframes, counts, alpha, beta, loop)
        schedule = InterpSchedule.of_keyframes(layout, f"{keyframes} keyframes{' (loop)' if loop else ''}, Beta("
                                                       f"alpha={alpha:g}, beta={beta:g}) in every segment")
        places = [span.a + c for span in layout.spans for c in span.coefficients[:-1]]
        if not loop:
            places.append(float(keyframes - 1))
        return io.NodeOutput(schedule, schedule.summary(), schedule_curve_image(places, schedule.description))
