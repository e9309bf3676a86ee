"""The metrics node: how smooth a frame sequence is, as numbers, text and a chart."""

from comfy_api.latest import io

from ..inbetween import metrics
from . import distance_backends
from .comfy_values import read_images
from .plots import distance_chart_image


def summary_text(label: str, scores: dict) -> str:
    """The sequence metrics of ``inbetween.metrics.sequence_metrics`` as a few readable lines."""
    d = scores["distances"]
    jump = max(range(len(d)), key=d.__getitem__)
    return "\n".join([
        f"{len(d) + 1} frames, distance: {label}",
        f"smoothness (1 - Gini of adjacent distances): {scores['smoothness']:.4f}  (1 = perfectly even steps)",
        f"consistency (mean adjacent distance): {scores['consistency']:.4f}  (lower = frames closer together)",
        f"max adjacent distance: {scores['max_distance']:.4f}  (frames {jump} -> {jump + 1})",
        "adjacent distances: [" + ", ".join(f"{v:.4f}" for v in d) + "]",
    ])


class InterpolationMetrics(io.ComfyNode):
    """Smoothness, consistency and the largest jump of a frame sequence (AID paper metrics)."""

    DISPLAY_NAME = "Interpolation Metrics"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenInterpolationMetrics",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/metrics",
            description=(
                "Scores a frame sequence as the AID paper does, from adjacent-frame distances: smoothness = 1 - Gini "
                "(1 = even steps), consistency = their mean (lower = closer), the largest jump; and a chart."
            ),
            inputs=[
                io.Image.Input("images", tooltip="The frames in order (at least 2), e.g. from VAE Decode."),
                io.Combo.Input("distance", options=distance_backends.BACKENDS, default=distance_backends.PIXEL,
                               tooltip=distance_backends.TOOLTIP),
                io.ClipVision.Input("clip_vision", optional=True,
                                    tooltip="CLIP Vision model for the clip_vision distance (Load CLIP Vision)."),
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
            ],
        )

    @classmethod
    def execute(cls, images, distance, clip_vision=None) -> io.NodeOutput:
        images = read_images(cls.DISPLAY_NAME, "images", images, least=2)
        measure = distance_backends.backend(distance, cls.DISPLAY_NAME, clip_vision)
        steps = metrics.adjacent_distances(measure.embed(images), measure.distance)
        scores = metrics.sequence_metrics(steps)
        title = f"smoothness {scores['smoothness']:.3f}   consistency {scores['consistency']:.3f}   ({measure.label})"
        chart = distance_chart_image(scores["distances"], title)
        return io.NodeOutput(scores["smoothness"], scores["consistency"], scores["max_distance"],
                             summary_text(measure.label, scores), chart)
