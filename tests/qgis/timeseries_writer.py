"""Test helper: a tiny stack folder with time-series rasters in the DESIGN.md contract.

``write_timeseries`` writes a multiband float32 GeoTIFF (band description ``DYYYYMMDD``,
metadata ``DATE=YYYY-MM-DD``, NaN nodata); ``write_stack_json`` the scenes of ``stack.json``
(id, platform, date, sidecar). Used by the dock tests and the desktop run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()


def write_timeseries(
    path: Path,
    dates: np.ndarray,
    cube: np.ndarray,
    geotransform: tuple[float, float, float, float, float, float] | None,
    epsg: int = 32611,
) -> Path:
    """``cube`` (dates x rows x cols, metres) as the contract GeoTIFF at ``path``.

    ``geotransform=None`` writes neither a geotransform nor a CRS, as the radar-geometry
    ``STACK/timeseries/*.tif`` are.
    """
    bands, rows, cols = cube.shape
    assert bands == len(dates)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = gdal.GetDriverByName("GTiff").Create(str(path), cols, rows, bands, gdal.GDT_Float32)
    if geotransform is not None:
        ds.SetGeoTransform(geotransform)
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        ds.SetProjection(srs.ExportToWkt())
    for k, date in enumerate(dates):
        band = ds.GetRasterBand(k + 1)
        band.SetNoDataValue(float("nan"))
        band.SetDescription("D" + str(date).replace("-", ""))
        band.SetMetadataItem("DATE", str(date))
        band.WriteArray(cube[k].astype(np.float32))
    ds = None
    return path


def write_stack_json(root: Path, dates: np.ndarray, platforms: Sequence[str]) -> Path:
    """``root/stack.json`` with one scene per date on the given platforms."""
    scenes = [
        {"id": f"S{k:02d}", "platform": p, "date": str(d), "sidecar": f"scenes/S{k:02d}.json"}
        for k, (d, p) in enumerate(zip(dates, platforms))
    ]
    path = root / "stack.json"
    path.write_text(json.dumps({"format": "sar-stack/1", "scenes": scenes}, indent=2), encoding="utf-8")
    return path
