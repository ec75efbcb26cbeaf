"""Plotting adapter of the time-series dock: a :class:`PlotBackend` draws a :class:`PlotModel`.

Backends:

* ``matplotlib`` (:class:`MatplotlibBackend`, always there: QGIS ships matplotlib and Debian's
  ``python3-matplotlib`` has the Qt5Agg canvas): stacked axes sharing the date axis
  (precipitation bars on top when set, LOS, azimuth), error bars, shaded platform periods, creep
  stages with their rates; PNG and SVG export.
* ``pyqtgraph`` (:mod:`.plotting_pyqtgraph`) when that package is importable: the same plot,
  faster to pan and zoom; PNG and SVG export through its exporters.

The dock only talks to the protocol, so it never depends on one library. The query methods
(:meth:`PlotBackend.curve`, :meth:`~PlotBackend.error_bars`, :meth:`~PlotBackend.spans`) read
back what was drawn, from the library's own objects (matplotlib ``Line2D.get_ydata()``, ...),
for the tests and for the desktop check.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Protocol

import numpy as np
from qgis.PyQt.QtWidgets import QVBoxLayout, QWidget

from .model import COMPONENTS, PlotModel, axis_label

PERIOD_COLORS = ("#fdb863", "#b2abd2", "#a6dba0", "#f4a582", "#92c5de")
"""Shading of the platform periods, in date order."""
PRECIPITATION_COLOR = "#6baed6"
EMPTY_TEXT = "Click the map on a time-series layer (raster from timeseries/ or DYYYYMMDD points)"


class PlotBackend(Protocol):
    """What the dock needs from a plotting library."""

    name: str

    def widget(self) -> QWidget:
        """The Qt widget showing the plot."""

    def draw(self, model: PlotModel) -> None:
        """Replace the plot by ``model``."""

    def save(self, path: str) -> None:
        """Write the plot to ``path``: PNG or SVG by the suffix."""

    def curve(self, component: str, label: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Plotted (dates ``datetime64[D]``, y) of a series' component, ``None`` if not drawn."""

    def error_bars(self, component: str, label: str) -> np.ndarray | None:
        """Half-lengths of the drawn error bars of a series' component, ``None`` if none."""

    def spans(self) -> list[tuple[str, np.datetime64, np.datetime64]]:
        """(platform, start, end) of the shaded periods as drawn (on the LOS axis)."""

    def stage_labels(self) -> list[str]:
        """Texts of the creep-stage annotations."""

    def bars(self) -> np.ndarray:
        """Heights of the precipitation bars, mm."""


def available_backends() -> list[str]:
    """Backends that can run here, the guaranteed one (matplotlib) first."""
    names = ["matplotlib"]
    if importlib.util.find_spec("pyqtgraph") is not None:
        names.append("pyqtgraph")
    return names


def create_backend(name: str = "matplotlib", parent: QWidget | None = None) -> PlotBackend:
    """A backend by name (:func:`available_backends`)."""
    if name == "pyqtgraph":
        from .plotting_pyqtgraph import PyqtgraphBackend

        return PyqtgraphBackend(parent)
    if name != "matplotlib":
        raise ValueError(f"unknown plot backend {name!r}; available: {', '.join(available_backends())}")
    return MatplotlibBackend(parent)


def display_values(model: PlotModel, component: str, values: np.ndarray) -> np.ndarray:
    """Values as drawn: azimuth negated when the model flips it for display."""
    return -values if component == "azimuth" and model.flip_azimuth else values


def stage_text(kind: str, rate_mm_per_day: float) -> str:
    """Annotation of one creep stage, e.g. ``secondary -6.1 mm/day``."""
    return f"{kind} {rate_mm_per_day:+.1f} mm/day"


def plotted_components(model: PlotModel) -> list[str]:
    """Components with data in any series (LOS and azimuth axes when nothing is plotted)."""
    present = [c for c in COMPONENTS if any(c in s.values for s in model.series)]
    return present or list(COMPONENTS)


