"""GeoTIFF output: tiled, compressed, nodata set, band descriptions, written atomically."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from osgeo import gdal

gdal.UseExceptions()

_GDAL_TYPES = {
    np.dtype(np.float32): gdal.GDT_Float32,
    np.dtype(np.float64): gdal.GDT_Float64,
    np.dtype(np.uint8): gdal.GDT_Byte,
    np.dtype(np.int16): gdal.GDT_Int16,
    np.dtype(np.int32): gdal.GDT_Int32,
}


def file_signature(path: str | os.PathLike[str]) -> dict[str, object]:
    """Resolved path, size and modification time of a file: the key of "inputs unchanged"."""
    p = Path(path)
    st = p.stat()
    return {"path": str(p.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def write_geotiff(
    path: str | os.PathLike[str],
    bands: Sequence[np.ndarray],
    *,
    descriptions: Sequence[str],
    nodata: float | None = np.nan,
    dtype: np.dtype | type = np.float32,
    geotransform: Sequence[float] | None = None,
    crs_wkt: str | None = None,
    metadata: Mapping[str, str] | None = None,
    band_metadata: Sequence[Mapping[str, str]] | None = None,
) -> Path:
    """Write 2-D arrays as the bands of one GeoTIFF, atomically (temporary name, then rename).

    Arrays in radar geometry are written without georeferencing (``geotransform=None``);
    rows are azimuth lines and columns range samples.
    """
    if not bands:
        raise ValueError("at least one band is needed")
    if len(descriptions) != len(bands):
        raise ValueError(f"{len(descriptions)} descriptions for {len(bands)} bands")
    shape = bands[0].shape
    if any(b.shape != shape for b in bands):
        raise ValueError("all bands must have the same shape")
    dt = np.dtype(dtype)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
    options = ["TILED=YES", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER", "BLOCKXSIZE=256", "BLOCKYSIZE=256"]
    options.append("PREDICTOR=3" if dt.kind == "f" else "PREDICTOR=2")
    driver = gdal.GetDriverByName("GTiff")
    ds = driver.Create(str(tmp), shape[1], shape[0], len(bands), _GDAL_TYPES[dt], options)
    try:
        if geotransform is not None:
            ds.SetGeoTransform(tuple(geotransform))
        if crs_wkt:
            ds.SetProjection(crs_wkt)
        if metadata:
            ds.SetMetadata({str(k): str(v) for k, v in metadata.items()})
        for i, (array, description) in enumerate(zip(bands, descriptions)):
            rb = ds.GetRasterBand(i + 1)
            rb.SetDescription(description)
            if nodata is not None:
                rb.SetNoDataValue(float(nodata))
            if band_metadata is not None:
                rb.SetMetadata({str(k): str(v) for k, v in band_metadata[i].items()})
            rb.WriteArray(np.asarray(array).astype(dt, copy=False))
        ds.FlushCache()
    finally:
        ds = None
    os.replace(tmp, out)
    return out
