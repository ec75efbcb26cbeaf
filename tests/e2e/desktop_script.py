"""Runs inside QGIS desktop (``qgis --code``) for tests/e2e/test_desktop.py; not a test module.

Reads its parameters from the JSON file named by ``SAROTS_DESKTOP_PARAMS``: the time-series
raster to open, the pixels to click, the precipitation CSV and where to write the screenshots
and the result. Opens the raster through the dock, clicks the pixels through the dock's map
tool, grabs the dock and the main window, writes the plotted values and quits QGIS.
"""

from __future__ import annotations

import json
import os
import traceback

from qgis.core import QgsApplication, QgsPointXY, QgsProject
from qgis.gui import QgsMapMouseEvent
from qgis.PyQt.QtCore import QEvent, QPoint, Qt, QTimer
from qgis.PyQt.QtWidgets import QApplication
from qgis.utils import iface, plugins

PARAMS = json.loads(open(os.environ["SAROTS_DESKTOP_PARAMS"], encoding="utf-8").read())


def settle(milliseconds: int = 300) -> None:
    """Let QGIS render (the canvas draws in a thread)."""
    timer = QTimer()
    timer.setSingleShot(True)
    timer.start(milliseconds)
    while timer.isActive():
        QApplication.processEvents()


def click(tool, canvas, x: float, y: float) -> None:
    screen = canvas.getCoordinateTransform().transform(QgsPointXY(x, y))
    point = QPoint(round(screen.x()), round(screen.y()))
    tool.canvasReleaseEvent(QgsMapMouseEvent(canvas, QEvent.MouseButtonRelease, point, Qt.LeftButton))


def run() -> None:
    result: dict = {"plugin_file": "", "series": [], "error": ""}
    try:
        plugin = plugins["sar_offset_tracking"]
        result["plugin_file"] = __import__(type(plugin).__module__, fromlist=["x"]).__file__
        window = iface.mainWindow()
        window.resize(1600, 1000)
        dock = plugin.show_inspector()
        window.resizeDocks([dock], [760], Qt.Horizontal)
        layer = dock.open_raster(PARAMS["raster"])
        canvas = iface.mapCanvas()
        canvas.setDestinationCrs(layer.crs())
        canvas.setExtent(layer.extent())
        canvas.refresh()
        settle()
        dock.precipitation_widget.setFilePath(PARAMS["precipitation"])
        dock.hold_action.setChecked(True)
        dock.pick_action.setChecked(True)
        result["map_tool_is_dock_tool"] = canvas.mapTool() is dock.point_tool
        for row, col in PARAMS["pixels"]:
            x = layer.extent().xMinimum() + (col + 0.5) * layer.rasterUnitsPerPixelX()
            y = layer.extent().yMaximum() - (row + 0.5) * layer.rasterUnitsPerPixelY()
            click(dock.point_tool, canvas, x, y)
        for series in dock.series:
            entry = {"label": series.label, "row": series.info.get("row"), "col": series.info.get("col")}
            for component in ("los", "azimuth"):
                drawn = dock.plot.curve(component, series.label)
                entry[component] = None if drawn is None else [float(v) for v in drawn[1]]
                bars = dock.plot.error_bars(component, series.label)
                entry[f"{component}_std"] = None if bars is None else [float(v) for v in bars]
            result["series"].append(entry)
        result["stage_labels"] = dock.plot.stage_labels()
        result["spans"] = [[p, str(a), str(b)] for p, a, b in dock.plot.spans()]
        result["markers"] = len(dock.markers.items)
        result["style"] = type(layer.renderer()).__name__
        dock.plot.canvas.draw()
        settle(800)
        result["dock_png"] = dock.grab().save(PARAMS["dock_png"])
        result["window_png"] = window.grab().save(PARAMS["window_png"])
        # the temporal controller of QGIS desktop steps the raster through its dates
        dock.temporal_action.setChecked(True)
        controller = canvas.temporalController()
        frame_number = int(PARAMS["frame"])
        controller.setCurrentFrameNumber(frame_number)
        settle()
        frame = controller.dateTimeRangeForFrameNumber(frame_number)
        result["temporal"] = {
            "controller": type(controller).__name__,
            "frames": controller.totalFrameCount(),
            "frame_end": frame.end().toUTC().toString(Qt.ISODate),
            "include_end": frame.includeEnd(),
            "canvas_end": canvas.temporalRange().end().toUTC().toString(Qt.ISODate),
            "band": layer.renderer().band(),
        }
    except Exception:  # reported to the test through the JSON
        result["error"] = traceback.format_exc()
    finally:
        with open(PARAMS["result"], "w", encoding="utf-8") as fh:
            json.dump(result, fh)
        QgsProject.instance().setDirty(False)  # no "save the project?" question on exit
        QTimer.singleShot(0, lambda: QgsApplication.exit(0))


QTimer.singleShot(int(PARAMS.get("delay_ms", 1500)), run)
