"""Lookup tables between a DEM and a scene's radar grid, and DEM-derived radar products.

* :func:`dem_to_radar`: line and sample of every DEM cell (geo2rdr), local and ellipsoid
  incidence angles, true surface area, and a layover / shadow classification (computed in
  strips by :mod:`processing_core.lookup_dem`, re-exported here).
* :func:`simulate_intensity`: a DEM-simulated amplitude image in radar geometry
  (Lambertian cos^2 of the local incidence, areas of every DEM facet accumulated into
  the pixel they fall in, so layover adds up and shadow stays dark).
* :func:`radar_to_ground`: latitude, longitude and height of every radar pixel
  (rdr2geo intersected with the DEM).

These are the paper's step i products (Liu et al. 2020, GRL, doi:10.1029/2019GL086142).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj

from processing_core.dem import Dem, _upsample, bilinear, read_dem, require_coverage
from processing_core.ellipsoid import ellipsoid_normal
from processing_core.geometry import RadarGeometry
from processing_core.lookup_dem import LAYOVER, SHADOW, DemLookup, dem_to_radar
from processing_core.lookup_tiles import FacetSplat, write_ground_tiles, write_intensity_tiles
from processing_core.progress import ProgressCallback, report, scaled
from processing_core.rasters import write_geotiff
from processing_core.scene import read_scene

__all__ = [
    "LAYOVER",
    "SHADOW",
    "DemLookup",
    "GroundLookup",
    "dem_to_radar",
    "radar_to_ground",
    "scene_dem",
    "scene_footprint",
    "simulate_intensity",
    "write_lookup_tables",
]


def simulate_intensity(
    lookup: DemLookup,
    lines: int,
    samples: int,
    *,
    max_oversample: int = 16,
    progress: ProgressCallback | None = None,
) -> np.ndarray:
    """DEM-simulated radar intensity in radar geometry, shape (lines, samples), float32.

    Each DEM facet scatters ``cos^2(local incidence) * area`` (Lambert's law; zero when
    facing away or in shadow) into the pixel it maps to. Facets are subdivided
    (bilinear positions) until each piece covers under half a pixel, so coarse DEMs
    leave no holes. The result is normalised to a median of 1 over lit pixels.
    """
    splat = FacetSplat.from_grid(
        lookup.line, lookup.sample, _facet_weight(lookup), max_oversample=max_oversample
    )
    image = splat.accumulate((0, lines, 0, samples), progress=progress)
    lit = image[image > 0]
    if lit.size:
        image /= np.median(lit)
    report(progress, 1.0, "simulated intensity done")
    return image.astype(np.float32)


def _facet_weight(lookup: DemLookup) -> np.ndarray:
    """Scattered power of each DEM cell, ``cos^2(local incidence) * area`` (m^2), DEM shape."""
    sigma = np.cos(np.radians(lookup.local_incidence_deg)) ** 2
    sigma[lookup.local_incidence_deg >= 90.0] = 0.0
    sigma[(lookup.mask & SHADOW) > 0] = 0.0
    return np.nan_to_num(sigma * lookup.area_m2)


@dataclass(frozen=True)
class GroundLookup:
    """Radar -> ground lookup table; arrays of shape (lines, samples), NaN off the DEM."""

    lat_deg: np.ndarray
    """Geodetic latitude of each radar pixel's ground point, deg."""
    lon_deg: np.ndarray
    """Longitude, deg."""
    height_m: np.ndarray
    """Ellipsoidal height, m."""
    layover: np.ndarray
    """True where the pixel sees more than one DEM surface point (the highest is returned)."""


