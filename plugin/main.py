"""The plugin object QGIS creates through ``classFactory``."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsApplication
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction

from . import icon_path
from .provider import SarOffsetTrackingProvider

MENU = "&SAR offset tracking"
INSPECTOR_TEXT = "SAR offset tracking: time-series inspector"


class SarOffsetTrackingPlugin:
    """Registers the Processing provider and the time-series inspector (dock and map tools).

    QGIS desktop calls :meth:`initGui`, ``qgis_process`` calls only :meth:`initProcessing`;
    both end with the provider registered once. :meth:`initGui` also adds the action
    "SAR offset tracking: time-series inspector" (plugin menu and toolbar) that shows the dock,
    created on first use. :meth:`unload` removes all of it again: provider, action, dock, map
    tools, markers and the temporal-controller connection.
    """

    def __init__(self, iface: Any) -> None:
        self.iface = iface  # QgisInterface in QGIS desktop, None in qgis_process
        self.provider: SarOffsetTrackingProvider | None = None
        self.inspector_action: QAction | None = None
        self.dock: Any = None  # gui.dock.TimeSeriesDock, imported on first use

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
        if self.iface is None or self.inspector_action is not None:
            return
        action = QAction(QIcon(icon_path("group_timeseries")), INSPECTOR_TEXT, self.iface.mainWindow())
        action.setObjectName("SarOffsetTrackingInspectorAction")
        action.triggered.connect(self.show_inspector)
        self.iface.addPluginToMenu(MENU, action)
        self.iface.addToolBarIcon(action)
        self.inspector_action = action

    def show_inspector(self, *_: Any) -> Any:
        """Show (create on first use) and raise the time-series dock; return it."""
        if self.dock is None:
            from .gui.dock import TimeSeriesDock, dock_area

            self.dock = TimeSeriesDock(self.iface, self.iface.mainWindow())
            self.iface.addDockWidget(dock_area(), self.dock)
        self.dock.show()
        self.dock.raise_()
        return self.dock

    def unload(self) -> None:
        """Remove everything :meth:`initGui` / :meth:`initProcessing` added."""
        if self.dock is not None:
            self.dock.cleanup()
            self.iface.removeDockWidget(self.dock)
            self.dock.setParent(None)
            self.dock.deleteLater()
            self.dock = None
        if self.inspector_action is not None:
            self.iface.removePluginMenu(MENU, self.inspector_action)
            self.iface.removeToolBarIcon(self.inspector_action)
            self.inspector_action.deleteLater()
            self.inspector_action = None
        if self.provider is not None:
            # The registry owns the provider and deletes it here.
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
