"""The README's main job."""

from __future__ import annotations

import argparse

from processing_core.commands import Command
from processing_core.progress import TextProgressBar


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


COMMANDS = {
    "demo": Command("the main job on the bundled data (README)", _demo_configure, _demo_run, 1),
}
