"""Simulate a whole stack folder: scenes in the interchange format, stack.json and truth/."""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from processing_core.atomic import write_json
from processing_core.baselines import baseline, select_masters
from processing_core.dem import Dem, read_dem
from processing_core.ellipsoid import enu_basis, geodetic_to_ecef
from processing_core.errors import DemError, InputError
from processing_core.geometry import RadarGeometry
from processing_core.lookup import radar_to_ground
from processing_core.orbitgen import synthetic_scene
from processing_core.pointsio import write_csv
from processing_core.progress import ProgressCallback, report
from processing_core.radar_grids import azimuth_spacing_m
from processing_core.rasters import write_geotiff
from processing_core.scene import Scene, StateVector, write_scene
from processing_core.simulate.imaging import evolve_scatterers, image_scene, make_terrain
from processing_core.simulate.landslide import POINTS_AXIS, Landslide, place_landslide
from processing_core.simulate.platforms import PlatformSpec
from processing_core.simulate.scenario import Scenario
from processing_core.stack import Stack
from processing_core.timeutil import add_seconds

_SUBFACET_PX = 0.6
"""Largest sub-facet spacing, in pixels of the finest grid of the stack."""


@dataclass
class _Acquisition:
    spec: PlatformSpec
    date: np.datetime64
    true_scene: Scene
    annotated: Scene


def _ground_spacings(spec: PlatformSpec) -> tuple[float, float]:
    """Approximate azimuth and ground-range pixel spacing at the scene centre, m."""
    r_earth = 6_371_000.0
    radius = r_earth + spec.altitude_m
    speed = np.sqrt(3.986004418e14 / radius)
    azimuth = speed * r_earth / radius / spec.prf_hz
    incidence = np.arcsin(radius / r_earth * np.sin(np.radians(spec.off_nadir_deg)))
    return float(azimuth), float(spec.slant_range_spacing_m / np.sin(incidence))


def moisture_factor(date: np.datetime64) -> float:
    """Seasonal soil-moisture brightness: +35 % at the height of the summer monsoon (early August)."""
    doy = float((np.datetime64(date, "D") - np.datetime64(date, "Y")).astype(int)) + 1.0
    return 1.0 + 0.35 * float(np.exp(-(((doy - 215.0) / 40.0) ** 2)))


def _away_azimuth(dem: Dem, spec: PlatformSpec, pass_direction: str) -> float:
    """Horizontal azimuth (deg from north) of the look direction at the DEM centre."""
    lon, lat = dem.lonlat()
    la, lo = float(np.mean(lat)), float(np.mean(lon))
    scene = _true_scene(
        spec, "probe", np.datetime64("2015-01-01"), la, lo, 0.0, (1000.0, 1000.0), 0.0, (0.0,), pass_direction
    )
    geom = RadarGeometry(scene)
    p = geodetic_to_ecef(la, lo, 0.0)
    t = geom.geo2rdr_ecef(p[None, :]).azimuth_time_s
    d = p - geom.orbit.interpolate(t).position_m[0]
    e, n, _ = enu_basis(la, lo)
    return float(np.degrees(np.arctan2(d @ e, d @ n)) % 360.0)


def _true_scene(
    spec: PlatformSpec,
    scene_id: str,
    date: np.datetime64,
    lat: float,
    lon: float,
    height: float,
    extent_m: tuple[float, float],
    shift_m: float,
    doppler: tuple[float, ...],
    pass_direction: str = "ascending",
) -> Scene:
    az, grd = _ground_spacings(spec)
    return synthetic_scene(
        scene_id=scene_id,
        centre_lat_deg=lat,
        centre_lon_deg=lon,
        centre_height_m=height,
        centre_time=np.datetime64(date, "D") + np.timedelta64(6 * 3600 + 12 * 60, "s"),
        lines=int(round(extent_m[0] / az)),
        samples=int(round(extent_m[1] / grd)),
        off_nadir_deg=spec.off_nadir_deg,
        wavelength_m=spec.wavelength_m,
        line_time_interval_s=spec.line_time_interval_s,
        slant_range_spacing_m=spec.slant_range_spacing_m,
        doppler_centroid_hz=doppler,
        platform=spec.platform,
        sensor=spec.sensor,
        mode=spec.mode,
        state_vector_interval_s=spec.state_vector_interval_s,
        cross_track_shift_m=shift_m,
        altitude_m=spec.altitude_m,
        pass_direction=pass_direction,
    )


