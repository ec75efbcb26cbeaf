"""Covariates of the displacement rate: monthly precipitation and backscatter per date.

* Monthly precipitation from a CSV (``month,precip_mm``: ``YYYY-MM`` and the month's total, mm)
  or from a folder of GPM IMERG monthly files (Huffman et al., 3B-MO, e.g.
  ``3B-MO.MS.MRG.3IMERG.20150701-S000000-E235959.07.V06B.HDF5``; the month comes from the file
  name). IMERG files are read with GDAL: HDF5 and netCDF through the multidimensional API
  (variable ``precipitation`` with ``lon``/``lat`` dimensions, in either axis order, as the
  native ``(time, lon, lat)`` layout), GeoTIFF and other georeferenced rasters through the
  classic API. The monthly value is the mean over the cells whose centres fall in a lon/lat box
  (the stack's area by default), or the cell nearest to the box centre when none does.
  IMERG's monthly ``precipitation`` is a mean rate in mm/hr; a month's total is that times the
  month's hours. The unit is read from the file (``units``), or given.
* Backscatter: the mean of ``10 log10(amplitude^2)`` (dB) over a region of every rectified scene
  ``STACK/rectified/<id>.tif`` (final master grid): a pixel window, or the pixels whose ground
  point (``geometry/ground_lut.tif``) lies in a lon/lat box, or the whole scene. Radar
  backscatter rises with soil moisture (Liu et al. 2020, section 5.2).
"""

from __future__ import annotations

import calendar
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj
from osgeo import gdal

from processing_core.analysis.points import final_master_geometry
from processing_core.errors import InputError
from processing_core.lookup import scene_footprint
from processing_core.pointsio import read_csv_table
from processing_core.stack import load_stack

gdal.UseExceptions()

IMERG_UNITS = ("auto", "mm/hr", "mm/month")
"""Units of IMERG values: read from the file, a mean rate in mm/hr, or a monthly total in mm."""
_IMERG_NAME = re.compile(r"3IMERG\.(\d{4})(\d{2})\d{2}-S")
_ANY_MONTH = re.compile(r"(?<!\d)((?:19|20)\d{2})[-_]?(0[1-9]|1[0-2])(?!\d)")
_RASTER_EXT = (".hdf5", ".h5", ".he5", ".nc", ".nc4", ".tif", ".tiff")


@dataclass(frozen=True)
class MonthlySeries:
    """Monthly totals of a quantity (precipitation, mm per month)."""

    months: np.ndarray
    """First day of each month as ``datetime64[M]``, increasing, unique."""
    values: np.ndarray
    """Monthly total (mm); NaN where missing."""
    source: str
    """Where the values come from."""


def _month(text: str, where: str) -> np.datetime64:
    try:
        return np.datetime64(str(text).strip()[:7], "M")
    except ValueError:
        raise InputError(f"{where}: month {text!r} is not YYYY-MM") from None


def _series(months: list[np.datetime64], values: list[float], source: str) -> MonthlySeries:
    m = np.array(months, dtype="datetime64[M]")
    order = np.argsort(m)
    m, v = m[order], np.asarray(values, dtype=np.float64)[order]
    dup = m[1:][m[1:] == m[:-1]]
    if dup.size:
        raise InputError(f"{source}: month {dup[0]} appears twice")
    return MonthlySeries(m, v, source)


def read_precip_csv(path: str | os.PathLike[str]) -> MonthlySeries:
    """Monthly precipitation from a CSV with columns ``month,precip_mm``.

    Raises
    ------
    InputError
        Naming the file: missing, columns missing, a bad month or number, a repeated month.
    """
    p = Path(path)
    rows, header = read_csv_table(p, what="precipitation")
    if "month" not in header or "precip_mm" not in header:
        raise InputError(f"{p}: needs columns month,precip_mm; found {', '.join(header) or 'none'}")
    months, values = [], []
    for i, row in enumerate(rows, start=2):
        months.append(_month(row["month"], f"{p}: row {i}"))
        text = (row["precip_mm"] or "").strip()
        try:
            values.append(float(text) if text else np.nan)
        except ValueError:
            raise InputError(f"{p}: row {i}, column precip_mm: {text!r} is not a number") from None
    if not months:
        raise InputError(f"{p}: no months")
    return _series(months, values, str(p))


