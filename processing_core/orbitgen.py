"""Synthetic circular orbits and scene geometries (for the simulator, tests and the demo).

A circular orbit of given altitude and inclination is placed so that, at a chosen
time, a chosen ground point lies at zero Doppler on the look side at a chosen
off-nadir angle. The inertial orbit is rotated into the Earth-fixed frame
(ECEF velocity includes the Earth's rotation), and sampled as state vectors like
a real product's (ALOS: 60 s spacing). Earth's oblateness is ignored in the
dynamics (J2 precession is negligible over a few minutes), not in the geometry.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import fsolve

from processing_core.ellipsoid import enu_basis, geodetic_to_ecef
from processing_core.scene import RadarGrid, Scene, StateVector
from processing_core.timeutil import add_seconds

GM_M3_S2 = 3.986004418e14
"""Earth's gravitational parameter (WGS84), m^3/s^2."""
OMEGA_EARTH_RAD_S = 7.2921151467e-5
"""Earth's rotation rate (WGS84), rad/s."""
R_MEAN_M = 6_371_008.8


@dataclass(frozen=True)
class CircularOrbit:
    """A circular Keplerian orbit: ECEF state at seconds ``t`` after its reference time."""

    radius_m: float
    """Orbit radius (Earth radius + altitude), m."""
    inclination_deg: float
    """Inclination, deg (98.2 for ALOS's sun-synchronous orbit)."""
    raan_rad: float
    """Right ascension of the ascending node in the frame that coincides with ECEF at t=0."""
    arg_latitude_rad: float
    """Argument of latitude at t=0."""

    @property
    def mean_motion_rad_s(self) -> float:
        """Angular rate along the orbit, rad/s."""
        return float(np.sqrt(GM_M3_S2 / self.radius_m**3))

    def state(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ECEF position (m) and velocity (m/s) at times ``t_s``, each of shape (n, 3)."""
        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        n = self.mean_motion_rad_s
        u = self.arg_latitude_rad + n * t
        inc = np.radians(self.inclination_deg)
        co, so, ci, si = np.cos(self.raan_rad), np.sin(self.raan_rad), np.cos(inc), np.sin(inc)
        # Inertial position: Rz(raan) Rx(inc) [r cos u, r sin u, 0].
        xo, yo = self.radius_m * np.cos(u), self.radius_m * np.sin(u)
        vxo, vyo = -self.radius_m * n * np.sin(u), self.radius_m * n * np.cos(u)
        pos_i = np.stack([co * xo - so * ci * yo, so * xo + co * ci * yo, si * yo], axis=-1)
        vel_i = np.stack([co * vxo - so * ci * vyo, so * vxo + co * ci * vyo, si * vyo], axis=-1)
        theta = OMEGA_EARTH_RAD_S * t
        c, s = np.cos(theta), np.sin(theta)
        pos = np.stack(
            [c * pos_i[:, 0] + s * pos_i[:, 1], -s * pos_i[:, 0] + c * pos_i[:, 1], pos_i[:, 2]], -1
        )
        vel_r = np.stack(
            [c * vel_i[:, 0] + s * vel_i[:, 1], -s * vel_i[:, 0] + c * vel_i[:, 1], vel_i[:, 2]], -1
        )
        omega = np.array([0.0, 0.0, OMEGA_EARTH_RAD_S])
        return pos, vel_r - np.cross(omega, pos)


def orbit_looking_at(
    lat_deg: float,
    lon_deg: float,
    height_m: float,
    *,
    off_nadir_deg: float,
    altitude_m: float = 691_650.0,
    inclination_deg: float = 98.2,
    pass_direction: str = "ascending",
    look_side: str = "right",
    cross_track_shift_m: float = 0.0,
) -> CircularOrbit:
    """Circular orbit that sees a ground point at zero Doppler at t=0 with the given off-nadir angle.

    ``cross_track_shift_m`` moves the orbit sideways (away from the target for positive
    values) after solving, which is how repeat passes with a perpendicular baseline are made.
    """
    if pass_direction not in ("ascending", "descending"):
        raise ValueError(f"pass_direction must be 'ascending' or 'descending', got {pass_direction!r}")
    if look_side not in ("right", "left"):
        raise ValueError(f"look_side must be 'right' or 'left', got {look_side!r}")
    target = geodetic_to_ecef(lat_deg, lon_deg, height_m)
    radius = R_MEAN_M + altitude_m
    side = 1.0 if look_side == "right" else -1.0
    inc = np.radians(inclination_deg)
    arg0 = np.arcsin(np.clip(np.sin(np.radians(lat_deg)) / np.sin(inc), -1, 1))
    if pass_direction == "descending":
        arg0 = np.pi - arg0

    def make(params: np.ndarray) -> CircularOrbit:
        return CircularOrbit(radius, inclination_deg, float(params[0]), float(params[1]))

    def residual(params: np.ndarray) -> np.ndarray:
        pos, vel = make(params).state(0.0)
        d = target - pos[0]
        look = d / np.linalg.norm(d)
        up = pos[0] / np.linalg.norm(pos[0])
        off_nadir = np.arccos(np.clip(-look @ up, -1, 1))
        right = np.cross(vel[0], up)
        sign = np.sign(right @ d) * side
        return np.array(
            [vel[0] @ look / np.linalg.norm(vel[0]), sign * off_nadir - np.radians(off_nadir_deg)]
        )

    north = enu_basis(lat_deg, lon_deg)[1]
    northward = 1.0 if pass_direction == "ascending" else -1.0

    # Seed: the node longitude that puts the orbit over the target, scanned coarsely; keep the
    # first solution flying in the asked direction (the equations alone admit both passes).
    best = None
    for raan in np.radians(np.arange(0.0, 360.0, 10.0)):
        guess = np.array([raan, arg0])
        sol, info, ier, _ = fsolve(residual, guess, full_output=True, xtol=1e-13)
        if ier == 1 and np.max(np.abs(residual(sol))) < 1e-10:
            if northward * (make(sol).state(0.0)[1][0] @ north) > 0:
                best = sol
                break
    if best is None:
        raise ValueError(f"no orbit found looking at lat {lat_deg}, lon {lon_deg} at {off_nadir_deg} deg")
    orbit = make(best)
    if cross_track_shift_m:
        # Rotate the orbital plane about the along-track axis at t=0 by shift / radius.
        orbit = _shift_cross_track(orbit, cross_track_shift_m * side, target)
    return orbit


def _shift_cross_track(orbit: CircularOrbit, shift_m: float, target: np.ndarray) -> CircularOrbit:
    """Move the orbit sideways by ``shift_m`` at t=0, keeping the target at zero Doppler."""
    pos, vel = orbit.state(0.0)
    up = pos[0] / np.linalg.norm(pos[0])
    away = np.cross(vel[0], up)
    away /= np.linalg.norm(away)
    wanted = pos[0] - shift_m * away  # positive shift: away from a right-looking target

    def residual(params: np.ndarray) -> np.ndarray:
        o = CircularOrbit(orbit.radius_m, orbit.inclination_deg, float(params[0]), float(params[1]))
        p, v = o.state(0.0)
        d = target - p[0]
        return np.array([(p[0] - wanted) @ away / 1e3, (v[0] @ d) / np.linalg.norm(v[0]) / 1e3])

    sol = fsolve(residual, np.array([orbit.raan_rad, orbit.arg_latitude_rad]), xtol=1e-12)
    return CircularOrbit(orbit.radius_m, orbit.inclination_deg, float(sol[0]), float(sol[1]))


def synthetic_scene(
    *,
    scene_id: str,
    centre_lat_deg: float,
    centre_lon_deg: float,
    centre_height_m: float,
    centre_time: np.datetime64,
    lines: int,
    samples: int,
    off_nadir_deg: float = 34.3,
    wavelength_m: float = 0.236057,
    line_time_interval_s: float = 1.0 / 2159.827,
    slant_range_spacing_m: float = 4.683,
    pass_direction: str = "ascending",
    look_side: str = "right",
    doppler_centroid_hz: tuple[float, ...] = (0.0,),
    platform: str = "ALOS",
    sensor: str = "PALSAR",
    mode: str = "FBS",
    polarization: str = "HH",
    state_vector_interval_s: float = 60.0,
    cross_track_shift_m: float = 0.0,
    altitude_m: float = 691_650.0,
    image: str | None = None,
) -> Scene:
    """A scene whose radar grid is centred on a ground point (defaults: ALOS PALSAR-1 FBS).

    The grid centre sees the point at zero Doppler; the grid's first line and first
    sample are placed half a scene before and nearer. State vectors span the scene
    with three spare vectors on each side.
    """
    orbit = orbit_looking_at(
        centre_lat_deg,
        centre_lon_deg,
        centre_height_m,
        off_nadir_deg=off_nadir_deg,
        altitude_m=altitude_m,
        pass_direction=pass_direction,
        look_side=look_side,
        cross_track_shift_m=cross_track_shift_m,
    )
    pos, _ = orbit.state(0.0)
    target = geodetic_to_ecef(centre_lat_deg, centre_lon_deg, centre_height_m)
    r_centre = float(np.linalg.norm(target - pos[0]))
    half = 0.5 * (lines - 1) * line_time_interval_s
    n_half = int(np.ceil(half / state_vector_interval_s)) + 3
    t_sv = np.arange(-n_half, n_half + 1) * state_vector_interval_s
    p_sv, v_sv = orbit.state(t_sv)
    centre_time = np.datetime64(centre_time, "ns")
    svs = tuple(
        StateVector(add_seconds(centre_time, t), tuple(p), tuple(v))  # type: ignore[arg-type]
        for t, p, v in zip(t_sv, p_sv, v_sv)
    )
    grid = RadarGrid(
        first_line_time=add_seconds(centre_time, -half),
        line_time_interval_s=line_time_interval_s,
        slant_range_first_m=r_centre - 0.5 * (samples - 1) * slant_range_spacing_m,
        slant_range_spacing_m=slant_range_spacing_m,
        lines=lines,
        samples=samples,
    )
    scene = Scene(
        id=scene_id,
        platform=platform,
        sensor=sensor,
        mode=mode,
        polarization=polarization,
        pass_direction=pass_direction,
        look_side=look_side,
        wavelength_m=wavelength_m,
        radar_grid=grid,
        doppler_centroid_hz=tuple(doppler_centroid_hz),
        orbit=svs,
        image=image or f"{scene_id}.tif",
    )
    if not any(doppler_centroid_hz):
        return scene
    # A squinted scene sees the centre at its Doppler-centroid time and range: re-centre the grid.
    from processing_core.geometry import RadarGeometry

    # The Doppler depends on the sample index, which the range shift moves: iterate.
    for _ in range(4):
        rc = RadarGeometry(scene).geo2rdr_ecef(target[None, :])
        d_lines = float(rc.line[0]) - 0.5 * (lines - 1)
        d_samples = float(rc.sample[0]) - 0.5 * (samples - 1)
        grid = replace(
            scene.radar_grid,
            first_line_time=add_seconds(scene.radar_grid.first_line_time, d_lines * line_time_interval_s),
            slant_range_first_m=scene.radar_grid.slant_range_first_m + d_samples * slant_range_spacing_m,
        )
        scene = replace(scene, radar_grid=grid)
    return scene


def east_north_up(lat_deg: float, lon_deg: float) -> np.ndarray:
    """Rows: east, north, up unit vectors (ECEF) at a point; handy to build displacements."""
    e, n, u = enu_basis(lat_deg, lon_deg)
    return np.stack([e, n, u])
