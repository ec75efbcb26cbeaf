"""Digital elevation models: any GDAL raster in any CRS, heights made ellipsoidal.

SRTM and most global DEMs give heights above the EGM96 geoid; the Range-Doppler
equations need heights above the WGS84 ellipsoid. :func:`read_dem` adds the geoid
undulation N(lat, lon) from PROJ's ``egm96_15.gtx`` grid (Debian's proj-data) with
pyproj, or takes the heights as they are for ``vertical="ellipsoid"``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyproj
from osgeo import gdal

from processing_core.errors import DemError

gdal.UseExceptions()

VERTICAL_DATUMS = ("egm96", "ellipsoid")


@dataclass
class Dem:
    """A north-up DEM grid with ellipsoidal heights (cell-centre values)."""

    path: Path
    """Source file."""
    heights_m: np.ndarray
    """Ellipsoidal heights, m, shape (rows, cols); NaN where the source had no data."""
    geotransform: tuple[float, float, float, float, float, float]
    """GDAL geotransform of the grid (x0, dx, 0, y0, 0, dy), cell corners."""
    crs: pyproj.CRS
    """Horizontal CRS of the grid."""
    vertical: str
    """Vertical datum of the source heights (``egm96`` or ``ellipsoid``)."""
    _lonlat: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return self.heights_m.shape  # type: ignore[return-value]

    def xy(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map coordinates of (fractional) cell indices, cell centres at integers."""
        x0, dx, _, y0, _, dy = self.geotransform
        return x0 + (np.asarray(cols) + 0.5) * dx, y0 + (np.asarray(rows) + 0.5) * dy

    def lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude (deg) of every cell centre, each of shape (rows, cols)."""
        if self._lonlat is None:
            rows, cols = np.indices(self.shape, dtype=np.float64)
            x, y = self.xy(rows, cols)
            self._lonlat = _to_lonlat(self.crs).transform(x, y)
        return self._lonlat

    def sample(self, lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
        """Bilinear ellipsoidal height at geodetic points; NaN outside the grid or in voids."""
        x, y = _from_lonlat(self.crs).transform(np.asarray(lon_deg), np.asarray(lat_deg))
        x0, dx, _, y0, _, dy = self.geotransform
        return bilinear(self.heights_m, (np.asarray(y) - y0) / dy - 0.5, (np.asarray(x) - x0) / dx - 0.5)

    def crop(self, row0: int, row1: int, col0: int, col1: int) -> Dem:
        """The sub-grid rows [row0, row1) and columns [col0, col1) (clipped to the grid)."""
        r0, r1 = max(row0, 0), min(row1, self.shape[0])
        c0, c1 = max(col0, 0), min(col1, self.shape[1])
        x0, dx, _, y0, _, dy = self.geotransform
        gt = (x0 + c0 * dx, dx, 0.0, y0 + r0 * dy, 0.0, dy)
        return Dem(self.path, self.heights_m[r0:r1, c0:c1].copy(), gt, self.crs, self.vertical)

    def index_of(self, lat_deg: float, lon_deg: float) -> tuple[float, float]:
        """Fractional (row, col) of a geodetic point (cell centres at integers)."""
        x, y = _from_lonlat(self.crs).transform(lon_deg, lat_deg)
        x0, dx, _, y0, _, dy = self.geotransform
        return (y - y0) / dy - 0.5, (x - x0) / dx - 0.5

    def bounds_lonlat(self) -> tuple[float, float, float, float]:
        """(lon_min, lat_min, lon_max, lat_max) of the cell centres."""
        lon, lat = self.lonlat()
        return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())


def bilinear(grid: np.ndarray, row: np.ndarray, col: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of ``grid`` at fractional (row, col); NaN outside."""
    row = np.asarray(row, dtype=np.float64)
    col = np.asarray(col, dtype=np.float64)
    n_rows, n_cols = grid.shape
    inside = (row >= 0) & (row <= n_rows - 1) & (col >= 0) & (col <= n_cols - 1)
    r = np.where(inside, row, 0.0)
    c = np.where(inside, col, 0.0)
    r0 = np.minimum(np.floor(r).astype(np.intp), max(n_rows - 2, 0))
    c0 = np.minimum(np.floor(c).astype(np.intp), max(n_cols - 2, 0))
    fr = r - r0
    fc = c - c0
    r1 = np.minimum(r0 + 1, n_rows - 1)
    c1 = np.minimum(c0 + 1, n_cols - 1)
    top = grid[r0, c0] * (1 - fc) + grid[r0, c1] * fc
    bottom = grid[r1, c0] * (1 - fc) + grid[r1, c1] * fc
    out = top * (1 - fr) + bottom * fr
    return np.where(inside, out, np.nan)


def _horizontal(crs: pyproj.CRS) -> pyproj.CRS:
    if crs.is_compound:
        return crs.sub_crs_list[0]
    return crs


