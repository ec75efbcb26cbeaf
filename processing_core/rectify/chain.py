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

``method="traditional"`` (:mod:`processing_core.rectify.traditional`) is the conventional chain
the paper compares against (section 4.1): offsets between the master and the slave in their own
geometries, a robust second-order polynomial, and resampling with it; no DEM, so topographic
parallax stays.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from osgeo import gdal

from processing_core.atomic import write_json
from processing_core.baselines import select_masters
from processing_core.dem import read_dem, require_coverage
from processing_core.errors import InputError
from processing_core.execution import Executor
from processing_core.geometry import RadarGeometry
from processing_core.lookup import scene_footprint, write_lookup_tables
from processing_core.offsets.engine import track_sources
from processing_core.offsets.field import OffsetField
from processing_core.offsets.files import RasterSource
from processing_core.offsets.params import OffsetParameters
from processing_core.offsets.tiles import ArraySource, Source
from processing_core.progress import ProgressCallback, report, scaled
from processing_core.rectify.correction import (
    SceneCorrection,
    corrected_scene,
    fit_correction,
    robust_polyfit,
)
from processing_core.rectify.inputs import TerrainMask
from processing_core.rectify.sources import (
    CountedTest,
    GroundSource,
    IntensitySource,
    LayoverOr,
    MaskedSource,
    RectifiedSource,
    SceneImage,
    hidden_fraction,
)
from processing_core.rectify.transform import affine_jacobian, slave_coordinates
from processing_core.scene import Scene, read_scene
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


def _tie_points(
    reference: np.ndarray | Source,
    secondary: np.ndarray | Source,
    params: RectifyParameters,
    *,
    threads: int | None = None,
    memory_mb: float = 1024.0,
    executor: Executor | None = None,
):
    """Offsets secondary - reference on a grid (rows, cols, d_line, d_sample), weak ones dropped.

    ``reference`` and ``secondary`` are arrays or window sources (read tile by tile).
    ``threads``, ``memory_mb`` and ``executor`` go to the offset engine; its tiles (and so the
    last bits of the offsets) follow the memory per thread.
    """
    field = _field(reference, secondary, params, threads=threads, memory_mb=memory_mb, executor=executor)
    rows, cols = np.meshgrid(field.rows, field.cols, indexing="ij")
    good = _good(field, params)
    return rows[good].astype(float), cols[good].astype(float), field.azimuth_px[good], field.range_px[good]


def _field(
    reference: np.ndarray | Source,
    secondary: np.ndarray | Source,
    params: RectifyParameters,
    *,
    threads: int | None = None,
    memory_mb: float = 1024.0,
    executor: Executor | None = None,
) -> OffsetField:
    """The tie-point offset field of the rectification's matching parameters (its tiles as
    ``executor`` tasks when given: the sources must then open in a worker)."""
    options = OffsetParameters(
        step_px=params.step_px,
        windows_px=(params.window_px,),
        search_px=params.search_px,
        min_ncc=params.min_ncc,
        min_snr=params.min_snr,
    )
    sources = [ArraySource(a) if isinstance(a, np.ndarray) else a for a in (reference, secondary)]
    return track_sources(*sources, options, threads=threads, memory_mb=memory_mb, executor=executor)


def _good(field: OffsetField, params: RectifyParameters) -> np.ndarray:
    """Nodes of a tie-point field that count: measured, and correlated at least ``min_ncc``."""
    return (field.ncc >= params.min_ncc) & np.isfinite(field.azimuth_px) & np.isfinite(field.range_px)


def _write_json(path: Path, data: dict) -> None:
    write_json(path, data, default=float)


