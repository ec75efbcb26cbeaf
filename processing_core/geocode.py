"""Geocode radar-geometry rasters to a map CRS through the final master's DEM lookup table.

Backward geocoding: every output cell gets the radar position (line, sample) of its ground
point from ``dem_lut.tif`` (bands ``line_px``, ``sample_px`` on the DEM grid, as written by
:func:`processing_core.lookup.write_lookup_tables`), and the radar raster is interpolated
there. The radar raster is either full-resolution master geometry or a sub-grid carrying
``ROW0``/``COL0``/``STEP_PX`` metadata (offset fields, time series): a master pixel (line,
sample) is grid node ((line - ROW0) / STEP_PX, (sample - COL0) / STEP_PX).

* Output grid: by default the DEM's CRS and spacing, cropped to the cells the raster covers;
  or any EPSG code with a resolution, in which case each output cell's DEM position is found
  by pyproj and the lookup table (smooth) is interpolated bilinearly there ("via the DEM grid").
* Resampling: ``bilinear`` for continuous values (weights renormalised over valid neighbours
  when those carry at least half the weight, so holes do not grow), ``nearest`` for masks and
  counts; ``auto`` picks nearest for integer rasters and rasters with metadata
  ``RESAMPLING=nearest``, bilinear otherwise.
* Cells outside the raster's coverage (or the lookup table's) are nodata (NaN for floats, the
  source nodata for integers). Band descriptions, band metadata and dataset metadata are kept
  (``ROW0``/``COL0``/``STEP_PX`` become ``SOURCE_ROW0`` ...).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
from osgeo import gdal

from processing_core.dem import bilinear
from processing_core.errors import InputError
from processing_core.progress import ProgressCallback, report
from processing_core.radar_grids import SubGrid
from processing_core.rasters import file_signature
from processing_core.stack import load_stack
from processing_core.timeseries import BlockWriter

gdal.UseExceptions()

RESAMPLING = ("auto", "bilinear", "nearest")


def _open(path: Path, what: str) -> gdal.Dataset:
    try:
        return gdal.Open(str(path))
    except RuntimeError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc})") from None


class _Lookup:
    """The DEM lookup table: radar line/sample of every DEM cell."""

    def __init__(self, path: Path) -> None:
        ds = _open(path, "lookup table")
        names = {ds.GetRasterBand(k).GetDescription(): k for k in range(1, ds.RasterCount + 1)}
        for name in ("line_px", "sample_px"):
            if name not in names:
                raise InputError(f"{path}: no band described '{name}' (not a dem_lut.tif?)")
        self.path = path
        self.gt = ds.GetGeoTransform()
        self.wkt = ds.GetProjection()
        if not self.wkt:
            raise InputError(f"{path}: the lookup table has no CRS")
        self.crs = pyproj.CRS.from_wkt(self.wkt)
        self.line = ds.GetRasterBand(names["line_px"]).ReadAsArray().astype(np.float64)
        self.sample = ds.GetRasterBand(names["sample_px"]).ReadAsArray().astype(np.float64)
        self.shape = self.line.shape

    def covered(self, grid: SubGrid) -> np.ndarray:
        """DEM cells whose radar position falls on the raster (nodes +- half a node)."""
        r, c = grid.node_of(self.line, self.sample)
        with np.errstate(invalid="ignore"):
            return (r >= -0.5) & (r <= grid.rows - 0.5) & (c >= -0.5) & (c <= grid.cols - 0.5)


def _target_grid(
    lut: _Lookup, grid: SubGrid, epsg: int | None, resolution: float | None
) -> tuple[tuple[float, ...], str, int, int]:
    """(geotransform, CRS wkt, rows, cols) of the output."""
    inside = lut.covered(grid)
    if not inside.any():
        raise InputError(f"{lut.path}: the raster's radar grid does not overlap the lookup table")
    rows = np.flatnonzero(inside.any(axis=1))
    cols = np.flatnonzero(inside.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    x0, dx, _, y0, _, dy = lut.gt
    if epsg is None:
        if resolution is not None:
            raise InputError("--resolution needs --epsg (the DEM grid keeps the DEM's spacing)")
        return (x0 + c0 * dx, dx, 0.0, y0 + r0 * dy, 0.0, dy), lut.wkt, int(r1 - r0), int(c1 - c0)
    if resolution is None or not resolution > 0:
        raise InputError("--epsg needs a positive --resolution in the target CRS's units")
    try:
        target = pyproj.CRS.from_epsg(int(epsg))
    except pyproj.exceptions.CRSError:
        raise InputError(f"unknown EPSG code {epsg}") from None
    to_target = pyproj.Transformer.from_crs(lut.crs, target, always_xy=True)
    edge = np.linspace(0.0, 1.0, 33)
    xs = x0 + dx * np.concatenate(
        [c0 + edge * (c1 - c0), np.full(33, c1), c0 + edge * (c1 - c0), np.full(33, c0)]
    )
    ys = y0 + dy * np.concatenate(
        [np.full(33, r0), r0 + edge * (r1 - r0), np.full(33, r1), r0 + edge * (r1 - r0)]
    )
    tx, ty = to_target.transform(xs, ys)
    left, right = (
        np.floor(np.min(tx) / resolution) * resolution,
        np.ceil(np.max(tx) / resolution) * resolution,
    )
    bottom, top = (
        np.floor(np.min(ty) / resolution) * resolution,
        np.ceil(np.max(ty) / resolution) * resolution,
    )
    n_cols = int(round((right - left) / resolution))
    n_rows = int(round((top - bottom) / resolution))
    if n_rows * n_cols > 400_000_000:
        raise InputError(f"EPSG:{epsg} at resolution {resolution} gives {n_rows}x{n_cols} cells; too many")
    return (left, resolution, 0.0, top, 0.0, -resolution), target.to_wkt(), n_rows, n_cols


def _radar_positions(
    lut: _Lookup, gt: tuple[float, ...], wkt: str, rows: slice, n_cols: int, transformer: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Master (line, sample) of the output cells of some rows."""
    r = np.arange(rows.start, rows.stop, dtype=np.float64)
    c = np.arange(n_cols, dtype=np.float64)
    cc, rr = np.meshgrid(c, r)
    if transformer is None:  # the DEM grid itself, offset by whole cells
        x0, dx, _, y0, _, dy = lut.gt
        dem_c = (gt[0] - x0) / dx + cc
        dem_r = (gt[3] - y0) / dy + rr
        ri, ci = np.rint(dem_r).astype(int), np.rint(dem_c).astype(int)
        return lut.line[ri, ci], lut.sample[ri, ci]
    x = gt[0] + (cc + 0.5) * gt[1]
    y = gt[3] + (rr + 0.5) * gt[5]
    dx_, dy_ = transformer.transform(x, y)
    x0, dx, _, y0, _, dy = lut.gt
    dem_c = (np.asarray(dx_) - x0) / dx - 0.5
    dem_r = (np.asarray(dy_) - y0) / dy - 0.5
    return bilinear(lut.line, dem_r, dem_c), bilinear(lut.sample, dem_r, dem_c)


