"""Checks of the output folder before the chain (or a single step) starts work: that it can be
written, and room for what it will write.

The estimate is an upper bound of the rasters the heavy steps write (uncompressed; GeoTIFF
compression usually halves it): the final master's lookup tables on the DEM and radar grids,
nominal and refined (``geometry/``), one float32
raster per scene (``rectified/``), one offset field per pair (``offsets/``) and the time
series. Outputs already there (a resumed run) are not counted again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from osgeo import gdal

from processing_core.errors import InputError, SarError
from processing_core.stack import Stack

_MB = 2**20
# geometry/ on the radar grid: ground_lut (4 x float64), simulated intensity nominal and refined.
_GEOMETRY_BYTES_PER_PIXEL = 4 * 8 + 2 * 4
# geometry/ on the DEM grid: dem_lut (4 x float64) and layover_shadow (uint8), nominal and refined.
_GEOMETRY_BYTES_PER_DEM_CELL = 2 * (4 * 8 + 1)
_OFFSET_BANDS = 8
_TIMESERIES_RASTERS_PER_DATE = 4  # los, azimuth and their standard deviations


def _dem_cells(dem: str | os.PathLike[str] | None) -> int:
    if dem is None:
        return 0
    try:
        ds = gdal.Open(str(dem))
    except RuntimeError:
        return 0  # the DEM reader gives the clear error when the step reads it
    return ds.RasterXSize * ds.RasterYSize


def _master_size(stack: Stack, master_id: str) -> tuple[int, int] | None:
    """(lines, samples) of the final master: its sidecar, else the last scene's, else a rectified raster."""
    for scene_id in (master_id, stack.scenes[-1].id):
        try:
            grid = stack.scene(scene_id).radar_grid
        except SarError:
            continue
        return grid.lines, grid.samples
    for path in sorted((stack.root / "rectified").glob("*.tif")):
        try:
            ds = gdal.Open(str(path))
        except RuntimeError:
            continue
        return ds.RasterYSize, ds.RasterXSize
    return None


def estimate_output_bytes(
    stack: Stack, dem: str | os.PathLike[str] | None, steps: Iterable[str], step_px: int
) -> int:
    """Upper bound of the bytes the ``rectify``, ``offsets`` and ``invert`` steps write."""
    steps = set(steps)
    if not stack.scenes or not steps & {"rectify", "offsets", "invert"}:
        return 0
    master_id = str(stack.masters.get("final") or stack.scenes[-1].id)
    size = _master_size(stack, master_id)
    if size is None:
        return 0  # neither a sidecar nor a rectified raster to size it: the step says what is missing
    lines, samples = size
    pixels = lines * samples
    nodes = (lines // step_px + 1) * (samples // step_px + 1)
    root = stack.root
    n = len(stack.scenes)
    pairs = [f"{p.get('reference')}__{p.get('secondary')}" for p in stack.pairs if isinstance(p, dict)]
    todo_scenes = sum(not (root / "rectified" / f"{s.id}.tif").exists() for s in stack.scenes)
    todo_pairs = (
        sum(not (root / "offsets" / f"{name}.tif").exists() for name in pairs) if pairs else n * (n - 1) // 2
    )
    total = 0
    if "rectify" in steps:
        if not (root / "geometry" / "ground_lut.tif").exists():
            total += pixels * _GEOMETRY_BYTES_PER_PIXEL + _dem_cells(dem) * _GEOMETRY_BYTES_PER_DEM_CELL
        total += pixels * 4 * todo_scenes
    if "offsets" in steps:
        total += todo_pairs * nodes * _OFFSET_BANDS * 4
    if "invert" in steps and not (root / "timeseries" / "invert.json").exists():
        total += nodes * n * _TIMESERIES_RASTERS_PER_DATE * 4
    return total


def check_free_space(
    stack: Stack, dem: str | os.PathLike[str] | None, steps: Iterable[str], step_px: int
) -> None:
    """An :class:`InputError` before any work when the stack's disk cannot hold the outputs."""
    needed = estimate_output_bytes(stack, dem, steps, step_px)
    if needed == 0:
        return
    free = shutil.disk_usage(stack.root).free
    if needed > free:
        raise InputError(
            f"{Path(stack.root)}: the run needs about {needed / _MB:.1f} MB, "
            f"only {free / _MB:.1f} MB free there"
        )


def check_writable(folder: str | os.PathLike[str], what: str = "stack folder") -> None:
    """An :class:`InputError` before any work when ``folder`` cannot be written.

    A folder that does not exist yet is checked at its nearest existing parent (where it will be
    created). A probe file is written and removed: permissions alone do not tell (root, read-only
    mounts).
    """
    path = Path(folder)
    where = path
    while not where.exists() and where.parent != where:
        where = where.parent
    probe = where / ".write-test"
    try:
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"{path}: {what} is not writable ({exc.strerror or exc})") from None


def check_stack_output(
    stack_dir: str | os.PathLike[str],
    dem: str | os.PathLike[str] | None,
    steps: Iterable[str],
    *,
    step_px: int | None = None,
    out_dir: str | os.PathLike[str] | None = None,
) -> None:
    """The pre-flight of a single step's command: the stack folder (which gets the step's
    provenance) and ``out_dir`` writable, and room for the step's outputs.

    Parameters
    ----------
    stack_dir
        The stack folder.
    dem
        The DEM (its size counts for ``rectify``), or None.
    steps
        The steps about to run (see :func:`estimate_output_bytes`).
    step_px
        Offset grid spacing (default: the stack's recorded offsets parameters, else 8).
    out_dir
        Another folder the step writes (``geocode --out``).

    Raises
    ------
    InputError
        Naming the folder, when it cannot be written or its disk cannot hold the outputs.
    """
    from processing_core.stack import load_stack

    stack = load_stack(stack_dir)
    check_writable(stack.root)
    if out_dir is not None:
        check_writable(out_dir, "output folder")
    if step_px is None:
        recorded = stack.parameters.get("offsets") or {}
        step_px = int(recorded.get("step_px", 8)) if isinstance(recorded, dict) else 8
    check_free_space(stack, dem, steps, step_px)
