"""The engine package as a whole: its public API, its documentation and its dependencies."""

import ast
import importlib
import inspect
import sys
from pathlib import Path

import inbetween

ENGINE_DIR = Path(inbetween.__file__).resolve().parent
# Modules whose names stay in their own namespace (inbetween.aid), not re-exported at the top.
OWN_NAMESPACE = {"__init__", "aid"}


def public_names(module_path):
    """Names a module defines at top level (functions, classes, constants, aliases) without a leading _."""
    names = set()
    for node in ast.parse(module_path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_")}


def test_the_package_exports_every_public_name_of_every_module():
    expected = set()
    for module_path in ENGINE_DIR.glob("*.py"):
        if module_path.stem not in OWN_NAMESPACE:
            expected |= public_names(module_path)
    assert set(inbetween.__all__) == expected
    for name in inbetween.__all__:
        assert hasattr(inbetween, name), name


def test_all_is_sorted_and_the_docstring_lists_every_module():
    assert inbetween.__all__ == sorted(inbetween.__all__)
    for module_path in ENGINE_DIR.glob("*.py"):
        if module_path.stem != "__init__":
            assert f"``{module_path.stem}``" in inbetween.__doc__, module_path.stem


def test_aid_stays_importable_as_a_submodule():
    module = importlib.import_module("inbetween.aid")
    assert module.__name__ == "inbetween.aid"


def test_every_module_and_public_function_has_a_docstring():
    assert inbetween.__doc__
    for module_path in ENGINE_DIR.glob("*.py"):
        tree = ast.parse(module_path.read_text())
        assert ast.get_docstring(tree), f"{module_path.name} has no module docstring"
    for name in inbetween.__all__:
        value = getattr(inbetween, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert inspect.getdoc(value), f"{name} has no docstring"


def test_engine_imports_only_torch_scipy_numpy_and_the_standard_library():
    # The engine must import anywhere ComfyUI runs: ComfyUI requires torch, numpy and scipy; no
    # ComfyUI module may appear, so the engine stays testable without it.
    allowed = set(sys.stdlib_module_names) | {"torch", "scipy", "numpy", "__future__"}
    for module_path in ENGINE_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(module_path.read_text())):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [node.module.split(".")[0]]
            else:
                continue
            for root in roots:
                assert root in allowed, f"{module_path.name} imports {root}"
