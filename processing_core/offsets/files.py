"""Offset tracking on rasters: block-wise reading, GeoTIFF output, JSON run record, stacks.

Output of one pair (**contract**, DESIGN.md stack folder): a float32 GeoTIFF with the bands of
:data:`processing_core.offsets.field.BANDS` (descriptions ``azimuth_px``, ``range_px``, ``snr``,
``ncc``, ``window_px``, ``sigma_azimuth_px``, ``sigma_range_px``, ``flags``), NaN nodata, and
metadata ``ROW0``, ``COL0``, ``STEP_PX`` (node (r, c) is reference pixel (ROW0 + r STEP_PX,
COL0 + c STEP_PX), pixel i at i: the chip centre, half-integer for even windows), plus
``OFFSET_PARAMETERS`` (JSON). Beside it ``<name>.json`` records the parameters, the inputs
(size and modification time) and statistics; a rerun whose parameters and inputs match skips
the pair.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from osgeo import gdal

from processing_core import __version__
from processing_core.atomic import write_json
from processing_core.errors import InputError
from processing_core.execution import Executor
from processing_core.offsets.engine import Prior, track_sources
from processing_core.offsets.field import BANDS, OffsetField
from processing_core.offsets.params import OffsetParameters
from processing_core.progress import ProgressCallback, report, scaled
from processing_core.rasters import file_signature, write_geotiff
from processing_core.stack import load_stack

gdal.UseExceptions()

FORMAT = "sar-offsets/1"


class RasterSource:
    """Band 1 of a GDAL raster read window by window (amplitude of complex data; nodata -> NaN)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(f"{self.path}: no such file")
        try:
            self.dataset = gdal.Open(str(self.path))
        except RuntimeError as exc:
            raise InputError(f"{self.path}: not a raster GDAL can read ({exc})") from None
        # No Band object is kept: GDAL 3.6's bands do not keep their dataset alive, and one
        # collected after it (both held by a traceback's frame, say) crashes the interpreter.
        self.nodata = self.dataset.GetRasterBand(1).GetNoDataValue()
        self.shape = (self.dataset.RasterYSize, self.dataset.RasterXSize)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Release the GDAL dataset (reads are impossible afterwards)."""
        self.dataset = None

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        out = np.full((y1 - y0, x1 - x0), np.nan, dtype=np.float32)
        h, w = self.shape
        a0, a1, b0, b1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
        if a0 < a1 and b0 < b1:
            with self._lock:  # one GDAL dataset handle is not safe for concurrent reads
                data = self.dataset.GetRasterBand(1).ReadAsArray(b0, a0, b1 - b0, a1 - a0)
            if np.iscomplexobj(data):
                data = np.abs(data)
            data = data.astype(np.float32)
            if self.nodata is not None and not np.isnan(self.nodata):
                data[data == np.float32(self.nodata)] = np.nan
            out[a0 - y0 : a1 - y0, b0 - x0 : b1 - x0] = data
        return out


def _prior_signature(prior: Any) -> Any:
    if prior is None:
        return None
    if isinstance(prior, (str, os.PathLike)):
        return file_signature(prior)
    digest = hashlib.sha1()
    arrays = (
        [prior.azimuth_px, prior.range_px, prior.rows, prior.cols]
        if isinstance(prior, OffsetField)
        else prior
    )
    for a in arrays:
        digest.update(np.ascontiguousarray(np.asarray(a, dtype=np.float64)).tobytes())
    return {"sha1": digest.hexdigest()}


def read_offsets(path: str | os.PathLike[str]) -> OffsetField:
    """Read an offsets GeoTIFF written by :func:`track_files` back into an :class:`OffsetField`."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    try:
        ds = gdal.Open(str(p))
    except RuntimeError as exc:
        raise InputError(f"{p}: not a raster GDAL can read ({exc})") from None
    names = [ds.GetRasterBand(i + 1).GetDescription() for i in range(ds.RasterCount)]
    missing = [b for b in BANDS[:7] if b not in names]
    if missing:
        raise InputError(f"{p}: not an offsets raster (missing band(s) {', '.join(missing)})")
    arrays = {
        name: ds.GetRasterBand(names.index(name) + 1).ReadAsArray().astype(np.float32) for name in names
    }
    meta = ds.GetMetadata()
    try:
        row0, col0, step = float(meta["ROW0"]), float(meta["COL0"]), float(meta["STEP_PX"])
    except (KeyError, ValueError):
        raise InputError(f"{p}: metadata ROW0, COL0 and STEP_PX must be numbers") from None
    params = None
    if "OFFSET_PARAMETERS" in meta:
        try:
            params = OffsetParameters.from_dict(json.loads(meta["OFFSET_PARAMETERS"]))
        except (ValueError, TypeError):
            params = None
    rows = row0 + step * np.arange(ds.RasterYSize)
    cols = col0 + step * np.arange(ds.RasterXSize)
    flags = arrays.get("flags")
    flags = (
        np.where(np.isfinite(arrays["azimuth_px"]), 0, 1).astype(np.uint8)
        if flags is None
        else np.nan_to_num(flags, nan=0).astype(np.uint8)
    )
    return OffsetField(
        rows=rows, cols=cols, flags=flags, parameters=params, **{b: arrays[b] for b in BANDS[:7]}
    )


