"""Inputs of the rectification: a scene's amplitude, and which master pixels a scene cannot see."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pyproj

from processing_core.dem import Dem
from processing_core.geometry import RadarGeometry
from processing_core.lookup import GroundLookup, dem_to_radar
from processing_core.rectify.sources import GroundSource, SceneImage, check_texture, row_strips
from processing_core.scene import Scene


def read_amplitude(scene: Scene) -> np.ndarray:
    """Band 1 of a scene's raster as float64 amplitude (modulus for complex SLC); NaN for nodata.

    The whole image in memory (the traditional chain's); the improved chain reads windows
    (:class:`~processing_core.rectify.sources.SceneImage`).
    """
    image = SceneImage(scene)
    amplitude = image.read(0, image.shape[0], 0, image.shape[1])
    valid = amplitude[np.isfinite(amplitude)]
    check_texture(scene, valid.size, *((valid.min(), valid.max()) if valid.size else (0.0, 0.0)))
    return amplitude


class TerrainMask:
    """Which master pixels' ground points a scene cannot see (layover or shadow in that scene).

    The DEM is cropped to the master's footprint (the DEM cells under its ground points, found in
    strips of the ground lookup table); a master pixel's DEM cell follows from its ground point,
    so a scene's DEM-grid layover/shadow mask (:func:`processing_core.lookup.dem_to_radar`)
    maps straight onto any window of the master grid (:meth:`hidden_in`).
    """

    def __init__(
        self, dem: Dem, ground: GroundSource, margin_cells: int = 8, *, memory_mb: float = 256.0
    ) -> None:
        self._to_map = pyproj.Transformer.from_crs("EPSG:4326", dem.crs, always_xy=True)
        self._lock = threading.Lock()  # a pyproj Transformer is not to be shared by threads at once
        self._geotransform = dem.geotransform
        lines, samples = ground.shape
        low, high = np.array([np.inf, np.inf]), np.array([-np.inf, -np.inf])
        for y0, y1 in row_strips(0, lines, samples, memory_mb):
            row, col, ok = self._cells(ground.read(y0, y1, 0, samples))
            if ok.any():
                low = np.minimum(low, [row[ok].min(), col[ok].min()])
                high = np.maximum(high, [row[ok].max(), col[ok].max()])
        if np.isfinite(low).all():
            r0, c0 = (max(int(v) - margin_cells, 0) for v in low)
            r1, c1 = (int(v) + margin_cells + 1 for v in high)
        else:
            r0, c0, r1, c1 = 0, 0, 1, 1
        self.dem = dem.crop(r0, r1, c0, c1)
        self._origin = (r0, c0)

    def _cells(self, ground: GroundLookup) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """DEM row and column (of the whole DEM) under each ground point, and where they exist."""
        ok = np.isfinite(ground.lat_deg)
        row = np.full(ground.lat_deg.shape, -1, dtype=np.intp)
        col = np.full(ground.lat_deg.shape, -1, dtype=np.intp)
        if ok.any():
            with self._lock:
                x, y = self._to_map.transform(ground.lon_deg[ok], ground.lat_deg[ok])
            x0, dx, _, y0, _, dy = self._geotransform
            row[ok] = np.rint((np.asarray(y) - y0) / dy - 0.5).astype(np.intp)
            col[ok] = np.rint((np.asarray(x) - x0) / dx - 0.5).astype(np.intp)
        return row, col, ok

    def hidden_in(self, geometry: RadarGeometry) -> Callable[[GroundLookup], np.ndarray]:
        """A test of master-grid windows: True where the ground point is in layover or shadow as
        ``geometry`` sees it (the DEM-grid mask is computed once, here)."""
        mask = dem_to_radar(geometry, self.dem).mask

        def hidden(ground: GroundLookup) -> np.ndarray:
            row, col, ok = self._cells(ground)
            row, col = row - self._origin[0], col - self._origin[1]
            ok &= (row >= 0) & (col >= 0) & (row < mask.shape[0]) & (col < mask.shape[1])
            out = np.zeros(ok.shape, dtype=bool)
            out[ok] = mask[row[ok], col[ok]] > 0
            return out

        return hidden


__all__ = ["TerrainMask", "read_amplitude"]
