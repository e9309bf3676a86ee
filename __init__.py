"""ComfyUI-Inbetween: controllable, smooth interpolation for diffusion models.

ComfyUI imports this folder as a package and calls ``comfy_entrypoint`` (V3 node schema).
The math lives in ``inbetween/`` (pure torch); ``nodes/`` adapts it to ComfyUI types.
"""

from .nodes import comfy_entrypoint

# Served by ComfyUI under /extensions/<folder>/: the node help pages (docs/<NodeId>.md, docs/<NodeId>/zh.md).
WEB_DIRECTORY = "./web"

__all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