def month_of_file(path: Path) -> np.datetime64:
    """The month of an IMERG monthly file from its name (``...3IMERG.YYYYMMDD-S...``), or any
    ``YYYYMM``/``YYYY-MM`` in the name."""
    m = _IMERG_NAME.search(path.name) or _ANY_MONTH.search(path.name)
    if not m:
        raise InputError(f"{path}: no month (YYYYMM) in the file name")
    return np.datetime64(f"{m.group(1)}-{m.group(2)}", "M")


def _grid_mean(lon: np.ndarray, lat: np.ndarray, data: np.ndarray, bbox: tuple[float, ...]) -> float:
    """Mean of data (lat, lon) over cell centres in bbox, else the cell nearest the box centre."""
    lo0, la0, lo1, la1 = bbox
    lon = np.where(lon > 180.0, lon - 360.0, lon)
    in_lon = (lon >= lo0) & (lon <= lo1)
    in_lat = (lat >= la0) & (lat <= la1)
    block = data[np.ix_(in_lat, in_lon)]
    if block.size and np.isfinite(block).any():
        return float(np.nanmean(block))
    i = int(np.argmin(np.abs(lat - 0.5 * (la0 + la1))))
    j = int(np.argmin(np.abs(lon - 0.5 * (lo0 + lo1))))
    return float(data[i, j])


def _units_factor(units: str, month: np.datetime64, where: Path) -> float:
    text = units.strip().lower().replace(" ", "")
    hours = calendar.monthrange(int(str(month)[:4]), int(str(month)[5:7]))[1] * 24.0
    if text in ("mm/hr", "mm/h", "mmh-1", "mmhr-1", "mm/hour", "kgm-2h-1"):
        return hours
    if text in ("mm", "mm/month", "mm/mon", "mmmonth-1"):
        return 1.0
    raise InputError(f"{where}: precipitation units {units!r} not understood; give mm/hr or mm/month")