def _interpolate(
    data: np.ndarray, valid: np.ndarray, r: np.ndarray, c: np.ndarray, method: str, nodata: float
) -> np.ndarray:
    """Sample bands ``data`` (n, rows, cols) at fractional node coordinates; nodata outside."""
    n_rows, n_cols = data.shape[1:]
    with np.errstate(invalid="ignore"):
        inside = (r >= -0.5) & (r <= n_rows - 0.5) & (c >= -0.5) & (c <= n_cols - 0.5)
    rc = np.clip(np.where(inside, r, 0.0), 0.0, n_rows - 1)
    cc = np.clip(np.where(inside, c, 0.0), 0.0, n_cols - 1)
    out = np.full((data.shape[0],) + r.shape, nodata, dtype=np.float64)
    if method == "nearest":
        ri, ci = np.rint(rc).astype(int), np.rint(cc).astype(int)
        ok = inside & valid[:, ri, ci]
        vals = data[:, ri, ci]
        out[ok] = vals[ok]
        return out
    r0 = np.minimum(np.floor(rc).astype(int), max(n_rows - 2, 0))
    c0 = np.minimum(np.floor(cc).astype(int), max(n_cols - 2, 0))
    r1, c1 = np.minimum(r0 + 1, n_rows - 1), np.minimum(c0 + 1, n_cols - 1)
    fr, fc = rc - r0, cc - c0
    total = np.zeros(out.shape)
    weight = np.zeros(out.shape)
    for ri, ci, w in (
        (r0, c0, (1 - fr) * (1 - fc)),
        (r0, c1, (1 - fr) * fc),
        (r1, c0, fr * (1 - fc)),
        (r1, c1, fr * fc),
    ):
        ok = valid[:, ri, ci]
        total += np.where(ok, data[:, ri, ci], 0.0) * w
        weight += ok * w
    good = inside & (weight >= 0.5 - 1e-12)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[good] = total[good] / weight[good]
    return out


