"""The engine package as a whole: its public API, its documentation and its dependencies."""

import ast
import inspect
import sys
from pathlib import Path

import inbetween

ENGINE_DIR = Path(inbetween.__file__).resolve().parent
PUBLIC_API = {
    "DISTANCES",
    "INTERPOLATION_METHODS",
    "adjacent_distances",
    "beta_cdf",
    "beta_quantile",
    "beta_schedule",
    "consistency",
    "gini",
    "interpolate",
    "lerp",
    "normalized_lerp",
    "sequence_metrics",
    "slerp",
    "smoothness",
    "uniform_schedule",
}


def test_public_api_is_exported():
    # Other engine modules may add names; these must stay.
    assert PUBLIC_API <= set(inbetween.__all__)
    for name in inbetween.__all__:
        assert hasattr(inbetween, name), name


def test_every_module_and_public_function_has_a_docstring():
    assert inbetween.__doc__
    for module_path in ENGINE_DIR.glob("*.py"):
        tree = ast.parse(module_path.read_text())
        assert ast.get_docstring(tree), f"{module_path.name} has no module docstring"
    for name in inbetween.__all__:
        value = getattr(inbetween, name)
        if inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name} has no docstring"


def test_engine_imports_only_torch_and_the_standard_library():
    # The engine must import anywhere: no ComfyUI, no SciPy, no NumPy.
    allowed = set(sys.stdlib_module_names) | {"torch", "__future__"}
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
