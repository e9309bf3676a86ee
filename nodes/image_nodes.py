"""Nodes that present a frame sequence."""

from comfy_api.latest import io

from ..inbetween import grid
from .comfy_values import finite, read_images
from .errors import engine_errors


class ImageGrid(io.ComfyNode):
    """Frames laid out row by row in one image."""

    DISPLAY_NAME = "Image Grid"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenImageGrid",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/image",
            description="Lays a batch of frames out row by row in one image, to compare a whole sequence at a glance.",
            inputs=[
                io.Image.Input("images", tooltip="The frames, in order."),
                io.Int.Input("columns", default=0, min=0, max=256,
                             tooltip="Frames per row; 0 picks a near-square layout."),
                io.Int.Input("padding", default=4, min=0, max=256, tooltip="Gutter between frames, in pixels."),
                io.Float.Input("pad_value", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="Brightness of gutters and empty cells (0 black, 1 white)."),
            ],
            outputs=[io.Image.Output(tooltip="One image holding every frame.")],
        )

    @classmethod
    def execute(cls, images, columns, padding, pad_value) -> io.NodeOutput:
        node = cls.DISPLAY_NAME
        frames = read_images(node, "images", images)
        pad_value = finite(node, "pad_value", pad_value)
        with engine_errors(node, columns="columns", padding="padding", pad_value="pad_value"):
            return io.NodeOutput(grid.image_grid(frames, columns, padding, pad_value))
