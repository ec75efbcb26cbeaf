"""Small files written atomically: to ``.<name>.partial`` beside the target, then renamed over it.

A reader (or a run killed half-way and restarted) never sees a half-written file under the
final name; a write that fails removes its temporary and leaves the previous file as it was.
Rasters have their own writer (:class:`processing_core.rasters.GeoTiffWriter`), figures
:func:`processing_core.figure_files.save_png`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    out = Path(path)
    tmp = out.with_name(f".{out.name}.partial")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def write_json(
    path: str | os.PathLike[str], data: Any, *, default: Callable[[Any], Any] | None = None
) -> Path:
    """Write ``data`` as indented JSON (and a final newline) to ``path`` atomically; return the path.

    ``default``: as for :func:`json.dumps` (e.g. ``float`` for numpy scalars).
    """
    return write_text(path, json.dumps(data, indent=2, default=default) + "\n")


__all__ = ["write_json", "write_text"]
