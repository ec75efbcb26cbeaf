"""Geometry commands: geo2rdr, rdr2geo, lookup."""

from __future__ import annotations

import argparse

from processing_core.commands import Command
from processing_core.progress import TextProgressBar


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


COMMANDS = {
    "geo2rdr": Command(
        "ground points (lat, lon, height) to radar coordinates", _geo2rdr_configure, _geo2rdr_run, 20
    ),
    "rdr2geo": Command(
        "radar coordinates (line, sample, height) to lat, lon", _rdr2geo_configure, _rdr2geo_run, 21
    ),
    "lookup": Command(
        "DEM<->radar lookup tables, incidence, layover/shadow and simulated intensity for a scene",
        _lookup_configure,
        _lookup_run,
        22,
    ),
}
