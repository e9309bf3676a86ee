"""Argument checks shared by the engine modules.

Each check is called with the value, the parameter's name and the public function's name. A
value of the wrong type raises ``TypeError``; a value the function cannot use raises
:class:`~inbetween.errors.ArgumentError` naming the function and the parameter and showing what
arrived, so a node can map the parameter to its own input and show the detail to the user.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Optional, Union

import torch

from .errors import ArgumentError

Coefficients = Union[float, int, torch.Tensor, Sequence[float]]


def describe(value: object) -> str:
    """``"float 7.0"``-style description of a value for error messages."""
    return f"{type(value).__name__} {value!r}"


def check_real(value: object, name: str, where: str, index: Optional[int] = None) -> float:
    """Return ``value`` as a float; it must be a finite real number (bool is rejected)."""
    # bool is an int subclass, but True as a coefficient or count is always a wiring mistake.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        label = name if index is None else f"{name}[{index}]"
        raise TypeError(f"{where}: {label} must be a real number, got {describe(value)}")
    result = float(value)
    if not math.isfinite(result):
        raise ArgumentError(where, name, f"must be finite, got {result!r}", index=index)
    return result


def check_positive(value: object, name: str, where: str) -> float:
    """Return ``value`` as a float; it must be a finite real number > 0."""
    result = check_real(value, name, where)
    if result <= 0.0:
        raise ArgumentError(where, name, f"must be > 0, got {result!r}")
    return result


def check_unit_interval(value: object, name: str, where: str) -> float:
    """Return ``value`` as a float; it must be a real number in [0, 1]."""
    result = check_real(value, name, where)
    if not 0.0 <= result <= 1.0:
        raise ArgumentError(where, name, f"must be in [0, 1], got {result!r}")
    return result


def check_int(value: object, name: str, where: str, wanted: str = "an int") -> int:
    """Return ``value`` as an int; it must be an integer (bool is rejected): ``TypeError`` saying ``wanted``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be {wanted}, got {describe(value)}")
    return int(value)


def check_integer(value: object, name: str, where: str, minimum: int) -> int:
    """Return ``value`` as an int; it must be an integer >= ``minimum`` (bool is rejected)."""
    result = check_int(value, name, where, f"an int >= {minimum}")
    if result < minimum:
        raise ArgumentError(where, name, f"must be an int >= {minimum}, got {result!r}")
    return result


def check_frame_count(value: object, name: str, where: str) -> int:
    """Return ``value`` as an int; it must be an integer >= 2 (bool is rejected)."""
    return check_integer(value, name, where, 2)


def check_coefficients(value: object, name: str, where: str) -> tuple[list[float], bool]:
    """``value`` as a non-empty list of finite floats, and whether it was a vector.

    A Python number or 0-d tensor is a scalar; a sequence of numbers or a 1-D tensor a vector.
    """
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bool or value.is_complex():
            raise TypeError(f"{where}: {name} must hold real numbers, got a tensor of dtype {value.dtype}")
        if value.dim() > 1:
            raise ArgumentError(where, name, f"must be a scalar or 1-D, got a tensor of shape {tuple(value.shape)}")
        values, is_vector = [float(v) for v in value.reshape(-1).tolist()], value.dim() == 1
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        values, is_vector = [float(value)], False
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        for index, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, numbers.Real):
                raise TypeError(f"{where}: {name}[{index}] must be a real number, got {describe(item)}")
        values, is_vector = [float(v) for v in value], True
    else:
        raise TypeError(f"{where}: {name} must be a number, a sequence of numbers or a tensor, got {describe(value)}")

    if not values:
        raise ArgumentError(where, name, "is empty; give at least one value")
    for index, item in enumerate(values):
        if not math.isfinite(item):
            raise ArgumentError(where, name, f"must be finite, got {item!r}", index=index if is_vector else None)
    return values, is_vector


def check_tensor(value: object, name: str, where: str, floating: bool = True) -> torch.Tensor:
    """``value`` itself; it must be a tensor, and a floating one unless ``floating`` is False."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{where}: {name} must be a torch.Tensor, got {type(value).__name__}")
    if floating and not value.is_floating_point():
        raise TypeError(f"{where}: {name} must have a floating dtype, got {value.dtype}")
    return value


def check_finite(value: torch.Tensor, name: str, where: str, index: Optional[int] = None) -> None:
    """Reject a tensor holding NaN or inf: arithmetic would spread it through every result."""
    if value.device.type == "meta":
        return  # shapes only, no values to check
    if not bool(torch.isfinite(value).all()):
        nan = int(torch.isnan(value).sum())
        inf = int(torch.isinf(value).sum())
        raise ArgumentError(where, name, f"must hold only finite values, got {nan} NaN and {inf} infinite "
                                         f"of {value.numel()} values", index=index)


def check_like(reference: torch.Tensor, reference_name: str, value: torch.Tensor, name: str, where: str) -> None:
    """``value`` must share ``reference``'s dtype and device; the error names ``value``, the one to fix."""
    if value.dtype != reference.dtype:
        raise ArgumentError(where, name, f"must have dtype {reference.dtype} like {reference_name}, "
                                         f"got {value.dtype}")
    if value.device != reference.device:
        raise ArgumentError(where, name, f"must be on device {reference.device} like {reference_name}, "
                                         f"got {value.device}")
