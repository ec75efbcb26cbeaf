"""The ortho-rectification chain of a stack (Liu et al. 2020, GRL, section 3, steps i-iii).

i.   The DEM is put into the final master's geometry (lookup tables) and the master's
     timing/orbit errors are removed by matching the DEM-simulated intensity against the
     master's amplitude (:mod:`processing_core.rectify.correction`).
ii.  Each slave's pixel coordinates of every master pixel come from the master's ground
     points and the slave's orbit (geo2rdr); the slave, resampled there, is matched
     against its reference (the final master, or its platform's master already rectified,
     as in the paper) and the slave's own timing is refined by a robust fit that ignores
     moving ground.
iii. The slave is resampled with the refined geometry; the residual offsets are measured
     again, removed, and reported (QC).

``method="traditional"`` is the conventional chain the paper compares against (section
4.1): offsets between the master and the slave in their own geometries, a robust
second-order polynomial, and resampling with it; no DEM, so topographic parallax stays.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pyproj
from osgeo import gdal

from processing_core.baselines import select_masters
from processing_core.dem import Dem, read_dem, require_coverage
from processing_core.errors import InputError
from processing_core.geometry import RadarGeometry
from processing_core.lookup import GroundLookup, dem_to_radar, scene_footprint, write_lookup_tables
from processing_core.offsets import track
from processing_core.progress import ProgressCallback, report, scaled
from processing_core.rasters import write_geotiff
from processing_core.rectify.correction import (
    SceneCorrection,
    corrected_scene,
    fit_correction,
    robust_polyfit,
)
from processing_core.rectify.transform import affine_jacobian, resample, slave_coordinates
from processing_core.scene import Scene, read_scene, write_scene
from processing_core.stack import Stack, load_stack

gdal.UseExceptions()

METHODS = ("improved", "traditional")


@dataclass(frozen=True)
class RectifyParameters:
    """Parameters of :func:`rectify_stack`, saved as ``rectified/parameters.json``."""

    method: str = "improved"
    """``improved`` (DEM ortho-rectification, the paper's) or ``traditional`` (polynomial only)."""
    window_px: int = 128
    """Matching window of the tie points, pixels."""
    step_px: int = 32
    """Spacing of the tie points, pixels."""
    search_px: int = 16
    """Search radius around the predicted position, pixels."""
    min_ncc: float = 0.1
    """Tie points with a lower normalised correlation are dropped."""
    min_snr: float = 4.0
    """Tie points with a lower correlation SNR (the offset engine's definition) are dropped."""
    iterations: int = 2
    """Refinement passes of each slave (step ii, then step iii's residual removal)."""
    interpolation_order: int = 3
    """Spline order of the amplitude resampling (1 bilinear, 3 cubic)."""
    fit_scale: bool = False
    """Also fit line-interval and range-spacing scale errors (see ``fit_correction``)."""
    dem_vertical: str = "egm96"
    """Vertical datum of the DEM heights."""

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.window_px < 16 or self.step_px < 1 or self.search_px < 1:
            raise ValueError(f"window_px >= 16, step_px >= 1 and search_px >= 1 needed, got {self}")
        if not 0.0 <= self.min_ncc < 1.0:
            raise ValueError(f"min_ncc must lie in [0, 1), got {self.min_ncc}")
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if self.interpolation_order not in (1, 3):
            raise ValueError(f"interpolation_order must be 1 or 3, got {self.interpolation_order}")


def read_amplitude(scene: Scene) -> np.ndarray:
    """Band 1 of a scene's raster as float64 amplitude (modulus for complex SLC); NaN for nodata."""
    try:
        ds = gdal.Open(str(scene.image_path))
    except RuntimeError as exc:
        raise InputError(
            f"{scene.image_path}: cannot open the image of scene {scene.id} ({str(exc).strip()})"
        ) from None
    band = ds.GetRasterBand(1)
    if (ds.RasterYSize, ds.RasterXSize) != (scene.radar_grid.lines, scene.radar_grid.samples):
        raise InputError(
            f"{scene.image_path}: raster is {ds.RasterYSize} x {ds.RasterXSize}, sidecar says "
            f"{scene.radar_grid.lines} x {scene.radar_grid.samples}"
        )
    try:
        data = band.ReadAsArray()
    except RuntimeError as exc:  # a truncated or corrupted file opens but fails on its blocks
        band = ds = None  # the band before its dataset (GDAL crashes when a band outlives it)
        raise InputError(
            f"{scene.image_path}: cannot read the image of scene {scene.id} ({' '.join(str(exc).replace(f'{scene.image_path}, ', '').split())})"
        ) from None
    amplitude = np.abs(data).astype(np.float64)
    nodata = band.GetNoDataValue()
    if nodata is not None and np.isfinite(nodata):
        amplitude[data == nodata] = np.nan
    valid = amplitude[np.isfinite(amplitude)]
    if valid.size == 0:
        raise InputError(
            f"{scene.image_path}: the image of scene {scene.id} holds no valid pixel (all NaN or nodata)"
        )
    if valid.min() == valid.max():
        raise InputError(
            f"{scene.image_path}: the image of scene {scene.id} is constant ({valid.min():g}): no texture to match"
        )
    return amplitude


def _tie_points(reference: np.ndarray, secondary: np.ndarray, params: RectifyParameters, prior=None):
    """Offsets secondary - reference on a grid (rows, cols, d_line, d_sample), weak ones dropped."""
    field = track(
        reference,
        secondary,
        step_px=params.step_px,
        windows_px=(params.window_px,),
        search_px=params.search_px,
        prior=prior,
        min_ncc=params.min_ncc,
        min_snr=params.min_snr,
    )
    rows, cols = np.meshgrid(field.rows, field.cols, indexing="ij")
    d_line = np.where(field.ncc >= params.min_ncc, field.azimuth_px, np.nan)
    d_sample = np.where(field.ncc >= params.min_ncc, field.range_px, np.nan)
    ok = np.isfinite(d_line) & np.isfinite(d_sample)
    return rows[ok].astype(float), cols[ok].astype(float), d_line[ok], d_sample[ok]


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(data, indent=2, default=float) + "\n")
    os.replace(tmp, path)