def radar_to_ground(
    geometry: RadarGeometry,
    dem: Dem,
    *,
    coarse_step: int = 8,
    height_steps: int = 32,
    block_lines: int = 32,
    window: tuple[int, int, int, int] | None = None,
    progress: ProgressCallback | None = None,
) -> GroundLookup:
    """Intersect every radar pixel's range-Doppler curve with the DEM.

    For each pixel the ground point P(h) on its range-Doppler curve is known exactly
    (rdr2geo) at four heights spanning the DEM; between them it is a cubic in h
    (error ~1e-4 m over 2 km of relief), solved on every ``coarse_step``-th pixel
    and interpolated (the curve varies smoothly across pixels). The DEM height along
    the curve is scanned over ``height_steps`` heights, the highest crossing
    bracketed, then refined by bisection to 1 mm. ``window`` = (line0, line1, sample0,
    sample1) restricts the work (and the output arrays) to lines [line0, line1) and
    samples [sample0, sample1).
    """
    grid = geometry.grid
    h_lo = float(np.nanmin(dem.heights_m)) - 20.0
    h_hi = float(np.nanmax(dem.heights_m)) + 20.0
    nodes = 0.5 * (h_lo + h_hi) + 0.5 * (h_hi - h_lo) * np.cos(np.pi * (np.arange(4) + 0.5) / 4)
    line0, line1, sample0, sample1 = window if window is not None else (0, grid.lines, 0, grid.samples)
    n_lines, n_samples = line1 - line0, sample1 - sample0
    c_lines = line0 + np.arange(0, n_lines + coarse_step - 1, coarse_step, dtype=np.float64)
    c_samples = sample0 + np.arange(0, n_samples + coarse_step - 1, coarse_step, dtype=np.float64)
    cl, cs = np.meshgrid(c_lines, c_samples, indexing="ij")
    t = geometry.time_of_line(cl)
    r = grid.range_of_sample(cs)
    to_map = pyproj.Transformer.from_crs("EPSG:4326", dem.crs, always_xy=True)
    x0, dx, _, y0, _, dy = dem.geotransform
    node_col = []
    node_row = []
    for h in nodes:
        lat, lon, _ = geometry.rdr2geo(t, r, np.full(t.shape, h))
        x, y = to_map.transform(lon, lat)
        node_col.append((np.asarray(x) - x0) / dx - 0.5)
        node_row.append((np.asarray(y) - y0) / dy - 0.5)
    report(progress, 0.1, "radar->ground: curves solved on the coarse grid")
    lat_out = np.full((n_lines, n_samples), np.nan)
    lon_out = np.full_like(lat_out, np.nan)
    h_out = np.full_like(lat_out, np.nan)
    layover = np.zeros(lat_out.shape, dtype=bool)
    # One Transformer per block thread: a PROJ object is not to be used by two threads at once.
    per_thread = threading.local()
    scan = np.linspace(h_hi, h_lo, height_steps)

    def solve_block(start: int) -> None:
        stop = min(start + block_lines, n_lines)
        rows, cols = np.meshgrid(
            np.arange(start, stop, dtype=np.float64) / coarse_step,
            np.arange(n_samples, dtype=np.float64) / coarse_step,
            indexing="ij",
        )
        n_row = [_upsample(a, rows, cols).ravel() for a in node_row]
        n_col = [_upsample(a, rows, cols).ravel() for a in node_col]
        n = rows.size

        def phi(h: np.ndarray, idx: np.ndarray | slice) -> np.ndarray:
            """DEM height minus h along the pixels' curves at heights h."""
            rr, cc = _curve_at(nodes, n_row, n_col, h, idx)
            return bilinear(dem.heights_m, rr, cc) - h

        # Scan from above: phi < 0 above the terrain; the first change of sign is the highest crossing.
        everything = slice(None)
        prev_f = phi(np.float64(scan[0]), everything)  # scalar heights: scalar weights
        lo = np.full(n, np.nan)
        crossings = np.zeros(n, dtype=np.int16)
        for h in scan[1:]:
            f = phi(np.float64(h), everything)
            cross = (prev_f < 0) & (f >= 0)
            crossings += cross
            lo[cross & np.isnan(lo)] = h
            prev_f = f
        idx = np.flatnonzero(np.isfinite(lo))
        a = lo[idx]
        b = a + (scan[0] - scan[1])
        for _ in range(int(np.ceil(np.log2((scan[0] - scan[1]) / 1e-3)))):
            mid = 0.5 * (a + b)
            below = phi(mid, idx) >= 0  # terrain above mid: the crossing is higher
            a = np.where(below, mid, a)
            b = np.where(below, b, mid)
        h_root = 0.5 * (a + b)
        rr, cc = _curve_at(nodes, n_row, n_col, h_root, idx)
        if not hasattr(per_thread, "to_lonlat"):
            per_thread.to_lonlat = pyproj.Transformer.from_crs(dem.crs, "EPSG:4326", always_xy=True)
        lon_b, lat_b = per_thread.to_lonlat.transform(x0 + (cc + 0.5) * dx, y0 + (rr + 0.5) * dy)
        block = (slice(start, stop), slice(None))
        for out, values in ((lat_out, lat_b), (lon_out, lon_b), (h_out, h_root)):
            flat = np.full(n, np.nan)
            flat[idx] = values
            out[block] = flat.reshape(rows.shape)
        layover[block] = (crossings > 1).reshape(rows.shape)

    starts = list(range(0, n_lines, block_lines))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for done, _ in enumerate(pool.map(solve_block, starts), start=1):
            report(progress, 0.1 + 0.9 * done / len(starts), "radar->ground")
    return GroundLookup(lat_out, lon_out, h_out, layover)


