"""Layer 1: WGS84 geodetic <-> ECEF against PROJ (an independent implementation)."""

from __future__ import annotations

import numpy as np
import pyproj

from processing_core.ellipsoid import ecef_to_geodetic, enu_basis, geodetic_to_ecef  # sets PROJ_DATA in venvs


def test_matches_proj_both_ways():
    rng = np.random.default_rng(7)
    lat = rng.uniform(-89.99, 89.99, 20000)
    lon = rng.uniform(-180, 180, 20000)
    h = rng.uniform(-400, 900e3, 20000)
    to_ecef = pyproj.Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
    expected = np.stack(to_ecef.transform(lon, lat, h), axis=-1)
    xyz = geodetic_to_ecef(lat, lon, h)
    assert np.abs(xyz - expected).max() < 1e-6
    la, lo, hh = ecef_to_geodetic(expected)
    assert np.abs(la - lat).max() < 1e-11
    assert np.abs(lo - lon).max() < 1e-11
    assert np.abs(hh - h).max() < 1e-6


def test_enu_is_orthonormal_and_up_is_normal():
    e, n, u = enu_basis(np.array([34.3, -60.0]), np.array([-118.2, 10.0]))
    for a, b in ((e, n), (n, u), (e, u)):
        assert np.abs(np.einsum("...i,...i", a, b)).max() < 1e-15
    assert np.allclose(np.cross(e, n), u)
    lat, lon = 34.3, -118.2
    dh = geodetic_to_ecef(lat, lon, 1.0) - geodetic_to_ecef(lat, lon, 0.0)
    assert np.allclose(dh, u[0], atol=1e-9)
