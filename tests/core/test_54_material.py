"""The material (Lagrangian) frame of the SBAS: known answers on offsets a pair would measure."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq

from processing_core.inversion import sbas
from processing_core.material import material_sbas, resample_nodes
from processing_core.timeseries import invert_stack

STEP_PX = 4.0
LOS_M_PER_PX = -4.29  # metres of LOS per range pixel (a farther range is away: negative)
AZ_M_PER_PX = 2.8


def _dates(n: int) -> list[dt.date]:
    return [dt.date(2015, 1, 1) + dt.timedelta(days=30 * k) for k in range(n)]


def _network(n: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n) for j in range(i + 1, min(n, i + 4))]


def _bump(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit motion profile on the node grid and its range/azimuth split: a Gaussian bump 8 nodes wide."""
    r, c = np.mgrid[0:rows, 0:cols].astype(np.float64)
    return np.exp(-(((r - rows / 2) / 8.0) ** 2 + ((c - cols / 2) / 8.0) ** 2) / 2), (r, c)


def _measured(profile_at, amplitude_px: np.ndarray, direction: tuple[float, float], rows: int, cols: int):
    """Offsets (px) a pair measures at each node: the motion of the ground that is at the node on
    the pair's first date. Found by solving x0 + u_i(x0) = node for x0 along the motion
    (brentq), independently of the code under test."""
    n = len(amplitude_px)
    d_r, d_c = direction
    pairs = _network(n)
    range_px = np.empty((len(pairs), rows, cols))
    azimuth_px = np.empty_like(range_px)
    for q, (i, j) in enumerate(pairs):
        for r in range(rows):
            for c in range(cols):
                # The ground at the node on date i came from node - s * direction, s >= 0.
                def gap(s: float, r: int = r, c: int = c, i: int = i) -> float:
                    return s - amplitude_px[i] * profile_at(r - s * d_r / STEP_PX, c - s * d_c / STEP_PX)

                s = 0.0 if amplitude_px[i] == 0 else brentq(gap, -1.0, amplitude_px[i] + 1.0, xtol=1e-13)
                w = profile_at(r - s * d_r / STEP_PX, c - s * d_c / STEP_PX)
                moved = (amplitude_px[j] - amplitude_px[i]) * w
                range_px[q, r, c] = moved * d_c
                azimuth_px[q, r, c] = moved * d_r
    return pairs, range_px, azimuth_px


def _profile(rows: int, cols: int):
    def at(r: float, c: float) -> float:
        return float(np.exp(-(((r - rows / 2) / 8.0) ** 2 + ((c - cols / 2) / 8.0) ** 2) / 2))

    return at


def _run(pairs, range_px, azimuth_px, n_dates, **kw):
    n_pairs, rows, cols = range_px.shape
    return material_sbas(
        _dates(n_dates),
        pairs,
        range_px,
        azimuth_px,
        first_row=0,
        rows=rows,
        step_px=STEP_PX,
        los_m_per_px=np.full(n_pairs, LOS_M_PER_PX),
        azimuth_m_per_px=np.full((n_pairs, rows, cols), AZ_M_PER_PX),
        los_m_per_grid_px=LOS_M_PER_PX,
        azimuth_m_per_grid_px=np.full((rows, cols), AZ_M_PER_PX),
        **kw,
    )


def test_resample_nodes_is_exact_at_nodes_and_bilinear_between():
    rng = np.random.default_rng(1)
    field = rng.normal(size=(3, 6, 7))
    r, c = np.mgrid[0:6, 0:7].astype(np.float64)
    np.testing.assert_array_equal(resample_nodes(field, r, c), field)
    # A plane is reproduced exactly between nodes; off the grid, the edge's value.
    plane = (2.0 * r - 0.5 * c + 1.0)[None]
    at_r, at_c = np.array([[0.25, 4.5, 5.0]]), np.array([[0.75, 2.2, 6.0]])
    np.testing.assert_allclose(resample_nodes(plane, at_r, at_c)[0], 2 * at_r - 0.5 * at_c + 1.0, rtol=1e-14)
    assert resample_nodes(plane, np.array([-0.5]), np.array([1.0]))[0, 0] == plane[0, 0, 1]
    assert resample_nodes(plane, np.array([2.5]), np.array([9.0]))[0, 0] == 0.5 * (
        plane[0, 2, 6] + plane[0, 3, 6]
    )
    # A missing node is bridged when the finite neighbours weigh at least half, not otherwise.
    gap = plane.copy()
    gap[0, 2, 2] = np.nan
    assert np.isfinite(resample_nodes(gap, np.array([2.3]), np.array([2.3]))[0, 0])
    assert np.isnan(resample_nodes(gap, np.array([2.0]), np.array([2.0]))[0, 0])