def _curve_at(
    nodes: np.ndarray,
    n_row: list[np.ndarray],
    n_col: list[np.ndarray],
    h: np.ndarray,
    idx: np.ndarray | slice,
) -> tuple[np.ndarray, np.ndarray]:
    """DEM (row, col) of the pixels ``idx`` on their range-Doppler curves at heights ``h``."""
    weights = _lagrange_weights(nodes, h)
    rr = sum(w * a[idx] for w, a in zip(weights, n_row))
    cc = sum(w * a[idx] for w, a in zip(weights, n_col))
    return rr, cc  # type: ignore[return-value]


def _lagrange_weights(nodes: np.ndarray, h: np.ndarray) -> list[np.ndarray]:
    """Lagrange basis weights of ``nodes`` at heights ``h``."""
    weights = []
    for j, hj in enumerate(nodes):
        w = np.ones_like(h, dtype=np.float64) if np.ndim(h) else 1.0
        for m, hm in enumerate(nodes):
            if m != j:
                w = w * (h - hm) / (hj - hm)
        weights.append(w)
    return weights


def _box_border(y0: float, y1: float, x0: float, x1: float, per_edge: int) -> tuple[np.ndarray, np.ndarray]:
    """(y, x) of ``per_edge`` points along each side of the box [y0, y1] x [x0, x1]."""
    edge = np.linspace(0.0, 1.0, per_edge)
    y_ramp, x_ramp = y0 + (y1 - y0) * edge, x0 + (x1 - x0) * edge
    y = np.concatenate([y_ramp, np.full(per_edge, y1), y_ramp, np.full(per_edge, y0)])
    x = np.concatenate([np.full(per_edge, x0), x_ramp, np.full(per_edge, x1), x_ramp])
    return y, x


def _border(geometry: RadarGeometry, per_edge: int) -> tuple[np.ndarray, np.ndarray]:
    """Lines and samples of points along the border of the radar grid, ``per_edge`` per side."""
    g = geometry.grid
    return _box_border(0.0, g.lines - 1.0, 0.0, g.samples - 1.0, per_edge)


