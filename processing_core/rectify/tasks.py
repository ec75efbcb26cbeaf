"""The rectification of a stack's scenes as independent tasks (here, or on a Dask cluster).

Every scene but the final master is one :class:`SceneTask`: paths and plain parameter values
only, so that it pickles and any worker process can run it (:func:`rectify_scene`). A task reads
the scene, its reference (``rectified/<reference>.tif``, written before), the final master's
ground lookup table (``geometry/ground_lut.tif``) and the DEM from the files, and writes the
scene's rectified raster, QC report and refined sidecar.

Some scenes are matched against another rectified scene (a platform's slaves against that
platform's master, :func:`processing_core.rectify.chain._reference_of`), so the tasks go to an
executor in waves: a task is sent once its reference's raster exists (:func:`rectify_with`).
A wave of fewer scenes than the executor has workers (a two-scene stack; the platform masters
the other slaves wait for) is run scene by scene from this process instead, its tiles and
windows as the tasks (:func:`rectify_tiled`, :mod:`processing_core.rectify.tiles`).

Nothing holds a whole raster (:mod:`processing_core.rectify.sources`): the scene, its reference
and the ground lookup table are read by windows, the rectified scene is computed for the tiles
the offset engine asks for and written in strips, so a task's memory is its ``memory_mb`` (plus
the DEM), whatever the scenes' size.

The serial path (:func:`rectify_here`, the default) runs the same function as a task, with the
ground lookup table and terrain mask the driver has opened. Two things besides the inputs change
the last bits of a scene, and both are pinned: the number of BLAS threads (both paths fit on
one, as Dask's workers do) and the tiles of the tie-point tracking, which follow its memory per
thread (the serial path runs all cores with a task's memory each). So both paths write the
same bits.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from osgeo import gdal

from processing_core.blas_threads import single_threaded_blas
from processing_core.dem import read_dem
from processing_core.errors import InputError
from processing_core.execution import Executor
from processing_core.offsets.files import RasterSource
from processing_core.offsets.tiles import Source
from processing_core.progress import ProgressCallback, report, scaled
from processing_core.rasters import write_geotiff
from processing_core.rectify import chain as _chain
from processing_core.rectify.sources import CountedTest, GroundSource, SceneImage, write_strips
from processing_core.rectify.tiles import write_windows
from processing_core.rectify.traditional import AmplitudeSource, rectify_traditional
from processing_core.scene import Scene, read_scene, write_scene

gdal.UseExceptions()


@dataclass(frozen=True)
class SceneTask:
    """One scene's rectification as a task for an executor: paths and plain values (picklable)."""

    scene_id: str
    """The scene to rectify."""
    sidecar: str
    """Its sidecar (JSON) path."""
    reference_id: str
    """The scene it is matched against; ``<out_dir>/<reference_id>.tif`` must exist."""
    out_dir: str
    """``STACK/rectified`` (or ``STACK/rectified_traditional``)."""
    params: dict[str, Any]
    """:class:`~processing_core.rectify.chain.RectifyParameters` as a dictionary."""
    dem_path: str
    """The DEM (method ``improved``: its layover and shadow as the scene sees them)."""
    geometry_dir: str = ""
    """``STACK/geometry`` (method ``improved``): ``ground_lut.tif`` and ``refined/``."""
    master_sidecar: str = ""
    """The final master's sidecar (method ``traditional``)."""
    height_m: float = 0.0
    """Reference height of the orbit-only start (method ``traditional``), m."""
    threads: int = 1
    """Threads of the tie-point tracking."""
    memory_mb: float = 1024.0
    """Memory of the tie-point tracking, MiB: its tiles follow the memory per thread, so a task
    given the serial run's memory per thread cuts the same tiles and writes the same bits."""


