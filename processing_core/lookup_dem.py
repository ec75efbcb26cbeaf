"""DEM -> radar lookup (:func:`dem_to_radar`) computed in strips, in memory of the order of its output.

Every product of a DEM cell but the layover / shadow classification depends on the cell and
its neighbours only, so it is computed on strips of DEM rows (one halo row either side for
the gradients of the surface) written into the preallocated outputs; the results equal those
of the same operations on the whole grid. geo2rdr runs on flat runs of cells aligned on the
chunks :meth:`processing_core.geometry.RadarGeometry.geo2rdr_ecef` solves together, so its
Newton iterations are those of a whole-grid call. The layover / shadow sweep keeps per cell
only its ground angle and off-nadir angle (besides the slant range, an output) and sweeps
groups of azimuth strips in turn, after one stable sort of the cells by strip.

Peak memory: about 100 bytes per DEM cell, of which the outputs are 57.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyproj

from processing_core.dem import Dem, _upsample
from processing_core.ellipsoid import ellipsoid_normal, geodetic_to_ecef
from processing_core.geometry import _CHUNK as _GEO2RDR_CHUNK
from processing_core.geometry import RadarGeometry
from processing_core.progress import ProgressCallback, report

LAYOVER = 1
"""Bit of the layover/shadow mask: the cell's echo overlaps that of other cells."""
SHADOW = 2
"""Bit of the layover/shadow mask: nearer terrain hides the cell from the radar."""

STRIP_CELLS = 262144
"""Most DEM cells of one strip (the working memory of a strip is about 400 bytes per cell)."""


@dataclass(frozen=True)
class DemLookup:
    """DEM -> radar lookup table; every array has the DEM's shape (rows, cols)."""

    line: np.ndarray
    """Fractional azimuth line of each DEM cell in the scene's grid (NaN: unsolved)."""
    sample: np.ndarray
    """Fractional range sample of each DEM cell."""
    azimuth_time_s: np.ndarray
    """Azimuth time, s since the orbit epoch."""
    slant_range_m: np.ndarray
    """Slant range, m."""
    incidence_deg: np.ndarray
    """Incidence angle on the ellipsoid (angle between ellipsoid normal and look vector), deg."""
    local_incidence_deg: np.ndarray
    """Angle between the DEM surface normal and the look vector, deg (> 90: facing away)."""
    area_m2: np.ndarray
    """True (slope) surface area of each DEM cell, m^2."""
    mask: np.ndarray
    """uint8 bit mask: :data:`LAYOVER`, :data:`SHADOW`."""

    @property
    def inside(self) -> np.ndarray:
        """True where the cell falls inside the radar grid (pixel centres +- 0.5)."""
        return np.isfinite(self.line) & np.isfinite(self.sample)


