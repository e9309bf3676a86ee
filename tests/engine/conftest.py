"""Make the engine importable as the top-level package ``inbetween``; fixtures shared by the engine tests.

The repository root is APPENDED to sys.path, never prepended: it also holds this pack's
``nodes/`` package, which must not shadow ComfyUI's own top-level ``nodes`` module in a
process that has ComfyUI on its path.
"""

import sys
from pathlib import Path

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)


import contextlib  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

from inbetween import ArgumentError  # noqa: E402


@pytest.fixture
def argument_error():
    """``with argument_error(function, argument, detail=None, index=None):`` expects an ArgumentError with
    exactly that function, argument and index, and, when given, that detail (or a detail containing it
    when it starts with ``...``)."""

    @contextlib.contextmanager
    def expect(function, argument, detail=None, index=None):
        with pytest.raises(ArgumentError) as caught:
            yield caught
        error = caught.value
        assert (error.function, error.argument, error.index) == (function, argument, index), str(error)
        if detail is not None:
            if detail.startswith("..."):
                assert detail[3:] in error.detail, error.detail
            else:
                assert error.detail == detail
        where = argument if index is None else f"{argument}[{index}]"
        assert str(error) == f"{function}: {where}: {error.detail}"

    return expect


class Float64Sizes(TorchDispatchMode):
    """Records the element count of every float64 tensor an operation returns."""

    def __init__(self):
        super().__init__()
        self.sizes = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for value in torch.utils._pytree.tree_leaves(out):
            if isinstance(value, torch.Tensor) and value.dtype == torch.float64:
                self.sizes.append(value.numel())
        return out


@pytest.fixture
def float64_sizes():
    """``with float64_sizes as recorder:`` lists in ``recorder.sizes`` the size of every float64 tensor made."""
    return Float64Sizes()
