"""Inputs of the rectification: which master pixels a scene cannot see."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pyproj

from processing_core.dem import Dem
from processing_core.geometry import RadarGeometry
from processing_core.lookup import GroundLookup, dem_to_radar, scene_dem


class TerrainMask:
    """Which master pixels' ground points a scene cannot see (layover or shadow in that scene).

    A master pixel's DEM cell follows from its ground point, so a scene's DEM-grid layover/shadow
    mask (:func:`processing_core.lookup.dem_to_radar`) maps straight onto any window of the master
    grid (:meth:`hidden_in`). The mask of a scene is computed on the DEM cells that scene depends
    on (:func:`processing_core.lookup.scene_dem`: its footprint grown by the longest shadow), so a
    ridge outside the master's footprint still shadows the pixels at the master's edge, and the
    mask is the one the whole DEM gives. The DEM is kept whole for that (the caller has it in
    memory already).
    """

    def __init__(self, dem: Dem) -> None:
        self._to_map = pyproj.Transformer.from_crs("EPSG:4326", dem.crs, always_xy=True)
        self._lock = threading.Lock()  # a pyproj Transformer is not to be shared by threads at once
        self.dem = dem

    def _cells(
        self, ground: GroundLookup, geotransform: tuple[float, ...]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row and column (of the grid of ``geotransform``) of the DEM cell under each ground point,
        and where they exist."""
        ok = np.isfinite(ground.lat_deg)
        row = np.full(ground.lat_deg.shape, -1, dtype=np.intp)
        col = np.full(ground.lat_deg.shape, -1, dtype=np.intp)
        if ok.any():
            with self._lock:
                x, y = self._to_map.transform(ground.lon_deg[ok], ground.lat_deg[ok])
            x0, dx, _, y0, _, dy = geotransform
            row[ok] = np.rint((np.asarray(y) - y0) / dy - 0.5).astype(np.intp)
            col[ok] = np.rint((np.asarray(x) - x0) / dx - 0.5).astype(np.intp)
        return row, col, ok

    def hidden_in(self, geometry: RadarGeometry) -> Callable[[GroundLookup], np.ndarray]:
        """A test of master-grid windows: True where the ground point is in layover or shadow as
        ``geometry`` sees it (the DEM-grid mask is computed once, here)."""
        dem = scene_dem(self.dem, geometry)
        mask = dem_to_radar(geometry, dem).mask
        geotransform = dem.geotransform

        def hidden(ground: GroundLookup) -> np.ndarray:
            row, col, ok = self._cells(ground, geotransform)
            ok &= (row >= 0) & (col >= 0) & (row < mask.shape[0]) & (col < mask.shape[1])
            out = np.zeros(ok.shape, dtype=bool)
            out[ok] = mask[row[ok], col[ok]] > 0
            return out

        return hidden


__all__ = ["TerrainMask"]
