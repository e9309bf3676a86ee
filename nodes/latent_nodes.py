"""Nodes that interpolate LATENT dicts."""

import torch

from comfy_api.latest import io

from ..inbetween import interpolation
from .errors import engine_errors, input_error
from .schedule_type import ScheduleIO


class SlerpLatent(io.ComfyNode):
    """Latent A -> latent B by slerp, normalized lerp or lerp, at one factor or along a schedule."""

    DISPLAY_NAME = "Slerp Latent"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenSlerpLatent",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/latent",
            description=(
                "Interpolates two latents. With a schedule the output is a batch with one row per "
                "coefficient (row k at t_k); without one, a single interpolation at 'factor'."
            ),
            inputs=[
                io.Latent.Input("latent_a", tooltip="Start of the interpolation (t = 0)."),
                io.Latent.Input("latent_b", tooltip="End of the interpolation (t = 1). Same shape as latent_a."),
                io.Combo.Input("method", options=list(interpolation.INTERPOLATION_METHODS), default="slerp",
                               tooltip="slerp: along the great circle, keeps the norm of equal-norm inputs. "
                                       "normalized_lerp: lerp divided by sqrt((1-t)^2 + t^2), keeps the variance of "
                                       "independent noise. lerp: straight line (shrinks noise variance in between)."),
                io.Float.Input("factor", default=0.5, min=-1.0, max=2.0, step=0.01,
                               tooltip="Interpolation factor t when no schedule is connected (0 = A, 1 = B)."),
                ScheduleIO.Input("schedule", optional=True,
                                 tooltip="Optional coefficient schedule: output one latent per coefficient."),
            ],
            outputs=[io.Latent.Output(tooltip="The interpolated latent(s).")],
        )

    @classmethod
    def execute(cls, latent_a, latent_b, method, factor, schedule=None) -> io.NodeOutput:
        a, b = latent_a["samples"], latent_b["samples"]
        if a.shape[1:] != b.shape[1:]:
            raise input_error(cls.DISPLAY_NAME, "latent_b",
                              f"expected a latent of shape {tuple(a.shape[1:])} per item like latent_a, "
                              f"got {tuple(b.shape[1:])}; resize one of them first")
        b = b.to(dtype=a.dtype, device=a.device)
        t = schedule.as_tensor() if schedule is not None else float(factor)
        with engine_errors(cls.DISPLAY_NAME, "schedule" if schedule is not None else "factor"):
            samples = interpolation.interpolate(a, b, t, method)

        out = {key: value for key, value in latent_a.items() if key not in ("samples", "batch_index", "noise_mask")}
        out["samples"] = samples
        mask = _interpolate_masks(latent_a.get("noise_mask"), latent_b.get("noise_mask"), t)
        if mask is not None:
            out["noise_mask"] = mask
        return io.NodeOutput(out)


def _interpolate_masks(mask_a, mask_b, t):
    """Noise masks follow the latents by lerp; a missing mask means 'denoise everywhere' (ones).

    ``batch_index`` is dropped instead: the output rows are new latents, not rows of either input.
    """
    if mask_a is None and mask_b is None:
        return None
    reference = mask_a if mask_a is not None else mask_b
    mask_a = torch.ones_like(reference) if mask_a is None else mask_a
    mask_b = torch.ones_like(reference) if mask_b is None else mask_b
    if mask_a.shape[1:] != mask_b.shape[1:]:
        # Differently shaped masks have no meaningful blend; ComfyUI resizes either one at sampling.
        return mask_a
    return interpolation.lerp(mask_a, mask_b.to(mask_a), t).clamp(0.0, 1.0)
