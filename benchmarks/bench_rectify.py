"""Peak memory and time of the rectification of a two-scene stack, by scene size.

Each size gets a stack of two PALSAR-1-like scenes (4.683 m slant range, 2159.827 Hz lines) over
real SRTM terrain (the Big Tujunga DEM's 30 m heights, mirror-tiled to cover the footprint, so
the DEM grows with the scene as a real one does). The master's amplitude is the DEM-simulated
intensity of its nominal geometry times Rayleigh speckle; the slave is the same image seen from
an orbit 46 days later, 200 m across track, with its first line annotated 1.5 lines late (the
timing error the rectification must find). ``rectify_stack`` (steps i-iii, the paper's chain)
then runs in a fresh process whose peak resident set (``VmHWM``) is read at the end, with
GDAL's block cache limited to ``--gdal-cache-mb`` (``GDAL_CACHEMAX``).

The peer is this project's rectification as it was before it was tiled (commit ``6139d44`` for
the improved method, ``6a550ec`` for ``--method traditional``, checked out in a temporary git
worktree), which held whole scenes and master-grid arrays in memory, run on a copy of the same
stack in its own fresh process. The lower bound of any
whole-scene implementation is printed too: the master's ground lookup table (three float64
bands), the slave's coordinates (two float64), the slave's amplitude and its spline coefficients
(float64 each) and the output (float32), 68 bytes per pixel. ``--big`` runs without the peer.

``--dask SIDE`` instead times one slave of a stack of that side in process and on a local Dask
cluster of 1 worker (one scene task) and 2 workers (its tie-point tiles and raster windows as
tasks), the outputs compared bit for bit (:func:`workers_speed`).

Run: ``/usr/bin/python3 benchmarks/bench_rectify.py [--sizes 1500,3000] [--big 20000]
[--method traditional] [--dask 3000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from osgeo import gdal, osr

ROOT = Path(__file__).resolve().parents[1]
PEER_COMMITS = {"improved": "6139d44", "traditional": "6a550ec"}
"""Per method, the last commit whose rectification held whole scenes in memory (the peer)."""

gdal.UseExceptions()
REAL_DEM = ROOT.parent / "shared" / "fixtures" / "dem" / "bigtujunga_srtm30m_utm11.tif"
WHOLE_BYTES_PER_PIXEL = 3 * 8 + 2 * 8 + 8 + 8 + 4


def peak_rss_mib() -> float:
    """This process's peak resident set, MiB (``VmHWM``)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _tiled_dem(path: Path, lat: np.ndarray, lon: np.ndarray, margin_m: float = 3000.0) -> Path:
    """The real DEM's heights mirror-tiled over the footprint (UTM zone 11, 30 m), as a GeoTIFF."""
    src = gdal.Open(str(REAL_DEM))
    heights = src.GetRasterBand(1).ReadAsArray().astype(np.float32)
    nodata = src.GetRasterBand(1).GetNoDataValue()
    if nodata is not None:
        heights[heights == nodata] = np.nanmedian(heights[heights != nodata])
    wkt = src.GetProjection()
    spacing = src.GetGeoTransform()[1]
    srs = osr.SpatialReference(wkt=wkt)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    wgs = osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    to_utm = osr.CoordinateTransformation(wgs, srs)
    xy = np.array([to_utm.TransformPoint(float(b), float(a))[:2] for a, b in zip(lat, lon)])
    x0, y1 = xy.min(axis=0) - margin_m
    x1, y0 = xy.max(axis=0) + margin_m
    cols, rows = int((x1 - x0) / spacing) + 1, int((y0 - y1) / spacing) + 1
    mirrored = np.block([[heights, heights[:, ::-1]], [heights[::-1], heights[::-1, ::-1]]])
    reps = (rows // mirrored.shape[0] + 1, cols // mirrored.shape[1] + 1)
    tiled = np.tile(mirrored, reps)[:rows, :cols]
    ds = gdal.GetDriverByName("GTiff").Create(
        str(path), cols, rows, 1, gdal.GDT_Float32, ["COMPRESS=DEFLATE"]
    )
    ds.SetGeoTransform((x0, spacing, 0.0, y0, 0.0, -spacing))
    ds.SetProjection(wkt)
    ds.GetRasterBand(1).WriteArray(tiled)
    ds = None
    return path


def make_stack(root: Path, size: int, *, seed: int = 0) -> tuple[Path, Path]:
    """A two-scene stack of ``size`` x ``size`` pixels and its DEM; returns (stack, dem)."""
    sys.path.insert(0, str(ROOT))
    from processing_core.geometry import RadarGeometry
    from processing_core.lookup import scene_footprint, write_lookup_tables
    from processing_core.orbitgen import synthetic_scene
    from processing_core.rasters import GeoTiffWriter
    from processing_core.scene import write_scene
    from processing_core.stack import Stack, StackScene
    from processing_core.timeutil import add_seconds

    scenes = root / "scenes"
    scenes.mkdir(parents=True)
    common = {"centre_lat_deg": 34.32, "centre_lon_deg": -118.15, "centre_height_m": 1000.0}
    common |= {"lines": size, "samples": size}
    t0 = np.datetime64("2008-01-01T06:00:00")
    master = synthetic_scene(scene_id="ALOS_20080101", centre_time=t0, image="ALOS_20080101.tif", **common)
    slave = synthetic_scene(
        scene_id="ALOS_20080216",
        centre_time=t0 + np.timedelta64(46, "D"),
        cross_track_shift_m=200.0,
        image="ALOS_20080101.tif",
        **common,
    )
    grid = slave.radar_grid
    late = add_seconds(grid.first_line_time, 1.5 * grid.line_time_interval_s)
    slave = replace(slave, radar_grid=replace(grid, first_line_time=late))
    lat, lon = scene_footprint(RadarGeometry(master), 1000.0)
    dem = _tiled_dem(root / "dem.tif", lat, lon)
    write_scene(master, scenes / "ALOS_20080101.json")
    write_scene(slave, scenes / "ALOS_20080216.json")
    nominal = root / "nominal"
    write_lookup_tables(scenes / "ALOS_20080101.json", dem, nominal, ground_lut=False)
    sim = gdal.Open(str(nominal / "simulated_intensity.tif"))
    rng = np.random.default_rng(seed)
    strip = 512
    with GeoTiffWriter(scenes / "ALOS_20080101.tif", (size, size), descriptions=["amplitude"]) as out:
        for y0 in range(0, size, strip):
            n = min(strip, size - y0)
            intensity = sim.GetRasterBand(1).ReadAsArray(0, y0, size, n).astype(np.float64)
            speckle = rng.rayleigh(np.sqrt(0.5), size=(n, size))
            out.write(1, y0, 0, (np.sqrt(intensity + 0.05) * speckle).astype(np.float32))
    sim = None
    entries = [StackScene(s.id, s.platform, str(s.date), f"scenes/{s.id}.json") for s in (master, slave)]
    Stack(root, scenes=entries).save()
    return root, dem


def child(stack: str, dem: str, memory_mb: float, code: str, step_px: int, method: str) -> int:
    """``rectify_stack`` of the code in folder ``code`` in this fresh process; prints seconds and
    peak RSS as JSON (``memory_mb`` < 0: the peer, which has no such option)."""
    sys.path.insert(0, code)
    from processing_core.rectify import RectifyParameters, rectify_stack

    before = peak_rss_mib()
    t0 = time.perf_counter()
    options = {"memory_mb": memory_mb} if memory_mb > 0 else {}
    if os.environ.get("BENCH_RECTIFY_LOG"):  # a long run's stages, timed, on stderr
        last = [""]

        def log(fraction: float, message: str) -> None:
            if message != last[0]:
                last[0] = message
                print(
                    f"{time.perf_counter() - t0:8.0f} s  peak {peak_rss_mib():6.0f} MiB  {fraction:6.1%}  {message}",
                    file=sys.stderr,
                    flush=True,
                )

        options["progress"] = log
    rectify_stack(stack, dem, params=RectifyParameters(step_px=step_px, method=method), **options)
    seconds = time.perf_counter() - t0
    folder = "rectified" if method == "improved" else f"rectified_{method}"
    qc = json.loads((Path(stack) / folder / "ALOS_20080216.json").read_text())
    print(json.dumps({"seconds": seconds, "peak_mib": peak_rss_mib(), "baseline_mib": before, "qc": qc}))
    return 0


def _run(stack: Path, dem: Path, memory_mb: float, code: Path, args: argparse.Namespace) -> dict:
    env = os.environ | {"GDAL_CACHEMAX": str(args.gdal_cache_mb)}
    cmd = [
        sys.executable,
        __file__,
        "--child",
        str(stack),
        str(dem),
        str(memory_mb),
        str(code),
        str(args.step_px),
        args.method,
    ]
    if args.log:
        env["BENCH_RECTIFY_LOG"] = "1"
    done = subprocess.run(
        cmd,
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        stderr=None if args.log else subprocess.PIPE,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(size: int, args: argparse.Namespace, tmp: Path, peer: Path | None) -> dict:
    root = (Path(args.keep) if args.keep else tmp) / f"stack{size}"
    t0 = time.perf_counter()
    if args.keep and (root / "stack.json").exists():  # built by an earlier run: start it afresh
        stack, dem = root, root / "dem.tif"
        for folder in ("geometry", "rectified", "rectified_traditional"):
            shutil.rmtree(root / folder, ignore_errors=True)
    else:
        shutil.rmtree(root, ignore_errors=True)
        stack, dem = make_stack(root, size)
    built = time.perf_counter() - t0
    if peer is not None:
        copy = tmp / f"peer{size}"
        shutil.copytree(stack, copy)
        theirs = _run(copy, dem, -1.0, peer, args)
        shutil.rmtree(copy)
    result = _run(stack, dem, args.memory_mb, ROOT, args)
    dem_ds = gdal.Open(str(dem))
    result |= {"size": size, "dem_cells": dem_ds.RasterXSize * dem_ds.RasterYSize, "build_s": built}
    whole = WHOLE_BYTES_PER_PIXEL * size * size / 2**20
    qc = result["qc"]
    found = sum(r.get("a0_px", np.nan) for r in qc["refinements"])
    print(
        f"{size} x {size} px (DEM {result['dem_cells']:,} cells, tie points every {args.step_px} px): rectified in {result['seconds']:.0f} s, "
        f"peak RSS {result['peak_mib']:.0f} MiB at --memory-mb {args.memory_mb:g} "
        f"(whole arrays would hold >= {whole:.0f} MiB); slave residual "
        f"{qc.get('residual_line_rms_px', float('nan')):.3f} / {qc.get('residual_sample_rms_px', float('nan')):.3f} px "
        f"(line / sample), {qc['tie_points']} tie points; timing error found "
        f"{found:+.3f} lines (annotated 1.5 lines late; nan: the method does not fit it)",
        flush=True,
    )
    if peer is not None:
        result["peer"] = theirs
        print(
            f"    peer (commit {PEER_COMMITS[args.method]}, whole scenes in memory): {theirs['seconds']:.0f} s, peak RSS "
            f"{theirs['peak_mib']:.0f} MiB -> this project x{result['peak_mib'] / theirs['peak_mib']:.2f} "
            f"the memory, x{theirs['seconds'] / result['seconds']:.2f} the speed",
            flush=True,
        )
    return result


def _import_core(x: int) -> int:
    import processing_core.rectify.tasks  # noqa: F401

    return x


def _rasters(folder: Path) -> dict[str, bytes]:
    return {p.name: gdal.Open(str(p)).ReadAsArray().tobytes() for p in sorted(folder.glob("*.tif"))}


def workers_speed(size: int, args: argparse.Namespace, tmp: Path) -> dict:
    """A two-scene stack rectified in process, then on a local Dask cluster of 1 and 2 workers.

    One slave: with one worker it is one scene task; with two, fewer scenes than workers, its
    tie-point tiles and raster windows are the tasks (``processing_core.rectify.tiles``). The
    final master's step i and lookup tables are computed once, in process, and copied into each
    run, so that the runs time the slave alone. Outputs compared bit for bit.
    """
    sys.path.insert(0, str(ROOT))
    # the local cluster's worker processes import the core too
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
    from processing_core.execution import DaskExecutor
    from processing_core.rectify import RectifyParameters, rectify_stack

    params = RectifyParameters(step_px=args.step_px, method=args.method)
    folder = "rectified" if args.method == "improved" else "rectified_traditional"
    stack, dem = make_stack(tmp / f"dask{size}", size)
    rectify_stack(stack, dem, params=params, memory_mb=args.memory_mb)  # step i, tables, master
    slave = next(p for p in (stack / folder).glob("*.tif") if "20080216" in p.name)
    for name in (slave.name, slave.with_suffix(".json").name):
        (stack / folder / name).unlink()
    runs: dict[str, float] = {}
    outputs = {}
    for label, workers in (("in process", 0), ("1 worker", 1), ("2 workers", 2)):
        copy = tmp / f"dask{size}_{workers}"
        shutil.copytree(stack, copy)
        if workers == 0:
            t0 = time.perf_counter()
            rectify_stack(copy, dem, params=params, memory_mb=args.memory_mb)
        else:
            with DaskExecutor("local", workers=workers) as executor:
                executor.map(_import_core, range(workers))  # workers up and the core imported
                t0 = time.perf_counter()
                rectify_stack(copy, dem, params=params, executor=executor, memory_mb=args.memory_mb)
        runs[label] = time.perf_counter() - t0
        outputs[label] = _rasters(copy / folder)
        shutil.rmtree(copy)
    same = all(out == outputs["in process"] for out in outputs.values())
    base = runs["1 worker"]
    print(
        f"{size} x {size} px, one slave ({args.method}): in process {runs['in process']:.1f} s, "
        f"1 worker {base:.1f} s (one scene task), 2 workers {runs['2 workers']:.1f} s (tile tasks): "
        f"x{base / runs['2 workers']:.2f} with 2 workers, x{runs['in process'] / runs['2 workers']:.2f} "
        f"the in-process run; outputs {'identical' if same else 'DIFFERENT'} bit for bit",
        flush=True,
    )
    return {"size": size, "seconds": runs, "identical": same}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1500,3000", help="scene sides in pixels, comma separated")
    ap.add_argument("--big", type=int, default=0, help="also one stack of this side (e.g. 20000)")
    ap.add_argument("--memory-mb", type=float, default=256.0, help="rectify_stack's memory_mb (default 256)")
    ap.add_argument("--gdal-cache-mb", type=int, default=64, help="GDAL_CACHEMAX of the run (default 64)")
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--no-peer", action="store_true", help="skip the peer (the whole-scene rectification)")
    ap.add_argument("--step-px", type=int, default=32, help="tie-point spacing, px (default 32, as rectify)")
    ap.add_argument("--method", choices=sorted(PEER_COMMITS), default="improved", help="rectification method")
    ap.add_argument(
        "--keep", default=None, help="build the stacks in this folder and keep them (reused when there)"
    )
    ap.add_argument(
        "--log", action="store_true", help="print the run's stages with time and peak RSS (stderr)"
    )
    ap.add_argument(
        "--dask", type=int, default=0, help="only the Dask speed-up (1, 2 workers) on a stack of this side"
    )
    ap.add_argument("--child", nargs=6, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        stack, dem, memory_mb, code, step_px, method = args.child
        return child(stack, dem, float(memory_mb), code, int(step_px), method)
    if args.dask:
        with tempfile.TemporaryDirectory(prefix="bench_rectify_") as tmp:
            result = workers_speed(args.dask, args, Path(tmp))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2, default=float) + "\n")
        return 0 if result["identical"] else 1
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()] + ([args.big] if args.big else [])
    with tempfile.TemporaryDirectory(prefix="bench_rectify_") as tmp:
        peer = None
        if not args.no_peer:
            peer = Path(tmp) / "peer_code"
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(peer), PEER_COMMITS[args.method]],
                check=True,
                capture_output=True,
            )
        try:
            results = [measure(n, args, Path(tmp), peer if n != args.big else None) for n in sizes]
        finally:
            if peer is not None:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(peer)], check=False
                )
    if len(results) >= 2:
        a, b = results[0], results[-1]
        px = (b["size"] / a["size"]) ** 2
        print(
            f"from {a['size']}^2 to {b['size']}^2 ({px:.1f}x the pixels): time x{b['seconds'] / a['seconds']:.2f} "
            f"(x{b['seconds'] / a['seconds'] / px:.2f} per pixel; 1 = linear), peak RSS "
            f"x{b['peak_mib'] / a['peak_mib']:.2f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
