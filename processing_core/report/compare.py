"""Traditional versus improved co-registration of one cross-platform pair (the paper's Figure 1).

The pair is the final master and the master of another platform (for the ``baige-like`` stack a
PALSAR-1 and a PALSAR-2 scene ~28 km apart in perpendicular baseline). The other scene is
co-registered the traditional way (orbit start plus an amplitude-fitted quadratic warp, no DEM)
and compared with its DEM-rectified version: offsets against the master on a coarse grid, with
the RMS on ground that did not move between the two dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from osgeo import gdal

from processing_core.dem import read_dem
from processing_core.geometry import RadarGeometry
from processing_core.offsets import OffsetField, OffsetParameters
from processing_core.offsets.engine import track_sources
from processing_core.offsets.files import RasterSource
from processing_core.radar_grids import azimuth_spacing_m
from processing_core.rectify import RectifyParameters
from processing_core.rectify.sources import SceneImage
from processing_core.rectify.traditional import AmplitudeSource, rectify_traditional
from processing_core.stack import Stack

gdal.UseExceptions()

WINDOW_PX = 64
"""Chip size of the comparison (the paper's smallest window: more nodes clear of the landslide)."""


@dataclass
class PairComparison:
    """Offsets of one cross-platform pair after both co-registrations."""

    master: str
    """Final master id."""
    other: str
    """The other platform's master id."""
    days: int
    """Temporal baseline, days."""
    earlier: str
    """The pair's earlier scene: the offsets run from it to the later one (motion forward in time)."""
    later: str
    """The pair's later scene."""
    improved: OffsetField
    """Offsets master -> DEM-rectified other scene."""
    traditional: OffsetField
    """Offsets master -> traditionally co-registered other scene."""
    stable: np.ndarray
    """(rows, cols) bool: nodes whose window saw no motion between the two dates."""
    los_per_px: float
    """Metres of LOS per range pixel (minus the slant-range spacing)."""
    azimuth_per_px: float
    """Metres of azimuth per line at the scene centre."""

    def rms_px(self, which: str) -> tuple[float, float]:
        """RMS (azimuth, range) offset on stable ground, pixels, for ``improved`` or ``traditional``."""
        f = getattr(self, which)
        ok = self.stable & np.isfinite(f.azimuth_px) & np.isfinite(f.range_px)
        if not ok.any():
            return float("nan"), float("nan")
        return float(np.sqrt(np.mean(f.azimuth_px[ok] ** 2))), float(np.sqrt(np.mean(f.range_px[ok] ** 2)))


def _other_master(stack: Stack) -> str | None:
    final = str(stack.masters.get("final") or "")
    platform_of = {s.id: s.platform for s in stack.scenes}
    others = [sid for p, sid in stack.masters.get("per_platform", {}).items() if p != platform_of.get(final)]
    return others[0] if final and others else None


def _cells(px: np.ndarray, size: int, start: float, step: float, count: int) -> tuple[np.ndarray, np.ndarray]:
    """[first, stop) of the sub-grid cells nearest to the pixels within +-WINDOW_PX / 2 of ``px``."""
    lo = np.clip(px - WINDOW_PX // 2, 0, size - 1)
    hi = np.clip(px + WINDOW_PX // 2, 0, size - 1)
    first = np.clip(np.rint((lo - start) / step), 0, count - 1).astype(int)
    last = np.clip(np.rint((hi - start) / step), 0, count - 1).astype(int)
    return first, last + 1


def _near_motion(
    root: Path,
    dates: dict[str, str],
    master: str,
    other: str,
    shape: tuple[int, int],
    rows: np.ndarray,
    cols: np.ndarray,
) -> np.ndarray | None:
    """(rows, cols) bool: nodes within half a window of a master pixel that moved between the two
    dates, from the run's time series (or the truth); None without either.

    The series lie on a coarse sub-grid; a master pixel takes its nearest sub-grid cell. A
    node's window (+-WINDOW_PX / 2 px, clipped to the image) reaches a range of cells per axis,
    and a summed-area table of the moving cells tells whether any of them moved: the same nodes
    as dilating a full-resolution mask, without one.
    """
    from processing_core.radar_grids import SubGrid

    # The truth where the stack is simulated; else the run's series, above its noise.
    for path in (root / "truth" / "los.tif", root / "timeseries" / "los.tif"):
        if not path.exists():
            continue
        ds = gdal.Open(str(path))
        bands = {ds.GetRasterBand(k + 1).GetMetadataItem("DATE"): k + 1 for k in range(ds.RasterCount)}
        a, b = bands.get(dates.get(master)), bands.get(dates.get(other))
        if a is None or b is None:
            continue
        change = np.abs(ds.GetRasterBand(b).ReadAsArray() - ds.GetRasterBand(a).ReadAsArray())
        grid = SubGrid.from_metadata(ds.GetMetadata(), change.shape, where=str(path))
        finite = change[np.isfinite(change)]
        noise = 1.4826 * float(np.median(np.abs(finite - np.median(finite)))) if finite.size else 0.0
        threshold = 0.05 if path.parent.name == "truth" else max(0.3, 5.0 * noise)
        moving = np.nan_to_num(change, nan=0.0) > threshold
        table = np.zeros((moving.shape[0] + 1, moving.shape[1] + 1), dtype=np.int64)
        table[1:, 1:] = moving.cumsum(axis=0).cumsum(axis=1)
        r0, r1 = _cells(rows, shape[0], grid.row0, grid.step, grid.rows)
        c0, c1 = _cells(cols, shape[1], grid.col0, grid.step, grid.cols)
        inside = table[np.ix_(r1, c1)] - table[np.ix_(r0, c1)] - table[np.ix_(r1, c0)] + table[np.ix_(r0, c0)]
        return inside > 0
    return None


def _track(reference, secondary) -> OffsetField:
    """Coarse offsets of two window sources, with permissive thresholds, so that large errors are
    counted, not dropped (tiles within the engine's default memory)."""
    params = OffsetParameters(
        step_px=16, windows_px=(WINDOW_PX,), search_px=24, min_snr=3.0, min_ncc=0.1, outlier_threshold=1e9
    )
    return track_sources(reference, secondary, params)


def compare_pair(
    stack: Stack, dem_path: str | Path, *, params: RectifyParameters | None = None
) -> PairComparison | None:
    """Co-register the other platform's master both ways and measure both against the final master.

    ``params`` are the traditional co-registration's (tie-point window, step, DEM datum for the
    reference height). Returns ``None`` for a single-platform stack or before rectification.
    """
    params = params or RectifyParameters(method="traditional")
    root = stack.root
    other = _other_master(stack)
    master = str(stack.masters.get("final") or "")
    rectified = root / "rectified"
    if other is None or not (rectified / f"{other}.tif").exists():
        return None
    master_scene, other_scene = stack.scene(master), stack.scene(other)
    dem = read_dem(dem_path, vertical=params.dem_vertical)
    warped, _ = rectify_traditional(other_scene, master_scene, float(np.nanmedian(dem.heights_m)), params)
    # All four images as window sources: nothing holds a whole scene.
    master_amp = AmplitudeSource(SceneImage(master_scene))
    master_rect, other_rect = (RasterSource(rectified / f"{sid}.tif") for sid in (master, other))
    dates = {s.id: np.datetime64(s.date) for s in stack.scenes}
    # Earlier scene as the reference, so that the maps show the motion forward in time.
    forward = dates[other] < dates[master]
    improved = _track(other_rect, master_rect) if forward else _track(master_rect, other_rect)
    trad = _track(warped, master_amp) if forward else _track(master_amp, warped)
    for source in (master_rect, other_rect):
        source.close()
    rows, cols = np.rint(improved.rows).astype(int), np.rint(improved.cols).astype(int)
    near = _near_motion(root, {s.id: s.date for s in stack.scenes}, master, other, warped.shape, rows, cols)
    stable = np.ones((rows.size, cols.size), dtype=bool) if near is None else ~near
    geom = RadarGeometry(master_scene)
    g = geom.grid
    mid = np.array([0.5 * (g.lines - 1)]), np.array([0.5 * (g.samples - 1)])
    spacing = float(
        azimuth_spacing_m(geom, mid[0], mid[1], np.array([float(np.nanmedian(dem.heights_m))]))[0]
    )
    return PairComparison(
        master=master,
        other=other,
        days=int(abs((dates[master] - dates[other]).astype(int))),
        earlier=other if dates[other] < dates[master] else master,
        later=master if dates[other] < dates[master] else other,
        improved=improved,
        traditional=trad,
        stable=stable,
        los_per_px=-g.slant_range_spacing_m,
        azimuth_per_px=spacing,
    )