def rectify_scene(task: SceneTask) -> str:
    """Run one :class:`SceneTask` (in this process or a worker's); returns the scene id.

    A scene whose rectified raster exists is skipped.
    """
    out = Path(task.out_dir)
    if (out / f"{task.scene_id}.tif").exists():
        return task.scene_id
    params = _chain.RectifyParameters(**task.params)
    scene = read_scene(task.sidecar)
    if params.method == "traditional":
        finish_traditional(
            task, scene, read_scene(task.master_sidecar), threads=task.threads, tracking_mb=task.memory_mb
        )
        return task.scene_id
    geometry_dir = Path(task.geometry_dir)
    ground, terrain = _geometry(geometry_dir / "ground_lut.tif", task.dem_path, params.dem_vertical)
    finish_slave(
        task, scene, ground=ground, terrain=terrain, threads=task.threads, tracking_mb=task.memory_mb
    )
    return task.scene_id


def read_reference(path: Path) -> RasterSource:
    """A rectified scene (float32, NaN where hidden) as a reference to match against, by windows."""
    if not path.exists():
        raise InputError(f"{path}: reference scene not rectified (rerun rectify)")
    return RasterSource(path)


def finish_slave(
    task: SceneTask,
    scene: Scene,
    *,
    ground: GroundSource,
    terrain: _chain.TerrainMask,
    threads: int,
    tracking_mb: float,
    executor: Executor | None = None,
) -> None:
    """Steps ii-iii of one scene of the improved method; its refined sidecar and rectified raster
    (written in strips) and QC report written.

    OpenBLAS runs on one thread meanwhile, here as in a Dask worker (whose BLAS has one thread):
    a multi-threaded BLAS changes the last bits of the fits. ``threads`` and ``tracking_mb``: of
    the tie-point tracking (whose tiles follow the memory per thread); the strips' memory is
    ``task.memory_mb`` whichever way the scene runs. ``executor``: the scene's tiles and windows
    as its tasks (:mod:`processing_core.rectify.tiles`), the fits here.
    """
    out = Path(task.out_dir)
    params = _chain.RectifyParameters(**task.params)
    reference = read_reference(out / f"{task.reference_id}.tif")
    tracking = {"threads": threads, "memory_mb": tracking_mb, "executor": executor}
    with single_threaded_blas():
        image, refined, qc, seen_badly = _chain.rectify_slave(
            scene, SceneImage(scene), reference, ground, params, terrain, strip_mb=task.memory_mb, **tracking
        )
        write_refined(refined, Path(task.geometry_dir) / "refined" / f"{task.scene_id}.json")
        qc = qc | {"method": "improved", "reference": task.reference_id}

        def residual(written: Path) -> dict[str, Any]:
            # Counted while the strips were written: every pixel once.
            hidden = {} if seen_badly is None else {"layover_shadow_fraction": seen_badly.fraction}
            return _residual_of(reference, written, params, tracking) | hidden

        mask = None
        opener = None
        if executor is not None:  # the workers load the slave's layover/shadow mask from a file
            mask = seen_badly.test.save(out / f".{task.scene_id}.terrain.npz") if seen_badly else None
            opener = image.opener(mask_path=str(mask or ""))
        try:
            write_rectified(
                out,
                task.scene_id,
                image,
                qc,
                memory_mb=task.memory_mb,
                measured=residual,
                executor=executor,
                opener=opener,
                counter=seen_badly,
            )
        finally:
            if mask is not None:
                mask.unlink(missing_ok=True)
    reference.close()


def _residual_of(reference: Source, written: Path, params: Any, tracking: dict[str, Any]) -> dict[str, Any]:
    """The residual offsets QC of a written rectified raster against its reference."""
    source = RasterSource(written)
    try:
        return _chain._residual_qc(reference, source, params, **tracking)
    finally:
        source.close()


def finish_traditional(
    task: SceneTask,
    scene: Scene,
    master: Scene,
    *,
    threads: int,
    tracking_mb: float,
    executor: Executor | None = None,
) -> None:
    """One scene rectified the traditional way (:func:`rectify_traditional`) and written in strips,
    its residual offsets against the master measured on the written raster (as
    :func:`finish_slave`); ``task.memory_mb`` bounds the strips."""
    out = Path(task.out_dir)
    params = _chain.RectifyParameters(**task.params)
    tracking = {"threads": threads, "memory_mb": tracking_mb, "executor": executor}
    with single_threaded_blas():
        warped, qc = rectify_traditional(
            scene, master, task.height_m, params, strip_mb=task.memory_mb, **tracking
        )
        reference = AmplitudeSource(SceneImage(master))
        qc = qc | {"method": "traditional", "reference": task.reference_id}
        write_rectified(
            out,
            task.scene_id,
            warped,
            qc,
            memory_mb=task.memory_mb,
            measured=lambda written: _residual_of(reference, written, params, tracking),
            executor=executor,
        )