def _annotate(scene: Scene, scenario: Scenario, rng: np.random.Generator) -> tuple[Scene, dict[str, float]]:
    """The sidecar as a real product would carry it: timing and orbit errors of a few pixels."""
    g = scene.radar_grid
    d_lines = float(rng.normal(0.0, scenario.timing_error_px))
    d_samples = float(rng.normal(0.0, scenario.timing_error_px))
    d_orbit = rng.normal(0.0, scenario.orbit_error_m, 3)
    grid = replace(
        g,
        first_line_time=add_seconds(g.first_line_time, d_lines * g.line_time_interval_s),
        slant_range_first_m=g.slant_range_first_m + d_samples * g.slant_range_spacing_m,
    )
    orbit = tuple(
        StateVector(sv.time, tuple(np.add(sv.position_m, d_orbit)), sv.velocity_m_s)  # type: ignore[arg-type]
        for sv in scene.orbit
    )
    errors = {"azimuth_px": d_lines, "range_px": d_samples, "orbit_m": [float(v) for v in d_orbit]}
    return replace(scene, radar_grid=grid, orbit=orbit), errors


def _crop(dem: Dem, lat: float, lon: float, half_m: float) -> Dem:
    row, col = dem.index_of(lat, lon)
    x0, dx, _, y0, _, dy = dem.geotransform
    cell = abs(dx) if dem.crs.is_projected else abs(dx) * 111_320.0 * np.cos(np.radians(lat))
    cell_row = abs(dy) if dem.crs.is_projected else abs(dy) * 110_540.0
    nr, nc = int(np.ceil(half_m / cell_row)), int(np.ceil(half_m / cell))
    r, c = int(round(row)), int(round(col))
    if r - nr < 0 or c - nc < 0 or r + nr + 1 > dem.shape[0] or c + nc + 1 > dem.shape[1]:
        raise DemError(
            f"{dem.path}: DEM too small around the landslide for a {2 * half_m / 1000:.1f} km wide stack area"
        )
    return dem.crop(r - nr, r + nr + 1, c - nc, c + nc + 1)


