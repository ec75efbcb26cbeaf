"""QGIS entry point of the SAR offset-tracking plugin.

QGIS imports this package (as ``sar_offset_tracking``) and calls :func:`classFactory`.
Nothing heavy is imported at package import time: the plugin class, its Processing
provider and the scientific core load only when QGIS asks for the plugin.

Copyright (C) 2026 SAR Offset Tracking developers. This program is free software; you can
redistribute it and/or modify it under the terms of the GNU General Public License as
published by the Free Software Foundation; either version 2 of the License, or (at your
option) any later version. See the LICENSE file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .plugin.main import SarOffsetTrackingPlugin


def classFactory(iface: Any) -> SarOffsetTrackingPlugin:  # noqa: N802 - name fixed by QGIS
    """Return the plugin instance for QGIS (``iface`` is the ``QgisInterface``, or None in qgis_process)."""
    from .plugin.main import SarOffsetTrackingPlugin

    return SarOffsetTrackingPlugin(iface)
