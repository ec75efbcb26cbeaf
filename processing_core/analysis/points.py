"""A point's time series from a stack's ``timeseries/*.tif`` at a longitude/latitude.

The time series live on a sub-grid of the final master's radar grid (metadata ``ROW0``,
``COL0``, ``STEP_PX``, :class:`processing_core.radar_grids.SubGrid`). A ground point is placed
in that grid by geo2rdr on the final master: the refined sidecar
``geometry/refined/<final>.json`` written by the rectification (timing matched to the DEM, the
geometry the rectified scenes and their offsets live in) when it exists, else the final
master's own sidecar. The point's ellipsoidal height comes, in this order, from the caller, from
a DEM given by the caller, from ``geometry/ground_lut.tif`` (the final master's radar -> ground
table: the height of the master pixel whose ground point is nearest), or from the DEM recorded
in ``rectified/parameters.json``.

* ``radius_m = 0``: the node nearest to the point; std = the SBAS propagated std
  (``timeseries/<component>_std.tif``) at that node when the file exists.
* ``radius_m > 0``: the mean of every node whose ground point lies within ``radius_m``
  (horizontal distance) of the point, per date over the nodes valid that date; std = the sample
  standard deviation of those node values (the spatial spread, not the std of the mean).
  Node ground points come from ``ground_lut.tif`` when it exists, else from rdr2geo at the
  point's height.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from osgeo import gdal

from processing_core.analysis.series import COMPONENTS, PointSeries, to_dates
from processing_core.dem import read_dem
from processing_core.ellipsoid import enu_basis, geodetic_to_ecef
from processing_core.errors import InputError
from processing_core.geometry import RadarGeometry
from processing_core.pointsio import read_points
from processing_core.radar_grids import SubGrid
from processing_core.scene import read_scene
from processing_core.stack import Stack, load_stack

gdal.UseExceptions()

_MAX_LUT_DISTANCE_M = 100.0
"""A ground-lookup pixel farther than this from the point means the master does not see it."""


@dataclass(frozen=True)
class PointLocation:
    """A ground point placed in the final master's radar grid."""

    lon_deg: float
    """Longitude, deg."""
    lat_deg: float
    """Latitude, deg."""
    height_m: float
    """Ellipsoidal height used for geo2rdr, m."""
    height_source: str
    """Where the height comes from (caller, DEM path, ground_lut.tif)."""
    line: float
    """Fractional line in the final master's grid."""
    sample: float
    """Fractional sample in the final master's grid."""
    geometry_source: str
    """Sidecar used for geo2rdr (the refined final master when present)."""


def final_master_geometry(stack: Stack) -> tuple[RadarGeometry, str]:
    """The final master's geometry: refined sidecar of the rectification if present, else its own.

    Raises
    ------
    InputError
        When ``stack.json`` names no final master.
    """
    final = str(stack.masters.get("final") or "")
    if not final:
        raise InputError(f"{stack.path}: no final master; run the masters/rectify step first")
    refined = stack.root / "geometry" / "refined" / f"{final}.json"
    if refined.exists():
        return RadarGeometry(read_scene(refined)), str(refined)
    entry = next((s for s in stack.scenes if s.id == final), None)
    if entry is None:
        raise InputError(f"{stack.path}: final master '{final}' is not among the scenes")
    return RadarGeometry(stack.scene(final)), str(stack.root / entry.sidecar)


def _bands(ds: gdal.Dataset) -> dict[str, int]:
    return {ds.GetRasterBand(k).GetDescription(): k for k in range(1, ds.RasterCount + 1)}


def _open(path: Path, what: str) -> gdal.Dataset:
    try:
        return gdal.Open(str(path))
    except RuntimeError as exc:
        raise InputError(f"{path}: cannot read the {what} ({str(exc).strip()})") from None