def simulate_stack(
    scenario: Scenario,
    dem_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    extent_m: tuple[float, float] | None = None,
    dem_vertical: str = "egm96",
    progress: ProgressCallback | None = None,
) -> Stack:
    """Simulate ``scenario`` over a DEM into the stack folder ``out_dir``; return the stack."""
    rng = np.random.default_rng(seed)
    if extent_m is not None:
        scenario = replace(scenario, extent_m=tuple(float(v) for v in extent_m))  # type: ignore[arg-type]
    dem_full = read_dem(dem_path, vertical=dem_vertical)
    specs = {spec.platform: spec for spec, _ in scenario.acquisitions}
    newest = scenario.acquisitions[int(np.argmax(scenario.dates()))][0]
    half = 0.5 * max(scenario.extent_m) * 1.5 + 600.0
    landslide = place_landslide(
        dem_full,
        away_azimuth_deg=_away_azimuth(dem_full, newest, scenario.pass_direction),
        length_m=scenario.body_m[0],
        width_m=scenario.body_m[1],
        margin_m=half,
    )
    dem = _crop(dem_full, landslide.centre_lat_deg, landslide.centre_lon_deg, half)
    centre_h = float(dem.sample(np.array(landslide.centre_lat_deg), np.array(landslide.centre_lon_deg)))
    report(progress, 0.03, "landslide placed")
    # Sub-facets at most ~0.6 px apart in the finest grid of all platforms.
    az_min = min(_ground_spacings(s)[0] for s in specs.values())
    grd_min = min(_ground_spacings(s)[1] for s in specs.values())
    lon, lat = dem.lonlat()
    cell_cols_m = float(
        np.linalg.norm(geodetic_to_ecef(lat[0, 1], lon[0, 1], 0) - geodetic_to_ecef(lat[0, 0], lon[0, 0], 0))
    )
    cell_rows_m = float(
        np.linalg.norm(geodetic_to_ecef(lat[1, 0], lon[1, 0], 0) - geodetic_to_ecef(lat[0, 0], lon[0, 0], 0))
    )
    terrain = make_terrain(
        dem,
        fa=int(np.ceil(cell_rows_m / (_SUBFACET_PX * az_min))),
        fb=int(np.ceil(cell_cols_m / (_SUBFACET_PX * grd_min))),
        rng=rng,
    )
    weight = landslide.weight(lat, lon)
    quad_weight = 0.25 * (weight[:-1, :-1] + weight[:-1, 1:] + weight[1:, :-1] + weight[1:, 1:]).ravel()
    memory = np.where(quad_weight > 0, scenario.landslide_speckle_memory_days, scenario.speckle_memory_days)
    # Acquisitions: true geometry (for imaging) and the annotated sidecar (with errors).
    acquisitions: list[_Acquisition] = []
    errors: dict[str, dict[str, object]] = {}
    for spec, date_text in sorted(scenario.acquisitions, key=lambda a: a[1]):
        date = np.datetime64(date_text, "D")
        scene_id = f"{spec.sensor.replace('-', '')}_{str(date).replace('-', '')}"
        doppler: tuple[float, ...] = (0.0,)
        if spec.platform == "ALOS" and scenario.palsar1_doppler:
            doppler = (float(rng.normal(90.0, 50.0)), float(rng.normal(-0.01, 0.003)))
        shift = float(rng.normal(0.0, spec.baseline_spread_m))
        true_scene = _true_scene(
            spec,
            scene_id,
            date,
            landslide.centre_lat_deg,
            landslide.centre_lon_deg,
            centre_h,
            scenario.extent_m,
            shift,
            doppler,
            scenario.pass_direction,
        )
        annotated, err = _annotate(true_scene, scenario, rng)
        acquisitions.append(_Acquisition(spec, date, true_scene, annotated))
        errors[scene_id] = err
    # The final master decides the truth geometry and scales the motion (LOS at P2 = the history).
    masters = select_masters([a.annotated for a in acquisitions])
    master = next(a for a in acquisitions if a.true_scene.id == masters["final"])
    master_geom = RadarGeometry(master.true_scene)
    p2_lat, p2_lon = landslide.point("P2")
    p2_h = float(dem.sample(np.array(p2_lat), np.array(p2_lon)))
    look = _look_enu(master_geom, p2_lat, p2_lon, p2_h)
    projection = float(landslide.direction_enu() @ look)  # > 0: moving away from the sensor
    if projection < 0.2:
        raise InputError(
            f"{dem_path}: landslide motion {landslide.direction_enu()} is not away from the sensor (projection {projection:.2f})"
        )
    dates = np.array([a.date for a in acquisitions])
    # LOS = -(change of range) = -magnitude * projection at P2 follows the scenario's history.
    magnitude = -scenario.los_at_p2_m(dates) / projection
    out = Path(out_dir)
    scenes_dir = out / "scenes"
    scenes_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(root=out)
    direction = landslide.direction_enu()

    def image_and_write(i: int, acq: _Acquisition, state: np.ndarray) -> Path:
        displacement = magnitude[i] * weight[..., None] * direction
        intensity = image_scene(
            RadarGeometry(acq.true_scene), terrain, displacement, state, moisture=moisture_factor(acq.date)
        )
        az, grd = _ground_spacings(acq.spec)
        amplitude = np.sqrt(intensity / (az * grd))  # sigma0-like: intensity per m^2 of ground
        write_geotiff(
            scenes_dir / acq.annotated.image,
            [amplitude],
            descriptions=["amplitude"],
            metadata={"SCENE_ID": acq.annotated.id, "SOURCE": f"simulated ({scenario.name}, seed {seed})"},
        )
        return write_scene(acq.annotated, scenes_dir / f"{acq.annotated.id}.json")

    # The scatterer states evolve date after date here while a worker images the previous date
    # (numpy releases the GIL), so both cores work.
    state = None
    previous = None
    pending: list[Future[Path]] = []
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        for i, acq in enumerate(acquisitions):
            days = 0.0 if previous is None else float((acq.date - previous).astype(int))
            state = evolve_scatterers(state, terrain.texture.shape, memory[None, None, :], days, rng)
            previous = acq.date
            pending.append(pool.submit(image_and_write, i, acq, state))
            while len(pending) > 1 or (pending and i == len(acquisitions) - 1):
                done = pending.pop(0).result()
                stack.add_scene(next(a.annotated for a in acquisitions if a.annotated.id == done.stem), done)
                report(progress, 0.05 + 0.8 * len(stack.scenes) / len(acquisitions), f"imaged {done.stem}")
    stack.masters = masters
    stack.parameters["simulate"] = {
        "scenario": scenario.name,
        "seed": seed,
        "extent_m": list(scenario.extent_m),
    }
    stack.record("simulate", {"scenario": scenario.name, "dem": str(Path(dem_path).resolve()), "seed": seed})
    _write_truth(
        out / "truth", scenario, seed, landslide, dem, master_geom, acquisitions, magnitude, errors, progress
    )
    stack.save()
    report(progress, 1.0, "stack simulated")
    return stack


