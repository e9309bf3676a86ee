"""NOISE for SamplerCustomAdvanced whose rows walk from seed A's noise to seed B's."""

import comfy.sample
from comfy_api.latest import io

from ..inbetween import interpolation
from .comfy_values import check_schedule_batch, read_latent
from .errors import engine_errors
from .schedule_type import ScheduleIO


class InterpolatedNoiseGenerator:
    """ComfyUI's NOISE protocol (``seed``, ``generate_noise(latent)``).

    Row k is ``interpolate(n_A, n_B, t_k)`` where ``n_A``/``n_B`` are exactly what ComfyUI's
    RandomNoise makes for one latent row with seed A/B, so row 0 reproduces seed A and the last
    row seed B (for a schedule from 0 to 1). The latent arrives through SamplerCustomAdvanced's
    ``latent_image``, which its errors name.
    """

    def __init__(self, node_name: str, seed_a: int, seed_b: int, schedule, method: str):
        self.node_name = node_name
        self.seed = seed_a
        self.seed_b = seed_b
        self.schedule = schedule
        self.method = method

    def generate_noise(self, input_latent: dict):
        latent = read_latent(self.node_name, "latent_image", input_latent)
        check_schedule_batch(self.node_name, len(self.schedule), latent, single_ok=False)
        row = latent.samples[:1]
        noise_a = comfy.sample.prepare_noise(row, self.seed)
        noise_b = comfy.sample.prepare_noise(row, self.seed_b)
        with engine_errors(self.node_name, t="schedule"):
            return interpolation.interpolate(noise_a, noise_b, self.schedule.as_tensor(), self.method)


class InterpolatedNoise(io.ComfyNode):
    DISPLAY_NAME = "Interpolated Noise"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenInterpolatedNoise",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/noise",
            description=(
                "Initial noise for SamplerCustomAdvanced that walks from seed A's noise to seed B's, one latent "
                "row per schedule coefficient. slerp and normalized_lerp keep the noise at unit variance."
            ),
            inputs=[
                io.Int.Input("seed_a", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="Seed of the first frame's noise (same noise as RandomNoise with this seed)."),
                io.Int.Input("seed_b", default=1, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="Seed of the last frame's noise."),
                ScheduleIO.Input("schedule", tooltip="One coefficient per frame; the latent batch must match its length."),
                io.Combo.Input("method", options=list(interpolation.INTERPOLATION_METHODS), default="slerp",
                               tooltip="slerp or normalized_lerp keep unit variance in between; lerp shrinks it "
                                       "to (1-t)^2 + t^2, which gives washed-out in-between frames."),
            ],
            outputs=[io.Noise.Output(tooltip="Connect to SamplerCustomAdvanced's noise input.")],
        )

    @classmethod
    def execute(cls, seed_a, seed_b, schedule, method) -> io.NodeOutput:
        return io.NodeOutput(InterpolatedNoiseGenerator(cls.DISPLAY_NAME, seed_a, seed_b, schedule, method))
