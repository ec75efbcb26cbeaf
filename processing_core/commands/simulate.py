"""The stack simulator command."""

from __future__ import annotations

import argparse
from dataclasses import replace

from processing_core.commands import Command
from processing_core.progress import TextProgressBar


def _size(text: str) -> tuple[float, float]:
    try:
        along, across = (float(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 5000x5000 (metres), got {text!r}") from None
    if along <= 0 or across <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return along, across


def _simulate_configure(p: argparse.ArgumentParser) -> None:
    from processing_core.simulate.scenario import SCENARIOS

    p.add_argument(
        "--scenario", default="baige-like", choices=sorted(SCENARIOS), help="scenario (default: baige-like)"
    )
    p.add_argument("--dem", default=None, help="DEM (default: the bundled SRTM DEM of Big Tujunga)")
    p.add_argument("--out", required=True, help="stack folder to write")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0); same seed, same stack")
    p.add_argument(
        "--size",
        type=_size,
        default=None,
        metavar="ALONGxACROSS",
        help="ground extent of the scenes in metres, e.g. 5000x5000",
    )
    p.add_argument(
        "--dem-vertical",
        choices=("egm96", "ellipsoid"),
        default="egm96",
        help="vertical datum of the DEM heights",
    )
    p.add_argument(
        "--pass",
        dest="pass_direction",
        choices=("ascending", "descending"),
        default=None,
        help="orbit direction of all scenes (default: the scenario's, ascending)",
    )
    p.add_argument(
        "--no-doppler",
        action="store_true",
        help="zero-Doppler PALSAR-1 scenes (default: squinted, as Level 1.1)",
    )


def _simulate_run(args: argparse.Namespace) -> int:
    from processing_core.demo import DEFAULT_DEM
    from processing_core.simulate import get_scenario, simulate_stack

    scenario = get_scenario(args.scenario)
    if args.pass_direction is not None:
        scenario = replace(scenario, pass_direction=args.pass_direction)
    if args.no_doppler:
        scenario = replace(scenario, palsar1_doppler=False)
    stack = simulate_stack(
        scenario,
        args.dem or DEFAULT_DEM,
        args.out,
        seed=args.seed,
        extent_m=args.size,
        dem_vertical=args.dem_vertical,
        progress=TextProgressBar("simulate"),
    )
    print(
        f"simulate: {len(stack.scenes)} scenes, final master {stack.masters['final']}, truth in {args.out}/truth"
    )
    return 0


COMMANDS = {
    "simulate": Command(
        "simulate a multi-platform stack with a moving landslide and its ground truth",
        _simulate_configure,
        _simulate_run,
        5,
    ),
}
