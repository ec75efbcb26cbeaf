"""The import command: SAR products into a stack folder."""

from __future__ import annotations

import argparse

from processing_core.commands import Command
from processing_core.progress import TextProgressBar


def parse_looks(text: str) -> tuple[int, int]:
    """``AZxRG`` (e.g. ``4x2``) or ``N`` (N x N) as (azimuth, range) looks.

    Raises
    ------
    InputError
        When the text is not one or two positive integers.
    """
    from processing_core.errors import InputError

    parts = text.lower().replace("*", "x").split("x")
    try:
        looks = tuple(int(p) for p in parts)
    except ValueError:
        looks = ()
    if len(looks) == 1:
        looks = looks * 2
    if len(looks) != 2 or min(looks) < 1:
        raise InputError(f"--multilook must be AZxRG with positive integers (e.g. 4x2), got {text!r}")
    return looks  # type: ignore[return-value]


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--input",
        required=True,
        nargs="+",
        metavar="PATH",
        help="products (ALOS CEOS folders, zips or LED- files; Sentinel-1 *.SAFE folders or zips; "
        "sar-scene/1 *.json sidecars), folders holding them, and Sentinel-1 .EOF orbit files",
    )
    p.add_argument("--stack", required=True, help="stack folder to create or add to (stack.json, scenes/)")
    p.add_argument(
        "--multilook",
        default="1x1",
        metavar="AZxRG",
        help="looks averaged into each pixel, azimuth x range (default 1x1)",
    )
    p.add_argument(
        "--polarization",
        default=None,
        help="polarisation to import (default: each product's first co-polarised one)",
    )


def _run(args: argparse.Namespace) -> int:
    from processing_core.readers.importer import import_products

    stack = import_products(
        args.input,
        args.stack,
        multilook=parse_looks(args.multilook),
        polarization=args.polarization,
        progress=TextProgressBar("import"),
    )
    step = stack.provenance[-1]["arguments"]
    print(
        f"import: {len(step['imported'])} scenes imported, {len(step['unchanged'])} up to date, "
        f"{len(stack.scenes)} in {stack.path}"
    )
    for entry in stack.scenes:
        print(f"  {entry.date}  {entry.platform:12s} {entry.id}")
    return 0


COMMANDS = {
    "import": Command(
        "SAR products (ALOS CEOS, Sentinel-1 SAFE, sidecars) into a stack folder", _configure, _run, 3
    ),
}