def _read_multidim(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(lon, lat, data[lat, lon], units) of the ``precipitation`` variable of an HDF5/netCDF file."""
    ds = gdal.OpenEx(str(path), gdal.OF_MULTIDIM_RASTER)
    groups = [ds.GetRootGroup()]
    array = None
    while groups and array is None:
        group = groups.pop(0)
        if "precipitation" in (group.GetMDArrayNames() or []):
            array = group.OpenMDArray("precipitation")
            break
        groups.extend(group.OpenGroup(name) for name in (group.GetGroupNames() or []))
    if array is None:
        raise InputError(f"{path}: no variable 'precipitation'")
    dims = array.GetDimensions()
    names = [d.GetName().lower() for d in dims]
    try:
        i_lon = next(k for k, n in enumerate(names) if n.startswith("lon"))
        i_lat = next(k for k, n in enumerate(names) if n.startswith("lat"))
    except StopIteration:
        raise InputError(f"{path}: 'precipitation' has no lon/lat dimensions ({', '.join(names)})") from None
    coords = []
    for k in (i_lon, i_lat):
        var = dims[k].GetIndexingVariable()
        if var is None and dims[k].GetName() in (group.GetMDArrayNames() or []):
            var = group.OpenMDArray(dims[k].GetName())
        if var is None:
            raise InputError(f"{path}: dimension {names[k]} has no coordinate variable")
        coords.append(np.asarray(var.ReadAsArray(), dtype=np.float64))
    data = np.asarray(array.ReadAsArray(), dtype=np.float64)
    fill = array.GetNoDataValueAsDouble()
    if fill is not None:
        data[data == fill] = np.nan
    others = [k for k in range(len(dims)) if k not in (i_lon, i_lat)]
    if any(dims[k].GetSize() != 1 for k in others):
        raise InputError(f"{path}: 'precipitation' holds more than one time step")
    data = np.transpose(data, others + [i_lat, i_lon]).reshape(len(coords[1]), len(coords[0]))
    units = array.GetUnit() or ""
    if not units:
        attr = array.GetAttribute("units")
        units = attr.Read() if attr is not None else ""
    return coords[0], coords[1], data, str(units)


def _read_classic(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(lon, lat, data[lat, lon], units) of band 1 of a north-up raster in any CRS."""
    ds = gdal.Open(str(path))
    gt = ds.GetGeoTransform(can_return_null=True)
    if gt is None or gt[2] != 0 or gt[4] != 0:
        raise InputError(f"{path}: no north-up georeferencing")
    band = ds.GetRasterBand(1)
    data = band.ReadAsArray().astype(np.float64)
    nodata = band.GetNoDataValue()
    if nodata is not None:
        data[data == nodata] = np.nan
    x = gt[0] + (np.arange(ds.RasterXSize) + 0.5) * gt[1]
    y = gt[3] + (np.arange(ds.RasterYSize) + 0.5) * gt[5]
    wkt = ds.GetProjection()
    crs = pyproj.CRS.from_wkt(wkt) if wkt else pyproj.CRS.from_epsg(4326)
    if not crs.is_geographic:
        raise InputError(f"{path}: precipitation grids must be in longitude/latitude, not {crs.name}")
    units = band.GetUnitType() or next(
        (v for k, v in (band.GetMetadata() or {}).items() if k.lower().endswith("units")), ""
    )
    return x, y, data, units


def read_imerg(
    folder: str | os.PathLike[str], bbox: tuple[float, float, float, float], *, units: str = "auto"
) -> MonthlySeries:
    """Monthly precipitation (mm) over a lon/lat box from a folder of IMERG monthly files.

    Parameters
    ----------
    folder
        Folder of monthly files (``.HDF5``, ``.nc4``, ``.nc``, ``.tif``), one per month.
    bbox
        (lon_min, lat_min, lon_max, lat_max), degrees.
    units
        One of :data:`IMERG_UNITS`; ``auto`` reads the file's unit.

    Raises
    ------
    InputError
        No files, a name without a month, two files for one month, an unreadable file, no
        unit (with ``auto``), negative values only.
    """
    if units not in IMERG_UNITS:
        raise InputError(f"IMERG units must be one of {IMERG_UNITS}, got {units!r}")
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder of IMERG files")
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in _RASTER_EXT)
    if not files:
        raise InputError(f"{root}: no IMERG files ({', '.join(_RASTER_EXT)})")
    months, values = [], []
    for path in files:
        month = month_of_file(path)
        try:
            if path.suffix.lower() in (".tif", ".tiff"):
                lon, lat, data, found = _read_classic(path)
            else:
                lon, lat, data, found = _read_multidim(path)
        except RuntimeError as exc:
            raise InputError(f"{path}: cannot read ({str(exc).strip()})") from None
        data[data < 0] = np.nan  # IMERG fill values are large negative numbers
        unit = found if units == "auto" else units
        if not unit:
            raise InputError(f"{path}: no precipitation unit in the file; give the unit (mm/hr or mm/month)")
        months.append(month)
        values.append(_grid_mean(lon, lat, data, bbox) * _units_factor(unit, month, path))
    return _series(months, values, str(root))


def stack_bbox(stack_root: str | os.PathLike[str]) -> tuple[float, float, float, float]:
    """(lon_min, lat_min, lon_max, lat_max) of the stack's area: the ground points of
    ``geometry/ground_lut.tif`` when present, else the final master's footprint at 0 m."""
    stack = load_stack(stack_root)
    lut = stack.root / "geometry" / "ground_lut.tif"
    if lut.exists():
        ds = gdal.Open(str(lut))
        names = {ds.GetRasterBand(k).GetDescription(): k for k in range(1, ds.RasterCount + 1)}
        lat = ds.GetRasterBand(names["lat_deg"]).ReadAsArray(buf_xsize=256, buf_ysize=256)
        lon = ds.GetRasterBand(names["lon_deg"]).ReadAsArray(buf_xsize=256, buf_ysize=256)
        if np.isfinite(lat).any():
            return float(np.nanmin(lon)), float(np.nanmin(lat)), float(np.nanmax(lon)), float(np.nanmax(lat))
    geometry, _ = final_master_geometry(stack)
    lat, lon = scene_footprint(geometry, 0.0)
    return float(np.min(lon)), float(np.min(lat)), float(np.max(lon)), float(np.max(lat))


