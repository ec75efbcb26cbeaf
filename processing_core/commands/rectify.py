"""The rectification command."""

from __future__ import annotations

import argparse

from processing_core.commands import Command
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


def _run(args: argparse.Namespace) -> int:
    from processing_core.demo import DEFAULT_DEM
    from processing_core.errors import InputError
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
    except ValueError as exc:
        raise InputError(str(exc)) from None
    stack = rectify_stack(
        args.stack,
        args.dem or DEFAULT_DEM,
        params=params,
        final_master=args.final_master,
        progress=TextProgressBar("rectify"),
    )
    print(f"rectify: {len(stack.scenes)} scenes in the geometry of {stack.masters['final']} ({args.method})")
    return 0


COMMANDS = {
    "rectify": Command(
        "ortho-rectify every scene into the final master's geometry (steps i-iii)", _configure, _run, 30
    ),
}
