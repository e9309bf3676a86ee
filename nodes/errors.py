"""Error messages that name the node and the input, so users can find what to fix in a big graph."""

from contextlib import contextmanager


class InbetweenInputError(ValueError):
    """A node input that cannot be used; the message names node, input, expected and received."""


def input_error(node_name: str, input_name: str, message: str) -> InbetweenInputError:
    return InbetweenInputError(f"{node_name}: input '{input_name}': {message}")


@contextmanager
def engine_errors(node_name: str, input_name: str):
    """Re-raise the engine's ValueError/TypeError as an input error of this node.

    The engine names the tensor argument (``a``, ``t`` ...); users know the node's sockets.
    """
    try:
        yield
    except (ValueError, TypeError) as err:
        if isinstance(err, InbetweenInputError):
            raise
        raise input_error(node_name, input_name, str(err)) from err