class BackendBase:
    """What every backend keeps: its widget (a container with a margin-less layout) and the
    library objects it drew, by series, for the query methods."""

    name = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        self._widget = QWidget(parent)
        self._layout = QVBoxLayout(self._widget)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._reset_artists()

    def widget(self) -> QWidget:
        return self._widget

    def _reset_artists(self) -> None:
        self._curves: dict[tuple[str, str], Any] = {}
        """(component, label) -> the drawn line."""
        self._bars: dict[tuple[str, str], Any] = {}
        """(component, label) -> the drawn error bars."""
        self._spans: list[tuple[str, Any]] = []
        """(platform, shaded region) on the LOS axis."""
        self._stage_texts: list[Any] = []
        self._precipitation: Any = None


class MatplotlibBackend(BackendBase):
    """The plot on a matplotlib ``FigureCanvasQTAgg`` (no pyplot state)."""

    name = "matplotlib"

    def __init__(self, parent: QWidget | None = None) -> None:
        from matplotlib.backends.backend_qt5agg import FigureCanvasQTAgg, NavigationToolbar2QT
        from matplotlib.figure import Figure

        super().__init__(parent)
        self.figure = Figure(figsize=(6.0, 5.0), dpi=100, layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.toolbar = NavigationToolbar2QT(self.canvas, self._widget)
        self._layout.addWidget(self.toolbar)
        self._layout.addWidget(self.canvas)
        self.axes: dict[str, Any] = {}
        self.draw(PlotModel())

    def draw(self, model: PlotModel) -> None:
        from matplotlib import dates as mdates

        fig = self.figure
        fig.clear()
        self.axes = {}
        self._reset_artists()
        rows = (["precipitation"] if model.precipitation is not None else []) + plotted_components(model)
        ratios = [1 if r == "precipitation" else 3 for r in rows]
        grid = fig.add_gridspec(len(rows), 1, height_ratios=ratios)
        first = None
        for k, row in enumerate(rows):
            ax = fig.add_subplot(grid[k, 0], sharex=first)
            first = first or ax
            self.axes[row] = ax
            ax.grid(True, color="#dddddd", linewidth=0.6)
            ax.tick_params(labelsize=8)
            if k < len(rows) - 1:
                ax.tick_params(labelbottom=False)
        for row, ax in self.axes.items():
            if row != "precipitation":
                self._draw_component(model, row, ax)
        if model.precipitation is not None:
            ax = self.axes["precipitation"]
            p = model.precipitation
            centres = mdates.date2num(p.months) + 14.0
            self._precipitation = ax.bar(
                centres, p.precip_mm, width=27.0, color=PRECIPITATION_COLOR, gid="precipitation"
            )
            ax.set_ylabel("Precip.\n(mm/month)", fontsize=8)
        locator = mdates.AutoDateLocator()
        first.xaxis.set_major_locator(locator)
        first.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        if not model.series:
            first.text(
                0.5,
                0.5,
                EMPTY_TEXT,
                transform=first.transAxes,
                ha="center",
                va="center",
                fontsize=8,
                wrap=True,
            )
        title = f"Reference: {model.reference}" if model.reference else ""
        fig.suptitle(title, fontsize=9)
        self.canvas.draw_idle()

    def _draw_component(self, model: PlotModel, component: str, ax: Any) -> None:
        from matplotlib import dates as mdates

        ax.set_ylabel(axis_label(component, model.flip_azimuth), fontsize=8)
        ax.axhline(0.0, color="#888888", linewidth=0.6)
        for k, period in enumerate(model.periods):
            start, end = mdates.date2num(period.start), mdates.date2num(period.end)
            span = ax.axvspan(start, end, color=PERIOD_COLORS[k % len(PERIOD_COLORS)], alpha=0.25, lw=0)
            span.set_gid(f"period:{period.platform}")
            if component == "los":
                self._spans.append((period.platform, span))
                ax.text(
                    start,
                    1.0,
                    f" {period.platform}",
                    transform=ax.get_xaxis_transform(),
                    fontsize=7,
                    va="top",
                )
        for series, color in zip(model.series, model.colors):
            if component not in series.values:
                continue
            x = mdates.date2num(series.dates)
            y = display_values(model, component, series.values[component])
            key = (component, series.label)
            std = series.std.get(component)
            if std is not None:
                container = ax.errorbar(
                    x,
                    y,
                    yerr=std,
                    fmt="o-",
                    ms=3,
                    lw=1.2,
                    capsize=2,
                    elinewidth=0.8,
                    color=color,
                    label=series.label,
                )
                self._curves[key] = container.lines[0]
                self._bars[key] = container.lines[2][0]
            else:
                (self._curves[key],) = ax.plot(x, y, "o-", ms=3, lw=1.2, color=color, label=series.label)
            self._curves[key].set_gid(f"{component}:{series.label}")
        if component == "los":
            self._draw_stages(model, ax)
        if model.series and component == plotted_components(model)[0]:
            ax.legend(fontsize=7, loc="best")

    def _draw_stages(self, model: PlotModel, ax: Any) -> None:
        from matplotlib import dates as mdates

        colors = {s.label: c for s, c in zip(model.series, model.colors)}
        for line in model.stages:
            color = colors.get(line.label, "#333333")
            ax.plot(
                mdates.date2num(line.dates),
                line.fitted_m,
                "--",
                color=color,
                lw=1.0,
                gid=f"stages:{line.label}",
            )
            days = line.dates.astype("datetime64[D]")
            for start, end, rate, kind in line.stages:
                middle = (
                    np.datetime64(start, "D") + (np.datetime64(end, "D") - np.datetime64(start, "D")) // 2
                )
                y = float(np.interp(middle.astype(float), days.astype(float), line.fitted_m))
                self._stage_texts.append(
                    ax.annotate(
                        stage_text(kind, rate),
                        (mdates.date2num(middle), y),
                        xytext=(0, 6),
                        textcoords="offset points",
                        fontsize=7,
                        color=color,
                        ha="center",
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75},
                    )
                )

    def save(self, path: str) -> None:
        suffix = str(path).lower().rsplit(".", 1)[-1]
        if suffix not in ("png", "svg"):
            raise ValueError(f"{path}: export as .png or .svg")
        self.figure.savefig(str(path), format=suffix, dpi=150)

    def curve(self, component: str, label: str) -> tuple[np.ndarray, np.ndarray] | None:
        from matplotlib import dates as mdates

        line = self._curves.get((component, label))
        if line is None:
            return None
        x = np.asarray([np.datetime64(mdates.num2date(v).date(), "D") for v in line.get_xdata()])
        return x.astype("datetime64[D]"), np.asarray(line.get_ydata(), dtype=float)

    def error_bars(self, component: str, label: str) -> np.ndarray | None:
        bars = self._bars.get((component, label))
        if bars is None:
            return None
        return np.asarray([(seg[1][1] - seg[0][1]) / 2.0 for seg in bars.get_segments()])

    def spans(self) -> list[tuple[str, np.datetime64, np.datetime64]]:
        from matplotlib import dates as mdates

        out = []
        for platform, patch in self._spans:
            xs = np.asarray(patch.get_xy())[:, 0]
            start, end = mdates.num2date(xs.min()), mdates.num2date(xs.max())
            out.append((platform, np.datetime64(start.date(), "D"), np.datetime64(end.date(), "D")))
        return out

    def stage_labels(self) -> list[str]:
        return [t.get_text() for t in self._stage_texts]

    def bars(self) -> np.ndarray:
        if self._precipitation is None:
            return np.zeros(0)
        return np.asarray([rect.get_height() for rect in self._precipitation.patches])