class _GroundLut:
    """``geometry/ground_lut.tif``: lat, lon, height of every final-master pixel."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ds = _open(path, "ground lookup table")
        bands = _bands(self.ds)
        missing = [b for b in ("lat_deg", "lon_deg", "height_m") if b not in bands]
        if missing:
            raise InputError(f"{path}: no band(s) {', '.join(missing)} (not a ground_lut.tif?)")
        self.index = bands
        self.shape = (self.ds.RasterYSize, self.ds.RasterXSize)

    def read(self, name: str, line0: int, line1: int, sample0: int, sample1: int) -> np.ndarray:
        band = self.ds.GetRasterBand(self.index[name])
        return band.ReadAsArray(sample0, line0, sample1 - sample0, line1 - line0).astype(np.float64)

    def height_range(self) -> tuple[float, float]:
        band = self.ds.GetRasterBand(self.index["height_m"])
        ys, xs = self.shape
        coarse = band.ReadAsArray(buf_xsize=min(xs, 256), buf_ysize=min(ys, 256)).astype(np.float64)
        if not np.isfinite(coarse).any():
            raise InputError(f"{self.path}: holds no height")
        return float(np.nanmin(coarse)), float(np.nanmax(coarse))

    def height_at(self, geometry: RadarGeometry, lat: float, lon: float) -> float:
        """Height of the master pixel whose ground point is nearest to (lat, lon)."""
        h_lo, h_hi = self.height_range()
        rc = geometry.geo2rdr(np.array([lat]), np.array([lon]), np.array([0.5 * (h_lo + h_hi)]))
        line, sample = float(rc.line[0]), float(rc.sample[0])
        if not np.isfinite(line):
            raise InputError(f"lon {lon}, lat {lat}: outside the final master's orbit span")
        # A height error dh moves the point by at most dh / slant-range spacing samples.
        margin = int(np.ceil((h_hi - h_lo) / geometry.grid.slant_range_spacing_m)) + 16
        lines, samples = self.shape
        l0, l1 = max(int(line) - 16, 0), min(int(line) + 17, lines)
        s0, s1 = max(int(sample) - margin, 0), min(int(sample) + margin + 1, samples)
        if l0 >= l1 or s0 >= s1:
            raise InputError(
                f"lon {lon}, lat {lat}: outside the final master's grid (line {line:.0f}, sample {sample:.0f})"
            )
        la = self.read("lat_deg", l0, l1, s0, s1)
        lo = self.read("lon_deg", l0, l1, s0, s1)
        h = self.read("height_m", l0, l1, s0, s1)
        dist = np.hypot((la - lat) * 110_540.0, (lo - lon) * 111_320.0 * np.cos(np.radians(lat)))
        dist[~np.isfinite(dist) | ~np.isfinite(h)] = np.inf
        k = int(np.argmin(dist))
        if not dist.flat[k] <= _MAX_LUT_DISTANCE_M:
            raise InputError(
                f"{self.path}: no master pixel sees lon {lon}, lat {lat} (nearest ground point "
                f"{dist.flat[k]:.0f} m away: outside the scene, or in radar shadow or layover)"
            )
        return float(h.flat[k])


def locate_point(
    stack_root: str | os.PathLike[str],
    lon_deg: float,
    lat_deg: float,
    *,
    height_m: float | None = None,
    dem: str | os.PathLike[str] | None = None,
    dem_vertical: str = "egm96",
) -> PointLocation:
    """Place a ground point in the final master's radar grid (see the module notes for the height).

    Raises
    ------
    InputError
        No final master, no source of height, the point off the DEM or unseen by the master.
    """
    stack = load_stack(stack_root)
    geometry, geometry_source = final_master_geometry(stack)
    if not (-180.0 <= lon_deg <= 360.0 and -90.0 <= lat_deg <= 90.0):
        raise InputError(f"lon {lon_deg}, lat {lat_deg}: not a longitude/latitude in degrees")
    lut_path = stack.root / "geometry" / "ground_lut.tif"
    recorded = _recorded_dem(stack)
    if height_m is not None:
        h, source = float(height_m), "given"
    elif dem is not None or (not lut_path.exists() and recorded is not None):
        path = Path(dem) if dem is not None else recorded
        assert path is not None
        grid = read_dem(path, vertical=dem_vertical)
        h = float(grid.sample(np.array(lat_deg), np.array(lon_deg)))
        if not np.isfinite(h):
            raise InputError(f"{path}: lon {lon_deg}, lat {lat_deg} is outside the DEM or on a void")
        source = str(path)
    elif lut_path.exists():
        h, source = _GroundLut(lut_path).height_at(geometry, lat_deg, lon_deg), str(lut_path)
    else:
        raise InputError(
            f"{stack.root}: no height for the point (no geometry/ground_lut.tif, no DEM recorded); "
            "give --dem DEM.tif or --height-m"
        )
    rc = geometry.geo2rdr(np.array([lat_deg]), np.array([lon_deg]), np.array([h]))
    if not np.isfinite(rc.line[0]):
        raise InputError(f"lon {lon_deg}, lat {lat_deg}: outside the final master's orbit span")
    return PointLocation(
        float(lon_deg), float(lat_deg), h, source, float(rc.line[0]), float(rc.sample[0]), geometry_source
    )


def _recorded_dem(stack: Stack) -> Path | None:
    path = stack.root / "rectified" / "parameters.json"
    if not path.exists():
        return None
    try:
        dem = json.loads(path.read_text(encoding="utf-8")).get("dem")
    except (json.JSONDecodeError, AttributeError):
        return None
    return Path(dem) if dem and Path(dem).exists() else None


class TimeSeriesRasters:
    """``STACK/timeseries/{los,azimuth}[_std].tif``: dates, grid and windows of nodes."""

    def __init__(self, stack_root: str | os.PathLike[str]) -> None:
        folder = Path(stack_root) / "timeseries"
        self.datasets: dict[str, gdal.Dataset] = {}
        for comp in COMPONENTS:
            for suffix in ("", "_std"):
                path = folder / f"{comp}{suffix}.tif"
                if path.exists():
                    self.datasets[comp + suffix] = _open(path, "time series")
        for comp in COMPONENTS:
            if comp not in self.datasets:
                raise InputError(f"{folder / (comp + '.tif')}: not found; run the invert step first")
        first = self.datasets["los"]
        self.path = folder / "los.tif"
        self.grid = SubGrid.from_metadata(
            first.GetMetadata() or {}, (first.RasterYSize, first.RasterXSize), where=str(self.path)
        )
        self.dates = to_dates([_band_date(first, k, self.path) for k in range(1, first.RasterCount + 1)])
        for key, ds in self.datasets.items():
            where = folder / f"{key}.tif"
            grid = SubGrid.from_metadata(
                ds.GetMetadata() or {}, (ds.RasterYSize, ds.RasterXSize), where=str(where)
            )
            if grid != self.grid or ds.RasterCount != len(self.dates):
                raise InputError(f"{where}: grid or dates differ from {self.path}")

    def read(self, key: str, r0: int, r1: int, c0: int, c1: int) -> np.ndarray | None:
        """Values (dates, rows, cols) of nodes [r0, r1) x [c0, c1), NaN nodata; ``None`` if absent."""
        ds = self.datasets.get(key)
        if ds is None:
            return None
        a = ds.ReadAsArray(c0, r0, c1 - c0, r1 - r0).astype(np.float64)
        a = a.reshape(ds.RasterCount, r1 - r0, c1 - c0)
        for k in range(ds.RasterCount):
            nodata = ds.GetRasterBand(k + 1).GetNoDataValue()
            if nodata is not None and np.isfinite(nodata):
                a[k][a[k] == nodata] = np.nan
        return a


def _band_date(ds: gdal.Dataset, k: int, path: Path) -> str:
    band = ds.GetRasterBand(k)
    date = band.GetMetadataItem("DATE")
    if date:
        return date
    text = band.GetDescription()
    if len(text) == 9 and text[0] == "D" and text[1:].isdigit():
        return f"{text[1:5]}-{text[5:7]}-{text[7:9]}"
    raise InputError(f"{path}: band {k} has neither DATE metadata nor a DYYYYMMDD description")


def _node_ground_xyz(
    geometry: RadarGeometry, grid: SubGrid, rows: np.ndarray, cols: np.ndarray, height_m: float, lut: Path
) -> np.ndarray:
    """ECEF ground points of nodes (rows, cols): ground_lut.tif when present, else rdr2geo."""
    lines, samples = np.meshgrid(grid.lines(rows), grid.samples(cols), indexing="ij")
    if lut.exists():
        table = _GroundLut(lut)
        n_l, n_s = table.shape
        li = np.clip(np.rint(lines).astype(int), 0, n_l - 1)
        si = np.clip(np.rint(samples).astype(int), 0, n_s - 1)
        l0, l1, s0, s1 = int(li.min()), int(li.max()) + 1, int(si.min()), int(si.max()) + 1
        lat = table.read("lat_deg", l0, l1, s0, s1)[li - l0, si - s0]
        lon = table.read("lon_deg", l0, l1, s0, s1)[li - l0, si - s0]
        h = table.read("height_m", l0, l1, s0, s1)[li - l0, si - s0]
        return geodetic_to_ecef(lat, lon, h)
    t = geometry.time_of_line(lines)
    r = geometry.grid.range_of_sample(samples)
    return geometry.rdr2geo(t, r, np.full(lines.shape, height_m))[2]


def extract_point_series(
    stack_root: str | os.PathLike[str],
    lon_deg: float,
    lat_deg: float,
    *,
    radius_m: float = 0.0,
    name: str = "",
    height_m: float | None = None,
    dem: str | os.PathLike[str] | None = None,
    dem_vertical: str = "egm96",
) -> PointSeries:
    """LOS and azimuth series at a ground point (nearest node, or mean within ``radius_m``).

    Parameters
    ----------
    stack_root
        Stack folder with ``timeseries/los.tif`` and ``azimuth.tif``.
    lon_deg, lat_deg
        The point, WGS84 degrees.
    radius_m
        0 for the nearest node; > 0 for the mean over the nodes within this horizontal ground
        distance, m.
    name
        Name carried by the series (points files).
    height_m, dem, dem_vertical
        Height of the point: given, or sampled from a DEM (``egm96`` or ``ellipsoid`` heights);
        default from the stack (module notes).

    Raises
    ------
    InputError
        Missing rasters, the point outside the grid, no node within the radius, bad radius.
    """
    if not np.isfinite(radius_m) or radius_m < 0:
        raise InputError(f"radius must be >= 0 m, got {radius_m}")
    rasters = TimeSeriesRasters(stack_root)
    where = locate_point(stack_root, lon_deg, lat_deg, height_m=height_m, dem=dem, dem_vertical=dem_vertical)
    grid = rasters.grid
    r, c = grid.node_of(where.line, where.sample)
    r, c = float(r), float(c)
    if not (-0.5 <= r <= grid.rows - 0.5 and -0.5 <= c <= grid.cols - 0.5):
        raise InputError(
            f"lon {lon_deg}, lat {lat_deg} (master line {where.line:.1f}, sample {where.sample:.1f}) is "
            f"outside the time-series grid of {rasters.path} ({grid.rows} x {grid.cols} nodes)"
        )
    info = {
        "lon_deg": where.lon_deg,
        "lat_deg": where.lat_deg,
        "height_m": where.height_m,
        "height_source": where.height_source,
        "line": where.line,
        "sample": where.sample,
        "geometry": where.geometry_source,
        "radius_m": float(radius_m),
    }
    ri = int(np.clip(np.rint(r), 0, grid.rows - 1))
    ci = int(np.clip(np.rint(c), 0, grid.cols - 1))
    if radius_m == 0:
        values = {
            k: rasters.read(k, ri, ri + 1, ci, ci + 1) for k in ("los", "azimuth", "los_std", "azimuth_std")
        }
        info.update(node_row=ri, node_col=ci, n_nodes=1)
        std = {k: (None if v is None else v[:, 0, 0]) for k, v in values.items()}
        return PointSeries(
            rasters.dates,
            values["los"][:, 0, 0],  # type: ignore[index]
            values["azimuth"][:, 0, 0],  # type: ignore[index]
            std["los_std"],
            std["azimuth_std"],
            name=name,
            info=info,
        )
    geometry, _ = final_master_geometry(load_stack(stack_root))
    # Nodes within the radius: a window wide enough for the smallest ground size of a node.
    lut = Path(stack_root) / "geometry" / "ground_lut.tif"
    probe = _node_ground_xyz(
        geometry,
        grid,
        np.array([ri, min(ri + 1, grid.rows - 1)]),
        np.array([ci, min(ci + 1, grid.cols - 1)]),
        where.height_m,
        lut,
    )
    spacing = min(
        float(np.linalg.norm(probe[1, 0] - probe[0, 0])) or np.inf,
        float(np.linalg.norm(probe[0, 1] - probe[0, 0])) or np.inf,
    )
    half = int(np.ceil(radius_m / spacing)) + 2 if np.isfinite(spacing) else 2
    r0, r1 = max(ri - half, 0), min(ri + half + 1, grid.rows)
    c0, c1 = max(ci - half, 0), min(ci + half + 1, grid.cols)
    xyz = _node_ground_xyz(geometry, grid, np.arange(r0, r1), np.arange(c0, c1), where.height_m, lut)
    east, north, _ = enu_basis(lat_deg, lon_deg)
    d = xyz - geodetic_to_ecef(lat_deg, lon_deg, where.height_m)
    inside = np.hypot(d @ east, d @ north) <= radius_m
    if not inside.any():
        raise InputError(
            f"no time-series node within {radius_m:g} m of lon {lon_deg}, lat {lat_deg} "
            f"(nodes are ~{spacing:.0f} m apart); use a larger radius or 0 for the nearest node"
        )
    info.update(n_nodes=int(inside.sum()), node_row=ri, node_col=ci)
    out: dict[str, np.ndarray] = {}
    for comp in COMPONENTS:
        block = rasters.read(comp, r0, r1, c0, c1)[:, inside]  # type: ignore[index]
        count = np.isfinite(block).sum(axis=1)
        total = np.nansum(block, axis=1)
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        dev = np.where(np.isfinite(block), block - mean[:, None], 0.0)
        var = (dev**2).sum(axis=1) / np.maximum(count - 1, 1)
        out[comp] = mean
        out[comp + "_std"] = np.where(count > 1, np.sqrt(var), np.where(count == 1, 0.0, np.nan))
    return PointSeries(
        rasters.dates, out["los"], out["azimuth"], out["los_std"], out["azimuth_std"], name=name, info=info
    )


def read_points_table(path: str | os.PathLike[str]) -> list[tuple[str, float, float]]:
    """(name, lon, lat) of a points CSV with columns ``name,lon,lat`` (``name`` optional: P1, P2, ...).

    Raises
    ------
    InputError
        Naming the file and the missing column or bad value (via :func:`pointsio.read_points`).
    """
    rows, header, values = read_points(path, ("lon", "lat"))
    if not rows:
        raise InputError(f"{path}: no points")
    names = (
        [r.get("name") or f"P{i + 1}" for i, r in enumerate(rows)]
        if "name" in header
        else [f"P{i + 1}" for i in range(len(rows))]
    )
    if len(set(names)) != len(names):
        raise InputError(f"{path}: point names must be unique")
    return [(n, float(lo), float(la)) for n, lo, la in zip(names, values["lon"], values["lat"])]
