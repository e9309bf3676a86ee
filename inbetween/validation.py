"""Argument checks shared by the engine modules.

Every check names the calling function and the parameter, and shows the value that arrived,
so a node can pass the message straight to the user.
"""

from __future__ import annotations

import math
import numbers


def describe(value: object) -> str:
    """``"float 7.0"``-style description of a value for error messages."""
    return f"{type(value).__name__} {value!r}"


def check_real(value: object, name: str, where: str) -> float:
    """Return ``value`` as a float; it must be a finite real number (bool is rejected)."""
    # bool is an int subclass, but True as a coefficient or count is always a wiring mistake.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {describe(value)}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{where}: {name} must be finite, got {result!r}")
    return result


def check_positive(value: object, name: str, where: str) -> float:
    """Return ``value`` as a float; it must be a finite real number > 0."""
    result = check_real(value, name, where)
    if result <= 0.0:
        raise ValueError(f"{where}: {name} must be > 0, got {result!r}")
    return result


def check_unit_interval(value: object, name: str, where: str) -> float:
    """Return ``value`` as a float; it must be a real number in [0, 1]."""
    result = check_real(value, name, where)
    if not 0.0 <= result <= 1.0:
        raise ValueError(f"{where}: {name} must be in [0, 1], got {result!r}")
    return result


def check_frame_count(value: object, name: str, where: str) -> int:
    """Return ``value`` as an int; it must be an integer >= 2 (bool is rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an int >= 2, got {describe(value)}")
    result = int(value)
    if result < 2:
        raise ValueError(f"{where}: {name} must be an int >= 2, got {result!r}")
    return result
