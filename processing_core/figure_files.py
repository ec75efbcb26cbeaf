"""Writing matplotlib figures as PNG files atomically: a temporary name, renamed when complete."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def save_png(fig: Any, path: str | os.PathLike[str], *, dpi: int) -> Path:
    """Save ``fig`` (a matplotlib Figure) to ``path`` as PNG, creating its folder; return the path.

    The image is written to ``.<stem>.partial.png`` beside it and renamed, so a reader never
    sees a half-written file under the final name.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.partial.png")
    fig.savefig(tmp, dpi=dpi, format="png")
    os.replace(tmp, out)
    return out
