"""Geometric refinement of a scene: robust fits of measured offsets, folded into its sidecar.

Timing and orbit errors of a few pixels shift where a product's annotation says a ground
point lies. We measure offsets against a reference (the DEM-simulated intensity for the
master, the rectified master for the slaves) and fit, robustly so that a moving landslide
does not pull the fit,

    line_true   = a0 + (1 + a1) * line_nominal
    sample_true = b0 + (1 + b2) * sample_nominal,

which is exactly a change of the sidecar's first-line time, line interval, first slant range
and range spacing. The refined geometry is then an ordinary scene: every tool (geo2rdr,
lookup tables) uses it unchanged. A full affine fit is reported beside it as a check that no
cross term (a skew) was left out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from processing_core.errors import InputError
from processing_core.scene import Scene
from processing_core.timeutil import add_seconds


@dataclass(frozen=True)
class AxisFit:
    """A robust straight-line fit ``true = c0 + (1 + c1) * nominal`` of one axis."""

    c0: float
    """Offset at index 0, pixels."""
    c1: float
    """Relative scale error (dimensionless)."""
    rms_px: float
    """RMS of the inlier residuals, pixels."""
    inliers: int
    """Number of offsets kept by the robust fit."""
    total: int
    """Number of offsets offered to the fit."""


@dataclass(frozen=True)
class SceneCorrection:
    """Refinement of a scene's radar grid from measured offsets (see the module docstring)."""

    line: AxisFit
    """Azimuth: ``a0``, ``a1``."""
    sample: AxisFit
    """Range: ``b0``, ``b2``."""
    affine_line_rms_px: float
    """RMS of a full affine fit of the line offsets (cross terms included), inliers only."""
    affine_sample_rms_px: float
    """Same for the sample offsets."""

    def as_dict(self) -> dict[str, float | int]:
        """Flat dictionary for QC reports."""
        return {
            "a0_px": self.line.c0,
            "a1": self.line.c1,
            "b0_px": self.sample.c0,
            "b2": self.sample.c1,
            "line_rms_px": self.line.rms_px,
            "sample_rms_px": self.sample.rms_px,
            "inliers": min(self.line.inliers, self.sample.inliers),
            "tie_points": self.line.total,
            "affine_line_rms_px": self.affine_line_rms_px,
            "affine_sample_rms_px": self.affine_sample_rms_px,
        }


def robust_polyfit(
    x: np.ndarray,
    y: np.ndarray,
    design: np.ndarray | None = None,
    *,
    iterations: int = 10,
    cutoff: float = 4.685,
) -> tuple[np.ndarray, np.ndarray]:
    """Tukey-biweight IRLS fit of ``y`` on ``design`` (default: [1, x]); returns (coefficients, weights).

    The scale is the MAD of the residuals; points beyond ``cutoff`` scales get zero weight, so a
    landslide covering a minority of the tie points does not bias the fit.
    """
    a = np.column_stack([np.ones_like(x), x]) if design is None else design
    # Start from the median, not from least squares: with a landslide in the scene a plain
    # least-squares start can sit between the two populations and the MAD then locks onto few points.
    r0 = y - np.median(y)
    scale0 = max(1.4826 * np.median(np.abs(r0)), 1e-3)
    u0 = r0 / (cutoff * scale0)
    w = np.where(np.abs(u0) < 1.0, (1.0 - u0 * u0) ** 2, 0.0)
    sw0 = np.sqrt(w)
    coef = np.linalg.lstsq(a * sw0[:, None], y * sw0, rcond=None)[0]
    for _ in range(iterations):
        r = y - a @ coef
        scale = 1.4826 * np.median(np.abs(r - np.median(r)))
        scale = max(scale, 1e-3)  # offsets are never better than a thousandth of a pixel
        u = r / (cutoff * scale)
        w = np.where(np.abs(u) < 1.0, (1.0 - u * u) ** 2, 0.0)
        sw = np.sqrt(w)
        new = np.linalg.lstsq(a * sw[:, None], y * sw, rcond=None)[0]
        if np.allclose(new, coef, atol=1e-6, rtol=0):
            coef = new
            break
        coef = new
    return coef, w


