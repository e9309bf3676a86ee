"""Errors that name the node and the input, so users can find what to fix in a big graph.

The engine names its own arguments (``inbetween.errors.ArgumentError``); a node says which of
its inputs fed which argument with :func:`engine_errors`. Nothing here parses or rewrites
message text: a node either knows the input or lets the error through unchanged.
"""

from contextlib import contextmanager

from ..inbetween.errors import ArgumentError


class InbetweenInputError(ValueError):
    """Input ``input`` of node ``node`` has a value the node cannot use; ``detail`` says what was expected and got."""

    def __init__(self, node: str, input: str, detail: str):
        super().__init__(f"{node}: input '{input}': {detail}")
        self.node = node
        self.input = input
        self.detail = detail


@contextmanager
def engine_errors(node: str, **inputs: str):
    """Turn the engine's ``ArgumentError`` for a mapped argument into this node's input error.

    ``with engine_errors("Slerp Latent", a="latent_a", b="latent_b", t="schedule"):`` blames
    ``latent_b`` for a bad ``b``. An argument that is not mapped, and every ``TypeError``, pass
    through unchanged: they mean the node called the engine wrongly, a bug to see as one.
    """
    try:
        yield
    except ArgumentError as err:
        if err.argument not in inputs:
            raise
        raise InbetweenInputError(node, inputs[err.argument], err.detail) from err
