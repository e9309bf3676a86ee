"""The engine's error convention.

A value the engine cannot use raises :class:`ArgumentError` (a ``ValueError``) that names the
function and the argument, so a caller can tell the user which of *its* inputs fed that argument
without parsing the message. A value of the wrong *type* raises a plain ``TypeError``: that is a
programming mistake of the caller, not bad user input, and callers must not turn it into one.
"""

from __future__ import annotations

from typing import Optional


class ArgumentError(ValueError):
    """``function``'s argument ``argument`` has a value it cannot use; ``detail`` says what was expected and got.

    ``argument`` is the exact parameter name of the public function the caller called. When the
    bad value is one element of a sequence argument (the third of ``weights``, say), ``index``
    is that element's position, so a caller with one input per element can name the right one.
    """

    def __init__(self, function: str, argument: str, detail: str, *, index: Optional[int] = None):
        where = argument if index is None else f"{argument}[{index}]"
        super().__init__(f"{function}: {where}: {detail}")
        self.function = function
        self.argument = argument
        self.detail = detail
        self.index = index
