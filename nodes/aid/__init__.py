"""The AID model patch: which rows interpolate, when, and how it attaches to each model family."""

from .unet import NODE_NAME, AIDConfig, has_aid_patch, patch_model

__all__ = ["NODE_NAME", "AIDConfig", "has_aid_patch", "patch_model"]