def refine_master(
    master: Scene,
    simulated: Source,
    amplitude: Source,
    params: RectifyParameters,
    *,
    memory_mb: float = 1024.0,
) -> tuple[Scene, SceneCorrection]:
    """Step i: match the DEM-simulated intensity (nominal geometry) against the master's intensity.

    The simulation models intensity (Lambert's law, facets summed), so intensities are matched;
    tie points twice as dense as for the slaves, since the DEM carries less texture than the
    scenes do (its azimuth precision is bounded by the number of independent windows). Both
    images are window sources (the simulation's raster, the master's amplitude), tracked on all
    cores within ``memory_mb``.
    """
    dense = replace(params, step_px=max(1, params.step_px // 2))
    rows, cols, d_line, d_sample = _tie_points(
        simulated, IntensitySource(amplitude), dense, memory_mb=memory_mb
    )
    try:
        correction = fit_correction(rows, cols, d_line, d_sample, scale=params.fit_scale)
    except InputError as exc:
        raise InputError(
            f"{master.sidecar or master.id}: step i (DEM-simulated intensity vs master): {exc} "
            f"(window {dense.window_px} px, step {dense.step_px} px; a smaller window suits a small scene)"
        ) from None
    return corrected_scene(master, correction), correction


def rectify_slave(
    slave: Scene,
    image: SceneImage,
    reference: Source,
    ground: GroundSource,
    params: RectifyParameters,
    terrain: TerrainMask | None = None,
    *,
    threads: int | None = None,
    memory_mb: float = 1024.0,
    strip_mb: float = 256.0,
    executor: Executor | None = None,
) -> tuple[RectifiedSource, Scene, dict, CountedTest | None]:
    """Steps ii-iii for one slave: resample into master geometry, refine its timing, repeat.

    Returns the rectified slave as a window source in the master grid (to write in strips:
    nothing here holds a whole raster), the refined slave scene, a QC dict (the refinements)
    and the layover/shadow test of the slave (None without ``terrain``), which counts what it
    marks while the source is written: its ``fraction`` then is the hidden fraction. The
    residual offsets are measured on the written raster, by :func:`_residual_qc`, so that the
    slave is not computed once more for them. Pixels in
    layover in the master, or whose ground point lies in layover or shadow as the slave sees it
    (``terrain``), are NaN. ``threads`` and ``memory_mb``: of the tie-point tracking (see
    :func:`_tie_points`); ``strip_mb``: of the passes over whole rasters in strips (the slave's
    mean); ``executor``: the tie points' tiles as its tasks (:mod:`processing_core.rectify.tiles`).

    Each pass tracks the slave resampled with its current geometry against the reference,
    converts the offsets to slave pixels (the affine Jacobian of the master -> slave mapping,
    fitted on the tie-point grid) and fits the slave's timing correction at the tie points'
    slave positions, ignoring moving ground.
    """
    tracking = {"threads": threads, "memory_mb": memory_mb, "executor": executor}
    fill = image.mean(memory_mb=strip_mb)
    scene = slave
    history = []
    for _ in range(params.iterations):
        geometry = RadarGeometry(scene)
        rectified = RectifiedSource(
            image, ground, geometry, order=params.interpolation_order, fill_value=fill, memory_mb=strip_mb / 4
        )
        field = _field(reference, rectified, params, **tracking)
        node_l, node_s = np.meshgrid(
            np.rint(field.rows).astype(np.intp), np.rint(field.cols).astype(np.intp), indexing="ij"
        )
        line_s, sample_s = slave_coordinates(ground.at(node_l, node_s), geometry)
        jac = affine_jacobian(node_l.astype(float), node_s.astype(float), line_s, sample_s)
        good = _good(field, params)
        # Offsets in master pixels -> slave pixels; fitted at the slave position of each tie point.
        d_slave = jac @ np.vstack([field.azimuth_px[good], field.range_px[good]])
        try:
            correction = fit_correction(
                line_s[good],
                sample_s[good],
                d_slave[0],
                d_slave[1],
                scale=params.fit_scale,
                exclusion_radius_px=float(params.window_px),
            )
        except InputError as exc:
            raise InputError(f"{slave.sidecar or slave.id}: steps ii-iii (slave vs master): {exc}") from None
        scene = corrected_scene(scene, correction)
        history.append(correction.as_dict())
    geometry = RadarGeometry(scene)
    seen_badly = CountedTest(terrain.hidden_in(geometry)) if terrain is not None else None
    final = RectifiedSource(
        image,
        ground,
        geometry,
        order=params.interpolation_order,
        fill_value=fill,
        hidden=LayoverOr(seen_badly),
        memory_mb=strip_mb / 4,
    )
    return final, scene, {"refinements": history}, seen_badly


def _residual_qc(
    reference: np.ndarray | Source, rectified: np.ndarray | Source, params: RectifyParameters, **tracking: Any
) -> dict:
    """Residual offsets after rectification: robust RMS (moving ground excluded) and counts."""
    rows, cols, d_line, d_sample = _tie_points(reference, rectified, params, **tracking)
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


def rectify_stack(
    stack_dir: str | os.PathLike[str],
    dem_path: str | os.PathLike[str],
    *,
    params: RectifyParameters | None = None,
    final_master: str | None = None,
    progress: ProgressCallback | None = None,
    executor: Executor | None = None,
    memory_mb: float = 1024.0,
) -> Stack:
    """Rectify every scene of a stack into the final master's geometry (resumable).

    Writes ``geometry/`` (final master's refined lookup tables), ``geometry/refined/<id>.json``
    (each scene's refined sidecar), ``rectified/<id>.tif`` and ``rectified/<id>.json`` (QC),
    and ``rectified/parameters.json``; a scene whose outputs exist with the same parameters
    is skipped. With an ``executor`` (:mod:`processing_core.execution`) every scene but the
    final master is one :class:`~processing_core.rectify.tasks.SceneTask`, sent in waves
    (a scene once its reference is rectified), e.g. to a Dask cluster; the outputs are
    identical to the serial run's.

    ``memory_mb`` bounds the working memory of the improved method (shared by the cores; each
    scene task gets ``memory_mb / cores``): rasters are read, computed and written in windows
    and strips that fit it, whatever the scenes' size (:mod:`processing_core.rectify.sources`),
    with either method.
    """
    from processing_core.rectify import tasks as scene_tasks
    from processing_core.rectify.traditional import AmplitudeSource

    if not (isinstance(memory_mb, (int, float)) and memory_mb > 0):
        raise ValueError(f"memory_mb must be positive, got {memory_mb!r}")

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
    per_process_mb = memory_mb / max(1, os.cpu_count() or 1)  # a task's share (the same tiles)
    master_image = SceneImage(master)
    master_image.mean(memory_mb=per_process_mb)  # no valid pixel, constant: refused before any work
    dem = read_dem(dem_path, vertical=params.dem_vertical)
    lat, lon = scene_footprint(RadarGeometry(master), float(np.nanmedian(dem.heights_m)))
    require_coverage(dem, lat, lon, what=f"final master {final_id}")
    order = _processing_order(stack, scenes, final_id)

    def task(scene_id: str, reference_id: str, **extra: Any) -> scene_tasks.SceneTask:
        sidecar = os.path.abspath(stack.root / next(s.sidecar for s in stack.scenes if s.id == scene_id))
        return scene_tasks.SceneTask(
            scene_id,
            sidecar,
            reference_id,
            os.path.abspath(out),
            asdict(params),
            os.path.abspath(dem_path),
            memory_mb=per_process_mb,  # tie points' tiles and strips as in this process
            **extra,
        )

    if params.method == "traditional":
        height = float(np.nanmedian(dem.heights_m))
        master_sidecar = task(final_id, final_id).sidecar
        cores = max(1, os.cpu_count() or 1)
        for k, scene_id in enumerate(order if executor is None else order[:1]):
            if not (out / f"{scene_id}.tif").exists():
                if scene_id == final_id:
                    qc = {"method": "traditional", "reference": final_id}
                    scene_tasks.write_rectified(
                        out, scene_id, AmplitudeSource(master_image), qc, memory_mb=per_process_mb
                    )
                else:  # all cores on the scene's tiles, with a task's memory per thread: a task's bits
                    one = task(scene_id, final_id, master_sidecar=master_sidecar, height_m=height)
                    scene_tasks.finish_traditional(
                        one, scenes[scene_id], master, threads=cores, tracking_mb=per_process_mb * cores
                    )
            report(progress, (k + 1) / len(order), f"rectified {scene_id} (traditional)")
        if executor is not None:
            scene_tasks.rectify_with(
                executor,
                [task(s, final_id, master_sidecar=master_sidecar, height_m=height) for s in order[1:]],
                total=len(order),
                start=1 / len(order),
                suffix=" (traditional)",
                progress=progress,
            )
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
            memory_mb=memory_mb,
            progress=scaled(progress, 0.0, 0.05),
        )
        simulated = RasterSource(next(p for p in nominal if p.name == "simulated_intensity.tif"))
        refined, correction = refine_master(master, simulated, master_image, params, memory_mb=memory_mb)
        simulated.close()
        scene_tasks.write_refined(refined, refined_master_path)
        write_lookup_tables(
            refined_master_path,
            dem_path,
            geometry_dir,
            dem_vertical=params.dem_vertical,
            memory_mb=memory_mb,
            progress=scaled(progress, 0.05, 0.2),
        )
        _write_json(
            geometry_dir / "refinement.json", {"final_master": final_id, "step_i": correction.as_dict()}
        )
    ground = GroundSource(geometry_dir / "ground_lut.tif")
    terrain = TerrainMask(dem)
    if not (out / f"{final_id}.tif").exists():
        seen_badly = terrain.hidden_in(RadarGeometry(read_scene(refined_master_path)))

        def hidden(g):
            return seen_badly(g) | g.layover

        fraction = hidden_fraction(ground, hidden, memory_mb=per_process_mb)
        qc = {"method": "improved", "reference": "itself", "layover_shadow_fraction": fraction}
        scene_tasks.write_rectified(
            out, final_id, MaskedSource(master_image, ground, hidden), qc, memory_mb=per_process_mb
        )
    platform_masters = set(stack.masters.get("per_platform", {}).values())
    slaves = [
        task(s, _reference_of(stack, scenes[s], final_id), geometry_dir=os.path.abspath(geometry_dir))
        for s in order
        if s != final_id
    ]
    if executor is not None:
        scene_tasks.rectify_with(executor, slaves, total=len(order), progress=progress)
    else:
        scene_tasks.rectify_here(
            slaves,
            scenes=scenes,
            ground=ground,
            terrain=terrain,
            platform_masters=platform_masters,
            total=len(order),
            progress=progress,
        )
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