def _region_mask(
    stack_root: Path, shape: tuple[int, int], window, bbox
) -> tuple[slice, slice, np.ndarray | None]:
    """Row/column slices of the region and, for a lon/lat box, the pixel mask inside them."""
    lines, samples = shape
    if window is not None and bbox is not None:
        raise InputError("give a pixel window or a lon/lat box for the backscatter region, not both")
    if window is not None:
        l0, l1, s0, s1 = (int(v) for v in window)
        if not (0 <= l0 < l1 <= lines and 0 <= s0 < s1 <= samples):
            raise InputError(f"window {window} is outside the {lines} x {samples} master grid")
        return slice(l0, l1), slice(s0, s1), None
    if bbox is None:
        return slice(0, lines), slice(0, samples), None
    lut = stack_root / "geometry" / "ground_lut.tif"
    if not lut.exists():
        raise InputError(
            f"{lut}: needed to select the pixels of a lon/lat box (run rectify), or give a window"
        )
    ds = gdal.Open(str(lut))
    names = {ds.GetRasterBand(k).GetDescription(): k for k in range(1, ds.RasterCount + 1)}
    lat = ds.GetRasterBand(names["lat_deg"]).ReadAsArray()
    lon = ds.GetRasterBand(names["lon_deg"]).ReadAsArray()
    lo0, la0, lo1, la1 = bbox
    with np.errstate(invalid="ignore"):
        mask = (lon >= lo0) & (lon <= lo1) & (lat >= la0) & (lat <= la1)
    if not mask.any():
        raise InputError(f"no pixel of the final master lies in the box lon {lo0}..{lo1}, lat {la0}..{la1}")
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    rs, cs = slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)
    return rs, cs, mask[rs, cs]


def backscatter_series(
    stack_root: str | os.PathLike[str],
    *,
    window: tuple[int, int, int, int] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean backscatter (dB) of a region in every rectified scene of the stack.

    Parameters
    ----------
    stack_root
        Stack folder with ``rectified/<id>.tif``.
    window
        (line0, line1, sample0, sample1) of the final master grid, end exclusive.
    bbox
        (lon_min, lat_min, lon_max, lat_max): pixels whose ground point is inside.

    Returns
    -------
    dates : numpy.ndarray
        ``datetime64[D]`` of the scenes with a rectified image.
    mean_db : numpy.ndarray
        Mean of 10 log10(amplitude^2) over the region's valid pixels, dB.
    n_pixels : numpy.ndarray
        Valid pixels averaged.

    Raises
    ------
    InputError
        No rectified scenes, a region outside the grid or empty.
    """
    stack = load_stack(stack_root)
    folder = stack.root / "rectified"
    found = [(s, folder / f"{s.id}.tif") for s in stack.scenes if (folder / f"{s.id}.tif").exists()]
    if not found:
        raise InputError(f"{folder}: no rectified scenes; run the rectify step first")
    first = gdal.Open(str(found[0][1]))
    rs, cs, mask = _region_mask(stack.root, (first.RasterYSize, first.RasterXSize), window, bbox)
    dates, means, counts = [], [], []
    for scene, path in found:
        ds = gdal.Open(str(path))
        if (ds.RasterYSize, ds.RasterXSize) != (first.RasterYSize, first.RasterXSize):
            raise InputError(f"{path}: grid differs from {found[0][1]}")
        amp = ds.GetRasterBand(1).ReadAsArray(cs.start, rs.start, cs.stop - cs.start, rs.stop - rs.start)
        amp = amp.astype(np.float64)
        ok = np.isfinite(amp) & (amp > 0)
        if mask is not None:
            ok &= mask
        dates.append(np.datetime64(scene.date[:10], "D"))
        counts.append(int(ok.sum()))
        means.append(float(np.mean(20.0 * np.log10(amp[ok]))) if ok.any() else np.nan)
    return np.array(dates, dtype="datetime64[D]"), np.array(means), np.array(counts)
