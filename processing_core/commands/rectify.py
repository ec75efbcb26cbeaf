"""The rectification command."""

from __future__ import annotations

import argparse

from processing_core.commands import Command
from processing_core.commands.offsets import add_scheduler_options
from processing_core.progress import TextProgressBar


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stack", required=True, help="stack folder (stack.json)")
    p.add_argument("--dem", default=None, help="DEM (default: the bundled SRTM DEM of Big Tujunga)")
    p.add_argument(
        "--method",
        choices=("improved", "traditional"),
        default="improved",
        help="improved: DEM ortho-rectification (the paper's); traditional: polynomial co-registration, no DEM",
    )
    p.add_argument(
        "--final-master",
        default=None,
        help="scene id of the final master (default: newest platform's master)",
    )
    p.add_argument("--window-px", type=int, default=128, help="tie-point matching window, px (default 128)")
    p.add_argument("--step-px", type=int, default=32, help="tie-point spacing, px (default 32)")
    p.add_argument("--search-px", type=int, default=16, help="tie-point search radius, px (default 16)")
    p.add_argument("--iterations", type=int, default=2, help="refinement passes per scene (default 2)")
    p.add_argument(
        "--dem-vertical", choices=("egm96", "ellipsoid"), default="egm96", help="vertical datum of the DEM"
    )
    p.add_argument(
        "--memory-mb",
        type=float,
        default=1024.0,
        help="working memory of the improved method in MiB, shared by the cores (default 1024); "
        "rasters are read and written in windows that fit it, whatever the scene size",
    )
    add_scheduler_options(p, what="the scenes (all but the final master)")


def _run(args: argparse.Namespace) -> int:
    from processing_core.demo import DEFAULT_DEM
    from processing_core.errors import InputError
    from processing_core.execution import check_scheduler, executor_for
    from processing_core.preflight import check_stack_output
    from processing_core.rectify import RectifyParameters, rectify_stack

    try:
        params = RectifyParameters(
            method=args.method,
            window_px=args.window_px,
            step_px=args.step_px,
            search_px=args.search_px,
            iterations=args.iterations,
            dem_vertical=args.dem_vertical,
        )
        check_scheduler(args.scheduler, args.dask_workers)
        if not args.memory_mb > 0:
            raise ValueError(f"--memory-mb must be positive, got {args.memory_mb}")
    except ValueError as exc:
        raise InputError(str(exc)) from None
    dem = args.dem or DEFAULT_DEM
    check_stack_output(args.stack, dem, ("rectify",))
    with executor_for(args.scheduler, args.dask_workers) as executor:
        stack = rectify_stack(
            args.stack,
            dem,
            params=params,
            final_master=args.final_master,
            progress=TextProgressBar("rectify"),
            executor=None if args.scheduler is None else executor,
            memory_mb=args.memory_mb,
        )
    print(f"rectify: {len(stack.scenes)} scenes in the geometry of {stack.masters['final']} ({args.method})")
    return 0


COMMANDS = {
    "rectify": Command(
        "ortho-rectify every scene into the final master's geometry (steps i-iii)", _configure, _run, 30
    ),
}
