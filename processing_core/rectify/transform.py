"""Master -> slave pixel transformations through the DEM, and amplitude resampling.

For every pixel of the final master, its ground point (the master's radar->ground lookup
table, after step-i refinement) is projected into a slave by geo2rdr with the slave's own
orbit and timing: that is the ortho-rectifying transformation of the paper (steps ii-iii).
Resampling the slave at those coordinates puts it into the master's geometry with the
topographic and incidence-angle parallax removed, whatever the baseline.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from scipy.ndimage import map_coordinates

from processing_core.geometry import RadarGeometry
from processing_core.lookup import GroundLookup


def slave_coordinates(ground: GroundLookup, slave: RadarGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Fractional (line, sample) in ``slave`` of every master pixel's ground point; NaN off the DEM."""
    ok = np.isfinite(ground.lat_deg)
    line = np.full(ground.lat_deg.shape, np.nan)
    sample = np.full(ground.lat_deg.shape, np.nan)
    rc = slave.geo2rdr(ground.lat_deg[ok], ground.lon_deg[ok], ground.height_m[ok])
    line[ok] = rc.line
    sample[ok] = rc.sample
    return line, sample


SPLINE_MARGIN_PX = 32
"""Pixels read beyond the points a window needs: the cubic B-spline's prefilter (pole
2 - sqrt(3) = 0.268) carries a pixel's influence 0.268**32 ~ 5e-19 that far, so a window's
values equal the whole image's to float64 rounding."""


class _Window(Protocol):
    shape: tuple[int, int]

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray: ...


def resample_from(
    source: _Window,
    line: np.ndarray,
    sample: np.ndarray,
    *,
    order: int = 3,
    fill_value: float,
    margin_px: int = SPLINE_MARGIN_PX,
) -> np.ndarray:
    """:func:`resample` of an image read only around the points: ``source.read(y0, y1, x0, x1)``.

    The window spans the points inside the image plus ``margin_px``; ``fill_value`` replaces the
    no-data before the spline (the whole image's mean, so that every window fills alike).
    """
    lines, samples = source.shape
    ok = np.isfinite(line) & np.isfinite(sample)
    ok &= (line >= 0) & (line <= lines - 1) & (sample >= 0) & (sample <= samples - 1)
    if not ok.any():
        return np.full(np.shape(line), np.nan, dtype=np.float32)
    y0 = max(int(np.floor(line[ok].min())) - margin_px, 0)
    y1 = min(int(np.ceil(line[ok].max())) + margin_px + 1, lines)
    x0 = max(int(np.floor(sample[ok].min())) - margin_px, 0)
    x1 = min(int(np.ceil(sample[ok].max())) + margin_px + 1, samples)
    patch = source.read(y0, y1, x0, x1)
    inside_l = np.where(ok, line - y0, np.nan)
    inside_s = np.where(ok, sample - x0, np.nan)
    return resample(patch, inside_l, inside_s, order=order, fill_value=fill_value)


def resample(
    image: np.ndarray,
    line: np.ndarray,
    sample: np.ndarray,
    *,
    order: int = 3,
    fill_value: float | None = None,
) -> np.ndarray:
    """``image`` sampled at fractional (line, sample) with a cubic spline; NaN outside or near no-data.

    Parameters
    ----------
    image
        (lines, samples) amplitude; NaN marks no data.
    line, sample
        Coordinates to sample, any shape (NaN gives NaN).
    order
        Spline order (1 bilinear, 3 cubic).
    fill_value
        Put into the no-data before the spline (default: the image's mean).
    """
    if order not in (1, 3):
        raise ValueError(f"order must be 1 or 3, got {order}")
    bad = ~np.isfinite(image)
    if fill_value is None:
        fill_value = float(np.nanmean(image)) if (~bad).any() else 0.0
    filled = np.where(bad, fill_value, image).astype(np.float64)
    ok = np.isfinite(line) & np.isfinite(sample)
    ok &= (line >= 0) & (line <= image.shape[0] - 1) & (sample >= 0) & (sample <= image.shape[1] - 1)
    out = np.full(line.shape, np.nan, dtype=np.float32)
    coords = np.vstack([line[ok], sample[ok]])
    out[ok] = map_coordinates(filled, coords, order=order, mode="nearest", prefilter=True)
    if bad.any():
        # Any no-data pixel within the interpolation support poisons the value.
        near = map_coordinates(bad.astype(np.float64), coords, order=1, mode="nearest")
        values = out[ok]
        values[near > 0] = np.nan
        out[ok] = values
    return out


def affine_jacobian(
    line_m: np.ndarray, sample_m: np.ndarray, line_s: np.ndarray, sample_s: np.ndarray
) -> np.ndarray:
    """Least-squares 2x2 Jacobian d(slave line, sample) / d(master line, sample) over the scene.

    Offsets measured in master pixels convert to slave pixels through it (the pixel-spacing
    ratio and the small rotation between the two grids).
    """
    ok = np.isfinite(line_s) & np.isfinite(sample_s)
    a = np.column_stack([np.ones(ok.sum()), line_m[ok], sample_m[ok]])
    jac = np.empty((2, 2))
    for i, target in enumerate((line_s[ok], sample_s[ok])):
        coef = np.linalg.lstsq(a, target, rcond=None)[0]
        jac[i] = coef[1:]
    return jac