def _geotransform(src: RasterSource, field: OffsetField) -> tuple[tuple[float, ...] | None, str | None]:
    """The offset grid's geotransform composed with the reference's, if it has one."""
    gt = src.dataset.GetGeoTransform(can_return_null=True)
    if gt is None:
        return None, None
    step = field.step_px
    # Node (r, c) covers reference pixel-corner coordinates centred on (cols[c] + 0.5, rows[r] + 0.5).
    px0 = field.cols[0] + 0.5 - step / 2.0
    py0 = field.rows[0] + 0.5 - step / 2.0
    out = (
        gt[0] + px0 * gt[1] + py0 * gt[2],
        step * gt[1],
        step * gt[2],
        gt[3] + px0 * gt[4] + py0 * gt[5],
        step * gt[4],
        step * gt[5],
    )
    return out, src.dataset.GetProjection() or None


def _record(out: Path) -> Path:
    return out.with_suffix(".json")


def up_to_date(out: Path, params: OffsetParameters, inputs: list[Path], prior: Any = None) -> bool:
    """True when ``out`` and its JSON record exist for these parameters, inputs and prior."""
    record = _record(out)
    if not (out.exists() and record.exists()):
        return False
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return (
        data.get("format") == FORMAT
        and data.get("parameters") == params.to_dict()
        and data.get("inputs") == [file_signature(p) for p in inputs]
        and data.get("prior") == _prior_signature(prior)
    )


def _parameters(parameters: OffsetParameters | None, options: dict[str, Any]) -> OffsetParameters:
    if parameters is not None:
        if options:
            raise ValueError(f"give either parameters or options, not both ({', '.join(sorted(options))})")
        return parameters
    try:
        return OffsetParameters(**options)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


def track_files(
    reference_tif: str | os.PathLike[str],
    secondary_tif: str | os.PathLike[str],
    out_tif: str | os.PathLike[str],
    *,
    parameters: OffsetParameters | None = None,
    prior: Prior | str | os.PathLike[str] = None,
    threads: int | None = None,
    memory_mb: float = 1024.0,
    force: bool = False,
    progress: ProgressCallback | None = None,
    executor: Executor | None = None,
    **options: Any,
) -> Path:
    """Track ``secondary_tif`` against ``reference_tif`` (band 1 each) and write ``out_tif``.

    With an ``executor`` the pair's tiles are its tasks (e.g. a large pair on every worker of a
    Dask cluster; see :func:`~processing_core.offsets.engine.track_sources`), identical results.

    Options are :class:`OffsetParameters` fields (``step_px``, ``search_px``, ``windows_px``,
    ...) or one ``parameters`` object. ``prior`` may also be the path of an offsets GeoTIFF (a
    coarser pass). The rasters are read tile by tile, so memory stays bounded. Returns
    ``out_tif``; skips the work (unless ``force``) when its JSON record shows the same
    parameters, inputs and prior.

    Raises
    ------
    InputError
        Naming the file, when an input is missing, unreadable or the two differ in size.
    ValueError
        On bad option values.
    """
    params = _parameters(parameters, options)
    out = Path(out_tif)
    ref_path, sec_path = Path(reference_tif), Path(secondary_tif)
    ref, sec = RasterSource(ref_path), RasterSource(sec_path)
    if ref.shape != sec.shape:
        raise InputError(
            f"{sec_path}: {sec.shape[0]} x {sec.shape[1]} pixels, but the reference {ref_path} has "
            f"{ref.shape[0]} x {ref.shape[1]}"
        )
    prior_value = read_offsets(prior) if isinstance(prior, (str, os.PathLike)) else prior
    if not force and up_to_date(out, params, [ref_path, sec_path], prior):
        report(progress, 1.0, f"{out.name}: up to date")
        return out
    try:
        field = track_sources(
            ref,
            sec,
            params,
            prior=prior_value,
            threads=threads,
            memory_mb=memory_mb,
            progress=progress,
            executor=executor,
        )
        geotransform, crs = _geotransform(ref, field)
    except ValueError as exc:
        if "fewer than the smallest window" in str(exc):
            raise InputError(f"{ref_path}: {exc}") from None
        raise
    finally:
        ref.close()
        sec.close()
    metadata = dict(field.metadata())
    metadata.update(
        {
            "OFFSET_PARAMETERS": json.dumps(params.to_dict()),
            "REFERENCE": ref_path.name,
            "SECONDARY": sec_path.name,
            "SOFTWARE": f"processing_core {__version__}",
        }
    )
    units = ["px", "px", "1", "1", "px", "px", "px", "bits"]
    write_geotiff(
        out,
        field.bands(),
        descriptions=list(BANDS),
        geotransform=geotransform,
        crs_wkt=crs,
        metadata=metadata,
        band_metadata=[{"UNITS": u} for u in units],
    )
    valid = field.valid
    stats: dict[str, Any] = field.flag_counts()
    if valid.any():
        stats["median_ncc"] = float(np.median(field.ncc[valid]))
        stats["median_snr"] = float(np.median(field.snr[valid]))
        stats["window_counts"] = {
            str(w): int(np.count_nonzero(field.window_px[valid] == w)) for w in params.windows_px
        }
    record = {
        "format": FORMAT,
        "version": __version__,
        "time": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "parameters": params.to_dict(),
        "inputs": [file_signature(ref_path), file_signature(sec_path)],
        "prior": _prior_signature(prior),
        "grid": {
            "row0": float(field.rows[0]),
            "col0": float(field.cols[0]),
            "step_px": params.step_px,
            "rows": int(field.rows.size),
            "cols": int(field.cols.size),
        },
        "statistics": stats,
    }
    path = _record(out)
    write_json(path, record)
    return out


