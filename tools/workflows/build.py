"""Write workflows/<name>.json for every registered workflow, with widget order from a ComfyUI server's /object_info.

    COMFYUI_PATH=/path/to/ComfyUI python -m tools.workflows.build           # starts ComfyUI with the pack, writes
    python -m tools.workflows.build --object-info object_info.json          # uses a saved /object_info
    ... --check                                                             # writes nothing, fails on a difference

Adding a workflow: write a function decorated with ``@workflow`` in one of the modules imported below (aid.py,
sequences.py, morphs.py...) or a new one imported there, run this, and commit the JSON (the host suite checks both
agree).
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

# each module registers its workflows
from . import (aid, aid_transformers, aid_video, attributes, distributed, keyframes, morphs,  # noqa: F401
               picture_morphs, sequences)
from .graph import REGISTRY, Workflow, WorkflowDefinitionError  # noqa: F401  (the host suite's API)

PACK_DIR = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = PACK_DIR / "workflows"


def build(name: str, object_info: dict) -> dict:
    workflow = Workflow(name)
    REGISTRY[name](workflow)
    return workflow.to_ui(object_info)


def build_all(object_info: dict) -> dict[str, dict]:
    return {name: build(name, object_info) for name in sorted(REGISTRY)}


def render(ui: dict) -> str:
    """The committed text of a workflow: stable key order and indentation, so a diff shows what changed."""
    return json.dumps(ui, indent=2, ensure_ascii=False) + "\n"


def _server_object_info() -> dict:
    """Start ComfyUI (COMFYUI_PATH) with this pack, as the host suite does, and read its /object_info."""
    sys.path.insert(0, str(PACK_DIR / "tests" / "host"))
    import comfy_host
    from server import ComfyServer

    with tempfile.TemporaryDirectory() as base, ComfyServer(comfy_host.comfyui_path(), Path(base), PACK_DIR, []) as server:
        return server.object_info()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--object-info", type=Path, help="a saved /object_info instead of starting ComfyUI")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a committed file differs")
    args = parser.parse_args(argv)
    object_info = json.loads(args.object_info.read_text()) if args.object_info else _server_object_info()
    built = {f"{name}.json": render(ui) for name, ui in build_all(object_info).items()}
    differing = [name for name, text in built.items()
                 if not (WORKFLOWS_DIR / name).exists() or (WORKFLOWS_DIR / name).read_text() != text]
    unknown = sorted({path.name for path in WORKFLOWS_DIR.glob("*.json")} - built.keys())
    if args.check:
        for name in differing:
            print(f"differs from the generator: workflows/{name}")
        for name in unknown:
            print(f"not made by the generator: workflows/{name}")
        return 1 if differing or unknown else 0
    for name in differing:
        (WORKFLOWS_DIR / name).write_text(built[name])
        print(f"wrote workflows/{name}")
    for name in unknown:
        print(f"warning: workflows/{name} is not made by the generator")
    return 0


if __name__ == "__main__":
    sys.exit(main())
