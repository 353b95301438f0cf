"""Where the embedded store lives on disk, and how a path is shown to a user.

Users see paths relative to the data folder (``$NTM_EXPLORER_DATA``, default ``.data/``), never
the server's absolute paths.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..io import data_dir


def default_store_path() -> Path:
    """Where the embedded store lives unless told otherwise: ``<data dir>/longterm/graph.json``."""
    return data_dir() / "longterm" / "graph.json"


def shown_path(path: str | os.PathLike) -> str:
    """``path`` as a user may see it: relative to the data folder when inside it
    (``longterm/graph.json``), else just its file name."""
    path = Path(path)
    try:
        return path.resolve().relative_to(data_dir().resolve()).as_posix()
    except (ValueError, OSError):
        return path.name
