"""Nodes that make interpolation coefficient schedules."""

from comfy_api.latest import io

from ..inbetween import schedules
from .comfy_values import finite
from .errors import engine_errors
from .plots import schedule_curve_image
from .schedule_type import InterpSchedule, ScheduleIO

PRESET_CLASSIC = "classic (alpha = beta = steps)"
PRESET_UNIFORM = "uniform"
PRESET_CUSTOM = "custom alpha / beta"
PRESETS = [PRESET_CLASSIC, PRESET_UNIFORM, PRESET_CUSTOM]


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
                io.Combo.Input("preset", options=PRESETS, default=PRESET_CLASSIC,
                               tooltip="classic: alpha = beta = steps, the AID default (frames dense near the "
                                       "middle, where text interpolation changes fastest). uniform: evenly spaced. "
                                       "custom: the alpha and beta below."),
                io.Int.Input("steps", default=20, min=1, max=10000,
                             tooltip="Sampling steps; sets alpha = beta = steps for the classic preset only."),
                io.Float.Input("alpha", default=2.0, min=0.01, max=10000.0, step=0.01,
                               tooltip="Beta prior alpha, used by the custom preset only. Larger alpha moves frames "
                                       "toward the end."),
                io.Float.Input("beta", default=2.0, min=0.01, max=10000.0, step=0.01,
                               tooltip="Beta prior beta, used by the custom preset only. Larger beta moves frames "
                                       "toward the start."),
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
        alpha, beta, start, end = (finite(node, name, value) for name, value in
                                   (("alpha", alpha), ("beta", beta), ("start", start), ("end", end)))
        if preset == PRESET_CLASSIC:
            alpha = beta = float(steps)
        elif preset == PRESET_UNIFORM:
            alpha = beta = 1.0
        with engine_errors(node, frames="frames", alpha="alpha", beta="beta", start="start", end="end"):
            values = schedules.beta_schedule(frames, alpha, beta, start=start, end=end).tolist()
        schedule = InterpSchedule(
            coefficients=tuple(values),
            description=f"Beta(alpha={alpha:g}, beta={beta:g}) on [{start:g}, {end:g}]",
        )
        curve = schedule_curve_image(values, schedule.description)
        return io.NodeOutput(schedule, schedule.summary(), curve)
