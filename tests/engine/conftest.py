"""Make the engine importable as the top-level package ``inbetween``.

The repository root is APPENDED to sys.path, never prepended: it also holds this pack's
``nodes/`` package, which must not shadow ComfyUI's own top-level ``nodes`` module in a
process that has ComfyUI on its path.
"""

import sys
from pathlib import Path

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)
