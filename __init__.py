"""ComfyUI-Inbetween: controllable, smooth interpolation for diffusion models.

ComfyUI imports this folder as a package and calls ``comfy_entrypoint`` (V3 node schema).
The math lives in ``inbetween/`` (pure torch); ``nodes/`` adapts it to ComfyUI types.
"""

from .nodes import comfy_entrypoint

__all__ = ["comfy_entrypoint"]