def geocode_raster(
    src: str | os.PathLike[str],
    lut_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    epsg: int | None = None,
    resolution: float | None = None,
    resampling: str = "auto",
    block_rows: int = 256,
    force: bool = False,
    progress: ProgressCallback | None = None,
) -> Path:
    """Geocode one radar-geometry raster (every band) to ``out``; returns the path written.

    An existing ``out`` made from the same source and lookup table (size and modification time)
    with the same options is kept (``force`` recomputes): reruns of a chain skip this step.

    Raises
    ------
    InputError
        For unreadable inputs, a lookup table without line/sample bands or CRS, no overlap,
        bad EPSG/resolution or resampling names.
    """
    if resampling not in RESAMPLING:
        raise InputError(f"resampling must be one of {', '.join(RESAMPLING)}, got {resampling!r}")
    src_path = Path(src)
    ds = _open(src_path, "raster")
    signature = json.dumps(
        {
            "source": file_signature(src_path),
            "lookup": file_signature(Path(lut_path)),
            "epsg": epsg,
            "resolution": resolution,
            "resampling": resampling,
        },
        sort_keys=True,
    )
    if not force and Path(out).exists():
        try:
            previous = gdal.Open(str(out)).GetMetadataItem("GEOCODE_SIGNATURE")
        except RuntimeError:
            previous = None
        if previous == signature:
            report(progress, 1.0, f"{Path(out).name}: up to date")
            return Path(out)
    meta = ds.GetMetadata() or {}
    grid = SubGrid.from_metadata(meta, (ds.RasterYSize, ds.RasterXSize), where=str(src_path))
    first = ds.GetRasterBand(1)
    src_dtype = np.dtype(gdal.GetDataTypeName(first.DataType).lower().replace("byte", "uint8"))
    method = resampling
    if method == "auto":
        method = "nearest" if src_dtype.kind in "iu" or meta.get("RESAMPLING") == "nearest" else "bilinear"
    out_dtype = src_dtype if method == "nearest" and src_dtype.kind in "iu" else np.dtype(np.float32)
    src_nodata = first.GetNoDataValue()
    nodata = float(src_nodata) if out_dtype.kind in "iu" and src_nodata is not None else np.nan
    if out_dtype.kind in "iu" and src_nodata is None:
        out_dtype, nodata = np.dtype(np.float32), np.nan
    lut = _Lookup(Path(lut_path))
    gt, wkt, n_rows, n_cols = _target_grid(lut, grid, epsg, resolution)
    transformer = (
        None
        if epsg is None
        else pyproj.Transformer.from_crs(pyproj.CRS.from_wkt(wkt), lut.crs, always_xy=True)
    )
    bands = [ds.GetRasterBand(k + 1) for k in range(ds.RasterCount)]
    new_meta = {("SOURCE_" + k if k in ("ROW0", "COL0", "STEP_PX") else k): v for k, v in meta.items()}
    new_meta.update(
        {
            "GEOCODED_FROM": src_path.name,
            "LOOKUP_TABLE": str(lut.path),
            "RESAMPLING": method,
            "GEOCODE_SIGNATURE": signature,
        }
    )
    writer = BlockWriter(
        Path(out),
        (n_rows, n_cols),
        [b.GetDescription() or f"band_{k + 1}" for k, b in enumerate(bands)],
        dtype=out_dtype,
        nodata=nodata,
        metadata=new_meta,
        band_metadata=[b.GetMetadata() or {} for b in bands],
        geotransform=gt,
        crs_wkt=wkt,
    )
    try:
        for start in range(0, n_rows, block_rows):
            rows = slice(start, min(start + block_rows, n_rows))
            line, sample = _radar_positions(lut, gt, wkt, rows, n_cols, transformer)
            r, c = grid.node_of(line, sample)
            finite = np.isfinite(r) & np.isfinite(c)
            block = np.full((len(bands), rows.stop - rows.start, n_cols), nodata, dtype=np.float64)
            if finite.any():
                w0 = int(max(np.floor(np.min(r[finite])) - 1, 0))
                w1 = int(min(np.ceil(np.max(r[finite])) + 2, grid.rows))
                v0 = int(max(np.floor(np.min(c[finite])) - 1, 0))
                v1 = int(min(np.ceil(np.max(c[finite])) + 2, grid.cols))
                if w1 > w0 and v1 > v0:
                    data = np.array(
                        [b.ReadAsArray(v0, w0, v1 - v0, w1 - w0) for b in bands], dtype=np.float64
                    )
                    valid = np.isfinite(data)
                    if src_nodata is not None and np.isfinite(src_nodata):
                        valid &= data != src_nodata
                    rr = np.where(finite, r - w0, np.nan)
                    cc = np.where(finite, c - v0, np.nan)
                    # Nodes outside the window are outside the raster (the window spans the rest).
                    outside = finite & (
                        (r < -0.5) | (r > grid.rows - 0.5) | (c < -0.5) | (c > grid.cols - 0.5)
                    )
                    rr[outside] = np.nan
                    block = _interpolate(data, valid, rr, cc, method, nodata)
            writer.write(rows.start, block)
            report(progress, rows.stop / n_rows, f"geocoding {src_path.name}")
        return writer.close()
    except BaseException:
        writer.abort()
        raise


