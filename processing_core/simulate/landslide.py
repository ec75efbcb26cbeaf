"""The simulated landslide: where it sits on the DEM, how its ground moves, P1-P4.

The body is an ellipse elongated down the steepest smooth slope that faces away from the
radar (so it moves away from the sensor: negative LOS, as at Baige). Its ground moves
parallel to the mean slope surface, downslope; the amplitude is largest in the middle
and smaller at the toe, like the paper's Figure 3 (P2 largest, P4 about 0.64 of P2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from processing_core.dem import Dem
from processing_core.ellipsoid import enu_basis, geodetic_to_ecef

# Along-axis positions (-1 head, +1 toe) of the named points and the peak of the profile.
POINTS_AXIS = {"P1": -0.55, "P2": -0.1, "P3": 0.25, "P4": 0.56}
_PEAK = -0.1
_HALF_WIDTH = 1.1


@dataclass(frozen=True)
class Landslide:
    """A landslide body on a DEM and the unit direction of its motion."""

    centre_lat_deg: float
    """Centre of the ellipse."""
    centre_lon_deg: float
    """Centre of the ellipse."""
    downslope_azimuth_deg: float
    """Direction of motion, clockwise from north, deg."""
    slope_deg: float
    """Mean slope of the body, deg; the motion dips by this angle."""
    length_m: float
    """Length along the motion, m."""
    width_m: float
    """Width across the motion, m."""

    def direction_enu(self) -> np.ndarray:
        """Unit motion vector (east, north, up)."""
        az = np.radians(self.downslope_azimuth_deg)
        dip = np.radians(self.slope_deg)
        return np.array([np.sin(az) * np.cos(dip), np.cos(az) * np.cos(dip), -np.sin(dip)])

    def local_xy(self, lat_deg: np.ndarray, lon_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Along-axis (towards the toe) and across-axis coordinates, m, on a local tangent plane."""
        r = 6_371_000.0
        east = (
            np.radians(np.asarray(lon_deg) - self.centre_lon_deg)
            * r
            * np.cos(np.radians(self.centre_lat_deg))
        )
        north = np.radians(np.asarray(lat_deg) - self.centre_lat_deg) * r
        az = np.radians(self.downslope_azimuth_deg)
        along = east * np.sin(az) + north * np.cos(az)
        across = east * np.cos(az) - north * np.sin(az)
        return along, across

    def weight(self, lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
        """Relative amplitude of motion: 1 at P2, ~0.64 at P4, 0 outside the ellipse."""
        along, across = self.local_xy(lat_deg, lon_deg)
        s = along / (0.5 * self.length_m)
        c = across / (0.5 * self.width_m)
        profile = np.clip(1.0 - ((s - _PEAK) / _HALF_WIDTH) ** 2, 0.0, None)
        # Across the body the motion tapers to zero at the rim of the ellipse: sqrt(1 - c^2 / (1 - s^2)).
        room = np.clip(1.0 - s * s, 1e-12, None)
        taper = np.sqrt(np.clip(1.0 - c * c / room, 0.0, None))
        return np.where(s * s + c * c < 1.0, profile * taper, 0.0)

    def point(self, name: str) -> tuple[float, float]:
        """Latitude and longitude of a named point P1-P4 on the body's axis."""
        s = POINTS_AXIS[name]
        along = s * 0.5 * self.length_m
        az = np.radians(self.downslope_azimuth_deg)
        r = 6_371_000.0
        east, north = along * np.sin(az), along * np.cos(az)
        lat = self.centre_lat_deg + np.degrees(north / r)
        lon = self.centre_lon_deg + np.degrees(east / (r * np.cos(np.radians(self.centre_lat_deg))))
        return float(lat), float(lon)


def slope_aspect(dem: Dem, *, smooth_m: float = 250.0) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed slope (deg) and downslope azimuth (deg from north) of every DEM cell."""
    lon, lat = dem.lonlat()
    east, north, _ = enu_basis(lat, lon)
    xyz = geodetic_to_ecef(lat, lon, 0.0)
    d_row = np.gradient(xyz, axis=0)
    d_col = np.gradient(xyz, axis=1)
    # Ground metres per cell along rows/columns, expressed in east/north.
    rows_e = np.einsum("...i,...i", d_row, east)
    rows_n = np.einsum("...i,...i", d_row, north)
    cols_e = np.einsum("...i,...i", d_col, east)
    cols_n = np.einsum("...i,...i", d_col, north)
    cell = float(np.sqrt(np.median(np.abs(rows_n * cols_e - rows_e * cols_n))))
    h = gaussian_filter(np.nan_to_num(dem.heights_m, nan=float(np.nanmedian(dem.heights_m))), smooth_m / cell)
    dh_row = np.gradient(h, axis=0)
    dh_col = np.gradient(h, axis=1)
    det = rows_e * cols_n - rows_n * cols_e
    # Solve [rows_e rows_n; cols_e cols_n] [dh/de, dh/dn] = [dh_row, dh_col].
    dh_de = (dh_row * cols_n - dh_col * rows_n) / det
    dh_dn = (rows_e * dh_col - cols_e * dh_row) / det
    slope = np.degrees(np.arctan(np.hypot(dh_de, dh_dn)))
    aspect = np.degrees(np.arctan2(-dh_de, -dh_dn)) % 360.0
    return slope, aspect


def place_landslide(
    dem: Dem,
    *,
    away_azimuth_deg: float,
    length_m: float,
    width_m: float,
    margin_m: float,
    slope_range_deg: tuple[float, float] = (18.0, 32.0),
    oblique_deg: float = 12.0,
) -> Landslide:
    """Choose the body: a smooth slope in ``slope_range_deg`` facing within 40 deg of ``away_azimuth_deg``.

    Among the candidates at least ``margin_m`` inside the DEM, the best compromise of a steep
    slope, an aspect ``oblique_deg`` off the look direction and nearness to the DEM centre wins
    (deterministic for a DEM).

    Raises
    ------
    InputError
        When no slope of the DEM qualifies.
    """
    slope, aspect = slope_aspect(dem, smooth_m=0.12 * length_m)
    lon, lat = dem.lonlat()
    r = 6_371_000.0
    lat0, lon0 = float(np.mean(lat)), float(np.mean(lon))
    east = np.radians(lon - lon0) * r * np.cos(np.radians(lat0))
    north = np.radians(lat - lat0) * r
    half_e = 0.5 * (east.max() - east.min()) - margin_m
    half_n = 0.5 * (north.max() - north.min()) - margin_m
    turn = np.abs((aspect - away_azimuth_deg + 180.0) % 360.0 - 180.0)
    ok = (slope >= slope_range_deg[0]) & (slope <= slope_range_deg[1]) & (turn < 40.0)
    ok &= (np.abs(east - east.mean()) < half_e) & (np.abs(north - north.mean()) < half_n)
    if not ok.any():
        raise ValueError(
            f"{dem.path}: no slope of {slope_range_deg} deg facing {away_azimuth_deg:.0f} deg for a landslide"
        )
    # Score: steep (mid-range slope), facing away at ``oblique_deg`` to the look direction (so that the
    # motion has an along-track part, as at Baige), and central; 1 km, 5 deg and 8 deg weigh alike.
    target = 0.5 * (slope_range_deg[0] + slope_range_deg[1]) + 3.0
    score = np.hypot(east - east.mean(), north - north.mean()) / 1000.0 + np.abs(slope - target) / 5.0
    score += np.abs(turn - oblique_deg) / 8.0
    score[~ok] = np.inf
    i = np.unravel_index(int(np.argmin(score)), score.shape)
    return Landslide(
        centre_lat_deg=float(lat[i]),
        centre_lon_deg=float(lon[i]),
        downslope_azimuth_deg=float(aspect[i]),
        slope_deg=float(slope[i]),
        length_m=length_m,
        width_m=width_m,
    )
