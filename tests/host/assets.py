"""Files the shipped workflows need besides a checkpoint, made at test time (never committed):
a random-weight ControlNet matching the test SD1.5 checkpoint, and a small hint image."""

from pathlib import Path


TEST_CONTROLNET_NAME = "inbetween_test_controlnet_sd15.safetensors"
TEST_HINT_IMAGE_NAME = "inbetween_test_hint.png"


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


def write_hint_image(path: Path, size: int = 64) -> Path:
    """A white ring on black: the kind of edge map a canny or scribble ControlNet takes."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size), "black")
    ImageDraw.Draw(image).ellipse([size // 4, size // 4, 3 * size // 4, 3 * size // 4], outline="white", width=3)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path