def dem_to_radar(
    geometry: RadarGeometry,
    dem: Dem,
    *,
    seed_step: int = 16,
    progress: ProgressCallback | None = None,
) -> DemLookup:
    """Solve geo2rdr for every DEM cell and derive incidence, area and layover/shadow.

    geo2rdr is first solved on every ``seed_step``-th cell; its azimuth times,
    interpolated, seed Newton on the full grid (two iterations then suffice).
    Cells outside the radar grid keep NaN line/sample.
    """
    n_rows, n_cols = dem.shape
    n = n_rows * n_cols
    to_lonlat = pyproj.Transformer.from_crs(dem.crs, "EPSG:4326", always_xy=True)

    def lonlat(rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x, y = dem.xy(rows, cols)
        lon, lat = to_lonlat.transform(x, y)
        return np.asarray(lon), np.asarray(lat)

    report(progress, 0.05, "seeding geo2rdr on a coarse grid")
    c_rows, c_cols = np.meshgrid(
        np.arange(0, n_rows, seed_step, dtype=np.float64),
        np.arange(0, n_cols, seed_step, dtype=np.float64),
        indexing="ij",
    )
    lon, lat = lonlat(c_rows, c_cols)
    coarse = geometry.geo2rdr_ecef(geodetic_to_ecef(lat, lon, dem.heights_m[::seed_step, ::seed_step]))
    seed_grid = _fill_nan(coarse.azimuth_time_s)
    del coarse, c_rows, c_cols, lon, lat

    out = {
        k: np.empty(dem.shape)
        for k in (
            "line",
            "sample",
            "azimuth_time_s",
            "slant_range_m",
            "incidence_deg",
            "local_incidence_deg",
            "area_m2",
        )
    }
    flat = {k: v.reshape(-1) for k, v in out.items()}
    heights = dem.heights_m.reshape(-1)
    # Flat runs of whole geo2rdr chunks: the same chunks, hence the same Newton steps, as on the whole grid.
    run = _GEO2RDR_CHUNK * int(np.clip(n // (32 * _GEO2RDR_CHUNK), 1, os.cpu_count() or 1))
    report(progress, 0.15, "geo2rdr on every DEM cell")
    for a in range(0, n, run):
        b = min(a + run, n)
        index = np.arange(a, b)
        rows, cols = (index // n_cols).astype(np.float64), (index % n_cols).astype(np.float64)
        lon, lat = lonlat(rows, cols)
        seed = _upsample(seed_grid, rows / seed_step, cols / seed_step)
        rc = geometry.geo2rdr_ecef(geodetic_to_ecef(lat, lon, heights[a:b]), t_init_s=seed)
        flat["line"][a:b] = rc.line
        flat["sample"][a:b] = rc.sample
        flat["azimuth_time_s"][a:b] = rc.azimuth_time_s
        flat["slant_range_m"][a:b] = rc.slant_range_m
        report(progress, 0.15 + 0.4 * b / n, "geo2rdr on every DEM cell")
    del rc, seed, rows, cols, lon, lat, index

    report(progress, 0.6, "incidence and layover/shadow")
    ground = np.empty(dem.shape)
    off_nadir = np.empty(dem.shape)
    grid = geometry.grid
    slant_min = np.inf
    for r0, r1 in _strips(n_rows, n_cols):
        h0, h1 = max(0, r0 - 1), min(n_rows, r1 + 1)
        rows, cols = np.indices((h1 - h0, n_cols), dtype=np.float64)
        lon, lat = lonlat(rows + h0, cols)
        xyz_h = geodetic_to_ecef(lat, lon, dem.heights_m[h0:h1])
        core = slice(r0 - h0, r1 - h0)
        xyz, lon, lat = xyz_h[core], lon[core], lat[core]
        t = out["azimuth_time_s"][r0:r1]
        slant = out["slant_range_m"][r0:r1]
        sat = geometry.orbit.interpolate(np.nan_to_num(t, nan=geometry.first_line_s), check=False).position_m
        look = sat - xyz
        look /= np.linalg.norm(look, axis=-1, keepdims=True)
        normal = np.cross(np.gradient(xyz_h, axis=0)[core], np.gradient(xyz, axis=1))
        area = np.linalg.norm(normal, axis=-1)
        normal /= area[..., None]
        up = ellipsoid_normal(lat, lon)
        normal *= np.sign(np.einsum("...i,...i->...", normal, up))[..., None]
        cos_local = np.einsum("...i,...i->...", normal, look)
        cos_ell = np.einsum("...i,...i->...", up, look)
        out["area_m2"][r0:r1] = area
        out["incidence_deg"][r0:r1] = np.degrees(np.arccos(np.clip(cos_ell, -1, 1)))
        out["local_incidence_deg"][r0:r1] = np.degrees(np.arccos(np.clip(cos_local, -1, 1)))
        del look, normal, up, cos_local, cos_ell, area
        # Layover / shadow inputs (lines still unmasked: cells outside the grid take part).
        valid = np.isfinite(out["line"][r0:r1]) & np.isfinite(slant)
        if valid.any():
            slant_min = min(slant_min, float(slant[valid].min()))
        s_hat = sat / np.linalg.norm(sat, axis=-1, keepdims=True)
        foot = geodetic_to_ecef(lat, lon, 0.0)
        foot /= np.linalg.norm(foot, axis=-1, keepdims=True)
        ground[r0:r1] = np.arccos(np.clip(np.einsum("...i,...i->...", s_hat, foot), -1, 1))
        to_cell = xyz - sat
        off_nadir[r0:r1] = np.arccos(np.clip(-np.einsum("...i,...i->...", to_cell, s_hat) / slant, -1, 1))
        del s_hat, foot, to_cell, sat, xyz, xyz_h, rows, cols, lon, lat
        line, sample = out["line"][r0:r1], out["sample"][r0:r1]
        outside = ~(
            (line >= -0.5) & (line <= grid.lines - 0.5) & (sample >= -0.5) & (sample <= grid.samples - 0.5)
        )
        line[outside] = np.nan
        sample[outside] = np.nan
        report(progress, 0.6 + 0.3 * r1 / n_rows, "incidence and layover/shadow")

    mask = np.zeros(dem.shape, dtype=np.uint8)
    if np.isfinite(slant_min):  # some cell has a solution
        # The strips' width from the cells inside the grid (and the orbit at its first line): the
        # same for any DEM extent that holds those cells (scene_dem's crop gives the same mask).
        inside = np.isfinite(out["line"])
        area = np.where(inside, out["area_m2"], np.nan) if inside.any() else out["area_m2"]
        inputs = (out["azimuth_time_s"], out["slant_range_m"], area, ground, off_nadir)
        _layover_shadow(geometry, *inputs, slant_min, mask)
    report(progress, 1.0, "DEM lookup table done")
    return DemLookup(mask=mask, **out)


def _strips(n_rows: int, n_cols: int) -> Iterator[tuple[int, int]]:
    """Row ranges [r0, r1) of the strips of :func:`_chunk_cells` cells (at least one row)."""
    step = max(1, _chunk_cells(n_rows * n_cols) // max(1, n_cols))
    for r0 in range(0, n_rows, step):
        yield r0, min(r0 + step, n_rows)


def _chunk_cells(n: int) -> int:
    """Cells of a strip or of a sweep chunk: about 1/16 of the ``n`` cells, at most :data:`STRIP_CELLS`."""
    return min(max(n // 16, 8192), STRIP_CELLS)


def _fill_nan(a: np.ndarray) -> np.ndarray:
    out = a.copy()
    bad = ~np.isfinite(out)
    if bad.all():
        return np.zeros_like(out)
    out[bad] = np.nanmedian(out)
    return out


def _layover_shadow(
    geometry: RadarGeometry,
    azimuth_time_s: np.ndarray,
    slant: np.ndarray,
    area: np.ndarray,
    ground: np.ndarray,
    off_nadir: np.ndarray,
    slant_min: float,
    mask: np.ndarray,
) -> None:
    """Layover and shadow by a near-to-far sweep along each azimuth strip of DEM cells, into ``mask``.

    Cells are grouped in azimuth strips about one DEM cell wide and ordered by their
    ground distance from the nadir track. A cell is in shadow when a nearer cell is
    seen at a larger off-nadir angle; it is in layover when its slant range is not
    larger than that of every nearer cell or not smaller than that of every farther one.

    ``ground`` is the angle at the Earth's centre between the satellite and the cell's
    foot, ``off_nadir`` that at the satellite between nadir and the cell (rad);
    ``slant_min`` the least slant range of the valid cells.
    """
    t_flat, r_flat = azimuth_time_s.reshape(-1), slant.reshape(-1)
    valid_idx = np.flatnonzero(np.isfinite(t_flat) & np.isfinite(r_flat))
    if valid_idx.size < 2:
        return
    # Strip width in lines: about one DEM cell along track (``area``: NaN where it should not count).
    cell_m = float(np.sqrt(np.nanmedian(area)))
    first = geometry.orbit.interpolate(geometry.first_line_s)  # the satellite at the grid's first line
    ground_speed = (
        float(np.linalg.norm(first.velocity_m_s)) * 6.371e6 / float(np.linalg.norm(first.position_m))
    )
    lines_per_cell = max(1.0, cell_m / (ground_speed * geometry.grid.line_time_interval_s))
    chunk = _chunk_cells(t_flat.size)
    strip = np.empty(valid_idx.size)
    for a in range(0, valid_idx.size, chunk):
        line = geometry.line_of_time(t_flat[valid_idx[a : a + chunk]])
        strip[a : a + chunk] = np.floor(line / lines_per_cell)
    order = np.argsort(strip, kind="stable")
    strip = strip[order]
    valid_idx = valid_idx[order]
    del order
    # Groups (azimuth strips) in sorted order; swept in chunks of whole groups.
    starts = np.concatenate([[0], np.flatnonzero(strip[1:] != strip[:-1]) + 1])
    ends = np.append(starts[1:], strip.size)
    del strip
    ground_flat, beta_flat, mask_flat = ground.reshape(-1), off_nadir.reshape(-1), mask.reshape(-1)
    big_b, big_r = 10.0, 1e7  # larger than any off-nadir angle (rad) or slant-range spread (m)
    g0 = 0
    while g0 < starts.size:
        g1 = int(np.searchsorted(starts, starts[g0] + chunk, side="left"))
        g1 = max(g1, g0 + 1)
        a, b = int(starts[g0]), int(ends[g1 - 1])
        idx = valid_idx[a:b]
        group = np.repeat(np.arange(g0, g1), ends[g0:g1] - starts[g0:g1])
        # Within the chunk the cells are ordered by (strip, flat index): a stable sort on
        # (strip, ground) gives the order of the whole-grid lexsort.
        idx = idx[np.lexsort((ground_flat[idx], group))]
        beta = beta_flat[idx]
        rng = r_flat[idx] - slant_min
        before_beta = _exclusive_cummax(beta + group * big_b) - group * big_b
        before_r = _exclusive_cummax(rng + group * big_r) - group * big_r
        after_r = -(_exclusive_cummax((-rng - group * big_r)[::-1])[::-1]) - group * big_r
        shadow = beta < before_beta - 1e-9
        layover = (rng <= before_r) | (rng >= after_r)
        bits = np.zeros(beta.shape, dtype=np.uint8)
        bits[layover] |= LAYOVER
        bits[shadow] |= SHADOW
        mask_flat[idx] = bits
        g0 = g1


def _exclusive_cummax(values: np.ndarray) -> np.ndarray:
    """Running maximum of the values strictly before each position (-inf at the first)."""
    out = np.empty_like(values)
    out[0] = -np.inf
    out[1:] = np.maximum.accumulate(values)[:-1]
    return out