def _look_enu(geom: RadarGeometry, lat: float, lon: float, h: float) -> np.ndarray:
    """Unit vector from the sensor to the ground point, in east/north/up at the point."""
    p = geodetic_to_ecef(lat, lon, h)
    t = geom.geo2rdr_ecef(p[None, :]).azimuth_time_s
    d = p - geom.orbit.interpolate(t).position_m[0]
    d /= np.linalg.norm(d)
    e, n, u = enu_basis(lat, lon)
    return np.array([d @ e, d @ n, d @ u])


def _band_meta(dates: list[np.datetime64]) -> tuple[list[str], list[dict[str, str]]]:
    names = ["D" + str(d).replace("-", "") for d in dates]
    return names, [{"DATE": str(d)} for d in dates]


class RadarDisplacement:
    """LOS and azimuth displacement, in one scene's geometry, of fixed ground points.

    Exact: the original and the displaced point both go through geo2rdr; LOS is minus the
    change of slant range, azimuth the shift in lines times the ground length of a line there
    (positive along the flight direction).
    """

    def __init__(self, geom: RadarGeometry, lat: np.ndarray, lon: np.ndarray, h: np.ndarray) -> None:
        self.geom = geom
        self.xyz = geodetic_to_ecef(lat, lon, h)
        self.basis = enu_basis(lat, lon)
        self.before = geom.geo2rdr_ecef(self.xyz)
        self.spacing_m = azimuth_spacing_m(geom, self.before.line, self.before.sample, np.asarray(h))

    def __call__(self, d_enu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(los_m, azimuth_m) for displacements (..., 3) east/north/up, m."""
        e, n, u = self.basis
        moved = self.xyz + d_enu[..., 0:1] * e + d_enu[..., 1:2] * n + d_enu[..., 2:3] * u
        after = self.geom.geo2rdr_ecef(moved, t_init_s=self.before.azimuth_time_s)
        los = -(after.slant_range_m - self.before.slant_range_m)
        return los, (after.line - self.before.line) * self.spacing_m


def _write_truth(
    folder: Path,
    scenario: Scenario,
    seed: int,
    landslide: Landslide,
    dem: Dem,
    master: RadarGeometry,
    acquisitions: list[_Acquisition],
    magnitude: np.ndarray,
    errors: dict[str, dict[str, object]],
    progress: ProgressCallback | None,
) -> None:
    """truth/: ground ENU fields, LOS/azimuth in the final master's geometry, P1-P4 series, and
    the true (error-free) sidecar of every scene in ``truth/scenes/``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scenes").mkdir(exist_ok=True)
    for acq in acquisitions:
        true = replace(acq.true_scene, image=f"../../scenes/{acq.true_scene.image}")
        write_scene(true, folder / "scenes" / f"{acq.true_scene.id}.json")
    dates = [a.date for a in acquisitions]
    names, band_meta = _band_meta(dates)
    direction = landslide.direction_enu()
    lon, lat = dem.lonlat()
    weight = landslide.weight(lat, lon)
    for k, comp in enumerate(("east", "north", "up")):
        write_geotiff(
            folder / f"ground_{comp}.tif",
            [m * weight * direction[k] for m in magnitude],
            descriptions=names,
            band_metadata=band_meta,
            geotransform=dem.geotransform,
            crs_wkt=dem.crs.to_wkt(),
            metadata={"UNITS": "m", "COMPONENT": comp},
        )
    # Master pixels that can move: the landslide's DEM cells mapped into the master, plus a margin.
    rc = master.geo2rdr(lat[weight > 0], lon[weight > 0], dem.heights_m[weight > 0])
    g = master.grid
    window = (
        max(int(np.floor(np.nanmin(rc.line))) - 8, 0),
        min(int(np.ceil(np.nanmax(rc.line))) + 9, g.lines),
        max(int(np.floor(np.nanmin(rc.sample))) - 8, 0),
        min(int(np.ceil(np.nanmax(rc.sample))) + 9, g.samples),
    )
    ground = radar_to_ground(master, dem, window=window)
    w = np.nan_to_num(landslide.weight(ground.lat_deg, ground.lon_deg))
    moving = w > 0
    los_bands, az_bands = [], []
    if moving.any():
        to_radar = RadarDisplacement(
            master, ground.lat_deg[moving], ground.lon_deg[moving], ground.height_m[moving]
        )
    for m in magnitude:
        los = np.zeros((g.lines, g.samples), dtype=np.float32)
        az = np.zeros_like(los)
        sub_los = np.where(np.isfinite(ground.lat_deg), 0.0, np.nan)
        sub_az = sub_los.copy()
        if moving.any() and m != 0.0:
            d = (m * w[moving])[:, None] * direction
            l_m, a_m = to_radar(d)
            sub_los[moving] = l_m
            sub_az[moving] = a_m
        los[window[0] : window[1], window[2] : window[3]] = sub_los
        az[window[0] : window[1], window[2] : window[3]] = sub_az
        los_bands.append(los)
        az_bands.append(az)
    meta = {"UNITS": "m", "GEOMETRY": f"final master {master.scene.id}"}
    write_geotiff(folder / "los.tif", los_bands, descriptions=names, band_metadata=band_meta, metadata=meta)
    write_geotiff(
        folder / "azimuth.tif", az_bands, descriptions=names, band_metadata=band_meta, metadata=meta
    )
    report(progress, 0.95, "truth maps written")
    points = []
    for name in POINTS_AXIS:
        p_lat, p_lon = landslide.point(name)
        p_h = float(dem.sample(np.array(p_lat), np.array(p_lon)))
        px = master.geo2rdr(p_lat, p_lon, p_h)
        w_p = float(landslide.weight(np.array(p_lat), np.array(p_lon)))
        d_all = magnitude[:, None] * w_p * direction
        at_point = RadarDisplacement(
            master, np.full(len(dates), p_lat), np.full(len(dates), p_lon), np.full(len(dates), p_h)
        )
        l_m, a_m = at_point(d_all)
        write_csv(
            folder / f"{name}.csv",
            ("date", "los_m", "azimuth_m", "east_m", "north_m", "up_m"),
            (
                (str(date), f"{lo:.4f}", f"{az:.4f}", f"{d[0]:.4f}", f"{d[1]:.4f}", f"{d[2]:.4f}")
                for date, lo, az, d in zip(dates, l_m, a_m, d_all)
            ),
            lineterminator="\n",
        )
        points.append(
            {
                "name": name,
                "lat": p_lat,
                "lon": p_lon,
                "height_m": p_h,
                "line": float(px.line),
                "sample": float(px.sample),
            }
        )
    write_csv(
        folder / "points.csv",
        ("name", "lat", "lon", "height_m", "line", "sample"),
        (
            (
                pt["name"],
                f"{pt['lat']:.8f}",
                f"{pt['lon']:.8f}",
                f"{pt['height_m']:.3f}",
                f"{pt['line']:.3f}",
                f"{pt['sample']:.3f}",
            )
            for pt in points
        ),
        lineterminator="\n",
    )
    scenes = []
    for acq, m in zip(acquisitions, magnitude):
        b = baseline(master, RadarGeometry(acq.true_scene))
        scenes.append(
            {
                "id": acq.true_scene.id,
                "date": str(acq.date),
                "platform": acq.spec.platform,
                "perpendicular_baseline_m": b.perpendicular_m,
                "annotation_errors": errors[acq.true_scene.id],
                "moisture_factor": moisture_factor(acq.date),
                "motion_at_p2_m": float(m),
                "doppler_centroid_hz": list(acq.true_scene.doppler_centroid_hz),
            }
        )
    info = {
        "scenario": scenario.name,
        "seed": seed,
        "final_master": master.scene.id,
        "landslide": {
            "centre_lat_deg": landslide.centre_lat_deg,
            "centre_lon_deg": landslide.centre_lon_deg,
            "downslope_azimuth_deg": landslide.downslope_azimuth_deg,
            "slope_deg": landslide.slope_deg,
            "length_m": landslide.length_m,
            "width_m": landslide.width_m,
            "direction_enu": [float(v) for v in direction],
        },
        "points": points,
        "scenes": scenes,
    }
    write_json(folder / "truth.json", info)
