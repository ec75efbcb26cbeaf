"""The conventional co-registration the paper compares against (Liu et al. 2020, GRL, section 4.1).

Offsets between the master and the slave in their own geometries, a robust second-order
polynomial, and resampling with it; no DEM, so the topographic parallax between the orbits
stays. It holds whole scenes in memory (it is the comparison, not the production chain).
"""

from __future__ import annotations

import numpy as np

from processing_core.geometry import RadarGeometry
from processing_core.rectify.chain import RectifyParameters, _residual_qc, _tie_points
from processing_core.rectify.correction import robust_polyfit
from processing_core.rectify.transform import affine_jacobian, resample
from processing_core.scene import Scene


def rectify_traditional(
    slave: Scene,
    amplitude: np.ndarray,
    master: Scene,
    master_amplitude: np.ndarray,
    height_m: float,
    params: RectifyParameters,
    *,
    threads: int | None = None,
    memory_mb: float = 1024.0,
) -> tuple[np.ndarray, dict]:
    """The conventional chain: orbit-predicted affine start, then a robust quadratic warp fitted
    to amplitude offsets; no DEM, so the topographic parallax between the orbits stays."""
    tracking = {"threads": threads, "memory_mb": memory_mb}
    g = master.radar_grid
    mg, sg = RadarGeometry(master), RadarGeometry(slave)
    # Orbit-only start: master grid -> ground at one reference height -> slave.
    ll, ss = np.meshgrid(np.linspace(0, g.lines - 1, 12), np.linspace(0, g.samples - 1, 12), indexing="ij")
    lat, lon, _ = mg.rdr2geo(mg.time_of_line(ll), g.range_of_sample(ss), np.full(ll.shape, height_m))
    rc = sg.geo2rdr(lat, lon, np.full(ll.shape, height_m))
    quadratic = lambda a, b: np.column_stack([np.ones_like(a), a, b, a * a, a * b, b * b])  # noqa: E731
    coef_l = np.linalg.lstsq(quadratic(ll.ravel(), ss.ravel()), rc.line.ravel(), rcond=None)[0]
    coef_s = np.linalg.lstsq(quadratic(ll.ravel(), ss.ravel()), rc.sample.ravel(), rcond=None)[0]
    full_l, full_s = np.meshgrid(
        np.arange(g.lines, dtype=float), np.arange(g.samples, dtype=float), indexing="ij"
    )
    history = []
    for _ in range(params.iterations):
        design = quadratic(full_l.ravel(), full_s.ravel())
        line_s = (design @ coef_l).reshape(full_l.shape)
        sample_s = (design @ coef_s).reshape(full_l.shape)
        warped = resample(amplitude, line_s, sample_s, order=params.interpolation_order)
        rows, cols, d_line, d_sample = _tie_points(master_amplitude, warped, params, **tracking)
        jac = affine_jacobian(full_l, full_s, line_s, sample_s)
        d_slave = jac @ np.vstack([d_line, d_sample])
        design_t = quadratic(rows, cols)
        ri, ci = np.rint(rows).astype(int), np.rint(cols).astype(int)
        target_l = line_s[ri, ci] + d_slave[0]
        target_s = sample_s[ri, ci] + d_slave[1]
        coef_l, _ = robust_polyfit(rows, target_l, design_t)
        coef_s, _ = robust_polyfit(rows, target_s, design_t)
        history.append({"tie_points": int(rows.size)})
    design = quadratic(full_l.ravel(), full_s.ravel())
    warped = resample(
        amplitude,
        (design @ coef_l).reshape(full_l.shape),
        (design @ coef_s).reshape(full_l.shape),
        order=params.interpolation_order,
    )
    qc = _residual_qc(master_amplitude, warped, params, **tracking)
    qc["refinements"] = history
    qc["polynomial_line"] = [float(v) for v in coef_l]
    qc["polynomial_sample"] = [float(v) for v in coef_s]
    return warped, qc


__all__ = ["rectify_traditional"]
