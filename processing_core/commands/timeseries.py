"""Time-series commands: invert, geocode."""

from __future__ import annotations

import argparse

from processing_core.commands import Command
from processing_core.commands.offsets import add_scheduler_options
from processing_core.progress import TextProgressBar


def add_frame_option(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--frame``: whose motion the series follow (:mod:`processing_core.material`)."""
    p.add_argument(
        "--frame",
        choices=("material", "eulerian"),
        default="material",
        help="material (default): the series of the ground that was at each node on the first date, "
        "each pair read where that ground is on its first date; eulerian: the offsets as measured at "
        "the nodes (metres off at a landslide's head and toe after tens of metres of motion)",
    )


def _invert_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stack", required=True, help="stack folder (stack.json, offsets/)")
    p.add_argument(
        "--weighted",
        action="store_true",
        help="weight each offset by 1/sigma^2 from its sigma_*_px band (default: equal weights, as the paper)",
    )
    p.add_argument(
        "--robust", action="store_true", help="iteratively reweighted L1 fit that resists outlier pairs"
    )
    add_frame_option(p)
    p.add_argument(
        "--block-rows", type=int, default=None, help="grid rows per block (default: from --memory-mb)"
    )
    p.add_argument(
        "--memory-mb", type=float, default=512.0, help="memory for one block of offsets (default 512)"
    )
    p.add_argument(
        "--workers", type=int, default=None, help="threads (default: all cores; with --scheduler: 1 per task)"
    )
    p.add_argument(
        "--force", action="store_true", help="recompute even when inputs and parameters are unchanged"
    )
    add_scheduler_options(p, what="the blocks of rows (--block-rows)")


def _invert_run(args: argparse.Namespace) -> int:
    from processing_core.errors import InputError
    from processing_core.execution import check_scheduler, executor_for
    from processing_core.preflight import check_stack_output
    from processing_core.timeseries import invert_stack

    if args.block_rows is not None and args.block_rows < 1:
        raise InputError(f"--block-rows must be >= 1, got {args.block_rows}")
    try:
        check_scheduler(args.scheduler, args.dask_workers)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    check_stack_output(args.stack, None, ("invert",))
    with executor_for(args.scheduler, args.dask_workers) as executor:
        summary = invert_stack(
            args.stack,
            weighted=args.weighted,
            robust=args.robust,
            frame=args.frame,
            block_rows=args.block_rows,
            workers=args.workers,
            force=args.force,
            memory_mb=args.memory_mb,
            progress=TextProgressBar("invert"),
            executor=None if args.scheduler is None else executor,
        )
    if summary["skipped_run"]:
        print(f"invert: up to date ({args.stack}/timeseries); --force recomputes")
        return 0
    grid = summary["grid"]
    print(
        f"invert: {len(summary['dates'])} dates, {len(summary['pairs_used'])} pairs "
        f"({len(summary['pairs_skipped_no_offsets'])} without offsets), grid {grid['rows']}x{grid['cols']} "
        f"(ROW0 {grid['row0']:g}, COL0 {grid['col0']:g}, STEP_PX {grid['step_px']:g})"
    )
    for comp in ("los", "azimuth"):
        solved, connected = summary["nodes_solved"][comp], summary["nodes_connected"][comp]
        print(f"  {comp}: {solved} nodes solved, {solved - connected} with a split network (minimum norm)")
    for path in summary["outputs"]:
        print(path)
    return 0


def _geocode_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stack", required=True, help="stack folder")
    p.add_argument(
        "--input",
        nargs="+",
        default=None,
        help="radar-geometry rasters (full master grid, or ROW0/COL0/STEP_PX sub-grids); default: timeseries/*.tif",
    )
    p.add_argument("--epsg", type=int, default=None, help="target CRS (default: the DEM's CRS and spacing)")
    p.add_argument(
        "--resolution", type=float, default=None, help="cell size in the target CRS's units (with --epsg)"
    )
    p.add_argument(
        "--resampling",
        choices=("auto", "bilinear", "nearest"),
        default="auto",
        help="auto: nearest for integer rasters (counts, masks), bilinear otherwise",
    )
    p.add_argument("--lut", default=None, help="DEM lookup table (default: STACK/geometry/dem_lut.tif)")
    p.add_argument("--out", default=None, help="output folder (default: STACK/geocoded)")


def _geocode_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from processing_core.geocode import geocode_stack
    from processing_core.preflight import check_writable

    check_writable(args.out or Path(args.stack) / "geocoded", "output folder")
    written = geocode_stack(
        args.stack,
        args.input,
        lut=args.lut,
        epsg=args.epsg,
        resolution=args.resolution,
        resampling=args.resampling,
        out_dir=args.out,
        progress=TextProgressBar("geocode"),
    )
    for path in written:
        print(path)
    print(f"geocode: {len(written)} rasters written")
    return 0


COMMANDS = {
    "invert": Command(
        "SBAS inversion of the pairs' offsets into LOS and azimuth time series, rates, residuals",
        _invert_configure,
        _invert_run,
        60,
    ),
    "geocode": Command(
        "radar-geometry rasters to a map CRS through the DEM lookup table (bilinear / nearest)",
        _geocode_configure,
        _geocode_run,
        70,
    ),
}