@dataclass
class PairResult:
    """One pair of :func:`track_stack`."""

    reference: str
    secondary: str
    path: Path
    skipped: bool
    """True when the output was up to date."""


@dataclass(frozen=True)
class PairTask:
    """One pair's offsets as a task for an executor: paths and plain values only (picklable)."""

    reference: str
    secondary: str
    reference_path: str
    secondary_path: str
    out: str
    parameters: dict[str, Any]
    """:meth:`OffsetParameters.to_dict`."""
    threads: int | None = None
    memory_mb: float = 1024.0
    force: bool = False


def track_pair(task: PairTask) -> PairResult:
    """Run one :class:`PairTask` (in this process or a worker's): skip it when up to date."""
    params = OffsetParameters.from_dict(task.parameters)
    out = Path(task.out)
    ref_path, sec_path = Path(task.reference_path), Path(task.secondary_path)
    skipped = not task.force and up_to_date(out, params, [ref_path, sec_path])
    if not skipped:
        track_files(
            ref_path,
            sec_path,
            out,
            parameters=params,
            threads=task.threads,
            memory_mb=task.memory_mb,
            force=True,
        )
    return PairResult(task.reference, task.secondary, out, skipped)


def track_stack(
    stack_dir: str | os.PathLike[str],
    *,
    parameters: OffsetParameters | None = None,
    threads: int | None = None,
    memory_mb: float = 1024.0,
    force: bool = False,
    progress: ProgressCallback | None = None,
    executor: Executor | None = None,
    **options: Any,
) -> list[PairResult]:
    """Offsets of every pair of ``STACK/stack.json``: ``rectified/<id>.tif`` to ``offsets/<ref>__<sec>.tif``.

    Pairs whose output is up to date are skipped (resumable). Records the parameters and a
    provenance entry in ``stack.json``. With an ``executor`` (:mod:`processing_core.execution`)
    every pair to compute is one :class:`PairTask` run by :func:`track_pair`, e.g. on a Dask
    cluster (``threads`` per task, default 1); with fewer pairs to compute than workers, each
    pair's tiles are the tasks instead. The results are identical and in pair order.

    Raises
    ------
    InputError
        When the stack has no pairs, a pair entry is malformed, or a rectified scene is missing
        (naming the file).
    """
    params = _parameters(parameters, options)
    root = Path(stack_dir)
    stack = load_stack(root)
    if not stack.pairs:
        raise InputError(f"{stack.path}: no pairs (run the pair selection first)")
    jobs = []
    for i, pair in enumerate(stack.pairs):
        if not isinstance(pair, dict) or not pair.get("reference") or not pair.get("secondary"):
            raise InputError(f"{stack.path}: pairs[{i}] needs 'reference' and 'secondary' scene ids")
        ref_id, sec_id = str(pair["reference"]), str(pair["secondary"])
        paths = [root / "rectified" / f"{ref_id}.tif", root / "rectified" / f"{sec_id}.tif"]
        for path in paths:
            if not path.exists():
                raise InputError(
                    f"{path}: rectified scene missing (pair {ref_id}__{sec_id}; run rectify first)"
                )
        jobs.append((ref_id, sec_id, paths, root / "offsets" / f"{ref_id}__{sec_id}.tif"))
    if executor is not None:
        results = _track_with(executor, jobs, params, threads, memory_mb, force, progress)
    else:
        results = _track_here(jobs, params, threads, memory_mb, force, progress)
    stack = load_stack(root)  # reread: keep what other steps wrote meanwhile
    stack.parameters["offsets"] = params.to_dict()
    stack.record(
        "offsets",
        {
            "parameters": params.to_dict(),
            "pairs": len(results),
            "computed": sum(not r.skipped for r in results),
        },
    )
    stack.save()
    return results


