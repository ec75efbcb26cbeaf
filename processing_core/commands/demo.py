"""The README's main job."""

from __future__ import annotations

import argparse

from processing_core.commands import Command
from processing_core.progress import TextProgressBar


def _demo_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--dem", default=None, help="DEM (default: the bundled SRTM DEM of Big Tujunga)")
    p.add_argument(
        "--scenario",
        choices=("baige-like", "small"),  # the keys of demo.DEMO_OPTIONS
        default="baige-like",
        help="simulated stack (default baige-like: 28 scenes; small: six scenes, for a quick look)",
    )


def _demo_run(args: argparse.Namespace) -> int:
    from processing_core.demo import run_demo

    written = run_demo(
        args.out,
        dem_path=args.dem,
        scenario=args.scenario,
        progress=TextProgressBar("demo"),
        step_progress=lambda name: TextProgressBar(f"  {name}"),
    )
    for path in written:
        print(path)
    print(
        f"demo: report {args.out}/stack/report/report.html; QGIS-ready layers in {args.out}/stack/geocoded/ "
        f"(map CRS) and {args.out}/stack/timeseries/ (radar geometry); overview figure {args.out}/overview.png"
    )
    return 0


COMMANDS = {
    "demo": Command("the main job on the bundled data (README)", _demo_configure, _demo_run, 1),
}
