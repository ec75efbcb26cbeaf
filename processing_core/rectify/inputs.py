"""Inputs of the rectification: a scene's amplitude, and which master pixels a scene cannot see."""

from __future__ import annotations

import numpy as np
import pyproj
from osgeo import gdal

from processing_core.dem import Dem
from processing_core.errors import InputError
from processing_core.geometry import RadarGeometry
from processing_core.lookup import GroundLookup, dem_to_radar
from processing_core.scene import Scene

gdal.UseExceptions()


def read_amplitude(scene: Scene) -> np.ndarray:
    """Band 1 of a scene's raster as float64 amplitude (modulus for complex SLC); NaN for nodata."""
    try:
        ds = gdal.Open(str(scene.image_path))
    except RuntimeError as exc:
        raise InputError(
            f"{scene.image_path}: cannot open the image of scene {scene.id} ({str(exc).strip()})"
        ) from None
    band = ds.GetRasterBand(1)
    if (ds.RasterYSize, ds.RasterXSize) != (scene.radar_grid.lines, scene.radar_grid.samples):
        raise InputError(
            f"{scene.image_path}: raster is {ds.RasterYSize} x {ds.RasterXSize}, sidecar says "
            f"{scene.radar_grid.lines} x {scene.radar_grid.samples}"
        )
    try:
        data = band.ReadAsArray()
    except RuntimeError as exc:  # a truncated or corrupted file opens but fails on its blocks
        band = ds = None  # the band before its dataset (GDAL crashes when a band outlives it)
        raise InputError(
            f"{scene.image_path}: cannot read the image of scene {scene.id} ({' '.join(str(exc).replace(f'{scene.image_path}, ', '').split())})"
        ) from None
    amplitude = np.abs(data).astype(np.float64)
    nodata = band.GetNoDataValue()
    if nodata is not None and np.isfinite(nodata):
        amplitude[data == nodata] = np.nan
    valid = amplitude[np.isfinite(amplitude)]
    if valid.size == 0:
        raise InputError(
            f"{scene.image_path}: the image of scene {scene.id} holds no valid pixel (all NaN or nodata)"
        )
    if valid.min() == valid.max():
        raise InputError(
            f"{scene.image_path}: the image of scene {scene.id} is constant ({valid.min():g}): no texture to match"
        )
    return amplitude


class TerrainMask:
    """Which master pixels' ground points a scene cannot see (layover or shadow in that scene).

    The DEM is cropped to the master's footprint; every master pixel keeps the index of the DEM
    cell under its ground point, so a scene's DEM-grid layover/shadow mask
    (:func:`processing_core.lookup.dem_to_radar`) maps straight onto the master grid.
    """

    def __init__(self, dem: Dem, ground: GroundLookup, margin_cells: int = 8) -> None:
        ok = np.isfinite(ground.lat_deg)
        row = np.full(ground.lat_deg.shape, -1, dtype=np.intp)
        col = np.full(ground.lat_deg.shape, -1, dtype=np.intp)
        to_map = pyproj.Transformer.from_crs("EPSG:4326", dem.crs, always_xy=True)
        x, y = to_map.transform(ground.lon_deg[ok], ground.lat_deg[ok])
        x0, dx, _, y0, _, dy = dem.geotransform
        row[ok] = np.rint((np.asarray(y) - y0) / dy - 0.5).astype(np.intp)
        col[ok] = np.rint((np.asarray(x) - x0) / dx - 0.5).astype(np.intp)
        r0 = max(int(row[ok].min()) - margin_cells, 0) if ok.any() else 0
        c0 = max(int(col[ok].min()) - margin_cells, 0) if ok.any() else 0
        r1 = int(row[ok].max()) + margin_cells + 1 if ok.any() else 1
        c1 = int(col[ok].max()) + margin_cells + 1 if ok.any() else 1
        self.dem = dem.crop(r0, r1, c0, c1)
        self.row = np.where(ok, row - r0, -1)
        self.col = np.where(ok, col - c0, -1)
        self.valid = ok & (self.row >= 0) & (self.col >= 0)
        self.valid &= (self.row < self.dem.shape[0]) & (self.col < self.dem.shape[1])

    def hidden_in(self, geometry: RadarGeometry) -> np.ndarray:
        """Boolean (master grid): the ground point is in layover or shadow as ``geometry`` sees it."""
        mask = dem_to_radar(geometry, self.dem).mask
        hidden = np.zeros(self.row.shape, dtype=bool)
        hidden[self.valid] = mask[self.row[self.valid], self.col[self.valid]] > 0
        return hidden


__all__ = ["TerrainMask", "read_amplitude"]
