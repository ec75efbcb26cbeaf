"""The plugin object QGIS creates through ``classFactory``."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsApplication

from .provider import SarOffsetTrackingProvider


class SarOffsetTrackingPlugin:
    """Registers the Processing provider; later also the GUI (dock, map tool).

    QGIS desktop calls :meth:`initGui`, ``qgis_process`` calls only :meth:`initProcessing`;
    both end with the provider registered once. :meth:`unload` removes it again.
    """

    def __init__(self, iface: Any) -> None:
        self.iface = iface  # QgisInterface in QGIS desktop, None in qgis_process
        self.provider: SarOffsetTrackingProvider | None = None

    def initProcessing(self) -> None:  # noqa: N802 - QGIS API
        """Register the provider with Processing (idempotent)."""
        if self.provider is not None:
            return
        provider = SarOffsetTrackingProvider()
        if not QgsApplication.processingRegistry().addProvider(provider):
            raise RuntimeError(f"a Processing provider with id '{provider.id()}' is already registered")
        self.provider = provider

    def initGui(self) -> None:  # noqa: N802 - QGIS API
        self.initProcessing()

    def unload(self) -> None:
        """Remove everything :meth:`initGui` / :meth:`initProcessing` added."""
        if self.provider is not None:
            # The registry owns the provider and deletes it here.
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
