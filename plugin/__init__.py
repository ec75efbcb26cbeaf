"""PyQGIS glue of the SAR offset-tracking plugin: provider, algorithms, GUI.

This package translates between QGIS (Processing parameters, feedback, layers) and the
QGIS-free scientific core in ``processing_core``; it contains no science itself.

The core is a top-level package (``python3 -m processing_core``) that imports itself by
absolute name, so inside QGIS the plugin folder goes on ``sys.path`` before the core is
imported (:func:`ensure_core_importable`).
"""

from __future__ import annotations

import sys
from pathlib import Path

PLUGIN_ROOT = Path(__file__).resolve().parent.parent
RESOURCES = PLUGIN_ROOT / "resources"
ICONS = RESOURCES / "icons"


def icon_path(name: str = "icon") -> str:
    """Return the path of ``resources/icons/<name>.svg`` as a string (QIcon wants str)."""
    return str(ICONS / f"{name}.svg")


def ensure_core_importable() -> None:
    """Make ``import processing_core`` resolve to the copy shipped beside this package.

    Raises ImportError when a different ``processing_core`` was imported already (for
    example from another plugin), since mixing two cores would mix their exception classes.
    """
    root = str(PLUGIN_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)
    loaded = sys.modules.get("processing_core")
    if loaded is not None:
        origin = Path(getattr(loaded, "__file__", "") or "").resolve().parent
        if origin != PLUGIN_ROOT / "processing_core":
            raise ImportError(
                f"another 'processing_core' package is already loaded from {origin}; "
                f"the SAR offset-tracking plugin needs its own from {PLUGIN_ROOT}"
            )