def default_lookup(root: Path) -> Path:
    """The stack's DEM lookup table: geometry/dem_lut.tif, else lookup/<final master>/dem_lut.tif."""
    path = root / "geometry" / "dem_lut.tif"
    if path.exists():
        return path
    try:
        final = load_stack(root).masters.get("final")
    except InputError:
        final = None
    if final:
        alt = root / "lookup" / str(final) / "dem_lut.tif"
        if alt.exists():
            return alt
    raise InputError(f"{path}: no DEM lookup table in the stack (give one with --lut)")


def geocode_stack(
    root: str | os.PathLike[str],
    inputs: list[str] | None = None,
    *,
    lut: str | os.PathLike[str] | None = None,
    epsg: int | None = None,
    resolution: float | None = None,
    resampling: str = "auto",
    out_dir: str | os.PathLike[str] | None = None,
    progress: ProgressCallback | None = None,
) -> list[Path]:
    """Geocode rasters of a stack (default: every ``timeseries/*.tif``) into ``STACK/geocoded/``."""
    folder = Path(root)
    sources = [Path(p) for p in inputs] if inputs else sorted((folder / "timeseries").glob("*.tif"))
    sources = [p for p in sources if not p.name.startswith(".")]
    if not sources:
        raise InputError(f"{folder / 'timeseries'}: nothing to geocode (run invert, or give --input)")
    table = Path(lut) if lut is not None else default_lookup(folder)
    target = Path(out_dir) if out_dir is not None else folder / "geocoded"
    written = []
    for k, src in enumerate(sources):
        if not src.exists():
            raise InputError(f"{src}: no such raster")
        suffix = "" if epsg is None else f"_epsg{epsg}"
        sub = None if progress is None else _sub(progress, k, len(sources))
        written.append(
            geocode_raster(
                src,
                table,
                target / f"{src.stem}{suffix}.tif",
                epsg=epsg,
                resolution=resolution,
                resampling=resampling,
                progress=sub,
            )
        )
    return written


def _sub(progress: ProgressCallback, k: int, n: int) -> ProgressCallback:
    def call(fraction: float, message: str) -> bool | None:
        return progress((k + fraction) / n, message)

    return call
