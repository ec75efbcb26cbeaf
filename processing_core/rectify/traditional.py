"""The conventional co-registration the paper compares against (Liu et al. 2020, GRL, section 4.1).

Offsets between the master and the slave in their own geometries, a robust second-order
polynomial, and resampling with it; no DEM, so the topographic parallax between the orbits
stays. Like the improved chain it never holds a whole scene: the scenes are read by windows,
the warped slave is computed for the tiles the offset engine asks for (:class:`WarpedSource`)
and written in strips, so its memory does not grow with the scene.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from processing_core.execution import Executor
from processing_core.geometry import RadarGeometry
from processing_core.rectify.chain import RectifyParameters, _tie_points
from processing_core.rectify.correction import robust_polyfit
from processing_core.rectify.sources import SceneImage, _ComputedSource
from processing_core.rectify.transform import affine_jacobian, resample_from
from processing_core.scene import Scene

JACOBIAN_POINTS = 64
"""Points per side of the lattice on which the warp's affine Jacobian is fitted."""


def quadratic(line: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """Design matrix (n, 6) of the second-order polynomial in master (line, sample)."""
    a, b = np.ravel(line), np.ravel(sample)
    return np.column_stack([np.ones_like(a), a, b, a * a, a * b, b * b])


class AmplitudeSource(_ComputedSource):
    """A scene's own amplitude as a float32 window source (NaN without data)."""

    def __init__(self, image: SceneImage, *, memory_mb: float = 64.0) -> None:
        self.image, self.memory_mb, self.shape = image, memory_mb, image.shape

    def opener(self) -> Callable[[], AmplitudeSource]:
        """A picklable callable that builds this source again in any process."""
        return partial(_open_amplitude, self.image.scene, self.memory_mb)

    def _window(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        return self.image.read(y0, y1, x0, x1).astype(np.float32)


class WarpedSource(_ComputedSource):
    """A slave resampled into the master grid through a polynomial warp, window by window.

    Parameters
    ----------
    image
        The slave's amplitude.
    shape
        (lines, samples) of the master grid.
    coef_line, coef_sample
        (6,) coefficients of :func:`quadratic`: slave line and sample of a master pixel.
    order
        Spline order of the resampling (1 or 3).
    fill_value
        Value put into the slave's no-data before the spline (its mean amplitude).
    """

    def __init__(
        self,
        image: SceneImage,
        shape: tuple[int, int],
        coef_line: np.ndarray,
        coef_sample: np.ndarray,
        *,
        order: int,
        fill_value: float,
        memory_mb: float = 64.0,
    ) -> None:
        self.image, self.shape = image, (int(shape[0]), int(shape[1]))
        self.coef_line, self.coef_sample = np.asarray(coef_line), np.asarray(coef_sample)
        self.order, self.fill_value, self.memory_mb = order, fill_value, memory_mb

    def opener(self) -> Callable[[], WarpedSource]:
        """A picklable callable that builds this source again in any process."""
        return partial(
            _open_warped,
            self.image.scene,
            self.shape,
            self.coef_line,
            self.coef_sample,
            order=self.order,
            fill_value=self.fill_value,
            memory_mb=self.memory_mb,
        )

    def coordinates(self, line: np.ndarray, sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Slave (line, sample) of master pixels (any shape)."""
        design = quadratic(line, sample)
        shape = np.shape(line)
        return (design @ self.coef_line).reshape(shape), (design @ self.coef_sample).reshape(shape)

    def _window(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        line, sample = np.meshgrid(
            np.arange(y0, y1, dtype=np.float64), np.arange(x0, x1, dtype=np.float64), indexing="ij"
        )
        line_s, sample_s = self.coordinates(line, sample)
        return resample_from(self.image, line_s, sample_s, order=self.order, fill_value=self.fill_value)


def _open_amplitude(scene: Scene, memory_mb: float) -> AmplitudeSource:
    return AmplitudeSource(SceneImage(scene), memory_mb=memory_mb)


def _open_warped(
    scene: Scene, shape: tuple[int, int], coef_line: np.ndarray, coef_sample: np.ndarray, **options: Any
) -> WarpedSource:
    return WarpedSource(SceneImage(scene), shape, coef_line, coef_sample, **options)


def rectify_traditional(
    slave: Scene,
    master: Scene,
    height_m: float,
    params: RectifyParameters,
    *,
    threads: int | None = None,
    memory_mb: float = 1024.0,
    strip_mb: float = 256.0,
    executor: Executor | None = None,
) -> tuple[WarpedSource, dict]:
    """The conventional chain: orbit-predicted start, then a robust quadratic warp fitted to
    amplitude offsets; no DEM, so the topographic parallax between the orbits stays.

    Returns the warped slave (a window source in the master grid, to be written in strips) and
    its QC report (tie points per pass, polynomials); the residual offsets are measured on the
    written raster by the caller. ``threads`` and ``memory_mb``: of the tie-point tracking;
    ``strip_mb``: of the pass over the slave in strips (its mean, which also refuses an image
    without texture); the master is the caller's to check once (:func:`rectify_stack` does,
    before any scene), not once per slave. ``executor``: the tie points' tiles as its tasks.
    """
    tracking = {"threads": threads, "memory_mb": memory_mb, "executor": executor}
    slave_image, master_image = SceneImage(slave), SceneImage(master)
    fill = slave_image.mean(memory_mb=strip_mb)
    reference = AmplitudeSource(master_image)
    g = master.radar_grid
    mg, sg = RadarGeometry(master), RadarGeometry(slave)
    # Orbit-only start: master grid -> ground at one reference height -> slave.
    ll, ss = np.meshgrid(np.linspace(0, g.lines - 1, 12), np.linspace(0, g.samples - 1, 12), indexing="ij")
    lat, lon, _ = mg.rdr2geo(mg.time_of_line(ll), g.range_of_sample(ss), np.full(ll.shape, height_m))
    rc = sg.geo2rdr(lat, lon, np.full(ll.shape, height_m))
    coef_l = np.linalg.lstsq(quadratic(ll, ss), rc.line.ravel(), rcond=None)[0]
    coef_s = np.linalg.lstsq(quadratic(ll, ss), rc.sample.ravel(), rcond=None)[0]
    # The warp's affine Jacobian (slave pixels per master pixel) on a lattice over the grid.
    jl, js = np.meshgrid(
        np.linspace(0, g.lines - 1, JACOBIAN_POINTS),
        np.linspace(0, g.samples - 1, JACOBIAN_POINTS),
        indexing="ij",
    )
    history = []
    for _ in range(params.iterations):
        warped = WarpedSource(
            slave_image,
            (g.lines, g.samples),
            coef_l,
            coef_s,
            order=params.interpolation_order,
            fill_value=fill,
        )
        rows, cols, d_line, d_sample = _tie_points(reference, warped, params, **tracking)
        jac = affine_jacobian(jl, js, *warped.coordinates(jl, js))
        d_slave = jac @ np.vstack([d_line, d_sample])
        at_l, at_s = warped.coordinates(rows, cols)
        design_t = quadratic(rows, cols)
        coef_l, _ = robust_polyfit(rows, at_l + d_slave[0], design_t)
        coef_s, _ = robust_polyfit(rows, at_s + d_slave[1], design_t)
        history.append({"tie_points": int(rows.size)})
    warped = WarpedSource(
        slave_image, (g.lines, g.samples), coef_l, coef_s, order=params.interpolation_order, fill_value=fill
    )
    qc = {
        "refinements": history,
        "polynomial_line": [float(v) for v in coef_l],
        "polynomial_sample": [float(v) for v in coef_s],
    }
    return warped, qc


__all__ = ["AmplitudeSource", "WarpedSource", "quadratic", "rectify_traditional"]
