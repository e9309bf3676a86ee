"""The metrics node: how smooth a frame sequence is, as numbers, text and a chart."""

from comfy_api.latest import io

from ..inbetween import metrics
from . import distance_backends
from .comfy_values import read_images
from .errors import engine_errors
from .plots import distance_chart_image


def summary_text(label: str, scores: dict, loop: bool, closing: float, ppl_epsilon: float) -> str:
    """The sequence metrics of ``inbetween.metrics.sequence_metrics`` as a few readable lines."""
    d = scores["distances"]
    frames = len(d) if loop else len(d) + 1
    jump = max(range(len(d)), key=d.__getitem__)
    target = (jump + 1) % frames
    return "\n".join([
        f"{frames} frames{' in a loop (the last step is last frame -> first)' if loop else ''}, distance: {label}",
        f"smoothness (1 - Gini of adjacent distances): {scores['smoothness']:.4f}  (1 = perfectly even steps)",
        f"consistency (mean adjacent distance): {scores['consistency']:.4f}  (lower = frames closer together)",
        f"max adjacent distance: {scores['max_distance']:.4f}  (frames {jump} -> {target})",
        f"distance sum: {scores['distance_sum']:.4f}  (FreeMorph's LPIPS column for one sequence with an LPIPS "
        "distance; lower = more direct)",
        f"PDV (variance of adjacent distances): {scores['pdv']:.6f}, standard deviation {scores['pdv'] ** 0.5:.4f}  "
        "(DiffMorpher; lower = more even speed)",
        f"PPL (distance sum / epsilon^2, epsilon {ppl_epsilon:g}): {scores['ppl']:.4f}  (FreeMorph's PPL column)",
        f"last -> first frame: {closing:.4f}",
        "adjacent distances: [" + ", ".join(f"{v:.4f}" for v in d) + "]",
    ])


class InterpolationMetrics(io.ComfyNode):
    """Smoothness, consistency and the largest jump of a frame sequence (AID paper metrics), and the morphing papers'
    distance sum, PDV and PPL."""

    DISPLAY_NAME = "Interpolation Metrics"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenInterpolationMetrics",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/metrics",
            description=(
                "Scores a frame sequence from adjacent-frame distances as the AID and morphing papers do: smoothness, "
                "consistency, largest jump, distance sum, PDV, PPL; and a chart."
            ),
            inputs=[
                io.Image.Input("images", tooltip="The frames in order (at least 2), e.g. from VAE Decode."),
                io.Combo.Input("distance", options=distance_backends.BACKENDS, default=distance_backends.PIXEL,
                               tooltip=distance_backends.TOOLTIP),
                io.ClipVision.Input("clip_vision", optional=True,
                                    tooltip="CLIP Vision model for the clip_vision distance (Load CLIP Vision)."),
                io.Boolean.Input("loop", default=False, optional=True,
                                 tooltip="On for a looping sequence (its last frame leads back to the first, not "
                                         "repeated): the step last -> first joins every score."),
                io.Float.Input("ppl_epsilon", default=metrics.FREEMORPH_PPL_EPSILON, min=0.001, max=1.0, step=0.001,
                               optional=True,
                               tooltip="PPL = distance sum / epsilon^2. 0.2 matches FreeMorph's table (PPL = 25 x "
                                       "LPIPS); 1 / (frames - 1) is the spacing of evenly spaced frames."),
            ],
            outputs=[
                io.Float.Output(display_name="smoothness", tooltip="1 - Gini of the adjacent distances; higher is "
                                                                    "smoother."),
                io.Float.Output(display_name="consistency", tooltip="Mean adjacent distance; lower is more "
                                                                     "consistent."),
                io.Float.Output(display_name="max_distance", tooltip="Largest adjacent distance: the biggest jump."),
                io.String.Output(display_name="summary", tooltip="The scores and every adjacent distance as text."),
                io.Image.Output(display_name="chart", tooltip="Adjacent distances (bars) and cumulative distance "
                                                              "(line) against the frame index."),
                io.Float.Output(display_name="distance_sum", tooltip="Sum of the adjacent distances: the path's "
                                                                     "length (FreeMorph's LPIPS column with lpips); "
                                                                     "lower is more direct."),
                io.Float.Output(display_name="pdv", tooltip="Perceptual distance variance (DiffMorpher): variance of "
                                                            "the adjacent distances; lower is a more even speed."),
                io.Float.Output(display_name="ppl", tooltip="Perceptual path length: distance sum / ppl_epsilon^2 "
                                                            "(FreeMorph's PPL column at 0.2); lower is smoother."),
                io.Float.Output(display_name="loop_distance", tooltip="Distance from the last frame back to the "
                                                                      "first: a loop's seam, or how far apart the "
                                                                      "ends are."),
            ],
        )

    @classmethod
    def execute(cls, images, distance, clip_vision=None, loop=False,
                ppl_epsilon=metrics.FREEMORPH_PPL_EPSILON) -> io.NodeOutput:
        images = read_images(cls.DISPLAY_NAME, "images", images, least=2)
        measure = distance_backends.backend(distance, cls.DISPLAY_NAME, clip_vision)
        # Every step of the cycle, the closing one last: one more distance than an open sequence needs.
        cycle = metrics.adjacent_distances(measure.embed(images), measure.distance, loop=True)
        with engine_errors(cls.DISPLAY_NAME, ppl_epsilon="ppl_epsilon"):
            scores = metrics.sequence_metrics(cycle if loop else cycle[:-1], ppl_epsilon=ppl_epsilon)
        closing = float(cycle[-1])
        title = f"smoothness {scores['smoothness']:.3f}   consistency {scores['consistency']:.3f}   ({measure.label})"
        chart = distance_chart_image(scores["distances"], title)
        return io.NodeOutput(scores["smoothness"], scores["consistency"], scores["max_distance"],
                             summary_text(measure.label, scores, loop, closing, ppl_epsilon), chart,
                             scores["distance_sum"], scores["pdv"], scores["ppl"], closing)
