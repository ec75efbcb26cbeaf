"""The pyqtgraph plotting backend (optional: used only when ``pyqtgraph`` is importable).

Same plot as :class:`~.plotting.MatplotlibBackend`: linked date axes (precipitation bars on top
when set, LOS, azimuth), error bars, shaded platform periods, creep-stage fits with their rates;
PNG and SVG export through pyqtgraph's exporters. Dates are drawn as Unix seconds on a
``DateAxisItem``.

Each draw builds a new ``GraphicsLayoutWidget`` and deletes the old one instead of clearing it:
inside QGIS, removing items from a pyqtgraph scene makes their ``itemChange`` override fail with
"TypeError: unable to convert a QVariant back to a Python object" (pyqtgraph issue #774, seen
in QGIS plugins); deleting the whole scene in C++ does not call it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qgis.PyQt.QtGui import QColor, QFont
from qgis.PyQt.QtWidgets import QWidget

from .model import PlotModel, axis_label
from .plotting import (
    EMPTY_TEXT,
    PERIOD_COLORS,
    PRECIPITATION_COLOR,
    BackendBase,
    display_values,
    plotted_components,
    stage_text,
)

_DAY_S = 86400.0
LABEL_STYLE = {"font-size": "8pt", "color": "#333333"}


def _seconds(dates: np.ndarray) -> np.ndarray:
    return np.asarray(dates, dtype="datetime64[D]").astype("datetime64[s]").astype(np.int64).astype(float)


def _dates(seconds: np.ndarray) -> np.ndarray:
    return np.asarray(np.round(np.asarray(seconds) / _DAY_S), dtype=np.int64).astype("datetime64[D]")


def _brush(color: str, alpha: int) -> Any:
    import pyqtgraph as pg

    c = QColor(color)
    c.setAlpha(alpha)
    return pg.mkBrush(c)


class PyqtgraphBackend(BackendBase):
    """The plot on a ``pyqtgraph.GraphicsLayoutWidget``."""

    name = "pyqtgraph"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view: Any = None
        self.plots: dict[str, Any] = {}
        self.draw(PlotModel())

    def _new_view(self) -> Any:
        import pyqtgraph as pg

        view = pg.GraphicsLayoutWidget(self._widget)
        view.setBackground("w")
        if self.view is None:
            self._layout.addWidget(view)
        else:
            self._layout.replaceWidget(self.view, view)
            self.view.deleteLater()
        self.view = view
        return view

    def draw(self, model: PlotModel) -> None:
        import pyqtgraph as pg

        self._new_view()
        self.plots = {}
        self._reset_artists()
        rows = (["precipitation"] if model.precipitation is not None else []) + plotted_components(model)
        first = None
        for k, row in enumerate(rows):
            plot = self.view.addPlot(row=k, col=0, axisItems={"bottom": pg.DateAxisItem()})
            plot.showGrid(x=True, y=True, alpha=0.2)
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            self.plots[row] = plot
            if row == "precipitation":
                self.view.ci.layout.setRowStretchFactor(k, 1)
            else:
                self.view.ci.layout.setRowStretchFactor(k, 3)
                self._draw_component(model, row, plot)
        if model.precipitation is not None:
            p = model.precipitation
            self._precipitation = pg.BarGraphItem(
                x=_seconds(p.months) + 14 * _DAY_S,
                height=np.nan_to_num(p.precip_mm),
                width=27 * _DAY_S,
                brush=pg.mkBrush(PRECIPITATION_COLOR),
                pen=pg.mkPen(None),
            )
            self.plots["precipitation"].addItem(self._precipitation)
            self.plots["precipitation"].setLabel("left", "Precip. (mm/month)", **LABEL_STYLE)
        spans = [_seconds(s.dates) for s in model.series] + [
            _seconds(np.array([q.start, q.end])) for q in model.periods
        ]
        if spans and first is not None:  # linked axes follow the first plot: show all the data
            every = np.concatenate(spans)
            first.setXRange(float(every.min()), float(every.max()), padding=0.03)
        if not model.series and first is not None:
            first.setTitle(EMPTY_TEXT, size="8pt")
        elif model.reference and first is not None:
            first.setTitle(f"Reference: {model.reference}", size="9pt")

    def _draw_component(self, model: PlotModel, component: str, plot: Any) -> None:
        import pyqtgraph as pg

        plot.setLabel("left", axis_label(component, model.flip_azimuth), **LABEL_STYLE)
        if model.series and component == plotted_components(model)[0]:
            plot.addLegend(offset=(10, 10), labelTextColor="k", brush=pg.mkBrush(255, 255, 255, 200))
        plot.addItem(pg.InfiniteLine(pos=0.0, angle=0, pen=pg.mkPen("#888888", width=0.6)))
        for k, period in enumerate(model.periods):
            start, end = _seconds(np.array([period.start, period.end]))
            region = pg.LinearRegionItem(
                values=(start, end), movable=False, brush=_brush(PERIOD_COLORS[k % len(PERIOD_COLORS)], 70)
            )
            region.setZValue(-10)
            plot.addItem(region)
            if component == "los":
                self._spans.append((period.platform, region))
        for series, color in zip(model.series, model.colors):
            if component not in series.values:
                continue
            x = _seconds(series.dates)
            y = display_values(model, component, series.values[component])
            key = (component, series.label)
            std = series.std.get(component)
            if std is not None:
                bars = pg.ErrorBarItem(x=x, y=y, top=std, bottom=std, beam=0, pen=pg.mkPen(color, width=0.8))
                plot.addItem(bars)
                self._bars[key] = bars
            pen = pg.mkPen(color, width=1.5)
            self._curves[key] = plot.plot(
                x,
                y,
                pen=pen,
                symbol="o",
                symbolSize=5,
                symbolBrush=color,
                connect="finite",
                name=series.label,
            )
        if component == "los":
            self._draw_stages(model, plot)

    def _draw_stages(self, model: PlotModel, plot: Any) -> None:
        import pyqtgraph as pg
        from qgis.PyQt.QtCore import Qt

        colors = {s.label: c for s, c in zip(model.series, model.colors)}
        for line in model.stages:
            color = colors.get(line.label, "#333333")
            plot.plot(_seconds(line.dates), line.fitted_m, pen=pg.mkPen(color, width=1.0, style=Qt.DashLine))
            days = line.dates.astype("datetime64[D]").astype(float)
            for start, end, rate, kind in line.stages:
                middle = (
                    np.datetime64(start, "D") + (np.datetime64(end, "D") - np.datetime64(start, "D")) // 2
                )
                text = pg.TextItem(
                    stage_text(kind, rate), color=color, anchor=(0.5, 1.0), fill=_brush("#ffffff", 190)
                )
                text.setFont(QFont(text.textItem.font().family(), 7))
                text.setPos(
                    float(_seconds(np.array([middle]))[0]),
                    float(np.interp(middle.astype(float), days, line.fitted_m)),
                )
                plot.addItem(text)
                self._stage_texts.append(text)

    def save(self, path: str) -> None:
        import pyqtgraph.exporters as exporters

        suffix = str(path).lower().rsplit(".", 1)[-1]
        if not self.view.isVisible():  # a hidden view was never laid out: give it a page size
            self.view.resize(900, 700)
            self.view.resizeEvent(None)  # what showing it would do: the scene takes the view's size
            self.view.ci.layout.activate()
        if suffix == "png":
            exporters.ImageExporter(self.view.scene()).export(str(path))
        elif suffix == "svg":
            exporters.SVGExporter(self.view.scene()).export(str(path))
        else:
            raise ValueError(f"{path}: export as .png or .svg")

    def curve(self, component: str, label: str) -> tuple[np.ndarray, np.ndarray] | None:
        item = self._curves.get((component, label))
        if item is None:
            return None
        x, y = item.getOriginalDataset()
        return _dates(x), np.asarray(y, dtype=float)

    def error_bars(self, component: str, label: str) -> np.ndarray | None:
        bars = self._bars.get((component, label))
        return None if bars is None else np.asarray(bars.opts["top"], dtype=float)

    def spans(self) -> list[tuple[str, np.datetime64, np.datetime64]]:
        out = []
        for platform, region in self._spans:
            start, end = _dates(np.asarray(region.getRegion()))
            out.append((platform, start, end))
        return out

    def stage_labels(self) -> list[str]:
        return [t.textItem.toPlainText() for t in self._stage_texts]

    def bars(self) -> np.ndarray:
        if self._precipitation is None:
            return np.zeros(0)
        return np.asarray(self._precipitation.opts["height"], dtype=float)