def write_refined(scene: Scene, path: Path) -> None:
    """A refined sidecar in geometry/refined/, pointing back at the original raster."""
    image = os.path.relpath(scene.image_path, path.parent)
    write_scene(replace(scene, image=image, sidecar=path), path)


def write_rectified(
    out: Path,
    scene_id: str,
    image: np.ndarray | Source,
    qc: dict[str, Any],
    *,
    memory_mb: float = 256.0,
    measured: Callable[[Path], dict[str, Any]] | None = None,
    executor: Executor | None = None,
    opener: Callable[[], Source] | None = None,
    counter: CountedTest | None = None,
) -> None:
    """``<out>/<scene_id>.json`` (QC report), then ``<out>/<scene_id>.tif`` (float32, NaN nodata).

    ``image``: an array, or a window source in the master grid written in strips that fit
    ``memory_mb``; ``measured`` (with a source): QC entries measured on the written raster,
    put first in the report. The QC report before the raster's final name: the raster is what
    marks the scene done, so a run killed between the two never leaves a rectified raster
    without its report. With an ``executor``, the source's windows are its tasks
    (:func:`~processing_core.rectify.tiles.write_windows`; ``opener``: how a worker opens the
    source, default its ``opener()``; ``counter``: receives the workers' hidden-pixel counts).
    """
    report_path = out / f"{scene_id}.json"
    metadata = {"SCENE_ID": scene_id}
    if isinstance(image, np.ndarray):
        _chain._write_json(report_path, {"scene": scene_id, **qc})
        write_geotiff(out / f"{scene_id}.tif", [image], descriptions=["amplitude"], metadata=metadata)
        return

    def report_on(written: Path) -> None:
        extra = measured(written) if measured is not None else {}
        _chain._write_json(report_path, {"scene": scene_id, **extra, **qc})

    if executor is None:
        write_strips(
            out / f"{scene_id}.tif", image, memory_mb=memory_mb, metadata=metadata, before_commit=report_on
        )
        return
    write_windows(
        executor,
        out / f"{scene_id}.tif",
        opener or image.opener(),  # type: ignore[attr-defined]
        image.shape,
        memory_mb=memory_mb,
        metadata=metadata,
        counter=counter,
        before_commit=report_on,
    )


def rectify_tiled(task: SceneTask, executor: Executor) -> str:
    """One :class:`SceneTask` driven from this process, its tiles and windows as ``executor``
    tasks (:mod:`processing_core.rectify.tiles`): for fewer scenes at once than workers. The same
    tiles and windows, with the same memory, as :func:`rectify_scene`: the same bits."""
    out = Path(task.out_dir)
    if (out / f"{task.scene_id}.tif").exists():
        return task.scene_id
    params = _chain.RectifyParameters(**task.params)
    scene = read_scene(task.sidecar)
    options = {"threads": task.threads, "tracking_mb": task.memory_mb, "executor": executor}
    if params.method == "traditional":
        finish_traditional(task, scene, read_scene(task.master_sidecar), **options)
    else:
        geometry_dir = Path(task.geometry_dir)
        ground, terrain = _geometry(geometry_dir / "ground_lut.tif", task.dem_path, params.dem_vertical)
        finish_slave(task, scene, ground=ground, terrain=terrain, **options)
    return task.scene_id


_CACHE: dict[tuple[Any, ...], tuple[GroundSource, _chain.TerrainMask]] = {}
_CACHE_LOCK = threading.Lock()


def _stamp(path: str | os.PathLike[str]) -> tuple[str, int, int]:
    st = os.stat(path)
    return str(path), st.st_size, st.st_mtime_ns