def refine_master(
    master: Scene, simulated: np.ndarray, amplitude: np.ndarray, params: RectifyParameters
) -> tuple[Scene, SceneCorrection]:
    """Step i: match the DEM-simulated intensity (nominal geometry) against the master's intensity.

    The simulation models intensity (Lambert's law, facets summed), so intensities are matched;
    tie points twice as dense as for the slaves, since the DEM carries less texture than the
    scenes do (its azimuth precision is bounded by the number of independent windows).
    """
    dense = replace(params, step_px=max(1, params.step_px // 2))
    rows, cols, d_line, d_sample = _tie_points(np.maximum(simulated, 0.0), amplitude * amplitude, dense)
    try:
        correction = fit_correction(rows, cols, d_line, d_sample, scale=params.fit_scale)
    except InputError as exc:
        raise InputError(
            f"{master.sidecar or master.id}: step i (DEM-simulated intensity vs master): {exc} "
            f"(window {dense.window_px} px, step {dense.step_px} px; a smaller window suits a small scene)"
        ) from None
    return corrected_scene(master, correction), correction


class TerrainMask:
    """Which master pixels' ground points a scene cannot see (layover or shadow in that scene).

    The DEM is cropped to the master's footprint; every master pixel keeps the index of the DEM
    cell under its ground point, so a scene's DEM-grid layover/shadow mask
    (:func:`processing_core.lookup.dem_to_radar`) maps straight onto the master grid.
    """

    def __init__(self, dem: Dem, ground: GroundLookup, margin_cells: int = 8) -> None:
        ok = np.isfinite(ground.lat_deg)
        row = np.full(ground.lat_deg.shape, -1, dtype=np.intp)
        col = np.full(ground.lat_deg.shape, -1, dtype=np.intp)
        to_map = pyproj.Transformer.from_crs("EPSG:4326", dem.crs, always_xy=True)
        x, y = to_map.transform(ground.lon_deg[ok], ground.lat_deg[ok])
        x0, dx, _, y0, _, dy = dem.geotransform
        row[ok] = np.rint((np.asarray(y) - y0) / dy - 0.5).astype(np.intp)
        col[ok] = np.rint((np.asarray(x) - x0) / dx - 0.5).astype(np.intp)
        r0 = max(int(row[ok].min()) - margin_cells, 0) if ok.any() else 0
        c0 = max(int(col[ok].min()) - margin_cells, 0) if ok.any() else 0
        r1 = int(row[ok].max()) + margin_cells + 1 if ok.any() else 1
        c1 = int(col[ok].max()) + margin_cells + 1 if ok.any() else 1
        self.dem = dem.crop(r0, r1, c0, c1)
        self.row = np.where(ok, row - r0, -1)
        self.col = np.where(ok, col - c0, -1)
        self.valid = ok & (self.row >= 0) & (self.col >= 0)
        self.valid &= (self.row < self.dem.shape[0]) & (self.col < self.dem.shape[1])

    def hidden_in(self, geometry: RadarGeometry) -> np.ndarray:
        """Boolean (master grid): the ground point is in layover or shadow as ``geometry`` sees it."""
        mask = dem_to_radar(geometry, self.dem).mask
        hidden = np.zeros(self.row.shape, dtype=bool)
        hidden[self.valid] = mask[self.row[self.valid], self.col[self.valid]] > 0
        return hidden


def rectify_slave(
    slave: Scene,
    amplitude: np.ndarray,
    reference: np.ndarray,
    ground: GroundLookup,
    params: RectifyParameters,
    terrain: TerrainMask | None = None,
) -> tuple[np.ndarray, Scene, dict]:
    """Steps ii-iii for one slave: resample into master geometry, refine its timing, repeat.

    Returns the rectified amplitude (master grid), the refined slave scene and a QC dict.
    Pixels in layover in the master, or whose ground point lies in layover or shadow as the
    slave sees it (``terrain``), are NaN.
    """
    lines, samples = ground.lat_deg.shape
    master_line, master_sample = np.meshgrid(
        np.arange(lines, dtype=float), np.arange(samples, dtype=float), indexing="ij"
    )
    scene = slave
    history = []
    for _ in range(params.iterations):
        line_s, sample_s = slave_coordinates(ground, RadarGeometry(scene))
        rectified = resample(amplitude, line_s, sample_s, order=params.interpolation_order)
        rows, cols, d_line, d_sample = _tie_points(reference, rectified, params)
        jac = affine_jacobian(master_line, master_sample, line_s, sample_s)
        # Offsets in master pixels -> slave pixels; fitted at the slave position of each tie point.
        r, c = np.rint(rows).astype(int), np.rint(cols).astype(int)
        d_slave = jac @ np.vstack([d_line, d_sample])
        try:
            correction = fit_correction(
                line_s[r, c],
                sample_s[r, c],
                d_slave[0],
                d_slave[1],
                scale=params.fit_scale,
                exclusion_radius_px=float(params.window_px),
            )
        except InputError as exc:
            raise InputError(f"{slave.sidecar or slave.id}: steps ii-iii (slave vs master): {exc}") from None
        scene = corrected_scene(scene, correction)
        history.append(correction.as_dict())
    line_s, sample_s = slave_coordinates(ground, RadarGeometry(scene))
    rectified = resample(amplitude, line_s, sample_s, order=params.interpolation_order)
    rectified[ground.layover] = np.nan
    if terrain is not None:
        hidden = terrain.hidden_in(RadarGeometry(scene))
        rectified[hidden] = np.nan
    qc = _residual_qc(reference, rectified, params)
    qc["refinements"] = history
    if terrain is not None:
        qc["layover_shadow_fraction"] = float(hidden.mean())
    return rectified, scene, qc


def _residual_qc(reference: np.ndarray, rectified: np.ndarray, params: RectifyParameters) -> dict:
    """Residual offsets after rectification: robust RMS (moving ground excluded) and counts."""
    rows, cols, d_line, d_sample = _tie_points(reference, rectified, params)
    if d_line.size < 3:
        return {"tie_points": int(d_line.size)}
    out: dict = {"tie_points": int(d_line.size)}
    for name, d in (("line", d_line), ("sample", d_sample)):
        _, w = robust_polyfit(np.zeros_like(d), d, np.ones((d.size, 1)))
        keep = w > 0
        out[f"residual_{name}_rms_px"] = float(np.sqrt(np.mean(d[keep] ** 2)))
        out[f"residual_{name}_mean_px"] = float(np.mean(d[keep]))
        out["stable_tie_points"] = int(keep.sum())
    return out


def rectify_traditional(
    slave: Scene,
    amplitude: np.ndarray,
    master: Scene,
    master_amplitude: np.ndarray,
    height_m: float,
    params: RectifyParameters,
) -> tuple[np.ndarray, dict]:
    """The conventional chain: orbit-predicted affine start, then a robust quadratic warp fitted
    to amplitude offsets; no DEM, so the topographic parallax between the orbits stays."""
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
        rows, cols, d_line, d_sample = _tie_points(master_amplitude, warped, params)
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
    qc = _residual_qc(master_amplitude, warped, params)
    qc["refinements"] = history
    qc["polynomial_line"] = [float(v) for v in coef_l]
    qc["polynomial_sample"] = [float(v) for v in coef_s]
    return warped, qc


def rectify_stack(
    stack_dir: str | os.PathLike[str],
    dem_path: str | os.PathLike[str],
    *,
    params: RectifyParameters | None = None,
    final_master: str | None = None,
    progress: ProgressCallback | None = None,
) -> Stack:
    """Rectify every scene of a stack into the final master's geometry (resumable).

    Writes ``geometry/`` (final master's refined lookup tables), ``geometry/refined/<id>.json``
    (each scene's refined sidecar), ``rectified/<id>.tif`` and ``rectified/<id>.json`` (QC),
    and ``rectified/parameters.json``; a scene whose outputs exist with the same parameters
    is skipped.
    """
    params = params or RectifyParameters()
    stack = load_stack(stack_dir)
    scenes = {s.id: stack.scene(s.id) for s in stack.scenes}
    if final_master is not None or not stack.masters.get("final"):
        stack.masters = select_masters(list(scenes.values()), final=final_master)
    final_id = str(stack.masters["final"])
    out = stack.root / ("rectified" if params.method == "improved" else "rectified_traditional")
    out.mkdir(parents=True, exist_ok=True)
    param_file = out / "parameters.json"
    wanted = asdict(params) | {"final_master": final_id, "dem": str(Path(dem_path).resolve())}
    if param_file.exists() and json.loads(param_file.read_text()) != wanted:
        for old in out.glob("*.tif"):  # parameters changed: nothing there is valid any more
            old.unlink()
    _write_json(param_file, wanted)
    master = scenes[final_id]
    master_amp = read_amplitude(master)
    dem = read_dem(dem_path, vertical=params.dem_vertical)
    lat, lon = scene_footprint(RadarGeometry(master), float(np.nanmedian(dem.heights_m)))
    require_coverage(dem, lat, lon, what=f"final master {final_id}")
    order = _processing_order(stack, scenes, final_id)
    if params.method == "traditional":
        height = float(np.nanmedian(dem.heights_m))
        for k, scene_id in enumerate(order):
            target = out / f"{scene_id}.tif"
            if not target.exists():
                if scene_id == final_id:
                    image, qc = master_amp.astype(np.float32), {"reference": "itself"}
                else:
                    image, qc = rectify_traditional(
                        scenes[scene_id], read_amplitude(scenes[scene_id]), master, master_amp, height, params
                    )
                _write_rectified(out, scene_id, image, qc | {"method": "traditional", "reference": final_id})
            report(progress, (k + 1) / len(order), f"rectified {scene_id} (traditional)")
        stack.record("rectify", {"method": "traditional", "dem": str(dem_path)})
        stack.save()
        return stack
    # Step i: the final master's geometry, refined on the DEM-simulated intensity.
    geometry_dir = stack.root / "geometry"
    refined_dir = geometry_dir / "refined"
    refined_dir.mkdir(parents=True, exist_ok=True)
    refined_master_path = refined_dir / f"{final_id}.json"
    if not (geometry_dir / "ground_lut.tif").exists() or not refined_master_path.exists():
        nominal = write_lookup_tables(
            master.sidecar,
            dem_path,
            geometry_dir / "nominal",
            dem_vertical=params.dem_vertical,
            ground_lut=False,
            progress=scaled(progress, 0.0, 0.05),
        )
        simulated = gdal.Open(
            str(next(p for p in nominal if p.name == "simulated_intensity.tif"))
        ).ReadAsArray()
        refined, correction = refine_master(master, simulated, master_amp, params)
        _write_refined(refined, refined_master_path)
        write_lookup_tables(
            refined_master_path,
            dem_path,
            geometry_dir,
            dem_vertical=params.dem_vertical,
            progress=scaled(progress, 0.05, 0.2),
        )
        _write_json(
            geometry_dir / "refinement.json", {"final_master": final_id, "step_i": correction.as_dict()}
        )
    ground = _read_ground(geometry_dir / "ground_lut.tif")
    terrain = TerrainMask(dem, ground)
    master_image = master_amp.astype(np.float32)
    hidden = terrain.hidden_in(RadarGeometry(read_scene(refined_master_path))) | ground.layover
    master_image[hidden] = np.nan
    references = {final_id: master_image}
    if not (out / f"{final_id}.tif").exists():
        qc = {"method": "improved", "reference": "itself", "layover_shadow_fraction": float(hidden.mean())}
        _write_rectified(out, final_id, master_image, qc)
    platform_masters = set(stack.masters.get("per_platform", {}).values())

    def one(scene_id: str) -> None:
        reference_id = _reference_of(stack, scenes[scene_id], final_id)
        if (out / f"{scene_id}.tif").exists():
            return
        reference = references.get(reference_id)
        if reference is None:
            reference = gdal.Open(str(out / f"{reference_id}.tif")).ReadAsArray()
        image, refined, qc = rectify_slave(
            scenes[scene_id], read_amplitude(scenes[scene_id]), reference, ground, params, terrain
        )
        _write_refined(refined, refined_dir / f"{scene_id}.json")
        _write_rectified(out, scene_id, image, qc | {"method": "improved", "reference": reference_id})
        if scene_id in platform_masters:
            references[scene_id] = image

    # Platform masters first (the other slaves match them), then the slaves two at a time:
    # the work is numpy and FFTs, which release the GIL.
    firsts = [s for s in order if s in platform_masters and s != final_id]
    rest = [s for s in order if s not in platform_masters and s != final_id]
    done = 0
    for scene_id in firsts:
        one(scene_id)
        done += 1
        report(progress, 0.2 + 0.8 * done / len(order), f"rectified {scene_id}")
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        for scene_id, _ in zip(rest, pool.map(one, rest)):
            done += 1
            report(progress, 0.2 + 0.8 * done / len(order), f"rectified {scene_id}")
    stack.record("rectify", {"method": "improved", "dem": str(dem_path), "final_master": final_id})
    stack.save()
    report(progress, 1.0, "stack rectified")
    return stack


def _processing_order(stack: Stack, scenes: dict[str, Scene], final_id: str) -> list[str]:
    """Final master, then the other platform masters, then every other scene by date."""
    platform_masters = [
        m for m in stack.masters.get("per_platform", {}).values() if m != final_id and m in scenes
    ]
    rest = [s.id for s in stack.scenes if s.id != final_id and s.id not in platform_masters]
    return [final_id, *platform_masters, *rest]


def _reference_of(stack: Stack, scene: Scene, final_id: str) -> str:
    """The paper's rule: slaves match their platform's master; platform masters match the final master."""
    platform_master = stack.masters.get("per_platform", {}).get(scene.platform)
    if platform_master is None or platform_master == scene.id:
        return final_id
    return str(platform_master)


def _write_refined(scene: Scene, path: Path) -> None:
    """A refined sidecar in geometry/refined/, pointing back at the original raster."""
    image = os.path.relpath(scene.image_path, path.parent)
    write_scene(replace(scene, image=image, sidecar=path), path)


def _write_rectified(out: Path, scene_id: str, image: np.ndarray, qc: dict) -> None:
    # The QC report first: the raster is what marks the scene done, so a run killed between the
    # two never leaves a rectified raster without its report.
    _write_json(out / f"{scene_id}.json", {"scene": scene_id, **qc})
    write_geotiff(
        out / f"{scene_id}.tif", [image], descriptions=["amplitude"], metadata={"SCENE_ID": scene_id}
    )


def _read_ground(path: Path) -> GroundLookup:
    ds = gdal.Open(str(path))
    lat, lon, h, layover = (ds.GetRasterBand(i).ReadAsArray() for i in (1, 2, 3, 4))
    return GroundLookup(lat, lon, h, layover > 0)
