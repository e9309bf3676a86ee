"""Bring a real ComfyUI checkout into this process, on the CPU, and load the pack the way ComfyUI does.

ComfyUI has a top-level module called ``nodes``, and so does this repository (``nodes/``): the
checkout goes first on ``sys.path`` and the pack is imported as a package from its folder under
its own name, never as a bare ``nodes``.
"""

import importlib.util
import os
import sys
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parents[2]
PACK_MODULE = "comfyui_inbetween"


class ComfyUINotFound(RuntimeError):
    pass


def comfyui_path() -> Path:
    """The checkout named by COMFYUI_PATH; a clear error when it is unset or not a ComfyUI tree."""
    value = os.environ.get("COMFYUI_PATH")
    if not value:
        raise ComfyUINotFound("COMFYUI_PATH is not set; point it at a ComfyUI checkout to run the host suite")
    path = Path(value).expanduser().resolve()
    for marker in ("main.py", "comfy/model_patcher.py", "comfy_api/latest/__init__.py"):
        if not (path / marker).is_file():
            raise ComfyUINotFound(f"COMFYUI_PATH={value} is not a ComfyUI checkout: {marker} is missing")
    return path


def import_comfy_on_cpu() -> Path:
    """Put the checkout first on sys.path and force CPU before comfy.model_management is imported."""
    return import_comfy(cpu=True)


def import_comfy(cpu: bool) -> Path:
    """Put the checkout first on sys.path; ``cpu`` forces the CPU before comfy.model_management is imported, else
    ComfyUI picks its device as it does when it starts (the GPU where there is one: the benchmarks that measure one)."""
    path = comfyui_path()
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
    import comfy.options

    comfy.options.enable_args_parsing(False)
    import comfy.cli_args

    comfy.cli_args.args.cpu = cpu
    import comfy.model_management

    import nodes as comfy_nodes

    if Path(comfy_nodes.__file__).resolve().parent != path:
        raise RuntimeError(f"'nodes' resolved to {comfy_nodes.__file__}, not ComfyUI's own module in {path}")
    return path


def load_pack():
    """Import this repository as the package ``comfyui_inbetween``, as ComfyUI imports a custom node folder."""
    if PACK_MODULE in sys.modules:
        return sys.modules[PACK_MODULE]
    spec = importlib.util.spec_from_file_location(
        PACK_MODULE, PACK_DIR / "__init__.py", submodule_search_locations=[str(PACK_DIR)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACK_MODULE] = module
    spec.loader.exec_module(module)
    return module


def load_workflow_generator():
    """The workflow generator (tools/workflows) as the package ``inbetween_workflows``: the repository root itself
    never goes on sys.path, where its ``nodes`` folder would shadow ComfyUI's module."""
    name = "inbetween_workflows"
    if name not in sys.modules:
        folder = PACK_DIR / "tools" / "workflows"
        spec = importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return importlib.import_module(f"{name}.build")
