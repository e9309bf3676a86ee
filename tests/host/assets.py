"""Files the shipped workflows need besides a checkpoint, made at test time (never committed):
a random-weight ControlNet matching the test SD1.5 checkpoint, and a small picture for every image a workflow loads."""

import colorsys
import json
from pathlib import Path

TEST_CONTROLNET_NAME = "inbetween_test_controlnet_sd15.safetensors"


def write_test_controlnet(path: Path, seed: int = 0) -> Path:
    """An SD1.5 ControlNet (``control_model.*`` keys) for the 320-channel, two-level test UNet.

    ComfyUI's ControlNetLoader detects its config from these weights, as for a downloaded one.
    """
    import comfy.cldm.cldm
    import comfy.supported_models
    import safetensors.torch

    from tiny_models import init_random_, sd15_unet_config

    config = comfy.supported_models.SD15(sd15_unet_config(model_channels=320, channel_mult=(1, 2))).unet_config
    config = {key: value for key, value in config.items() if key != "out_channels"}
    control = init_random_(comfy.cldm.cldm.ControlNet(hint_channels=3, **config), seed)
    tensors = {f"control_model.{key}": value.half().contiguous() for key, value in control.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(tensors, str(path))
    return path


def loaded_images(workflows: Path) -> list[str]:
    """The file names the LoadImage nodes of the workflows in ``workflows`` load (ControlNet hints, photos to morph)."""
    return sorted({node["widgets_values"][0] for path in workflows.glob("*.json")
                   for node in json.loads(path.read_text())["nodes"] if node["type"] == "LoadImage"})


def write_input_images(folder: Path, names: list[str], size: int = 64) -> None:
    """A different small picture under each name: a light ring on a dark ground, colours and ring size varying by
    position, so a ControlNet gets an edge map and the two photos of a morph differ."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(names):
        ground = tuple(round(255 * c) for c in colorsys.hsv_to_rgb(index * 0.37 % 1.0, 0.7, 0.25))
        inset = size // 8 * (1 + index % 3)
        image = Image.new("RGB", (size, size), ground)
        ImageDraw.Draw(image).ellipse([inset, inset, size - inset, size - inset],
                                      outline=tuple(255 - c for c in ground), width=3)
        image.save(folder / name)
