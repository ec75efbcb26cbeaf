"""Command line of the core: ``python3 -m processing_core <command> ...``.

Every command has ``--help``; bad input ends with a one-line error on stderr and
exit status 2 (DESIGN.md, command-line contract). Commands import their modules
lazily so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable

from processing_core import __version__
from processing_core.errors import SarError
from processing_core.progress import TextProgressBar


@dataclass(frozen=True)
class Command:
    """One sub-command: its help line, how to declare its options and how to run it."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _geo2rdr_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scene", required=True, help="scene sidecar (.json, sar-scene/1)")
    p.add_argument(
        "--points", required=True, help="CSV with columns lat,lon,height (deg, deg, ellipsoidal m)"
    )
    p.add_argument(
        "--out", required=True, help="output CSV: input columns + azimuth_time,slant_range_m,line,sample"
    )


def _geo2rdr_run(args: argparse.Namespace) -> int:
    from processing_core.pointsio import geo2rdr_csv

    n = geo2rdr_csv(args.scene, args.points, args.out)
    print(f"geo2rdr: {n} points written to {args.out}")
    return 0


def _rdr2geo_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scene", required=True, help="scene sidecar (.json, sar-scene/1)")
    p.add_argument(
        "--points", required=True, help="CSV with columns line,sample,height (px, px, ellipsoidal m)"
    )
    p.add_argument("--out", required=True, help="output CSV: input columns + lat,lon")


def _rdr2geo_run(args: argparse.Namespace) -> int:
    from processing_core.pointsio import rdr2geo_csv

    n = rdr2geo_csv(args.scene, args.points, args.out)
    print(f"rdr2geo: {n} points written to {args.out}")
    return 0


def _lookup_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scene", required=True, help="scene sidecar (.json, sar-scene/1)")
    p.add_argument("--dem", required=True, help="DEM raster readable by GDAL, any CRS")
    p.add_argument("--out", required=True, help="output folder for the lookup-table GeoTIFFs")
    p.add_argument(
        "--dem-vertical",
        choices=("egm96", "ellipsoid"),
        default="egm96",
        help="vertical datum of the DEM heights (default: egm96, as SRTM)",
    )
    p.add_argument(
        "--no-radar-lut",
        action="store_true",
        help="skip the radar->ground table (lat, lon, height per radar pixel)",
    )


def _lookup_run(args: argparse.Namespace) -> int:
    from processing_core.lookup import write_lookup_tables

    written = write_lookup_tables(
        args.scene,
        args.dem,
        args.out,
        dem_vertical=args.dem_vertical,
        ground_lut=not args.no_radar_lut,
        progress=TextProgressBar("lookup"),
    )
    for path in written:
        print(path)
    return 0


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


def _simulate_run(args: argparse.Namespace) -> int:
    from processing_core.demo import DEFAULT_DEM
    from processing_core.simulate import get_scenario, simulate_stack

    stack = simulate_stack(
        get_scenario(args.scenario),
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


def _demo_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--dem", default=None, help="DEM (default: the bundled SRTM DEM of Big Tujunga)")


def _demo_run(args: argparse.Namespace) -> int:
    from processing_core.demo import run_demo

    written = run_demo(args.out, dem_path=args.dem, progress=TextProgressBar("demo"))
    for path in written:
        print(path)
    print(
        f"demo: stack in {args.out}/stack (scenes/, truth/, lookup/), overview figure {args.out}/overview.png; "
        "the .tif files open in QGIS"
    )
    return 0


COMMANDS: dict[str, Command] = {
    "geo2rdr": Command(
        "ground points (lat, lon, height) to radar coordinates", _geo2rdr_configure, _geo2rdr_run
    ),
    "rdr2geo": Command(
        "radar coordinates (line, sample, height) to lat, lon", _rdr2geo_configure, _rdr2geo_run
    ),
    "lookup": Command(
        "DEM<->radar lookup tables, incidence, layover/shadow and simulated intensity for a scene",
        _lookup_configure,
        _lookup_run,
    ),
    "simulate": Command(
        "simulate a multi-platform stack with a moving landslide and its ground truth",
        _simulate_configure,
        _simulate_run,
    ),
    "demo": Command("the main job on the bundled data (README)", _demo_configure, _demo_run),
}


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with one sub-parser per entry of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="python3 -m processing_core",
        description="SAR offset tracking for large landslide motion (Liu et al. 2020, GRL).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.help, description=command.help)
        command.configure(p)
        p.set_defaults(_run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    try:
        return args._run(args)
    except SarError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unreadable input, full disk, permissions: still one line
        print(f"error: {exc}", file=sys.stderr)
        return 2