def _geometry(lut: Path, dem_path: str, vertical: str) -> tuple[GroundSource, _chain.TerrainMask]:
    """The ground lookup table and terrain mask of a stack, kept for the next task of this process
    (one stack at a time; keyed by the files' size and modification time)."""
    key = (_stamp(lut), _stamp(dem_path), vertical)
    with _CACHE_LOCK:
        found = _CACHE.get(key)
        if found is None:
            _CACHE.clear()
            ground = GroundSource(lut)
            terrain = _chain.TerrainMask(read_dem(dem_path, vertical=vertical))
            found = (ground, terrain)
            _CACHE[key] = found
    return found


def rectify_here(
    tasks: list[SceneTask],
    *,
    scenes: dict[str, Scene],
    ground: GroundSource,
    terrain: _chain.TerrainMask,
    platform_masters: set[str],
    total: int,
    progress: ProgressCallback | None = None,
) -> None:
    """The improved method's slaves in this process, with the ground table and terrain mask the
    driver holds.

    Platform masters first, one after the other (the other slaves match them), then the slaves
    two at a time: the work is numpy and FFTs, which release the GIL. Progress runs from 0.2 to
    0.2 + 0.8 * len(tasks) / total.
    """

    cores = max(1, os.cpu_count() or 1)

    def one(task: SceneTask) -> None:
        if not (Path(task.out_dir) / f"{task.scene_id}.tif").exists():
            # All cores on one scene's tiles, with a task's memory per thread: the same tiles.
            scene = scenes[task.scene_id]
            tracking_mb = task.memory_mb * cores
            finish_slave(task, scene, ground=ground, terrain=terrain, threads=cores, tracking_mb=tracking_mb)

    firsts = [t for t in tasks if t.scene_id in platform_masters]
    rest = [t for t in tasks if t.scene_id not in platform_masters]
    done = 0
    for task in firsts:
        one(task)
        done += 1
        report(progress, 0.2 + 0.8 * done / total, f"rectified {task.scene_id}")
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        for task, _ in zip(rest, pool.map(one, rest)):
            done += 1
            report(progress, 0.2 + 0.8 * done / total, f"rectified {task.scene_id}")


def rectify_with(
    executor: Executor,
    tasks: list[SceneTask],
    *,
    total: int,
    start: float = 0.2,
    suffix: str = "",
    progress: ProgressCallback | None = None,
) -> None:
    """The tasks on ``executor``, in waves: each wave holds the tasks whose reference is rectified.

    Scenes already rectified are skipped here (no task). Progress runs from ``start`` to
    ``start + (1 - start) * len(tasks) / total``, one report per scene (``rectified <id><suffix>``).
    """

    def at(done: int) -> float:
        return start + (1.0 - start) * done / total

    describe: Callable[[SceneTask], str] = lambda t: f"rectified {t.scene_id}{suffix}"  # noqa: E731
    pending = list(tasks)
    done = 0
    while pending:
        ready = [t for t in pending if (Path(t.out_dir) / f"{t.reference_id}.tif").exists()]
        if not ready:
            missing = sorted({t.reference_id for t in pending})
            raise InputError(
                f"{pending[0].out_dir}: reference scene(s) {', '.join(missing)} not rectified "
                f"(needed by {', '.join(t.scene_id for t in pending)})"
            )
        todo = []
        for task in ready:
            if (Path(task.out_dir) / f"{task.scene_id}.tif").exists():
                done += 1
                report(progress, at(done), describe(task))
            else:
                todo.append(task)
        if 0 < len(todo) < max(1, int(getattr(executor, "workers", 1))):
            # Fewer scenes than workers: each scene's tiles and windows are the tasks instead.
            for task in todo:
                rectify_tiled(task, executor)
                done += 1
                report(progress, at(done), describe(task))
            todo = []
        executor.map(
            rectify_scene,
            todo,
            progress=scaled(progress, at(done), at(done + len(todo))),
            describe=describe,
        )
        done += len(todo)
        pending = [t for t in pending if t not in ready]


__all__ = [
    "SceneTask",
    "finish_traditional",
    "rectify_here",
    "rectify_scene",
    "rectify_tiled",
    "rectify_with",
    "write_rectified",
    "write_refined",
]