_Job = tuple[str, str, list[Path], Path]


def _track_with(
    executor: Executor,
    jobs: list[_Job],
    params: OffsetParameters,
    threads: int | None,
    memory_mb: float,
    force: bool,
    progress: ProgressCallback | None,
) -> list[PairResult]:
    """The pairs to compute as executor tasks (one thread each unless told); the others skipped here.
    With fewer pairs to compute than the executor has workers, the pairs' tiles are the tasks.

    Tiles change the last bits of the results, and their size follows the memory per thread; a
    task gets this machine's ``memory_mb`` per thread of the serial run, so that it cuts the same
    tiles and writes the same numbers, whichever worker runs it.
    """
    task_threads = threads or 1
    task_mb = memory_mb * task_threads / (threads or os.cpu_count() or 1)
    results: list[PairResult | None] = []
    tasks: list[tuple[int, PairTask]] = []
    for ref_id, sec_id, (ref_path, sec_path), out in jobs:
        if not force and up_to_date(out, params, [ref_path, sec_path]):
            results.append(PairResult(ref_id, sec_id, out, True))
            continue
        results.append(None)
        task = PairTask(
            ref_id,
            sec_id,
            str(ref_path),
            str(sec_path),
            str(out),
            params.to_dict(),
            task_threads,
            task_mb,
            True,
        )
        tasks.append((len(results) - 1, task))
    skipped = len(jobs) - len(tasks)
    if skipped:
        report(progress, skipped / len(jobs), f"{skipped} pair(s) up to date")
    if 0 < len(tasks) < max(1, int(getattr(executor, "workers", 1))):
        # Fewer pairs than workers: each pair's tiles are the tasks instead, so that every worker
        # has work; the same tiles (the serial run's memory per thread), so the same bits.
        for n, (k, task) in enumerate(tasks):
            lo, hi = (skipped + n) / len(jobs), (skipped + n + 1) / len(jobs)
            track_files(
                task.reference_path,
                task.secondary_path,
                task.out,
                parameters=params,
                threads=threads or os.cpu_count() or 1,
                memory_mb=memory_mb,
                force=True,
                progress=scaled(progress, lo, hi),
                executor=executor,
            )
            results[k] = PairResult(task.reference, task.secondary, Path(task.out), False)
        return [r for r in results if r is not None]
    computed = executor.map(
        track_pair,
        [t for _, t in tasks],
        progress=scaled(progress, skipped / len(jobs), 1.0),
        describe=lambda t: f"{Path(t.out).name} done",
    )
    for (k, _), result in zip(tasks, computed):
        results[k] = result
    return [r for r in results if r is not None]


def _track_here(
    jobs: list[_Job],
    params: OffsetParameters,
    threads: int | None,
    memory_mb: float,
    force: bool,
    progress: ProgressCallback | None,
) -> list[PairResult]:
    """Pair after pair in this process, each pair's tiles on ``threads`` threads."""
    results = []
    for k, (ref_id, sec_id, (ref_path, sec_path), out) in enumerate(jobs):
        sub = scaled(progress, k / len(jobs), (k + 1) / len(jobs))
        skipped = not force and up_to_date(out, params, [ref_path, sec_path])
        if skipped:
            report(sub, 1.0, f"{out.name}: up to date")
        else:
            track_files(
                ref_path,
                sec_path,
                out,
                parameters=params,
                threads=threads,
                memory_mb=memory_mb,
                force=True,
                progress=sub,
            )
        results.append(PairResult(ref_id, sec_id, out, skipped))
    return results