def _to_lonlat(crs: pyproj.CRS) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def _from_lonlat(crs: pyproj.CRS) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def geoid_undulation_m(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    """EGM96 geoid height N (ellipsoidal height of the geoid), m, from PROJ's egm96_15.gtx.

    Raises
    ------
    DemError
        When PROJ cannot find the geoid grid (it would otherwise silently return N = 0).
    """
    transformer = pyproj.Transformer.from_crs("EPSG:4326+5773", "EPSG:4979", always_xy=True)
    lon = np.asarray(lon_deg, dtype=np.float64)
    lat = np.asarray(lat_deg, dtype=np.float64)
    _, _, h = transformer.transform(lon, lat, np.zeros_like(lon))
    h = np.asarray(h)
    if h.size and (not np.all(np.isfinite(h)) or np.all(h == 0.0)):
        raise DemError(
            "EGM96 geoid grid egm96_15.gtx not found by PROJ "
            f"(data dir {pyproj.datadir.get_data_dir()}); install Debian's proj-data"
        )
    return h


def read_dem(
    path: str | os.PathLike[str],
    *,
    vertical: str = "egm96",
    band: int = 1,
) -> Dem:
    """Read a DEM raster and return ellipsoidal heights.

    Parameters
    ----------
    path
        Any GDAL-readable raster with a CRS and a north-up geotransform.
    vertical
        ``"egm96"`` (heights above the geoid, as SRTM) or ``"ellipsoid"``.

    Raises
    ------
    DemError
        Naming the file: unreadable, no CRS, rotated grid, or no valid height.
    """
    if vertical not in VERTICAL_DATUMS:
        raise ValueError(f"vertical must be one of {VERTICAL_DATUMS}, got {vertical!r}")
    p = Path(path)
    try:
        ds = gdal.Open(str(p))
    except RuntimeError as exc:
        raise DemError(f"{p}: cannot open DEM ({str(exc).strip()})") from None
    wkt = ds.GetProjection()
    if not wkt:
        raise DemError(f"{p}: DEM has no coordinate reference system")
    gt = ds.GetGeoTransform()
    if gt[2] != 0 or gt[4] != 0 or gt[5] >= 0:
        raise DemError(f"{p}: DEM grid must be north-up without rotation, geotransform {gt}")
    rb = ds.GetRasterBand(band)
    try:
        heights = rb.ReadAsArray().astype(np.float64)
    except RuntimeError as exc:  # a truncated or corrupted file opens but fails on its blocks
        rb = ds = None  # the band before its dataset (GDAL crashes when a band outlives it)
        raise DemError(
            f"{p}: cannot read the DEM heights ({' '.join(str(exc).replace(f'{p}, ', '').split())})"
        ) from None
    nodata = rb.GetNoDataValue()
    if nodata is not None:
        heights[heights == nodata] = np.nan
    heights[(heights < -1000) | (heights > 9000)] = np.nan  # SRTM voids stored as -32767 etc.
    if not np.isfinite(heights).any():
        raise DemError(f"{p}: DEM holds no valid height")
    crs = _horizontal(pyproj.CRS.from_wkt(wkt))
    dem = Dem(p, heights, tuple(gt), crs, vertical)  # type: ignore[arg-type]
    if vertical == "egm96":
        # The geoid varies over tens of km: evaluating on a 1/8 subsample and interpolating is exact
        # to well below a millimetre and 60x cheaper. Coordinates of the subsample only, and the
        # interpolation in strips of rows: no whole-grid temporaries (a frame's DEM has 10^7 cells).
        n_rows, n_cols = dem.shape
        sub_r, sub_c = np.meshgrid(
            np.arange(0, n_rows, 8, dtype=np.float64),
            np.arange(0, n_cols, 8, dtype=np.float64),
            indexing="ij",
        )
        lon, lat = _to_lonlat(crs).transform(*dem.xy(sub_r, sub_c))
        n_sub = geoid_undulation_m(np.asarray(lat), np.asarray(lon))
        col_f = np.arange(n_cols, dtype=np.float64) / 8.0
        for r0 in range(0, n_rows, _GEOID_STRIP_ROWS):
            r1 = min(r0 + _GEOID_STRIP_ROWS, n_rows)
            rr, cc = np.meshgrid(np.arange(r0, r1, dtype=np.float64) / 8.0, col_f, indexing="ij")
            heights[r0:r1] += _upsample(n_sub, rr, cc)
    return dem


_GEOID_STRIP_ROWS = 256
"""Rows of DEM per strip of the geoid interpolation in :func:`read_dem`."""


def _upsample(coarse: np.ndarray, row: np.ndarray, col: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of a coarse grid, extrapolating linearly beyond its last node."""
    if coarse.shape[0] == 1 or coarse.shape[1] == 1:
        coarse = np.pad(coarse, ((0, coarse.shape[0] == 1), (0, coarse.shape[1] == 1)), mode="edge")
    n_r, n_c = coarse.shape
    r0 = np.clip(np.floor(row).astype(np.intp), 0, n_r - 2)
    c0 = np.clip(np.floor(col).astype(np.intp), 0, n_c - 2)
    fr = row - r0
    fc = col - c0
    top = coarse[r0, c0] * (1 - fc) + coarse[r0, c0 + 1] * fc
    bottom = coarse[r0 + 1, c0] * (1 - fc) + coarse[r0 + 1, c0 + 1] * fc
    return top * (1 - fr) + bottom * fr


def require_coverage(dem: Dem, lat_deg: np.ndarray, lon_deg: np.ndarray, *, what: str = "the scene") -> None:
    """Raise :class:`DemError` when points (e.g. the scene's footprint) fall outside the DEM."""
    h = dem.sample(np.asarray(lat_deg), np.asarray(lon_deg))
    missing = ~np.isfinite(h)
    if missing.any():
        lo0, la0, lo1, la1 = dem.bounds_lonlat()
        i = int(np.flatnonzero(missing.ravel())[0])
        raise DemError(
            f"{dem.path}: DEM (lon {lo0:.4f}..{lo1:.4f}, lat {la0:.4f}..{la1:.4f}) does not cover {what}: "
            f"{int(missing.sum())} of {missing.size} footprint points outside or on voids, e.g. "
            f"lon {np.ravel(lon_deg)[i]:.4f}, lat {np.ravel(lat_deg)[i]:.4f}"
        )
