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

from ..inbetween.metrics import pixel_distance
from .errors import InbetweenInputError

CLIP_VISION, LPIPS, PIXEL = "clip_vision", "lpips", "pixel"
BACKENDS = [CLIP_VISION, LPIPS, PIXEL]
TOOLTIP = (
    "pixel: RMS pixel difference (always there, not perceptual). clip_vision: CLIP Vision cosine distance (wire "
    "Load CLIP Vision). lpips: the paper's metric (needs the lpips package and AlexNet weights)."
)
# Images per CLIP vision / LPIPS call: bounds memory for long sequences at full resolution.
_CHUNK = 16


@dataclass(frozen=True)
class DistanceBackend:
    label: str
    embed: Callable[[torch.Tensor], torch.Tensor]
    distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


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
    if name == LPIPS:
        model = _lpips_model(node)
        return DistanceBackend("LPIPS (AlexNet)", _lpips_inputs, functools.partial(_lpips_distance, model))
    raise InbetweenInputError(node, "distance", f"must be one of {BACKENDS}, got {name!r}")


def _clip_embeddings(clip_vision, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():  # ComfyUI's executor runs nodes in inference mode; direct callers may not
        parts = [clip_vision.encode_image(chunk).image_embeds for chunk in images.split(_CHUNK)]
    return torch.cat(parts).float()


def _cosine_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # Rounding can put 1 - cos a hair below 0 for identical frames; a distance is never negative.
    return (1.0 - torch.nn.functional.cosine_similarity(x, y, dim=-1)).clamp_min(0.0)


def _lpips_inputs(images: torch.Tensor) -> torch.Tensor:
    """ComfyUI's [N, H, W, C] in [0, 1] -> LPIPS's [N, 3, H, W] in [-1, 1]."""
    return images[..., :3].movedim(-1, 1).float() * 2.0 - 1.0


def _lpips_distance(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    device = comfy.model_management.get_torch_device()
    model.to(device)
    with torch.no_grad():
        parts = [model(a.to(device), b.to(device)).reshape(-1) for a, b in zip(x.split(_CHUNK), y.split(_CHUNK))]
    return torch.cat(parts).cpu()


def _lpips_model(node: str):
    try:
        import lpips
    except ImportError as err:
        raise InbetweenInputError(node, "distance", "lpips needs the optional 'lpips' package, which is not installed; run "
                                            "'pip install lpips' in ComfyUI's Python environment, or choose "
                                            "clip_vision or pixel") from err
    import torchvision

    # lpips builds torchvision's ImageNet AlexNet, which downloads its weights when they are not in
    # torch's hub cache. Check first: a download that hangs or fails deep in torchvision is no answer.
    weights = torchvision.models.AlexNet_Weights.IMAGENET1K_V1
    path = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(weights.url))
    if not os.path.isfile(path):
        raise InbetweenInputError(node, "distance", f"lpips needs torchvision's AlexNet weights at {path}, which is missing; "
                                            f"download {weights.url} to that path (this node never downloads), or "
                                            "choose clip_vision or pixel")
    return _load_lpips(lpips, path)


@functools.lru_cache(maxsize=1)
def _load_lpips(lpips_module, weights_path: str):
    # Cached: building the network and loading both weight files takes seconds, and every
    # metrics node and adaptive run would otherwise repeat it.
    return lpips_module.LPIPS(net="alex", verbose=False).eval()