def fit_correction(
    line: np.ndarray,
    sample: np.ndarray,
    d_line: np.ndarray,
    d_sample: np.ndarray,
    *,
    scale: bool = False,
    exclusion_radius_px: float = 0.0,
    min_points: int = 12,
) -> SceneCorrection:
    """Fit :class:`SceneCorrection` to offsets ``d`` (true minus nominal) at nominal positions.

    With ``scale=False`` (the default) only the constant shifts ``a0``, ``b0`` are fitted:
    timing and orbit errors of real products are constant over a scene, and noisy tie points
    (e.g. a DEM-simulated intensity against speckled amplitude) would otherwise leak into the
    scale terms. ``scale=True`` fits ``a1``, ``b2`` too (sampling-rate errors).

    Moving ground (a landslide) gives outliers, but also tie points at its rim whose windows
    hold only a little motion and pass any pointwise test. With ``exclusion_radius_px > 0``
    every tie point closer than that to an outlier of the first fit is dropped as well (use
    the matching window size), and the fit is repeated.

    Raises
    ------
    InputError
        When fewer than ``min_points`` finite offsets are given (co-registration impossible).
    """
    ok = np.isfinite(line) & np.isfinite(sample) & np.isfinite(d_line) & np.isfinite(d_sample)
    if ok.sum() < min_points:
        raise InputError(
            f"only {int(ok.sum())} valid tie points, at least {min_points} needed to co-register"
        )
    line, sample, d_line, d_sample = line[ok], sample[ok], d_line[ok], d_sample[ok]
    if exclusion_radius_px > 0:
        keep = _away_from_outliers(line, sample, d_line, d_sample, exclusion_radius_px)
        if keep.sum() >= min_points:
            line, sample, d_line, d_sample = line[keep], sample[keep], d_line[keep], d_sample[keep]
    fits = []
    affine_rms = []
    full = np.column_stack([np.ones_like(line), line, sample])
    for x, d in ((line, d_line), (sample, d_sample)):
        if scale:
            coef, w = robust_polyfit(x, d)
        else:
            shift, w = robust_polyfit(x, d, np.ones((d.size, 1)))
            coef = np.array([shift[0], 0.0])
        keep = w > 0
        r = d - (coef[0] + coef[1] * x)
        fits.append(
            AxisFit(
                float(coef[0]),
                float(coef[1]),
                float(np.sqrt(np.mean(r[keep] ** 2))),
                int(keep.sum()),
                int(d.size),
            )
        )
        coef_full, w_full = robust_polyfit(x, d, full)
        r_full = d - full @ coef_full
        affine_rms.append(float(np.sqrt(np.mean(r_full[w_full > 0] ** 2))))
    return SceneCorrection(fits[0], fits[1], affine_rms[0], affine_rms[1])


def _away_from_outliers(
    line: np.ndarray, sample: np.ndarray, d_line: np.ndarray, d_sample: np.ndarray, radius_px: float
) -> np.ndarray:
    """Mask of tie points farther than ``radius_px`` from every outlier of a robust constant fit."""
    outlier = np.zeros(line.shape, dtype=bool)
    for d in (d_line, d_sample):
        _, w = robust_polyfit(np.zeros_like(d), d, np.ones((d.size, 1)))
        outlier |= w == 0
    if not outlier.any():
        return np.ones(line.shape, dtype=bool)
    dist2 = (line[:, None] - line[outlier][None, :]) ** 2 + (sample[:, None] - sample[outlier][None, :]) ** 2
    return dist2.min(axis=1) > radius_px**2


def corrected_scene(scene: Scene, correction: SceneCorrection) -> Scene:
    """The scene whose nominal grid coordinates equal the measured true ones.

    With ``line_true = a0 + (1 + a1) line_nominal`` the new line interval is ``dt / (1 + a1)``
    and the new first-line time ``t0 - a0 * dt_new``; likewise in range. The Doppler
    polynomial, a function of the sample index, is re-expressed in the new index.
    """
    g = scene.radar_grid
    a0, a1 = correction.line.c0, correction.line.c1
    b0, b2 = correction.sample.c0, correction.sample.c1
    dt_new = g.line_time_interval_s / (1.0 + a1)
    dr_new = g.slant_range_spacing_m / (1.0 + b2)
    grid = replace(
        g,
        first_line_time=add_seconds(g.first_line_time, -a0 * dt_new),
        line_time_interval_s=dt_new,
        slant_range_first_m=g.slant_range_first_m - b0 * dr_new,
        slant_range_spacing_m=dr_new,
    )
    # f(s_old) with s_old = (s_new - b0) / (1 + b2): compose the polynomial.
    old = np.polynomial.Polynomial(scene.doppler_centroid_hz)
    new = old(np.polynomial.Polynomial([-b0 / (1.0 + b2), 1.0 / (1.0 + b2)]))
    coefficients = (
        tuple(float(c) for c in new.coef) if any(scene.doppler_centroid_hz) else scene.doppler_centroid_hz
    )
    return replace(scene, radar_grid=grid, doppler_centroid_hz=coefficients)
