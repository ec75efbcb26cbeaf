"""Time series of a stack: offsets (pixels) to metres per pair, SBAS inversion, output rasters.

Reads ``STACK/offsets/<reference>__<secondary>.tif`` for the pairs of ``stack.json`` (bands
``azimuth_px`` and ``range_px``, optionally ``sigma_azimuth_px`` and ``sigma_range_px``; metadata
``ROW0``, ``COL0``, ``STEP_PX`` place grid node (r, c) on the final master's pixel
(ROW0 + r * STEP_PX, COL0 + c * STEP_PX)), converts each pair's offsets to metres in that pair's
geometry, inverts LOS and azimuth separately (:func:`processing_core.inversion.sbas`) block by
block of grid rows, and writes on the same grid (DESIGN.md contract for the first two)::

    timeseries/los.tif, azimuth.tif          displacement per date (band DYYYYMMDD, metadata
                                             DATE=YYYY-MM-DD), metres relative to the first date
    timeseries/los_std.tif, azimuth_std.tif  propagated standard deviation per date, m
    timeseries/los_rate.tif, azimuth_rate.tif  mean rate per platform period and over the whole
                                             span, m/yr: least-squares slope of the period's
                                             series (metadata RATE_METHOD)
    timeseries/los_residual.tif, ...         residual RMS of the pairs, m
    timeseries/los_count.tif, ...            valid pairs and rank per node (int16; rank < n-1:
                                             the pairs there do not connect every date)
    timeseries/invert.json                   pairs used, skipped (no offset file, or not one valid
                                             offset in it), grid, parameters, input signature

Every raster carries ROW0/COL0/STEP_PX (the grid), UNITS and GEOMETRY (the final master).

Conversion (DESIGN.md signs): an offset field says a feature at reference pixel (row, col) is at
(row + azimuth_px, col + range_px) in the secondary. ``los_m = -range_px * dR`` with dR the
slant-range pixel spacing of the pair's geometry (a farther range is motion away from the
sensor, negative LOS); ``azimuth_m = azimuth_px * a(line, sample, h)`` with ``a`` the ground
length of one line at the node (:func:`processing_core.radar_grids.azimuth_spacing_m`, from the
orbit; it varies across the swath), h the node's height from ``geometry/ground_lut.tif`` when
present. The pair's geometry is the final master unless the offset file's metadata names
another scene of the stack in ``GEOMETRY_SCENE``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from osgeo import gdal

from processing_core.atomic import write_json
from processing_core.errors import InputError
from processing_core.execution import Executor
from processing_core.geometry import RadarGeometry
from processing_core.network import platform_group
from processing_core.progress import ProgressCallback, report, scaled
from processing_core.radar_grids import SubGrid, azimuth_spacing_m
from processing_core.stack import Stack, load_stack
from processing_core.timeseries_tasks import BANDS as _BANDS
from processing_core.timeseries_tasks import (
    COMPONENTS,
    RATE_METHOD,
    BlockResult,
    BlockTask,
    check_frame,
    invert_block,
    write_block,
)

gdal.UseExceptions()

_GDAL_TYPES = {
    np.dtype(np.float32): gdal.GDT_Float32,
    np.dtype(np.float64): gdal.GDT_Float64,
    np.dtype(np.uint8): gdal.GDT_Byte,
    np.dtype(np.int16): gdal.GDT_Int16,
    np.dtype(np.uint16): gdal.GDT_UInt16,
    np.dtype(np.int32): gdal.GDT_Int32,
    np.dtype(np.uint32): gdal.GDT_UInt32,
}


class BlockWriter:
    """A GeoTIFF written window by window (tiled, compressed, nodata, band descriptions), renamed
    into place by :meth:`close`; :meth:`abort` removes the partial file."""

    def __init__(
        self,
        path: Path,
        shape: tuple[int, int],
        descriptions: list[str],
        *,
        dtype: type | np.dtype = np.float32,
        nodata: float | None = np.nan,
        metadata: dict[str, str] | None = None,
        band_metadata: list[dict[str, str]] | None = None,
        geotransform: tuple[float, ...] | None = None,
        crs_wkt: str | None = None,
    ) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
        self.dtype = np.dtype(dtype)
        gdal_type = _GDAL_TYPES[self.dtype]
        options = ["TILED=YES", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER", "BLOCKXSIZE=256", "BLOCKYSIZE=256"]
        options.append("PREDICTOR=3" if self.dtype.kind == "f" else "PREDICTOR=2")
        self.ds = gdal.GetDriverByName("GTiff").Create(
            str(self.tmp), shape[1], shape[0], len(descriptions), gdal_type, options
        )
        if geotransform is not None:
            self.ds.SetGeoTransform(tuple(geotransform))
        if crs_wkt:
            self.ds.SetProjection(crs_wkt)
        if metadata:
            self.ds.SetMetadata({str(k): str(v) for k, v in metadata.items()})
        for i, text in enumerate(descriptions):
            band = self.ds.GetRasterBand(i + 1)
            band.SetDescription(text)
            if nodata is not None:
                band.SetNoDataValue(float(nodata))
            if band_metadata is not None:
                band.SetMetadata({str(k): str(v) for k, v in band_metadata[i].items()})

    def write(self, row0: int, bands: np.ndarray) -> None:
        """Write rows starting at ``row0`` of every band; ``bands`` is (n_bands, rows, cols)."""
        for i, array in enumerate(bands):
            self.ds.GetRasterBand(i + 1).WriteArray(np.asarray(array).astype(self.dtype, copy=False), 0, row0)

    def close(self) -> Path:
        self.ds.FlushCache()
        self.ds = None
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        self.ds = None
        if self.tmp.exists():
            self.tmp.unlink()


@dataclass(frozen=True)
class _PairInput:
    reference: str
    secondary: str
    i: int
    j: int
    path: Path
    bands: dict[str, int]
    geometry: str


def _band_index(ds: gdal.Dataset) -> dict[str, int]:
    return {ds.GetRasterBand(k).GetDescription(): k for k in range(1, ds.RasterCount + 1)}


def _date_index(stack: Stack) -> tuple[list[dt.date], dict[str, int]]:
    dates: list[dt.date] = []
    index: dict[str, int] = {}
    for s in sorted(stack.scenes, key=lambda s: (s.date, s.id)):
        d = dt.date.fromisoformat(s.date[:10])
        if dates and d == dates[-1]:
            raise InputError(
                f"{stack.path}: two scenes on {d} ({s.id} and another); the time series needs one per date"
            )
        dates.append(d)
        index[s.id] = len(dates) - 1
    return dates, index


def _pair_inputs(
    stack: Stack, index: dict[str, int]
) -> tuple[list[_PairInput], list[str], list[str], SubGrid]:
    """Offset files of the stack's pairs, checked for one common grid; the pairs whose file is
    missing and those without a single valid offset are returned apart (not inverted)."""
    if not stack.pairs:
        raise InputError(f"{stack.path}: no pairs; run the pairs step first")
    final = str(stack.masters.get("final") or "")
    inputs: list[_PairInput] = []
    skipped: list[str] = []
    skipped_invalid: list[str] = []
    grid: SubGrid | None = None
    first_path: Path | None = None
    for entry in stack.pairs:
        ref, sec = str(entry["reference"]), str(entry["secondary"])
        if ref not in index or sec not in index:
            raise InputError(f"{stack.path}: pair {ref}__{sec} names a scene that is not in the stack")
        path = stack.root / "offsets" / f"{ref}__{sec}.tif"
        if not path.exists():
            skipped.append(f"{ref}__{sec}")
            continue
        try:
            ds = gdal.Open(str(path))
        except RuntimeError as exc:
            raise InputError(f"{path}: cannot be read ({exc})") from None
        bands = _band_index(ds)
        for name in ("azimuth_px", "range_px"):
            if name not in bands:
                raise InputError(f"{path}: no band described '{name}' (bands: {', '.join(bands)})")
        try:  # every block decodes (a truncated file opens, then fails on its data)
            values = [ds.GetRasterBand(bands[name]).ReadAsArray() for name in ("azimuth_px", "range_px")]
        except RuntimeError as exc:
            ds = None  # GDAL crashes when a dataset is freed in a garbage cycle with the traceback
            raise InputError(
                f"{path}: cannot be read ({' '.join(str(exc).replace(f'{path}, ', '').split())})"
            ) from None
        if not any(np.isfinite(v).any() for v in values):
            skipped_invalid.append(f"{ref}__{sec}")  # no valid offset: nothing to invert
            continue
        meta = ds.GetMetadata() or {}
        this = SubGrid.from_metadata(meta, (ds.RasterYSize, ds.RasterXSize), where=str(path))
        if grid is None:
            grid, first_path = this, path
        elif this != grid:
            raise InputError(f"{path}: offset grid {this} differs from {grid} of {first_path}")
        geometry = str(meta.get("GEOMETRY_SCENE") or final)
        if geometry not in index:
            raise InputError(
                f"{path}: geometry scene '{geometry}' is not in the stack (no final master set?)"
            )
        i, j = index[ref], index[sec]
        if i == j:
            raise InputError(f"{path}: reference and secondary share a date")
        inputs.append(_PairInput(ref, sec, i, j, path, bands, geometry))
    if not inputs and skipped_invalid:
        raise InputError(
            f"{stack.root / 'offsets'}: no valid offset in any of the {len(skipped_invalid)} pairs' "
            f"offset files (e.g. {skipped_invalid[0]}.tif)"
        )
    if not inputs:
        raise InputError(
            f"{stack.root / 'offsets'}: none of the {len(stack.pairs)} pairs' offset files exist"
        )
    assert grid is not None
    return inputs, skipped, skipped_invalid, grid


def _node_heights(stack: Stack, grid: SubGrid, geometry: RadarGeometry) -> tuple[np.ndarray, str]:
    """Ellipsoidal height of every grid node from geometry/ground_lut.tif (nearest master pixel)."""
    path = stack.root / "geometry" / "ground_lut.tif"
    g = geometry.grid
    if path.exists():
        ds = gdal.Open(str(path))
        bands = _band_index(ds)
        if "height_m" in bands and (ds.RasterYSize, ds.RasterXSize) == (g.lines, g.samples):
            band = ds.GetRasterBand(bands["height_m"])
            cols = np.clip(np.rint(grid.samples()).astype(int), 0, g.samples - 1)
            rows = np.clip(np.rint(grid.lines()).astype(int), 0, g.lines - 1)
            out = np.empty(grid.shape)
            for r, line in enumerate(rows):
                out[r] = band.ReadAsArray(0, int(line), g.samples, 1)[0, cols]
            fill = float(np.nanmedian(out)) if np.isfinite(out).any() else 0.0
            return np.where(np.isfinite(out), out, fill), "geometry/ground_lut.tif"
    return np.zeros(grid.shape), "0 m (no geometry/ground_lut.tif)"


def azimuth_spacing_grid(geometry: RadarGeometry, grid: SubGrid, heights: np.ndarray) -> np.ndarray:
    """Ground length of one azimuth line at every grid node, m (exact on a coarse lattice of nodes
    at the lowest and highest height, bilinear across nodes and linear in height between)."""
    from scipy.ndimage import map_coordinates

    n_r = min(grid.rows, 33)
    n_c = min(grid.cols, 33)
    rr = np.linspace(0, grid.rows - 1, n_r)
    cc = np.linspace(0, grid.cols - 1, n_c)
    lines, samples = np.meshgrid(grid.lines(rr), grid.samples(cc), indexing="ij")
    h_lo, h_hi = float(np.min(heights)), float(np.max(heights))
    if h_hi - h_lo < 1e-6:
        h_hi = h_lo + 1.0
    lattice = [azimuth_spacing_m(geometry, lines, samples, np.full(lines.shape, h)) for h in (h_lo, h_hi)]
    rows, cols = np.meshgrid(np.arange(grid.rows), np.arange(grid.cols), indexing="ij")
    coords = [
        rows * ((n_r - 1) / max(grid.rows - 1, 1)),
        cols * ((n_c - 1) / max(grid.cols - 1, 1)),
    ]
    lo, hi = (map_coordinates(a, coords, order=1, mode="nearest") for a in lattice)
    f = (heights - h_lo) / (h_hi - h_lo)
    return lo + f * (hi - lo)


def _signature(inputs: list[_PairInput], parameters: dict[str, Any]) -> str:
    h = hashlib.sha256(json.dumps(parameters, sort_keys=True).encode())
    for p in inputs:
        st = p.path.stat()
        h.update(f"{p.path.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def _periods(stack: Stack, index: dict[str, int], n_dates: int) -> list[tuple[str, int, int]]:
    """(name, first date index, last date index) per platform group, then the whole span."""
    by_group: dict[str, list[int]] = {}
    for s in stack.scenes:
        by_group.setdefault(platform_group(s.platform), []).append(index[s.id])
    ordered = sorted(by_group.items(), key=lambda kv: min(kv[1]))
    out = [(g, min(v), max(v)) for g, v in ordered if max(v) > min(v)]
    out.append(("all", 0, n_dates - 1))
    return out


def invert_stack(
    root: str | os.PathLike[str],
    *,
    weighted: bool = False,
    robust: bool = False,
    frame: str = "material",
    block_rows: int | None = None,
    workers: int | None = None,
    force: bool = False,
    memory_mb: float = 512.0,
    progress: ProgressCallback | None = None,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Invert the stack's offsets into LOS and azimuth time series; return the summary written to
    ``timeseries/invert.json`` (with ``"skipped_run": True`` when the outputs were up to date).

    ``frame`` is ``material`` (default: the series of the ground that was at each node on the
    first date, :mod:`processing_core.material`) or ``eulerian`` (the pairs' offsets as
    measured at the nodes, summed; metres off at a landslide's head and toe after tens of
    metres of motion). The grid is inverted ``block_rows`` rows at a time (default: as many as
    ``memory_mb`` holds).
    With an ``executor`` (:mod:`processing_core.execution`) every block is one
    :class:`~processing_core.timeseries_tasks.BlockTask` (``workers`` threads each, default 1),
    e.g. on a Dask cluster, sent two per worker at a time; the blocks' results are written in row
    order and equal the serial run's bit for bit (give ``block_rows`` for more blocks than
    workers: the blocks, not the executor, decide the numbers).

    Raises
    ------
    InputError
        Without pairs or offset files, or with offset files on different grids.
    """
    check_frame(frame)
    stack = load_stack(root)
    dates, index = _date_index(stack)
    inputs, skipped, skipped_invalid, grid = _pair_inputs(stack, index)
    parameters = {"weighted": weighted, "robust": robust, "frame": frame, "rate_method": RATE_METHOD}
    folder = stack.root / "timeseries"
    signature = _signature(inputs, parameters)
    summary_path = folder / "invert.json"
    names = [
        f"{c}{suffix}.tif" for c in COMPONENTS for suffix in ("", "_std", "_rate", "_residual", "_count")
    ]
    if not force and summary_path.exists() and all((folder / n).exists() for n in names):
        try:
            previous = json.loads(summary_path.read_text())
        except json.JSONDecodeError:
            previous = {}
        if previous.get("signature") == signature:
            report(progress, 1.0, "time series up to date")
            return {**previous, "skipped_run": True}
    report(progress, 0.01, "conversion factors")
    scenes = {p.geometry for p in inputs}
    final = str(stack.masters.get("final") or sorted(scenes)[0])
    geometries = {sid: RadarGeometry(stack.scene(sid)) for sid in scenes | {final}}
    heights, height_source = _node_heights(
        stack, grid, geometries.get(final) or next(iter(geometries.values()))
    )
    los_factor = {sid: -g.grid.slant_range_spacing_m for sid, g in geometries.items()}
    az_factor = {sid: azimuth_spacing_grid(g, grid, heights) for sid, g in geometries.items()}
    if weighted:
        for p in inputs:
            for comp in COMPONENTS:
                if _BANDS[comp][1] not in p.bands:
                    raise InputError(f"{p.path}: --weighted needs a band described '{_BANDS[comp][1]}'")
    report(progress, 0.05, "reading offsets")
    pairs = [(p.i, p.j) for p in inputs]
    n_pairs = len(inputs)
    if block_rows is None:
        per_row = n_pairs * grid.cols * 8 * (4 if weighted else 2) * (5 if frame == "material" else 3)
        block_rows = int(max(1, min(grid.rows, memory_mb * 2**20 // max(per_row, 1))))
    names_d = ["D" + d.strftime("%Y%m%d") for d in dates]
    date_meta = [{"DATE": d.isoformat()} for d in dates]
    periods = _periods(stack, index, len(dates))
    period_names = [f"rate_{name}_{dates[a]:%Y%m%d}_{dates[b]:%Y%m%d}" for name, a, b in periods]
    period_meta = [
        {
            "PERIOD": name,
            "START": dates[a].isoformat(),
            "END": dates[b].isoformat(),
            "UNITS": "m/yr",
            "RATE_METHOD": RATE_METHOD,
        }
        for name, a, b in periods
    ]
    common = {**grid.metadata(), "GEOMETRY": f"final master {final}", "REFERENCE_DATE": dates[0].isoformat()}
    writers: dict[str, BlockWriter] = {}
    try:
        for comp in COMPONENTS:
            meta = {**common, "UNITS": "m", "COMPONENT": comp}
            writers[comp] = BlockWriter(
                folder / f"{comp}.tif", grid.shape, names_d, metadata=meta, band_metadata=date_meta
            )
            writers[f"{comp}_std"] = BlockWriter(
                folder / f"{comp}_std.tif", grid.shape, names_d, metadata=meta, band_metadata=date_meta
            )
            writers[f"{comp}_rate"] = BlockWriter(
                folder / f"{comp}_rate.tif",
                grid.shape,
                period_names,
                metadata={**common, "UNITS": "m/yr", "COMPONENT": comp},
                band_metadata=period_meta,
            )
            writers[f"{comp}_residual"] = BlockWriter(
                folder / f"{comp}_residual.tif", grid.shape, ["residual_rms_m"], metadata=meta
            )
            writers[f"{comp}_count"] = BlockWriter(
                folder / f"{comp}_count.tif",
                grid.shape,
                ["n_valid_pairs", "rank"],
                dtype=np.int16,
                nodata=-1,
                metadata={**common, "COMPONENT": comp, "RESAMPLING": "nearest"},
            )
        starts = list(range(0, grid.rows, block_rows))
        n_connected = dict.fromkeys(COMPONENTS, 0)
        n_solved = dict.fromkeys(COMPONENTS, 0)
        rounds = {"iterations": 0, "last_change_px": 0.0}

        def task(r0: int) -> BlockTask:
            r1 = min(r0 + block_rows, grid.rows)
            return BlockTask(
                r0,
                r1,
                grid.cols,
                tuple(dates),
                tuple(pairs),
                tuple(str(p.path) for p in inputs),
                tuple(p.bands for p in inputs),
                tuple(p.geometry for p in inputs),
                los_factor,
                {sid: az[r0:r1] for sid, az in az_factor.items()},
                weighted,
                robust,
                workers if executor is None else (workers or 1),
                frame,
                grid.rows,
                float(grid.step),
                final,
            )

        def write(block: BlockTask, results: dict[str, BlockResult]) -> None:
            for comp in COMPONENTS:
                result = results[comp]
                write_block(writers, comp, block.r0, result, periods, dates)
                solved = result.n_valid > 0
                n_solved[comp] += int(solved.sum())
                n_connected[comp] += int((solved & result.connected).sum())
            rounds["iterations"] = max(rounds["iterations"], results["los"].iterations)
            rounds["last_change_px"] = max(rounds["last_change_px"], results["los"].last_change_px)

        def fraction(done: int) -> float:
            return 0.05 + 0.93 * done / len(starts)

        if executor is None:
            for k, r0 in enumerate(starts):
                block = task(r0)
                write(block, invert_block(block))
                report(progress, fraction(k + 1), f"inverted rows {block.r1}/{grid.rows}")
        else:
            # Waves of two blocks per worker: the driver holds one wave's results at a time.
            wave = 2 * max(1, int(getattr(executor, "workers", 1)))
            for k in range(0, len(starts), wave):
                blocks = [task(r0) for r0 in starts[k : k + wave]]
                results = executor.map(
                    invert_block,
                    blocks,
                    progress=scaled(progress, fraction(k), fraction(k + len(blocks))),
                    describe=lambda b: f"inverted rows {b.r1}/{grid.rows}",
                )
                for block, result in zip(blocks, results):
                    write(block, result)
        written = [str(w.close()) for w in writers.values()]
    except BaseException:
        for w in writers.values():
            if w.ds is not None:
                w.abort()
        raise
    summary = {
        "signature": signature,
        "parameters": parameters,
        "dates": [d.isoformat() for d in dates],
        "pairs_used": [f"{p.reference}__{p.secondary}" for p in inputs],
        "pairs_skipped_no_offsets": skipped,
        "pairs_skipped_no_valid_offsets": skipped_invalid,
        "grid": {
            "row0": grid.row0,
            "col0": grid.col0,
            "step_px": grid.step,
            "rows": grid.rows,
            "cols": grid.cols,
        },
        "final_master": final,
        "azimuth_spacing_heights": height_source,
        "los_m_per_range_px": dict(los_factor),
        "nodes_solved": n_solved,
        "nodes_connected": n_connected,
        "material_frame": rounds if frame == "material" else None,
        "periods": [
            {"name": n, "start": dates[a].isoformat(), "end": dates[b].isoformat()} for n, a, b in periods
        ],
        "outputs": written,
    }
    write_json(summary_path, summary)
    stack = load_stack(root)
    stack.parameters["invert"] = parameters
    stack.record(
        "invert", {**parameters, "pairs": len(inputs), "skipped": len(skipped) + len(skipped_invalid)}
    )
    stack.save()
    report(progress, 1.0, "time series written")
    return {**summary, "skipped_run": False}
