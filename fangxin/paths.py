"""Where things live: the project root, the default database, the sandbox sites."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "data/fangxin.db"


def default_db() -> str:
    """`--db` default: `$FANGXIN_DB`, else `data/fangxin.db` (relative to the working directory)."""
    return os.environ.get("FANGXIN_DB") or DEFAULT_DB


def ensure_parent(path: str | os.PathLike) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    return p
