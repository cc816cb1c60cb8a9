"""Reading the image baseline's ``.pt`` files without running code from them.

Every checkpoint and cached classifier of the image baseline is read here, with
``torch.load(weights_only=True)``: only tensors and plain data are unpickled, so a crafted
file handed to ``moglow images`` cannot execute anything. Any failure is one
:class:`ImageCheckpointError` naming the file.
"""
from __future__ import annotations

from pathlib import Path

import torch

from data_pipeline.errors import MoglowError

__all__ = ["ImageCheckpointError", "load_plain"]


class ImageCheckpointError(MoglowError, ValueError):
    """An image-baseline file that cannot be read (missing, corrupt, or holding objects other
    than tensors and plain data); the message names the file."""


def load_plain(path: str | Path, required: tuple[str, ...] = (), what: str = "image-flow checkpoint") -> dict:
    """The dict saved at ``path``, loaded with ``weights_only=True``, holding the ``required`` keys.

    Raises:
        ImageCheckpointError: naming the file and why it was refused.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageCheckpointError(f"{what} not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - re-raised with the file name
        from moglow.checkpoint import load_error_summary  # noqa: PLC0415

        raise ImageCheckpointError(f"{path}: not a readable {what} ({load_error_summary(e)})") from e
    missing = [k for k in required if not isinstance(state, dict) or k not in state]
    if missing:
        raise ImageCheckpointError(f"{path}: not a {what} (no {', '.join(repr(k) for k in missing)})")
    return state
