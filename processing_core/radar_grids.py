"""Sub-sampled grids of a radar grid, and the ground size of radar pixels.

Shared by the steps that work on the final master's radar geometry: the simulator's truth,
offsets-to-metres conversion, the time-series inversion and geocoding.

* :class:`SubGrid`: a regular sub-grid of the master's radar grid, as offset fields and
  time series are stored (raster metadata ``ROW0``, ``COL0``, ``STEP_PX``: node (r, c) is the
  master pixel (ROW0 + r * STEP_PX, COL0 + c * STEP_PX)). A full-resolution raster in master
  geometry is the sub-grid (0, 0, 1).
* :func:`azimuth_spacing_m`: the ground length of one azimuth line at a pixel and height. The
  DESIGN.md convention for azimuth displacement in metres is "shift in lines times this length"
  (positive along the flight direction); the simulator's truth and the inversion's conversion of
  azimuth offsets both use this one function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from processing_core.errors import InputError
from processing_core.geometry import RadarGeometry


def azimuth_spacing_m(
    geom: RadarGeometry, line: np.ndarray, sample: np.ndarray, height: np.ndarray
) -> np.ndarray:
    """Ground distance between lines ``line - 0.5`` and ``line + 0.5`` at a pixel and height, m.

    Both ground points are found by rdr2geo at the pixel's slant range and the given ellipsoidal
    height; the result varies across the swath (the ground track speed changes with the look
    angle and with the Earth's curvature) and slightly with height.
    """
    r = geom.grid.range_of_sample(sample)
    dt = 0.5 * geom.grid.line_time_interval_s
    t = geom.time_of_line(line)
    _, _, a = geom.rdr2geo(t - dt, r, height)
    _, _, b = geom.rdr2geo(t + dt, r, height)
    return np.linalg.norm(b - a, axis=-1)


@dataclass(frozen=True)
class SubGrid:
    """A regular sub-grid of a radar grid: node (r, c) sits on pixel (row0 + r*step, col0 + c*step)."""

    row0: float
    """Master line of node row 0."""
    col0: float
    """Master sample of node column 0."""
    step: float
    """Node spacing in master pixels (the same along lines and samples)."""
    rows: int
    """Number of node rows."""
    cols: int
    """Number of node columns."""

    @classmethod
    def from_metadata(
        cls, metadata: Mapping[str, str], shape: tuple[int, int], *, where: str = ""
    ) -> SubGrid:
        """The sub-grid of a raster of ``shape`` from its ``ROW0``/``COL0``/``STEP_PX`` metadata.

        A raster without these items is a full-resolution raster in master geometry.

        Raises
        ------
        InputError
            When an item is present but not a number, or the step is not positive.
        """
        values = []
        for key, default in (("ROW0", 0.0), ("COL0", 0.0), ("STEP_PX", 1.0)):
            text = metadata.get(key)
            if text is None:
                values.append(default)
                continue
            try:
                values.append(float(text))
            except ValueError:
                raise InputError(f"{where}: metadata {key}={text!r} is not a number") from None
        if not values[2] > 0:
            raise InputError(f"{where}: metadata STEP_PX must be positive, got {values[2]}")
        return cls(values[0], values[1], values[2], int(shape[0]), int(shape[1]))

    def metadata(self) -> dict[str, str]:
        """``ROW0``, ``COL0``, ``STEP_PX`` as raster metadata items."""
        return {"ROW0": _fmt(self.row0), "COL0": _fmt(self.col0), "STEP_PX": _fmt(self.step)}

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return self.rows, self.cols

    def lines(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Master line of node rows (all rows by default)."""
        r = np.arange(self.rows, dtype=np.float64) if rows is None else np.asarray(rows, dtype=np.float64)
        return self.row0 + r * self.step

    def samples(self, cols: np.ndarray | None = None) -> np.ndarray:
        """Master sample of node columns (all columns by default)."""
        c = np.arange(self.cols, dtype=np.float64) if cols is None else np.asarray(cols, dtype=np.float64)
        return self.col0 + c * self.step

    def node_of(self, line: np.ndarray, sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (row, col) node coordinates of master pixels (line, sample)."""
        return (np.asarray(line) - self.row0) / self.step, (np.asarray(sample) - self.col0) / self.step


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
