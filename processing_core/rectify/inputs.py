"""Inputs of the rectification: which master pixels a scene cannot see."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pyproj

from processing_core.dem import Dem
from processing_core.geometry import RadarGeometry
from processing_core.lookup import GroundLookup, dem_to_radar, scene_dem


class SceneMask:
    """A scene's layover/shadow mask on a DEM grid, as a test of master-grid windows.

    Called with a window's ground points, it returns True where the DEM cell under the point is
    in layover or shadow as the scene sees it. It saves to a small ``.npz`` (the mask, the DEM
    grid's geotransform and CRS) that a worker process loads (:meth:`load`) instead of computing
    it again from the DEM.

    Parameters
    ----------
    mask
        (rows, cols) of the DEM grid; non-zero where hidden.
    geotransform
        The grid's GDAL geotransform (cell corners).
    crs
        The grid's CRS (anything :class:`pyproj.CRS` accepts).
    """

    def __init__(self, mask: np.ndarray, geotransform: tuple[float, ...], crs: object) -> None:
        self.mask = np.asarray(mask)
        self.geotransform = tuple(float(v) for v in geotransform)
        self.crs = pyproj.CRS.from_user_input(crs)
        self._to_map = pyproj.Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        self._lock = threading.Lock()  # a pyproj Transformer is not to be shared by threads at once

    def __call__(self, ground: GroundLookup) -> np.ndarray:
        ok = np.isfinite(ground.lat_deg)
        row = np.full(ground.lat_deg.shape, -1, dtype=np.intp)
        col = np.full(ground.lat_deg.shape, -1, dtype=np.intp)
        if ok.any():
            with self._lock:
                x, y = self._to_map.transform(ground.lon_deg[ok], ground.lat_deg[ok])
            x0, dx, _, y0, _, dy = self.geotransform
            row[ok] = np.rint((np.asarray(y) - y0) / dy - 0.5).astype(np.intp)
            col[ok] = np.rint((np.asarray(x) - x0) / dx - 0.5).astype(np.intp)
        ok &= (row >= 0) & (col >= 0) & (row < self.mask.shape[0]) & (col < self.mask.shape[1])
        out = np.zeros(ok.shape, dtype=bool)
        out[ok] = self.mask[row[ok], col[ok]] > 0
        return out

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the mask to ``path`` (``.npz``), atomically (a temporary, then renamed)."""
        path = Path(path)
        partial = path.with_name(f".{path.name}.partial")
        with open(partial, "wb") as f:
            np.savez(
                f, mask=self.mask, geotransform=np.array(self.geotransform), crs=np.array(self.crs.to_wkt())
            )
        os.replace(partial, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SceneMask:
        """A mask written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            return cls(data["mask"], tuple(data["geotransform"]), str(data["crs"]))


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
        self.dem = dem

    def hidden_in(self, geometry: RadarGeometry) -> SceneMask:
        """A test of master-grid windows: True where the ground point is in layover or shadow as
        ``geometry`` sees it (the DEM-grid mask is computed once, here)."""
        dem = scene_dem(self.dem, geometry)
        return SceneMask(dem_to_radar(geometry, dem).mask, dem.geotransform, self.dem.crs)


__all__ = ["SceneMask", "TerrainMask"]
