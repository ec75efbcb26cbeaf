"""Pure scientific core of the SAR offset-tracking plugin.

Depends on numpy, scipy, GDAL and pyproj only; never imports ``qgis``, so it runs
from the command line (``python3 -m processing_core``), in tests and on clusters.
"""

from __future__ import annotations

import configparser
from pathlib import Path

__all__ = ["__version__"]


def _read_version() -> str:
    """Return the version from the plugin's ``metadata.txt`` (the one source of truth)."""
    meta = Path(__file__).resolve().parent.parent / "metadata.txt"
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(meta, encoding="utf-8") or not parser.has_option("general", "version"):
        return "0+unknown"
    return parser.get("general", "version").strip()


__version__ = _read_version()
