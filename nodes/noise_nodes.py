"""NOISE for SamplerCustomAdvanced whose rows walk from seed A's noise to seed B's."""

import torch

import comfy.sample
from comfy_api.latest import io

from ..inbetween import interpolation
from ..inbetween.keyframes import interpolate_keyframes
from .comfy_values import check_schedule_batch, read_latent, whole_numbers
from .errors import InbetweenInputError, engine_errors
from .schedule_type import ScheduleIO, keyframes_of


class InterpolatedNoiseGenerator:
    """ComfyUI's NOISE protocol (``seed``, ``generate_noise(latent)``).

    Row k is ``interpolate(n_A, n_B, t_k)`` where ``n_A``/``n_B`` are exactly what ComfyUI's
    RandomNoise makes for one latent row with seed A/B, so row 0 reproduces seed A and the last
    row seed B (for a schedule from 0 to 1). With a keyframed schedule the seeds are the keyframes'
    (``seeds``, one per keyframe) and row k interpolates its segment's two. The latent arrives
    through SamplerCustomAdvanced's ``latent_image``, which its errors name.
    """

    def __init__(self, node_name: str, seeds: list[int], schedule, method: str):
        self.node_name = node_name
        self.seed = seeds[0]
        self.seeds = seeds
        self.schedule = schedule
        self.method = method

    def generate_noise(self, input_latent: dict):
        latent = read_latent(self.node_name, "latent_image", input_latent)
        check_schedule_batch(self.node_name, len(self.schedule), latent, single_ok=False)
        row = latent.samples[:1]
        noise = torch.cat([comfy.sample.prepare_noise(row, seed) for seed in self.seeds])
        with engine_errors(self.node_name, t="schedule"):
            return interpolate_keyframes(noise, self.schedule.layout, self.method)


class InterpolatedNoise(io.ComfyNode):
    DISPLAY_NAME = "Interpolated Noise"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenInterpolatedNoise",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/noise",
            description=(
                "Initial noise for SamplerCustomAdvanced that walks from seed A's noise to seed B's (or through one "
                "seed per keyframe), one latent row per frame. slerp and normalized_lerp keep unit variance."
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
                io.String.Input("keyframe_seeds", default="", optional=True,
                                tooltip="Optional seeds of the keyframes of a Keyframe Schedule, one each, "
                                        "comma-separated (0, 1, 2, 3); replaces seed_a and seed_b when not empty."),
            ],
            outputs=[io.Noise.Output(tooltip="Connect to SamplerCustomAdvanced's noise input.")],
        )

    @classmethod
    def execute(cls, seed_a, seed_b, schedule, method, keyframe_seeds="") -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        seeds = whole_numbers(node, "keyframe_seeds", keyframe_seeds)
        if seeds:
            keyframes_of(node, schedule, len(seeds), "keyframe_seeds lists")
            for seed in seeds:
                if not 0 <= seed <= 0xFFFFFFFFFFFFFFFF:
                    raise InbetweenInputError(node, "keyframe_seeds", f"seeds must be in [0, 2^64 - 1], got {seed}")
        else:
            keyframes_of(node, schedule, 2, "seed_a and seed_b give", "; list one seed per keyframe in keyframe_seeds")
            seeds = [seed_a, seed_b]
        return io.NodeOutput(InterpolatedNoiseGenerator(node, seeds, schedule, method))
