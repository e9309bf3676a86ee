"""The engine's error convention.

A value the engine cannot use raises :class:`ArgumentError` (a ``ValueError``) that names the
function and the argument, so a caller can tell the user which of *its* inputs fed that argument
without parsing the message. A value of the wrong *type* raises a plain ``TypeError``: that is a
programming mistake of the caller, not bad user input, and callers must not turn it into one.
"""

from __future__ import annotations


class ArgumentError(ValueError):
    """``function``'s argument ``argument`` has a value it cannot use; ``detail`` says what was expected and got."""

    def __init__(self, function: str, argument: str, detail: str):
        super().__init__(f"{function}: {argument}: {detail}")
        self.function = function
        self.argument = argument
        self.detail = detail