def scene_footprint(
    geometry: RadarGeometry, height_m: float, *, per_edge: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude of points along the border of the radar grid at one height."""
    lines, samples = _border(geometry, per_edge)
    lat, lon, _ = geometry.rdr2geo(
        geometry.time_of_line(lines), geometry.grid.range_of_sample(samples), np.full(lines.shape, height_m)
    )
    return lat, lon


def scene_dem(dem: Dem, geometry: RadarGeometry, *, pad_cells: int = 2, per_edge: int = 16) -> Dem:
    """The part of ``dem`` that a scene's lookup tables depend on, on the DEM's own grid.

    A cell at height h can fall in the radar grid only inside the grid's footprint at h, and the
    footprint slides in range as h changes: the footprints at the DEM's lowest and highest
    heights bound every cell that can. Layover needs no other cell; a shadow can be cast from
    at most relief x tan(incidence) away (relief: highest minus lowest height, incidence the
    largest on the footprints), so the bounding box of both footprints grows by that distance on
    every side, then by ``pad_cells`` cells (the border is sampled at ``per_edge`` points a side).

    Returns ``dem`` itself when it has no valid height, else :meth:`Dem.crop` of it (clipped to the
    DEM): a DEM tile much larger than the scene then costs only the scene's cells.
    """
    finite = dem.heights_m[np.isfinite(dem.heights_m)]
    if finite.size == 0:
        return dem
    low, high = float(finite.min()), float(finite.max())
    lines, samples = _border(geometry, per_edge)
    t, r = geometry.time_of_line(lines), geometry.grid.range_of_sample(samples)
    sat = geometry.orbit.interpolate(t).position_m
    lats, lons, tan_incidence = [], [], 0.0
    for h in (low, high):
        lat, lon, xyz = geometry.rdr2geo(t, r, np.full(lines.shape, h))
        look = sat - xyz
        cos_i = np.sum(look * ellipsoid_normal(lat, lon), axis=-1) / np.linalg.norm(look, axis=-1)
        cos_i = np.clip(cos_i[np.isfinite(cos_i)], 1e-3, 1.0)
        tan_incidence = max(tan_incidence, float(np.max(np.sqrt(1.0 - cos_i**2) / cos_i, initial=0.0)))
        lats.append(lat)
        lons.append(lon)
    lat, lon = np.concatenate(lats), np.concatenate(lons)
    ok = np.isfinite(lat) & np.isfinite(lon)
    if not ok.any():
        return dem
    margin_m = (high - low) * tan_incidence
    # Degrees of at least margin_m on the ground (a degree of latitude is 110.57-111.69 km).
    dlat = margin_m / 110_000.0
    dlon = margin_m / (110_000.0 * max(np.cos(np.radians(float(np.max(np.abs(lat[ok]))) + dlat)), 1e-6))
    lat0, lat1 = float(lat[ok].min()) - dlat, float(lat[ok].max()) + dlat
    lon0, lon1 = float(lon[ok].min()) - dlon, float(lon[ok].max()) + dlon
    # The box's border in the DEM's grid (its edges are curves in a projected CRS).
    rows, cols = dem.index_of(*_box_border(lat0, lat1, lon0, lon1, per_edge))
    rows, cols = np.asarray(rows), np.asarray(cols)
    return dem.crop(
        int(np.floor(np.nanmin(rows))) - pad_cells,
        int(np.ceil(np.nanmax(rows))) + pad_cells + 1,
        int(np.floor(np.nanmin(cols))) - pad_cells,
        int(np.ceil(np.nanmax(cols))) + pad_cells + 1,
    )


def write_lookup_tables(
    scene_path: str | os.PathLike[str],
    dem_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    dem_vertical: str = "egm96",
    ground_lut: bool = True,
    memory_mb: float = 1024.0,
    progress: ProgressCallback | None = None,
) -> list[Path]:
    """Compute the step-i products of one scene over a DEM and write them as GeoTIFFs.

    Writes, in ``out_dir``: ``dem_lut.tif`` (DEM grid: line, sample, incidence,
    local incidence), ``layover_shadow.tif`` (DEM grid, uint8 bits 1 layover, 2 shadow,
    255 outside the scene), both on the DEM cells the scene depends on (:func:`scene_dem`: the
    DEM's grid, cropped), ``simulated_intensity.tif`` (radar grid) and, unless
    ``ground_lut`` is false, ``ground_lut.tif`` (radar grid: lat, lon, height, layover 0/1).

    The DEM and the DEM-grid products are held in memory; the radar-grid rasters are
    computed and written in 2-D tiles (:mod:`processing_core.lookup_tiles`) sized by
    ``memory_mb``, with the same values as :func:`simulate_intensity` and
    :func:`radar_to_ground` give on the whole grid.

    Parameters
    ----------
    scene_path, dem_path
        The scene's sidecar and the DEM (GeoTIFF).
    out_dir
        Folder of the products (created).
    dem_vertical
        Vertical datum of the DEM heights (see :func:`processing_core.dem.read_dem`).
    ground_lut
        Whether to write ``ground_lut.tif``.
    memory_mb
        Budget of the radar-grid tiles, MiB (> 0); memory for the DEM-grid arrays, which
        scale with the DEM and not with the scene, comes on top.
    progress
        Progress callback.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    ValueError
        When ``memory_mb`` is not positive.
    SceneFormatError, DemError
        For a bad sidecar, or a DEM that cannot be read or does not cover the scene.
    """
    if not (isinstance(memory_mb, (int, float)) and memory_mb > 0 and np.isfinite(memory_mb)):
        raise ValueError(f"memory_mb must be a positive number of MiB, got {memory_mb!r}")
    scene = read_scene(scene_path)
    geometry = RadarGeometry(scene)
    dem = read_dem(dem_path, vertical=dem_vertical)
    lat, lon = scene_footprint(geometry, float(np.nanmedian(dem.heights_m)))
    require_coverage(dem, lat, lon, what=f"scene {scene.id} ({scene_path})")
    dem = scene_dem(dem, geometry)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    common = {"SCENE_ID": scene.id, "DEM": str(Path(dem_path).resolve()), "DEM_VERTICAL": dem_vertical}
    lut = dem_to_radar(geometry, dem, progress=scaled(progress, 0.0, 0.3))
    written = [
        write_geotiff(
            out / "dem_lut.tif",
            [lut.line, lut.sample, lut.incidence_deg, lut.local_incidence_deg],
            descriptions=["line_px", "sample_px", "incidence_deg", "local_incidence_deg"],
            geotransform=dem.geotransform,
            crs_wkt=dem.crs.to_wkt(),
            metadata=common,
            dtype=np.float64,
        )
    ]
    mask = lut.mask.copy()
    mask[~lut.inside] = 255
    written.append(
        write_geotiff(
            out / "layover_shadow.tif",
            [mask],
            descriptions=["layover_1_shadow_2"],
            nodata=255,
            dtype=np.uint8,
            geotransform=dem.geotransform,
            crs_wkt=dem.crs.to_wkt(),
            metadata=common,
        )
    )
    lines, samples = scene.radar_grid.lines, scene.radar_grid.samples
    splat = FacetSplat.from_grid(lut.line, lut.sample, _facet_weight(lut))
    del lut, mask  # the facets are all the intensity needs
    written.append(
        write_intensity_tiles(
            out / "simulated_intensity.tif",
            splat,
            lines,
            samples,
            memory_mb=memory_mb,
            metadata=common,
            progress=scaled(progress, 0.3, 0.45),
        )
    )
    del splat
    if ground_lut:
        written.append(
            write_ground_tiles(
                out / "ground_lut.tif",
                lines,
                samples,
                lambda window, step, block_lines: radar_to_ground(
                    geometry, dem, coarse_step=step, block_lines=block_lines, window=window
                ),
                memory_mb=memory_mb,
                metadata=common,
                progress=scaled(progress, 0.45, 1.0),
            )
        )
    report(progress, 1.0, "lookup tables written")
    return written
