"""Step a time-series raster through its dates with QGIS's temporal controller.

QGIS 3.22 has no per-band temporal mode for rasters, so :class:`TemporalBandStepper` gives the
layer a fixed temporal range spanning all its dates (it is drawn in every frame) and, whenever
the canvas' temporal range changes, switches the pseudocolor renderer to the band whose ``DATE``
is the latest one at or before the range end (before it when the range excludes its end). It
also sets the temporal controller's extent to the dates and its step to the shortest interval
between two dates, so the controller's slider and "next frame" walk through the acquisitions.

From QGIS 3.38 rasters have a native mode, ``Qgis.RasterTemporalMode.FixedRangePerBand``, where
QGIS itself draws the band whose range holds the current time; it is used there (band k holds
``[date k, date k+1)``, the last band one day), and no signal is needed.
"""

from __future__ import annotations

import numpy as np
from qgis.core import (
    Qgis,
    QgsDateTimeRange,
    QgsInterval,
    QgsProject,
    QgsRasterLayer,
    QgsRasterLayerTemporalProperties,
    QgsTemporalNavigationObject,
)
from qgis.gui import QgsMapCanvas
from qgis.PyQt.QtCore import QDate, QDateTime, QObject, Qt, QTime

from .sampling import band_dates, layer_path

NATIVE_PER_BAND_VERSION = 33800
"""First QGIS version (``Qgis.QGIS_VERSION_INT``) with ``FixedRangePerBand`` rasters."""


def to_qdatetime(date: np.datetime64) -> QDateTime:
    """Midnight UTC of a ``datetime64`` date."""
    year, month, day = (int(v) for v in str(np.datetime64(date, "D")).split("-"))
    return QDateTime(QDate(year, month, day), QTime(0, 0), Qt.UTC)


def native_per_band_available() -> bool:
    return Qgis.QGIS_VERSION_INT >= NATIVE_PER_BAND_VERSION and hasattr(Qgis, "RasterTemporalMode")


def band_for_range(dates: np.ndarray, temporal_range: QgsDateTimeRange) -> int:
    """1-based band whose date is the latest at or before the range end (band 1 before all)."""
    end = temporal_range.end()
    if not end.isValid():
        return len(dates)
    chosen = 1
    for k, date in enumerate(dates, start=1):
        moment = to_qdatetime(date)
        if moment < end or (moment == end and temporal_range.includeEnd()):
            chosen = k
    return chosen


class TemporalBandStepper(QObject):
    """Keeps one raster's rendered band in step with the canvas' temporal range."""

    def __init__(self, canvas: QgsMapCanvas, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.layer: QgsRasterLayer | None = None
        self.dates = np.zeros(0, dtype="datetime64[D]")
        self.native = False
        self._connected = False
        self._previous_band: int | None = None

    def attach(self, layer: QgsRasterLayer) -> None:
        """Make ``layer`` temporal and follow the controller.

        Raises
        ------
        ValueError
            When the layer's bands carry no dates.
        """
        dates = band_dates(layer_path(layer))
        if dates is None:
            raise ValueError(f"{layer.name()}: the bands carry no DATE metadata or DYYYYMMDD descriptions")
        self.detach()
        self.layer, self.dates = layer, dates
        renderer = layer.renderer()
        self._previous_band = renderer.band() if hasattr(renderer, "band") else None
        first, last = to_qdatetime(dates[0]), to_qdatetime(dates[-1])
        props = layer.temporalProperties()
        self.native = native_per_band_available()
        if self.native:  # QGIS >= 3.38: QGIS switches the band itself
            props.setMode(Qgis.RasterTemporalMode.FixedRangePerBand)
            props.setFixedRangePerBand(self.band_ranges())
        else:
            props.setMode(QgsRasterLayerTemporalProperties.ModeFixedTemporalRange)
            props.setFixedTemporalRange(QgsDateTimeRange(first, last))
        props.setIsActive(True)
        layer.willBeDeleted.connect(self.detach)
        if not self.native:
            self.canvas.temporalRangeChanged.connect(self.update_band)
            self._connected = True
        self._set_up_controller(QgsDateTimeRange(first, last))
        self.update_band()

    def band_ranges(self) -> dict[int, QgsDateTimeRange]:
        """Band -> ``[date, next date)``; the last band spans its day."""
        ends = [*self.dates[1:], self.dates[-1] + np.timedelta64(1, "D")]
        return {
            k: QgsDateTimeRange(to_qdatetime(d), to_qdatetime(e), True, False)
            for k, (d, e) in enumerate(zip(self.dates, ends), start=1)
        }

    def _set_up_controller(self, extent: QgsDateTimeRange) -> None:
        QgsProject.instance().timeSettings().setTemporalRange(extent)
        controller = self.canvas.temporalController()
        if not isinstance(controller, QgsTemporalNavigationObject):
            return
        gaps = np.diff(self.dates).astype(int)
        step_days = int(gaps[gaps > 0].min()) if np.any(gaps > 0) else 1
        end = QgsDateTimeRange(extent.begin(), extent.end().addDays(step_days))  # the last date gets a frame
        controller.setTemporalExtents(end)
        controller.setFrameDuration(QgsInterval(step_days * 86400.0))
        controller.setTemporalRangeCumulative(False)
        controller.setNavigationMode(QgsTemporalNavigationObject.Animated)

    def update_band(self) -> int | None:
        """Show the band of the canvas' current temporal range; return it (``None`` if detached)."""
        if self.layer is None or self.native:
            return None
        band = band_for_range(self.dates, self.canvas.temporalRange())
        renderer = self.layer.renderer()
        if hasattr(renderer, "setBand") and renderer.band() != band:
            renderer.setBand(band)
            self.layer.triggerRepaint()
        return band

    def detach(self) -> None:
        """Stop following the controller; the layer gets its band back and stops being temporal."""
        if self._connected:
            self.canvas.temporalRangeChanged.disconnect(self.update_band)
            self._connected = False
        layer, self.layer = self.layer, None
        if layer is None:
            return
        try:
            layer.willBeDeleted.disconnect(self.detach)
            layer.temporalProperties().setIsActive(False)
            renderer = layer.renderer()
            if self._previous_band is not None and hasattr(renderer, "setBand"):
                renderer.setBand(self._previous_band)
                layer.triggerRepaint()
        except RuntimeError:  # the C++ layer is already gone
            pass
