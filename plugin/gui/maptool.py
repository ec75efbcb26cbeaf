"""Map tools of the time-series dock and the markers of the plotted locations.

* :class:`PointPickTool`: a :class:`QgsMapToolEmitPoint` that emits the map point (canvas CRS)
  of a left click (:attr:`PointPickTool.picked`).
* :class:`PolygonTool`: left clicks add vertices (drawn as a rubber band while moving), a right
  click (or a double click) closes the polygon and emits it (:attr:`PolygonTool.finished`);
  Escape or Backspace drop the drawing / the last vertex.
* :class:`Markers`: one :class:`QgsVertexMarker` per plotted point and one
  :class:`QgsRubberBand` per polygon, in the plot colour of their series; removed from the
  canvas scene by :meth:`Markers.clear`.
"""

from __future__ import annotations

from qgis.core import QgsGeometry, QgsPointXY, QgsWkbTypes
from qgis.gui import QgsMapCanvas, QgsMapMouseEvent, QgsMapToolEmitPoint, QgsRubberBand, QgsVertexMarker
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor, QKeyEvent


class PointPickTool(QgsMapToolEmitPoint):
    """Emits :attr:`picked` with the clicked map point (canvas CRS) on a left-button release."""

    picked = pyqtSignal(QgsPointXY)

    def canvasReleaseEvent(self, event: QgsMapMouseEvent) -> None:  # noqa: N802 - Qt API
        if event.button() == Qt.LeftButton:
            self.picked.emit(QgsPointXY(event.mapPoint()))


class PolygonTool(QgsMapToolEmitPoint):
    """Draws a polygon: left click adds a vertex, right click or double click closes it."""

    finished = pyqtSignal(QgsGeometry)

    def __init__(self, canvas: QgsMapCanvas) -> None:
        super().__init__(canvas)
        self.vertices: list[QgsPointXY] = []
        self.band = QgsRubberBand(canvas, QgsWkbTypes.PolygonGeometry)
        self.band.setColor(QColor(0, 0, 0, 160))
        self.band.setFillColor(QColor(0, 0, 0, 30))
        self.band.setWidth(1)

    def canvasReleaseEvent(self, event: QgsMapMouseEvent) -> None:  # noqa: N802 - Qt API
        if event.button() == Qt.LeftButton:
            self.add_vertex(QgsPointXY(event.mapPoint()))
        elif event.button() == Qt.RightButton:
            self.finish()

    def canvasDoubleClickEvent(self, event: QgsMapMouseEvent) -> None:  # noqa: N802 - Qt API
        self.finish()

    def canvasMoveEvent(self, event: QgsMapMouseEvent) -> None:  # noqa: N802 - Qt API
        if self.vertices:
            self._show([*self.vertices, QgsPointXY(event.mapPoint())])

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if event.key() == Qt.Key_Escape:
            self.reset()
        elif event.key() == Qt.Key_Backspace and self.vertices:
            self.vertices.pop()
            self._show(self.vertices)

    def add_vertex(self, point: QgsPointXY) -> None:
        self.vertices.append(point)
        self._show(self.vertices)

    def finish(self) -> None:
        """Emit the polygon of the vertices so far (at least three), then start a new one."""
        if len(self.vertices) >= 3:
            self.finished.emit(QgsGeometry.fromPolygonXY([[*self.vertices, self.vertices[0]]]))
        self.reset()

    def reset(self) -> None:
        self.vertices = []
        self.band.reset(QgsWkbTypes.PolygonGeometry)

    def deactivate(self) -> None:
        self.reset()
        super().deactivate()

    def remove_from_canvas(self) -> None:
        """Take the drawing rubber band off the canvas (before the tool goes away)."""
        self.reset()
        scene = self.canvas().scene()
        if self.band.scene() is scene:
            scene.removeItem(self.band)

    def _show(self, points: list[QgsPointXY]) -> None:
        self.band.reset(QgsWkbTypes.PolygonGeometry)
        for k, point in enumerate(points):
            self.band.addPoint(point, k == len(points) - 1)


class Markers:
    """Canvas items marking the plotted locations."""

    def __init__(self, canvas: QgsMapCanvas) -> None:
        self.canvas = canvas
        self.items: list[QgsVertexMarker | QgsRubberBand] = []
        self.reference: QgsVertexMarker | None = None

    def add_point(self, point: QgsPointXY, color: str) -> QgsVertexMarker:
        marker = QgsVertexMarker(self.canvas)
        marker.setCenter(point)
        marker.setColor(QColor(color))
        marker.setFillColor(QColor(color))
        marker.setIconType(QgsVertexMarker.ICON_CIRCLE)
        marker.setIconSize(12)
        marker.setPenWidth(3)
        self.items.append(marker)
        return marker

    def add_polygon(self, polygon: QgsGeometry, color: str) -> QgsRubberBand:
        band = QgsRubberBand(self.canvas, QgsWkbTypes.PolygonGeometry)
        band.setToGeometry(polygon, None)
        fill = QColor(color)
        band.setStrokeColor(fill)
        fill.setAlpha(50)
        band.setFillColor(fill)
        band.setWidth(2)
        self.items.append(band)
        return band

    def set_reference(self, point: QgsPointXY | None) -> None:
        """Mark the reference point with a black cross (``None`` removes it)."""
        if self.reference is not None:
            self._remove(self.reference)
            self.reference = None
        if point is not None:
            marker = QgsVertexMarker(self.canvas)
            marker.setCenter(point)
            marker.setColor(QColor("black"))
            marker.setIconType(QgsVertexMarker.ICON_X)
            marker.setIconSize(14)
            marker.setPenWidth(3)
            self.reference = marker

    def clear(self, *, reference: bool = False) -> None:
        """Remove the series markers (and the reference marker when asked)."""
        for item in self.items:
            self._remove(item)
        self.items = []
        if reference:
            self.set_reference(None)

    def _remove(self, item: QgsVertexMarker | QgsRubberBand) -> None:
        scene = self.canvas.scene()
        if item.scene() is scene:
            scene.removeItem(item)
