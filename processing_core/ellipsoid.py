"""WGS84 ellipsoid: geodetic <-> Earth-centred Earth-fixed (EPSG:4979 <-> EPSG:4978).

Pure numpy and vectorised over any shape; angles in degrees at the interface.
The inverse uses Bowring's parametric-latitude iteration, converged to well below
1e-12 rad in three steps for points between -10 km and 1000 km height.
"""

from __future__ import annotations

import numpy as np

WGS84_A_M = 6_378_137.0
"""Semi-major axis, m."""
WGS84_F = 1.0 / 298.257223563
"""Flattening."""
WGS84_B_M = WGS84_A_M * (1.0 - WGS84_F)
"""Semi-minor axis, m."""
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
"""First eccentricity squared."""
_EP2 = WGS84_E2 / (1.0 - WGS84_E2)


def geodetic_to_ecef(lat_deg: np.ndarray, lon_deg: np.ndarray, height_m: np.ndarray) -> np.ndarray:
    """Convert geodetic latitude, longitude (deg) and ellipsoidal height (m) to ECEF.

    Returns
    -------
    numpy.ndarray
        Shape ``broadcast(lat, lon, height).shape + (3,)``, metres.
    """
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    h = np.asarray(height_m, dtype=np.float64)
    sin_lat = np.sin(lat)
    cos_lat = np.cos(lat)
    n = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
    x = (n + h) * cos_lat * np.cos(lon)
    y = (n + h) * cos_lat * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + h) * sin_lat
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def ecef_to_geodetic(xyz_m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convert ECEF positions of shape (..., 3) to latitude, longitude (deg) and height (m)."""
    xyz = np.asarray(xyz_m, dtype=np.float64)
    # Contiguous copies: numpy 1.24's arctan2 on strided views (here every third double) rounds
    # differently from one call to the next with where the heap puts its output (AVX-512 SIMD
    # loop or scalar fallback; seen: 1e-14 deg), so the same points gave other bits.
    x, y, z = (np.ascontiguousarray(xyz[..., k]) for k in range(3))
    p = np.hypot(x, y)
    lon = np.arctan2(y, x)
    beta = np.arctan2(z, (1.0 - WGS84_F) * p)
    for _ in range(3):
        sb, cb = np.sin(beta), np.cos(beta)
        lat = np.arctan2(z + _EP2 * WGS84_B_M * sb**3, p - WGS84_E2 * WGS84_A_M * cb**3)
        beta = np.arctan2((1.0 - WGS84_F) * np.sin(lat), np.cos(lat))
    sin_lat = np.sin(lat)
    n = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
    # Height formula stable at all latitudes (no division by cos(lat)).
    h = p * np.cos(lat) + z * sin_lat - WGS84_A_M * WGS84_A_M / n
    return np.degrees(lat), np.degrees(lon), h


def ellipsoid_normal(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    """Unit outward normal (local "up") of the ellipsoid at geodetic lat/lon, shape (..., 3)."""
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    return np.stack(
        np.broadcast_arrays(np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)), axis=-1
    )


def enu_basis(lat_deg: np.ndarray, lon_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit east, north and up vectors in ECEF at geodetic lat/lon, each of shape (..., 3)."""
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    east = np.stack(np.broadcast_arrays(-so, co, np.zeros_like(so)), axis=-1)
    north = np.stack(np.broadcast_arrays(-sl * co, -sl * so, cl), axis=-1)
    up = np.stack(np.broadcast_arrays(cl * co, cl * so, sl), axis=-1)
    return east, north, up
