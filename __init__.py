"""ComfyUI-Inbetween: controllable, smooth interpolation for diffusion models.

ComfyUI imports this folder as a package and calls ``comfy_entrypoint`` (V3 node schema).
The math lives in ``inbetween/`` (pure torch); ``nodes/`` adapts it to ComfyUI types.

The lines below are ComfyUI-Manager's metadata (its scanner reads ``@`` lines of this file).
@title: ComfyUI-Inbetween
@nickname: Inbetween
@description: Smooth in-between frames: AID/PAID attention interpolation, Beta schedules, slerp, morphs, attributes.
"""

from .nodes import comfy_entrypoint

# Served by ComfyUI under /extensions/<folder>/: the node help pages (docs/<NodeId>/en.md, docs/<NodeId>/zh.md).
WEB_DIRECTORY = "./web"

__all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
