"""Layer 1: orbit interpolation (local Hermite), against analytic orbits and real state vectors."""

from __future__ import annotations

import numpy as np
import pytest
from sentinel1_fixture import scene_dict

from processing_core.errors import OrbitRangeError
from processing_core.orbit import Orbit
from processing_core.orbitgen import CircularOrbit
from processing_core.scene import StateVector, scene_from_dict
from processing_core.timeutil import add_seconds

EPOCH = np.datetime64("2010-06-01T00:00:00", "ns")
KEPLER = CircularOrbit(radius_m=7_062_000.0, inclination_deg=98.2, raan_rad=0.3, arg_latitude_rad=0.7)


def _vectors(spacing_s: float, count: int) -> list[StateVector]:
    t = np.arange(count) * spacing_s
    pos, vel = KEPLER.state(t)
    return [StateVector(add_seconds(EPOCH, ti), tuple(p), tuple(v)) for ti, p, v in zip(t, pos, vel)]


def _acceleration(t: np.ndarray) -> np.ndarray:
    h = 1e-3
    return (KEPLER.state(t + h)[1] - KEPLER.state(t - h)[1]) / (2 * h)


@pytest.mark.parametrize(
    ("spacing_s", "window", "tol_m"), [(60.0, 4, 1e-6), (10.0, 4, 1e-6), (10.0, 2, 2e-3)]
)
def test_hermite_matches_keplerian_orbit(spacing_s, window, tol_m):
    """Degree-7 Hermite on ALOS's 60 s vectors is exact to a micrometre; cubic on 10 s to ~1 mm."""
    orbit = Orbit(_vectors(spacing_s, 12), window=window)
    t = np.linspace(0.0, 11 * spacing_s, 2001)
    state = orbit.interpolate(t)
    pos, vel = KEPLER.state(t)
    assert np.abs(state.position_m - pos).max() < tol_m
    assert np.abs(state.velocity_m_s - vel).max() < tol_m / spacing_s * 10
    assert np.abs(state.acceleration_m_s2 - _acceleration(t)).max() < 1e-4


def test_trajectory_is_c1_across_pieces():
    orbit = Orbit(_vectors(60.0, 10))
    node = orbit.times_s[4]
    left = orbit.interpolate(node - 1e-7)
    right = orbit.interpolate(node + 1e-7)
    assert np.abs(left.position_m - right.position_m).max() < 2e-3  # 7.6 km/s * 2e-7 s
    assert np.abs(left.velocity_m_s - right.velocity_m_s).max() < 1e-5


def test_outside_span_is_a_clear_error():
    orbit = Orbit(_vectors(60.0, 6))
    with pytest.raises(OrbitRangeError, match="outside the orbit span 0 to 300.000 s"):
        orbit.interpolate(np.array([10.0, 301.0]))
    with pytest.raises(ValueError, match="window must be between 2 and 8"):
        Orbit(_vectors(60.0, 6), window=9)


def test_real_sentinel1_vectors_leave_one_out():
    """Real ESA state vectors (10 s): predict each inner vector from the others (20 s gaps) to < 1 cm."""
    scene = scene_from_dict(scene_dict())
    vectors = scene.orbit
    kept = vectors[::2]
    orbit = Orbit(kept)
    for sv in vectors[3:-3:2]:
        state = orbit.interpolate(orbit.seconds(sv.time))
        assert np.linalg.norm(state.position_m - np.array(sv.position_m)) < 0.01
        assert np.linalg.norm(state.velocity_m_s - np.array(sv.velocity_m_s)) < 1e-4
    full = Orbit(vectors)
    for sv in vectors:
        state = full.interpolate(full.seconds(sv.time))
        assert np.linalg.norm(state.position_m - np.array(sv.position_m)) < 1e-6
