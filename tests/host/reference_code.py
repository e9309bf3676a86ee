"""The methods' published code, for tests that run it beside the pack (never copied into this repository).

The archives (``attention-interpolation-diffusion-<commit>.tar.gz``, ``FreeMorph-<commit>.tar.gz``; their README says
what each holds) are looked for in ``$INBETWEEN_REFERENCES``, then ``shared/references`` beside this repository and
inside it; a test skips by name when they are absent. :func:`import_reference` extracts one and imports its modules
as the authors run them (flat modules on ``sys.path``), in isolation: their names (``utils``, ``prior``) are ComfyUI's
or anyone's, so ``sys.modules`` and ``sys.path`` are put back as they were once the modules are loaded.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import tarfile
import types
from pathlib import Path

import pytest

import comfy_host


def reference_archive(name: str) -> Path:
    """The archive ``name`` from the first folder that has it; a skip naming the folders looked in when none has."""
    folders = [Path(os.environ["INBETWEEN_REFERENCES"])] if os.environ.get("INBETWEEN_REFERENCES") else []
    folders += [comfy_host.PACK_DIR.parent / "shared" / "references", comfy_host.PACK_DIR / "shared" / "references"]
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    pytest.skip(f"reference archive {name} not found in {', '.join(map(str, folders))} (set INBETWEEN_REFERENCES)")


def _absent(name: str) -> types.ModuleType:
    """A stand-in for a module the environment lacks: importing names from it works, using one raises."""
    module = types.ModuleType(name)

    def missing(attribute):
        def unavailable(*args, **kwargs):
            raise ImportError(f"{name}.{attribute} is a stand-in: {name} is not installed")
        return unavailable

    module.__getattr__ = missing
    return module


def import_reference(archive: str, modules: list[str], into: Path, stubs: tuple[str, ...] = ()) -> dict:
    """Extract ``archive`` (:func:`reference_archive`) into ``into`` and import its top-level ``modules`` there.

    ``stubs``: modules (``"matplotlib.pyplot"`` with its parents) the reference imports for things the tests do not
    run (plots, searches), replaced by stand-ins only where the environment lacks them. Returns name -> module.
    """
    with tarfile.open(reference_archive(archive)) as tar:
        tar.extractall(into, filter="data")
        top = {Path(member.name).parts[0] for member in tar.getmembers()}
    if len(top) != 1:
        raise RuntimeError(f"{archive} should hold one folder, holds {sorted(top)}")
    folder = into / top.pop()
    own = {path.stem for path in folder.glob("*.py")}
    stubbed = [name for name in stubs if importlib.util.find_spec(name.split(".")[0]) is None]
    names = own | set(stubbed)
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if name.split(".")[0] in names}
    sys.path.insert(0, str(folder))
    try:
        for name in stubbed:
            sys.modules[name] = _absent(name)
            parent, _, child = name.rpartition(".")
            if parent:
                setattr(sys.modules[parent], child, sys.modules[name])
        return {name: importlib.import_module(name) for name in modules}
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.split(".")[0] in names]:
            del sys.modules[name]
        sys.modules.update(saved)
