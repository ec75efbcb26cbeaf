"""The whole chain as one command: ``run``."""

from __future__ import annotations

import argparse

from processing_core.commands import Command
from processing_core.commands.network import _platform_days
from processing_core.commands.offsets import _windows, add_scheduler_options, add_speckle_options
from processing_core.commands.timeseries import add_frame_option


def _configure(p: argparse.ArgumentParser) -> None:
    from processing_core.chain import STEPS

    p.add_argument("--stack", required=True, help="stack folder made by import or simulate")
    p.add_argument("--dem", required=True, help="DEM covering the scenes (any GDAL raster with a CRS)")
    p.add_argument(
        "--steps",
        default=",".join(STEPS),
        help=f"comma-separated subset of {','.join(STEPS)} (default: all, in that order)",
    )
    p.add_argument(
        "--final-master", default=None, help="final master scene id (default: newest platform's master)"
    )
    n = p.add_argument_group("pairs")
    for flag, text in (
        ("--min-days", "lower temporal-baseline bound (repeatable; paper: ALOS=300, ALOS-2=70)"),
        ("--max-days", "optional upper temporal-baseline bound (repeatable)"),
    ):
        n.add_argument(
            flag, type=_platform_days, action="append", default=[], metavar="PLATFORM=DAYS", help=text
        )
    n.add_argument(
        "--bridge", type=int, default=3, help="images each side of a platform gap bridged (default 3)"
    )
    o = p.add_argument_group("offsets")
    o.add_argument("--step-px", type=int, default=8, help="offset grid spacing, px (default 8)")
    o.add_argument("--windows", type=_windows, default=(64, 96, 128), help="chip sizes (default 64,96,128)")
    o.add_argument("--search-px", type=int, default=32, help="search radius, px (default 32)")
    o.add_argument("--selection", choices=("max_snr", "precision"), default="max_snr", help="window rule")
    add_speckle_options(o)
    o.add_argument("--min-snr", type=float, default=20.0, help="reject offsets with a lower SNR (default 20)")
    i = p.add_argument_group("inversion and geocoding")
    i.add_argument("--weighted", action="store_true", help="weight offsets by their predicted variance")
    i.add_argument("--robust", action="store_true", help="iteratively reweighted L1 inversion")
    add_frame_option(i)
    i.add_argument("--epsg", type=int, default=None, help="geocoding CRS (default: the DEM's)")
    i.add_argument("--resolution", type=float, default=None, help="geocoding cell size (with --epsg)")
    p.add_argument(
        "--tie-window-px", type=int, default=128, help="rectification tie-point window, px (default 128)"
    )
    p.add_argument(
        "--tie-step-px", type=int, default=32, help="rectification tie-point spacing, px (default 32)"
    )
    p.add_argument("--no-compare", action="store_true", help="skip the traditional-vs-improved figure")
    p.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    add_scheduler_options(
        p, what="the scenes' rectification, the pairs' offsets and the inversion's row blocks"
    )
    p.add_argument(
        "--dem-vertical", choices=("egm96", "ellipsoid"), default="egm96", help="DEM heights datum"
    )


def _run(args: argparse.Namespace) -> int:
    from processing_core.chain import RunOptions, run_stack
    from processing_core.errors import InputError
    from processing_core.progress import TextProgressBar

    try:
        options = RunOptions(
            final_master=args.final_master,
            min_days=dict(args.min_days),
            max_days=dict(args.max_days),
            bridge=args.bridge,
            step_px=args.step_px,
            windows_px=args.windows,
            search_px=args.search_px,
            selection=args.selection,
            prefilter=args.prefilter,
            smooth_px=args.smooth_px,
            min_snr=args.min_snr,
            weighted=args.weighted,
            robust=args.robust,
            frame=args.frame,
            epsg=args.epsg,
            resolution=args.resolution,
            compare_traditional=not args.no_compare,
            threads=args.threads,
            dem_vertical=args.dem_vertical,
            tie_window_px=args.tie_window_px,
            tie_step_px=args.tie_step_px,
            scheduler=args.scheduler,
            workers=args.dask_workers,
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None
    steps = tuple(s.strip() for s in args.steps.split(",") if s.strip())
    summary = run_stack(
        args.stack,
        args.dem,
        options=options,
        steps=steps,
        progress=TextProgressBar("run"),
        step_progress=lambda name: TextProgressBar(f"  {name}"),
    )
    for name, seconds in summary.seconds.items():
        print(f"run: {name} {seconds:.1f} s")
    if summary.report is not None:
        print(f"report: {summary.report}")
    print(f"log: {summary.stack / 'run.log'}")
    return 0


COMMANDS = {
    "run": Command("every step after import, with the paper's defaults, resumable", _configure, _run, 5),
}
