"""GeoTIFF output: tiled, compressed, nodata set, band descriptions, written atomically."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
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
    writer = GeoTiffWriter(
        path,
        shape,
        descriptions=descriptions,
        nodata=nodata,
        dtype=dtype,
        geotransform=geotransform,
        crs_wkt=crs_wkt,
        metadata=metadata,
        band_metadata=band_metadata,
    )
    with writer:
        for i, array in enumerate(bands):
            writer.write(i + 1, 0, 0, array)
    return writer.path


class GeoTiffWriter:
    """A GeoTIFF written block by block, atomically: a context manager.

    The bands go to ``.<stem>.partial.tif`` beside ``path``; leaving the ``with`` block without
    an exception renames it to ``path``, leaving it on an exception removes it. Memory stays
    that of the blocks passed to :meth:`write` (whatever the raster's size), so a raster of a
    full frame is written in strips. Creation options as :func:`write_geotiff`'s.

    Parameters
    ----------
    path
        The final file.
    before_commit
        Called with the finished temporary file just before it takes its final name (a QC
        report measured on it, say); an exception there removes it.
    shape
        (rows, columns) of every band.
    descriptions
        One per band (their number is the number of bands).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        shape: tuple[int, int],
        *,
        descriptions: Sequence[str],
        nodata: float | None = np.nan,
        dtype: np.dtype | type = np.float32,
        geotransform: Sequence[float] | None = None,
        crs_wkt: str | None = None,
        metadata: Mapping[str, str] | None = None,
        band_metadata: Sequence[Mapping[str, str]] | None = None,
        before_commit: Callable[[Path], None] | None = None,
    ) -> None:
        if not descriptions:
            raise ValueError("at least one band is needed")
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"shape must be (rows, columns) >= 1, got {shape}")
        self.path = Path(path)
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        self.tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        if band_metadata is not None and len(band_metadata) != len(descriptions):
            raise ValueError(f"{len(band_metadata)} band metadata for {len(descriptions)} bands")
        self._setup = (list(descriptions), nodata, geotransform, crs_wkt, metadata, band_metadata)
        self.before_commit = before_commit
        self.dataset: gdal.Dataset | None = None

    def __enter__(self) -> GeoTiffWriter:
        descriptions, nodata, geotransform, crs_wkt, metadata, band_metadata = self._setup
        self.path.parent.mkdir(parents=True, exist_ok=True)
        options = ["TILED=YES", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER", "BLOCKXSIZE=256", "BLOCKYSIZE=256"]
        options.append("PREDICTOR=3" if self.dtype.kind == "f" else "PREDICTOR=2")
        if self.dtype.itemsize * self.shape[0] * self.shape[1] * len(descriptions) > 2**31:
            options[2] = "BIGTIFF=YES"  # compressed size is unknown beforehand
        ds = gdal.GetDriverByName("GTiff").Create(
            str(self.tmp), self.shape[1], self.shape[0], len(descriptions), _GDAL_TYPES[self.dtype], options
        )
        if geotransform is not None:
            ds.SetGeoTransform(tuple(geotransform))
        if crs_wkt:
            ds.SetProjection(crs_wkt)
        if metadata:
            ds.SetMetadata({str(k): str(v) for k, v in metadata.items()})
        for i, description in enumerate(descriptions):
            band = ds.GetRasterBand(i + 1)
            band.SetDescription(description)
            if nodata is not None:
                band.SetNoDataValue(float(nodata))
            if band_metadata is not None:
                band.SetMetadata({str(k): str(v) for k, v in band_metadata[i].items()})
            band = None
        self.dataset = ds
        return self

    def write(self, band: int, row0: int, col0: int, block: np.ndarray) -> None:
        """Write a 2-D ``block`` into band ``band`` (1-based) with its first pixel at (row0, col0)."""
        if self.dataset is None:
            raise RuntimeError(f"{self.path}: the writer is not open (use it in a with block)")
        a = np.asarray(block)
        if a.ndim != 2 or row0 < 0 or col0 < 0:
            raise ValueError(f"{self.path}: a 2-D block at a non-negative position is needed")
        if row0 + a.shape[0] > self.shape[0] or col0 + a.shape[1] > self.shape[1]:
            raise ValueError(
                f"{self.path}: block {a.shape} at ({row0}, {col0}) overflows the raster {self.shape}"
            )
        self.dataset.GetRasterBand(band).WriteArray(a.astype(self.dtype, copy=False), col0, row0)

    def __exit__(self, exc_type, exc, tb) -> None:
        ds, self.dataset = self.dataset, None
        if ds is not None:
            if exc_type is None:
                ds.FlushCache()
            ds = None
        if exc_type is not None:
            self.tmp.unlink(missing_ok=True)
            return
        try:
            if self.before_commit is not None:
                self.before_commit(self.tmp)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise
        os.replace(self.tmp, self.path)
