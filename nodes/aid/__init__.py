"""The AID model patch.

``config`` (settings and step window), ``model_call`` (what each model call does, decided once
outside the compiled model, as a ``step``), ``split`` (a long sequence's model call carried out in parts
of at most ``max_rows`` rows, the endpoints' keys/values kept between them), ``layer`` (one attention layer's rows, shared by model families),
``attach`` (which family a model is), and the families' attachments: ``unet`` (replace patches on
self- and cross-attention, with ``replace`` carrying other packs' patches, ``stacking`` IPAdapter_plus's
``add()`` protocol and ``tiles`` HyperTile's tiled queries) and ``dit`` with ``joint`` (joint text-image
attention of transformers).
"""

from .attach import has_aid_patch, patch_model
from .config import NODE_NAME, AIDConfig

__all__ = ["NODE_NAME", "AIDConfig", "has_aid_patch", "patch_model"]
