"""Test helpers: a standard synthetic ALOS scene over the real Big Tujunga DEM, synthetic DEMs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from osgeo import gdal, osr

from processing_core.orbitgen import synthetic_scene
from processing_core.scene import Scene

SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
BIGTUJUNGA = SHARED / "dem" / "bigtujunga_srtm30m_utm11.tif"
ROME = SHARED / "dem" / "rome_srtm30m_egm96.tif"
CENTRE = (34.32, -118.15)  # inside the Big Tujunga DEM


def alos_scene(*, lines: int = 3000, samples: int = 1800, **kwargs) -> Scene:
    """PALSAR-1-like scene centred on the Big Tujunga DEM."""
    options = {
        "scene_id": "ALOS_20080101",
        "centre_lat_deg": CENTRE[0],
        "centre_lon_deg": CENTRE[1],
        "centre_height_m": 1000.0,
        "centre_time": np.datetime64("2008-01-01T06:00:00"),
        "lines": lines,
        "samples": samples,
    }
    options.update(kwargs)
    return synthetic_scene(**options)


def write_geographic_dem(path: Path, heights: np.ndarray, lat0: float, lon0: float, step_deg: float) -> Path:
    """Write heights (rows north to south) as an EPSG:4326 GeoTIFF with top-left corner (lat0, lon0)."""
    ds = gdal.GetDriverByName("GTiff").Create(
        str(path), heights.shape[1], heights.shape[0], 1, gdal.GDT_Float32
    )
    ds.SetGeoTransform((lon0, step_deg, 0.0, lat0, 0.0, -step_deg))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    ds.SetProjection(srs.ExportToWkt())
    ds.GetRasterBand(1).WriteArray(heights.astype(np.float32))
    ds.GetRasterBand(1).SetNoDataValue(-32768)
    ds = None
    return path
