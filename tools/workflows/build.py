"""Write workflows/<title>.json for every registered workflow and subgraphs/<name>.json for every blueprint, with widget
order from a ComfyUI server's /object_info.

    COMFYUI_PATH=/path/to/ComfyUI python -m tools.workflows.build           # starts ComfyUI with the pack, writes
    python -m tools.workflows.build --object-info object_info.json          # uses a saved /object_info
    ... --check                                                             # writes nothing, fails on a difference

Adding a workflow: write a function decorated with ``@workflow(title)`` in one of the modules imported below (aid.py,
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
               picture_morphs, sequences, video_morphs)
from . import blueprints  # noqa: F401
# Column, NODES_2_HEIGHTS, TITLE_HEIGHT and WorkflowDefinitionError are the host suite's
from .graph import (BLUEPRINTS, NODES_2_HEIGHTS, REGISTRY, TITLE_HEIGHT, Column, Workflow,  # noqa: F401
                    WorkflowDefinitionError)

PACK_DIR = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = PACK_DIR / "workflows"
SUBGRAPHS_DIR = PACK_DIR / "subgraphs"


def build(name: str, object_info: dict) -> dict:
    workflow = Workflow(name)
    REGISTRY[name](workflow)
    return workflow.to_ui(object_info)


def build_all(object_info: dict) -> dict[str, dict]:
    return {name: build(name, object_info) for name in sorted(REGISTRY)}


def build_blueprint(name: str, object_info: dict) -> dict:
    graph, entry = Workflow(name), BLUEPRINTS[name]
    entry.define(graph)
    return graph.to_blueprint(object_info, entry.category, entry.description)


def build_all_blueprints(object_info: dict) -> dict[str, dict]:
    return {name: build_blueprint(name, object_info) for name in sorted(BLUEPRINTS)}


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
    failed = False
    for folder, made in ((WORKFLOWS_DIR, build_all(object_info)), (SUBGRAPHS_DIR, build_all_blueprints(object_info))):
        failed |= _write(folder, {f"{name}.json": render(ui) for name, ui in made.items()}, args.check)
    return 1 if failed else 0


def _write(folder: Path, built: dict[str, str], check: bool) -> bool:
    """Write the files of ``folder`` that differ (with ``check``: only name them); whether any differs."""
    differing = [name for name, text in built.items()
                 if not (folder / name).exists() or (folder / name).read_text() != text]
    unknown = sorted({path.name for path in folder.glob("*.json")} - built.keys())
    if check:
        for name in differing:
            print(f"differs from the generator: {folder.name}/{name}")
        for name in unknown:
            print(f"not made by the generator: {folder.name}/{name}")
        return bool(differing or unknown)
    folder.mkdir(exist_ok=True)
    for name in differing:
        (folder / name).write_text(built[name])
        print(f"wrote {folder.name}/{name}")
    for name in unknown:
        print(f"warning: {folder.name}/{name} is not made by the generator")
    return False


if __name__ == "__main__":
    sys.exit(main())
