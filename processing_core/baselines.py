"""Perpendicular baselines from orbits and master selection (paper, section 3; DESIGN.md step 2).

Per platform, the master is the scene minimising the summed normalised spread of temporal
baseline, perpendicular baseline and Doppler-centroid difference to all other scenes of that
platform; the final master linking all platforms defaults to the master of the newest platform
(Liu et al. 2020, GRL, doi:10.1029/2019GL086142).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from processing_core.geometry import RadarGeometry
from processing_core.scene import Scene


@dataclass(frozen=True)
class Baseline:
    """Baseline of a secondary scene relative to a reference, at the reference's scene centre."""

    perpendicular_m: float
    """Perpendicular baseline, m; positive when the secondary sees the centre at a larger look angle."""
    parallel_m: float
    """Component along the reference's line of sight (towards the ground), m."""
    temporal_days: float
    """Secondary date minus reference date, days."""


def scene_centre_ecef(geometry: RadarGeometry, height_m: float = 0.0) -> np.ndarray:
    """ECEF point seen by the centre pixel of a scene at an ellipsoidal height."""
    g = geometry.grid
    _, _, xyz = geometry.rdr2geo(
        geometry.time_of_line(0.5 * (g.lines - 1)), g.range_of_sample(0.5 * (g.samples - 1)), height_m
    )
    return np.asarray(xyz)


def baseline(reference: RadarGeometry, secondary: RadarGeometry, *, height_m: float = 0.0) -> Baseline:
    """Baseline between two scenes at the reference's scene centre (both at zero Doppler of the point)."""
    p = scene_centre_ecef(reference, height_m)
    t_ref = reference.geo2rdr_ecef(p[None, :]).azimuth_time_s
    t_sec = secondary.geo2rdr_ecef(p[None, :]).azimuth_time_s
    s_ref = reference.orbit.interpolate(t_ref).position_m[0]
    s_sec = secondary.orbit.interpolate(t_sec, check=False).position_m[0]
    v_ref = reference.orbit.interpolate(t_ref).velocity_m_s[0]
    look = (p - s_ref) / np.linalg.norm(p - s_ref)
    b = s_sec - s_ref
    up = s_ref / np.linalg.norm(s_ref)
    right = np.cross(v_ref, up)
    right /= np.linalg.norm(right)
    # Moving the antenna away from the target side (-side * right) increases the look angle.
    away = -reference.side * right
    normal = away - (away @ look) * look
    normal /= np.linalg.norm(normal)
    days = (
        (secondary.scene.radar_grid.first_line_time - reference.scene.radar_grid.first_line_time)
        / np.timedelta64(1, "s")
        / 86400.0
    )
    return Baseline(float(b @ normal), float(b @ look), float(days))


def select_master(scenes: Sequence[Scene]) -> str:
    """Id of the scene minimising sum over others of |dt|/sd(t) + |B_perp|/sd(B) + |d f_dc|/sd(f).

    Each term is normalised by the spread (standard deviation) of that quantity over the
    scenes, so that days, metres and hertz weigh alike; a quantity without spread is ignored.
    """
    if not scenes:
        raise ValueError("no scenes to choose a master from")
    if len(scenes) == 1:
        return scenes[0].id
    geoms = [RadarGeometry(s) for s in scenes]
    # Positions in (days, B_perp, Doppler) relative to the first scene; differences are what count.
    ref = geoms[0]
    days = np.array([baseline(ref, g).temporal_days for g in geoms])
    bperp = np.array([baseline(ref, g).perpendicular_m for g in geoms])
    fdc = np.array(
        [
            float(g.doppler_hz(np.array([g.grid.range_of_sample(0.5 * (g.grid.samples - 1))]))[0])
            for g in geoms
        ]
    )
    cost = np.zeros(len(scenes))
    for values in (days, bperp, fdc):
        spread = float(np.std(values))
        if spread > 0:
            cost += np.abs(values[:, None] - values[None, :]).sum(axis=1) / spread
    return scenes[int(np.argmin(cost))].id


def select_masters(scenes: Sequence[Scene], *, final: str | None = None) -> dict[str, object]:
    """Per-platform masters and the final master (default: the master of the newest platform).

    Returns ``{"per_platform": {platform: id}, "final": id}``.
    """
    by_platform: dict[str, list[Scene]] = {}
    for s in scenes:
        by_platform.setdefault(s.platform, []).append(s)
    per_platform = {p: select_master(group) for p, group in by_platform.items()}
    if final is None:
        newest = max(by_platform, key=lambda p: max(s.radar_grid.first_line_time for s in by_platform[p]))
        final = per_platform[newest]
    elif final not in {s.id for s in scenes}:
        raise ValueError(f"final master '{final}' is not one of the scenes")
    return {"per_platform": per_platform, "final": final}
