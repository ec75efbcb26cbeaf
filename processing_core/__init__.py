"""Pure scientific core of the SAR offset-tracking plugin.

Depends on numpy, scipy, GDAL and pyproj only; never imports ``qgis``, so it runs
from the command line (``python3 -m processing_core``), in tests and on clusters.
"""

from __future__ import annotations

import configparser
import os
import sys
from pathlib import Path

__all__ = ["__version__"]


def _read_version() -> str:
    """Return the version from the plugin's ``metadata.txt`` (the one source of truth)."""
    meta = Path(__file__).resolve().parent.parent / "metadata.txt"
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(meta, encoding="utf-8") or not parser.has_option("general", "version"):
        return "0+unknown"
    return parser.get("general", "version").strip()


def _ensure_proj_data() -> None:
    """Point PROJ at the system's data (proj.db, egm96_15.gtx) when run from a virtualenv.

    pyproj looks under ``sys.prefix``; inside a ``--system-site-packages`` venv that is the
    venv, not ``/usr``. Must run before pyproj is imported.
    """
    if os.environ.get("PROJ_DATA") or os.environ.get("PROJ_LIB"):
        return
    for base in (sys.prefix, sys.base_prefix, "/usr"):
        candidate = Path(base) / "share" / "proj"
        if (candidate / "proj.db").is_file():
            os.environ["PROJ_DATA"] = str(candidate)
            return


__version__ = _read_version()
_ensure_proj_data()
