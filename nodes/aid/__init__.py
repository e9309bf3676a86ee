"""The AID model patch.

``config`` (settings and step window), ``model_call`` (what each model call does, decided once
outside the compiled model), ``layer`` (one attention layer's rows, shared by model families) and
one module per family's attachment (``unet``).
"""

from .config import NODE_NAME, AIDConfig
from .unet import has_aid_patch, patch_model

__all__ = ["NODE_NAME", "AIDConfig", "has_aid_patch", "patch_model"]