def test_material_frame_recovers_the_ground_series_where_the_eulerian_sum_does_not():
    """Ground moving 12 px down a slope of motion (bump): the material series equals the imposed
    one to the bilinear interpolation error, the Eulerian one is off by gradient x d^2 / 2."""
    rows, cols, n = 30, 32, 9
    amplitude = np.linspace(0.0, 12.0, n)  # px along the motion, at the bump's centre
    direction = (0.6, 0.8)  # (rows, cols) unit vector: azimuth and range both move
    pairs, range_px, azimuth_px = _measured(_profile(rows, cols), amplitude, direction, rows, cols)
    result = _run(pairs, range_px, azimuth_px, n)
    profile, _ = _bump(rows, cols)
    true_los = amplitude[:, None, None] * profile * direction[1] * LOS_M_PER_PX
    true_az = amplitude[:, None, None] * profile * direction[0] * AZ_M_PER_PX
    # Ground that moved off the grid (last rows and columns) is read at the grid's edge: every
    # node keeps its pairs; the comparison is where the ground stays on the grid.
    assert np.all(result.los.rank == n - 1)
    full = np.zeros((rows, cols), dtype=bool)
    full[2:-3, 2:-3] = True
    material_err = np.abs(result.los.displacement - true_los)[:, full].max()
    eulerian = sbas(_dates(n), pairs, range_px * LOS_M_PER_PX)
    eulerian_err = np.abs(eulerian.displacement - true_los)[:, full].max()
    # Bilinear interpolation of a Gaussian 8 nodes wide: |f''| h^2 / 8 <= 12 px / 64 / 8 ~ 0.023 px.
    assert material_err < 0.05 * abs(LOS_M_PER_PX), material_err
    assert np.abs(result.azimuth.displacement - true_az)[:, full].max() < 0.05 * AZ_M_PER_PX
    # The Eulerian sum: u |u'| / 2 ~ 12 px * 0.23 / 2 ~ 1.4 px away from the truth somewhere.
    assert eulerian_err > 10 * material_err
    assert 1 <= result.iterations < 10
    assert result.last_change_px < 0.01
    assert result.reach_rows == int(np.ceil(amplitude[-1] * direction[0] / STEP_PX)) + 1


def test_no_motion_is_the_eulerian_solution():
    rng = np.random.default_rng(2)
    n, rows, cols = 6, 5, 4
    pairs = _network(n)
    noise = rng.normal(0, 1e-4, (2, len(pairs), rows, cols))
    result = _run(pairs, noise[0], noise[1], n)
    direct = sbas(_dates(n), pairs, noise[0] * LOS_M_PER_PX)
    np.testing.assert_allclose(result.los.displacement, direct.displacement, rtol=1e-9, atol=1e-15)


def test_bad_arguments():
    pairs = _network(4)
    ok = np.zeros((len(pairs), 3, 3))
    with pytest.raises(ValueError, match="outside"):
        material_sbas(
            _dates(4),
            pairs,
            ok,
            ok,
            first_row=2,
            rows=2,
            step_px=1.0,
            los_m_per_px=np.ones(len(pairs)),
            azimuth_m_per_px=np.ones((len(pairs), 2, 3)),
            los_m_per_grid_px=1.0,
            azimuth_m_per_grid_px=np.ones((2, 3)),
        )
    with pytest.raises(ValueError, match="differ"):
        _run(pairs, ok, ok[:, :2], 4)
    with pytest.raises(ValueError, match="frame must be one of material, eulerian, got 'lagrange'"):
        invert_stack(Path("/nonexistent"), frame="lagrange")  # refused before any file is read
