"""The time-series inspector dock: click the map, see the point's LOS and azimuth displacement.

Toolbar (left to right): pick points, hold / compare, reference point, clear reference, polygon
average, clear, export plot (PNG/SVG), export data (CSV), open a time-series raster, step
through dates with the temporal controller. Below: the layer to sample (time-series rasters
and point layers with ``DYYYYMMDD`` columns), "Flip azimuth sign for display", "Creep stages",
the precipitation CSV (``month,precip_mm``), a status line and the plot.

Every click goes through public slots (:meth:`TimeSeriesDock.plot_at`,
:meth:`~TimeSeriesDock.set_reference_at`, :meth:`~TimeSeriesDock.average_polygon`), so the
tests and scripts drive the dock exactly as the map tools do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsApplication,
    QgsGeometry,
    QgsMapLayer,
    QgsMapLayerProxyModel,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
)
from qgis.gui import QgsDockWidget, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtCore import QSize, Qt
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import (
    QAction,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ..layers import apply_style_by_name
from .maptool import Markers, PointPickTool, PolygonTool
from .model import (
    PlotModel,
    Precipitation,
    Series,
    color,
    creep_stages,
    platform_periods,
    read_precipitation,
    stages_available,
    subtract_reference,
    write_csv,
)
from .plotting import PlotBackend, available_backends, create_backend
from .sampling import (
    is_timeseries_layer,
    is_timeseries_raster,
    polygon_mean,
    sample_points,
    sample_raster,
)
from .temporal import TemporalBandStepper

TITLE = "SAR offset tracking: time series"
FLIP_TEXT = "Flip azimuth sign for display (positive opposite to flight, as Liu et al. 2020)"
POINT_TOLERANCE_PX = 10
"""Search radius of a click on a point layer, screen pixels."""


def theme_icon(name: str) -> QIcon:
    return QgsApplication.getThemeIcon(f"/{name}")


class TimeSeriesDock(QgsDockWidget):
    """Dock with the map tools, the options and the plot."""

    # the toolbar's actions (made from ACTIONS)
    pick_action: QAction
    hold_action: QAction
    reference_action: QAction
    clear_reference_action: QAction
    polygon_action: QAction
    clear_action: QAction
    export_plot_action: QAction
    export_csv_action: QAction
    open_action: QAction
    temporal_action: QAction

    def __init__(self, iface: Any, parent: QWidget | None = None, backend: str = "matplotlib") -> None:
        super().__init__(TITLE, parent)
        self.setObjectName("SarOffsetTrackingTimeSeriesDock")
        self.iface = iface
        self.canvas = iface.mapCanvas()
        self.series: list[Series] = []
        self.reference: Series | None = None
        self.precipitation: Precipitation | None = None
        self._polygons = 0
        self.markers = Markers(self.canvas)
        self.stepper = TemporalBandStepper(self.canvas, self)
        self.point_tool = PointPickTool(self.canvas)
        self.point_tool.picked.connect(self.plot_at)
        self.reference_tool = PointPickTool(self.canvas)
        self.reference_tool.picked.connect(self._reference_picked)
        self.polygon_tool = PolygonTool(self.canvas)
        self.polygon_tool.finished.connect(self.average_polygon)
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self._build_toolbar())
        layout.addLayout(self._build_options())
        self.status = QLabel("Pick a time-series layer, then click the map.", body)
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.plot: PlotBackend = create_backend(backend, body)
        self.plot.widget().setMinimumHeight(320)
        layout.addWidget(self.plot.widget(), 1)
        self.backend_combo.blockSignals(True)
        self.backend_combo.setCurrentText(backend)
        self.backend_combo.blockSignals(False)
        self.setWidget(body)
        self._select_initial_layer()
        self.redraw()

    # -- construction ----------------------------------------------------------------------------
    #: (attribute, theme icon, text, slot name, checkable); None: a separator
    ACTIONS: tuple[tuple[str, str, str, str, bool] | None, ...] = (
        (
            "pick_action",
            "mActionIdentify.svg",
            "Plot the time series at a clicked point",
            "_toggle_pick",
            True,
        ),
        (
            "hold_action",
            "mActionShowPinnedLabels.svg",
            "Hold: keep the plotted points and add new ones (compare)",
            "_hold_changed",
            True,
        ),
        (
            "reference_action",
            "mActionAddMarker.svg",
            "Pick a reference point (its series is subtracted from every series)",
            "_toggle_reference",
            True,
        ),
        (
            "clear_reference_action",
            "mActionRemove.svg",
            "Clear the reference point",
            "clear_reference",
            False,
        ),
        (
            "polygon_action",
            "mActionCapturePolygon.svg",
            "Average the pixels inside a polygon (left click: vertex, right click: close)",
            "_toggle_polygon",
            True,
        ),
        ("clear_action", "mActionDeselectAll.svg", "Clear the plot and the map markers", "clear", False),
        None,
        (
            "export_plot_action",
            "mActionSaveMapAsImage.svg",
            "Export the plot (PNG or SVG)",
            "_export_plot_dialog",
            False,
        ),
        (
            "export_csv_action",
            "mActionFileSaveAs.svg",
            "Export the plotted data (CSV)",
            "_export_csv_dialog",
            False,
        ),
        (
            "open_action",
            "mActionAddRasterLayer.svg",
            "Open a time-series raster (styled)",
            "_open_dialog",
            False,
        ),
        (
            "temporal_action",
            "mTemporalNavigationAnimated.svg",
            "Step through dates with the temporal controller",
            "_toggle_temporal",
            True,
        ),
    )

    def _build_toolbar(self) -> QToolBar:
        self.toolbar = QToolBar(self)
        self.toolbar.setIconSize(QSize(20, 20))
        for entry in self.ACTIONS:
            if entry is None:
                self.toolbar.addSeparator()
                continue
            attribute, icon, text, slot, checkable = entry
            action = QAction(theme_icon(icon), text, self)
            action.setToolTip(text)
            action.setCheckable(checkable)
            (action.toggled if checkable else action.triggered).connect(getattr(self, slot))
            self.toolbar.addAction(action)
            setattr(self, attribute, action)
        self.point_tool.setAction(self.pick_action)
        self.reference_tool.setAction(self.reference_action)
        self.polygon_tool.setAction(self.polygon_action)
        return self.toolbar

    def _build_options(self) -> QVBoxLayout:
        box = QVBoxLayout()
        row = QHBoxLayout()
        row.addWidget(QLabel("Layer:"))
        self.layer_combo = QgsMapLayerComboBox()
        self.layer_combo.setFilters(QgsMapLayerProxyModel.RasterLayer | QgsMapLayerProxyModel.PointLayer)
        self.layer_combo.setAllowEmptyLayer(True)
        self.layer_combo.layerChanged.connect(self._layer_changed)
        row.addWidget(self.layer_combo, 1)
        self.backend_combo = QComboBox()
        self.backend_combo.addItems(available_backends())
        self.backend_combo.setToolTip("Plotting library")
        self.backend_combo.setVisible(self.backend_combo.count() > 1)
        self.backend_combo.currentTextChanged.connect(self.set_backend)
        row.addWidget(self.backend_combo)
        box.addLayout(row)
        row = QHBoxLayout()
        self.flip_check = QCheckBox(FLIP_TEXT)
        self.flip_check.toggled.connect(self.redraw)
        row.addWidget(self.flip_check)
        self.stages_check = QCheckBox("Creep stages (LOS)")
        self.stages_check.setEnabled(stages_available())
        self.stages_check.setChecked(stages_available())
        self.stages_check.setToolTip(
            "Stages and rates from processing_core.analysis.stages"
            if stages_available()
            else "Needs processing_core.analysis.stages, not found in this installation"
        )
        self.stages_check.toggled.connect(self.redraw)
        row.addWidget(self.stages_check)
        box.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Precipitation CSV (month,precip_mm):"))
        self.precipitation_widget = QgsFileWidget()
        self.precipitation_widget.setFilter("CSV (*.csv)")
        self.precipitation_widget.fileChanged.connect(self.set_precipitation)
        row.addWidget(self.precipitation_widget, 1)
        box.addLayout(row)
        return box

    def _select_initial_layer(self) -> None:
        active = self.iface.activeLayer() if hasattr(self.iface, "activeLayer") else None
        layers = [active, *QgsProject.instance().mapLayers().values()]
        chosen = next((layer for layer in layers if is_timeseries_layer(layer)), None)
        self.layer_combo.setLayer(chosen)
        self._layer_changed(chosen)

    # -- state -----------------------------------------------------------------------------------
    def current_layer(self) -> QgsMapLayer | None:
        return self.layer_combo.currentLayer()

    def set_layer(self, layer: QgsMapLayer | None) -> None:
        self.layer_combo.setLayer(layer)

    def _layer_changed(self, layer: QgsMapLayer | None) -> None:
        self.temporal_action.setEnabled(is_timeseries_raster(layer) or self.temporal_action.isChecked())

    def _sample(self, point: QgsPointXY) -> Series | None:
        layer = self.current_layer()
        if not is_timeseries_layer(layer):
            self.status.setText(
                "Choose a time-series raster (timeseries/, geocoded/) or a point layer with DYYYYMMDD columns."
            )
            return None
        crs = self.canvas.mapSettings().destinationCrs()
        if isinstance(layer, QgsRasterLayer):
            series = sample_raster(layer, point, crs)
        else:
            series = sample_points(layer, point, crs, self.canvas.mapUnitsPerPixel() * POINT_TOLERANCE_PX)
        if series is None:
            self.status.setText(f"No data of '{layer.name()}' at {point.x():.6g}, {point.y():.6g}.")
        return series

    def plot_at(self, point: QgsPointXY) -> Series | None:
        """Plot the series of the current layer at ``point`` (canvas CRS); add it when holding."""
        series = self._sample(point)
        if series is None:
            return None
        if not self.hold_action.isChecked():
            self._clear_series()
        self._add(series)
        return series

    def average_polygon(self, polygon: QgsGeometry) -> Series | None:
        """Plot the mean series of the current raster's pixels inside ``polygon`` (canvas CRS)."""
        layer = self.current_layer()
        if not is_timeseries_raster(layer):
            self.status.setText("The polygon average needs a time-series raster layer.")
            return None
        self._polygons += 1
        series = polygon_mean(
            layer, polygon, self.canvas.mapSettings().destinationCrs(), f"polygon {self._polygons}"
        )
        if series is None:
            self.status.setText("No pixel centre of the raster lies inside the polygon.")
            return None
        if not self.hold_action.isChecked():
            self._clear_series()
        self._add(series, polygon)
        return series

    def _add(self, series: Series, polygon: QgsGeometry | None = None) -> None:
        self.series.append(series)
        colour = color(len(self.series) - 1)
        if polygon is not None:
            self.markers.add_polygon(polygon, colour)
        elif series.location is not None:
            self.markers.add_point(QgsPointXY(*series.location), colour)
        self.status.setText(f"Plotted {series.label}.")
        self.redraw()

    def set_reference_at(self, point: QgsPointXY) -> Series | None:
        """Use the series at ``point`` as the reference subtracted from every plotted series."""
        series = self._sample(point)
        if series is None:
            return None
        self.reference = series
        self.markers.set_reference(point)
        self.status.setText(f"Reference: {series.label}.")
        self.redraw()
        return series

    def _reference_picked(self, point: QgsPointXY) -> None:
        self.set_reference_at(point)
        self.pick_action.setChecked(True)  # back to picking points

    def clear_reference(self) -> None:
        self.reference = None
        self.markers.set_reference(None)
        self.redraw()

    def _clear_series(self) -> None:
        self.series = []
        self._polygons = 0
        self.markers.clear()

    def clear(self) -> None:
        """Remove every series, the reference and their markers."""
        self._clear_series()
        self.clear_reference()

    def displayed_series(self) -> list[Series]:
        """The series as plotted: minus the reference when one is set."""
        if self.reference is None:
            return list(self.series)
        return [subtract_reference(s, self.reference) for s in self.series]

    def plot_model(self) -> PlotModel:
        shown = self.displayed_series()
        source = shown[0].source if shown else ""
        layer = self.current_layer()
        if not source and layer is not None:
            source = layer.source()
        stages = [creep_stages(s) for s in shown] if self.stages_check.isChecked() else []
        return PlotModel(
            series=shown,
            colors=[color(k) for k in range(len(shown))],
            periods=platform_periods(source) if source else [],
            stages=[s for s in stages if s is not None],
            precipitation=self.precipitation,
            flip_azimuth=self.flip_check.isChecked(),
            reference=self.reference.label if self.reference is not None else "",
        )

    def redraw(self) -> None:
        self.plot.draw(self.plot_model())

    def set_backend(self, name: str) -> None:
        """Draw with another plotting library (:func:`available_backends`)."""
        if name == self.plot.name:
            return
        old = self.plot.widget()
        layout = old.parentWidget().layout()
        self.plot = create_backend(name, old.parentWidget())
        self.plot.widget().setMinimumHeight(320)
        layout.replaceWidget(old, self.plot.widget())
        old.deleteLater()
        self.redraw()

    def set_precipitation(self, path: str | None) -> None:
        """Show monthly precipitation bars from a ``month,precip_mm`` CSV (empty: none)."""
        self.precipitation = None
        if path:
            try:
                self.precipitation = read_precipitation(path)
            except (OSError, ValueError) as exc:
                self.status.setText(str(exc))
        self.redraw()

    # -- tools -----------------------------------------------------------------------------------
    def _activate(self, tool: Any, checked: bool) -> None:
        if checked:
            self.canvas.setMapTool(tool)
        elif self.canvas.mapTool() is tool:
            self.canvas.unsetMapTool(tool)

    def _toggle_pick(self, checked: bool) -> None:
        self._activate(self.point_tool, checked)

    def _toggle_reference(self, checked: bool) -> None:
        self._activate(self.reference_tool, checked)

    def _toggle_polygon(self, checked: bool) -> None:
        self._activate(self.polygon_tool, checked)

    def _hold_changed(self, checked: bool) -> None:
        self.status.setText("Holding: new points are added." if checked else "New points replace the plot.")

    def _toggle_temporal(self, checked: bool) -> None:
        if not checked:
            self.stepper.detach()
            self._layer_changed(self.current_layer())
            return
        layer = self.current_layer()
        if not is_timeseries_raster(layer):
            self.status.setText("Stepping through dates needs a time-series raster layer.")
            self.temporal_action.setChecked(False)
            return
        self.stepper.attach(layer)
        self.status.setText(
            f"'{layer.name()}' follows the temporal controller ({len(self.stepper.dates)} dates)."
        )

    # -- files -----------------------------------------------------------------------------------
    def export_plot(self, path: str) -> None:
        self.plot.save(path)

    def export_csv(self, path: str) -> None:
        write_csv(path, self.displayed_series())

    def open_raster(self, path: str) -> QgsRasterLayer | None:
        """Add a time-series raster to the project, styled by its name, and sample it."""
        stem = Path(path).stem
        folder = Path(path).resolve().parent.name
        layer = QgsRasterLayer(str(path), f"{stem} ({folder})", "gdal")
        if not layer.isValid():
            self.status.setText(f"{path}: not a raster QGIS can read.")
            return None
        apply_style_by_name(layer)
        QgsProject.instance().addMapLayer(layer)
        self.set_layer(layer)
        return layer

    def _save_name(self, caption: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, caption, "", filters)
        return path

    def _export_plot_dialog(self) -> None:
        path = self._save_name("Export the plot", "PNG (*.png);;SVG (*.svg)")
        if path:
            if not path.lower().endswith((".png", ".svg")):
                path += ".png"
            self.export_plot(path)
            self.status.setText(f"Plot written to {path}.")

    def _export_csv_dialog(self) -> None:
        path = self._save_name("Export the plotted data", "CSV (*.csv)")
        if path:
            self.export_csv(path if path.lower().endswith(".csv") else path + ".csv")
            self.status.setText(f"Data written to {path}.")

    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a time-series raster", "", "GeoTIFF (*.tif *.tiff)")
        if path:
            self.open_raster(path)

    # -- teardown --------------------------------------------------------------------------------
    def cleanup(self) -> None:
        """Take the map tools, markers and temporal connection off the canvas (plugin unload)."""
        self.polygon_tool.remove_from_canvas()
        for tool in (self.point_tool, self.reference_tool, self.polygon_tool):
            if self.canvas.mapTool() is tool:
                self.canvas.unsetMapTool(tool)
            tool.deleteLater()  # map tools are children of the canvas, which outlives the dock
        self.markers.clear(reference=True)
        self.stepper.detach()

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        for action in (self.pick_action, self.reference_action, self.polygon_action):
            action.setChecked(False)
        super().closeEvent(event)


def dock_area() -> Qt.DockWidgetArea:
    return Qt.RightDockWidgetArea
