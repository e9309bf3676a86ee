"""Perceptual distances between frames (ComfyUI IMAGE rows), for the metrics and the adaptive schedule.

A backend turns images into features once (``embed``) and compares features pairwise
(``distance``), so the adaptive schedule can compare every explored frame with every other
without encoding any frame twice.
"""

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch

import comfy.model_management

from ..inbetween.metrics import imagenet_normalized, lpips_inputs, pixel_distance
from .errors import InbetweenInputError

CLIP_VISION, LPIPS, LPIPS_VGG, LPIPS_VGG_AID, PIXEL = "clip_vision", "lpips", "lpips_vgg", "lpips_vgg_aid", "pixel"
BACKENDS = [CLIP_VISION, LPIPS, LPIPS_VGG, LPIPS_VGG_AID, PIXEL]
TOOLTIP = (
    "pixel: RMS difference, not perceptual. clip_vision: CLIP Vision cosine (wire Load CLIP Vision). lpips: AlexNet "
    "LPIPS. lpips_vgg: VGG LPIPS. lpips_vgg_aid: as the AID paper scores. See help."
)
# Images per CLIP vision / LPIPS call: bounds memory for long sequences at full resolution.
_CHUNK = 16


@dataclass(frozen=True)
class DistanceBackend:
    label: str
    embed: Callable[[torch.Tensor], torch.Tensor]
    distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class _Lpips:
    net: str  # the lpips package's name of the network
    weights: str  # torchvision's weights enum attribute holding the network's ImageNet weights
    inputs: Callable[[torch.Tensor], torch.Tensor]  # ComfyUI IMAGE -> what the LPIPS model is fed
    label: str


_LPIPS = {
    LPIPS: _Lpips("alex", "AlexNet_Weights", lpips_inputs, "LPIPS (AlexNet)"),
    LPIPS_VGG: _Lpips("vgg", "VGG16_Weights", lpips_inputs, "LPIPS (VGG)"),
    # The AID reference (utils.compute_lpips) feeds LPIPS(net="vgg") ImageNet-normalised [0, 1] pictures.
    LPIPS_VGG_AID: _Lpips("vgg", "VGG16_Weights", imagenet_normalized,
                          "LPIPS (VGG, AID's ImageNet-normalised inputs)"),
}


def backend(name: str, node: str, clip_vision=None) -> DistanceBackend:
    """The backend called ``name``; errors name ``node`` and the input to fix."""
    if name == PIXEL:
        return DistanceBackend("pixel RMS difference", lambda images: images, pixel_distance)
    if name == CLIP_VISION:
        if clip_vision is None:
            raise InbetweenInputError(node, "clip_vision", "the clip_vision distance needs a CLIP Vision model: connect "
                                                   "Load CLIP Vision, or choose the pixel distance")
        return DistanceBackend("CLIP vision cosine distance", functools.partial(_clip_embeddings, clip_vision),
                               _cosine_distance)
    if name in _LPIPS:
        choice = _LPIPS[name]
        model = _lpips_model(node, name, choice.net, choice.weights)
        return DistanceBackend(choice.label, choice.inputs, functools.partial(_lpips_distance, model))
    raise InbetweenInputError(node, "distance", f"must be one of {BACKENDS}, got {name!r}")


def _clip_embeddings(clip_vision, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():  # ComfyUI's executor runs nodes in inference mode; direct callers may not
        parts = [clip_vision.encode_image(chunk).image_embeds for chunk in images.split(_CHUNK)]
    return torch.cat(parts).float()


def _cosine_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # Rounding can put 1 - cos a hair below 0 for identical frames; a distance is never negative.
    return (1.0 - torch.nn.functional.cosine_similarity(x, y, dim=-1)).clamp_min(0.0)


def _lpips_distance(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    device = comfy.model_management.get_torch_device()
    model.to(device)
    with torch.no_grad():
        parts = [model(a.to(device), b.to(device)).reshape(-1) for a, b in zip(x.split(_CHUNK), y.split(_CHUNK))]
    return torch.cat(parts).cpu()


def _lpips_model(node: str, name: str, net: str, weights_enum: str):
    try:
        import lpips
    except ImportError as err:
        raise InbetweenInputError(node, "distance", f"{name} needs the optional 'lpips' package, which is not "
                                                    "installed; run 'pip install lpips' in ComfyUI's Python "
                                                    "environment, or choose clip_vision or pixel") from err
    import torchvision

    # lpips builds torchvision's ImageNet network, which downloads its weights when they are not in torch's hub
    # cache. Check first: a download that hangs or fails deep in torchvision is no answer.
    weights = getattr(torchvision.models, weights_enum).IMAGENET1K_V1
    path = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(weights.url))
    if not os.path.isfile(path):
        raise InbetweenInputError(node, "distance", f"{name} needs torchvision's {weights_enum.split('_')[0]} weights "
                                                    f"at {path}, which is missing; download {weights.url} to that "
                                                    "path (this node never downloads), or choose clip_vision or "
                                                    "pixel")
    # The learned layer weights ship inside the lpips package; a stripped install lacks them.
    linear = os.path.join(os.path.dirname(lpips.__file__), "weights", "v0.1", f"{net}.pth")
    if not os.path.isfile(linear):
        raise InbetweenInputError(node, "distance", f"{name} needs the lpips package's own weights at {linear}, "
                                                    "which are missing; reinstall the package ('pip install "
                                                    "--force-reinstall lpips'), or choose clip_vision or pixel")
    return _load_lpips(lpips, net, path)


@functools.lru_cache(maxsize=2)
def _load_lpips(lpips_module, net: str, weights_path: str):
    # Cached: building the network and loading both weight files takes seconds, and every
    # metrics node and adaptive run would otherwise repeat it. The path is part of the key: other weights, another
    # model.
    return lpips_module.LPIPS(net=net, verbose=False).eval()
