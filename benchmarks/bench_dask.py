#!/usr/bin/python3
"""Dask execution of offset tracking: speed-up with worker processes, scheduler overhead, peak memory.

(a) Speed-up. ``--pairs`` pairs of synthetic textured ``--size`` x ``--size`` px GeoTIFFs (a
    speckled, slightly smoothed random backscatter; the secondary a copy moved by (1, 2) px with
    fresh speckle), tracked with step ``--step`` px, windows 64/96/128 px, search +-32 px:

    * serial, in process (the default path: pair after pair, tiles on all cores), and the same
      on one thread;
    * as :class:`processing_core.offsets.files.PairTask` tasks through
      :class:`processing_core.execution.DaskExecutor` on a local cluster of 1 and 2
      single-threaded worker processes (cluster start-up timed apart; the workers import the
      core once before the timing).

    Every output of every run is compared band by band with the serial run's (bit for bit).
    The scheduler overhead per task is the round trip of a trivial task (submit, run, result;
    sequential), and the per-task cost in a burst of 1000 trivial tasks.

(b) Memory. ``track_files`` of one pair of each of ``--memory-sizes`` (GeoTIFFs on disk, written
    block by block) in a fresh process each, with ``--memory-mb`` as the tiled driver's bound and
    ``GDAL_CACHEMAX=--gdal-cache-mb``: peak RSS of that process (``VmHWM``), its RSS before
    the tracking (interpreter, numpy, GDAL) and the wall time, to show the cost growing with the
    pixels while the memory stays at the configured bound plus the node grid. Both sizes should
    span several tiles (at 256 MiB on 2 threads a tile is 42 x 42 nodes, 672 px at step 16), so
    that the growth between them is the node grid's alone, extrapolated to 20k x 20k;
    ``--big 20000`` adds a 20k x 20k pair (3.2 GB of rasters; minutes).

    PYTHONPATH=/work/main /usr/bin/python3 benchmarks/bench_dask.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from osgeo import gdal  # noqa: E402
from scipy.ndimage import uniform_filter  # noqa: E402

gdal.UseExceptions()

WINDOWS = (64, 96, 128)
SHIFT = (1, 2)
BLOCK_ROWS = 512


def write_pair(ref_path: Path, sec_path: Path, size: int, seed: int) -> None:
    """A textured speckled pair written block by block (bounded memory at any size)."""
    driver = gdal.GetDriverByName("GTiff")
    opts = ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "BIGTIFF=IF_SAFER"]
    ref = driver.Create(str(ref_path), size, size, 1, gdal.GDT_Float32, opts)
    sec = driver.Create(str(sec_path), size, size, 1, gdal.GDT_Float32, opts)
    rng = np.random.default_rng(seed)
    dy, dx = SHIFT
    for y0 in range(0, size, BLOCK_ROWS):
        rows = min(BLOCK_ROWS, size - y0)
        scene = uniform_filter(rng.standard_exponential((rows + dy + 4, size + dx + 4)), 3)[2:-2, 2:-2]
        scene = scene.astype(np.float32)
        speckle = rng.standard_exponential((2, rows, size)).astype(np.float32)
        ref.GetRasterBand(1).WriteArray(np.sqrt(scene[:rows, :size] * (0.5 + 0.5 * speckle[0])), 0, y0)
        sec.GetRasterBand(1).WriteArray(
            np.sqrt(scene[dy : dy + rows, dx : dx + size] * (0.5 + 0.5 * speckle[1])), 0, y0
        )
    ref = sec = None


def same_outputs(a: list[Path], b: list[Path]) -> bool:
    for pa, pb in zip(a, b):
        da, db = gdal.Open(str(pa)), gdal.Open(str(pb))
        for k in range(1, da.RasterCount + 1):
            if not np.array_equal(
                da.GetRasterBand(k).ReadAsArray(), db.GetRasterBand(k).ReadAsArray(), equal_nan=True
            ):
                return False
    return True


def _noop(x: int) -> int:
    return x


def _import_core(x: int) -> int:
    import processing_core.offsets.files  # noqa: F401

    return x


def speed(args: argparse.Namespace, tmp: Path) -> dict:
    from processing_core.execution import DaskExecutor
    from processing_core.offsets import OffsetParameters, track_files
    from processing_core.offsets.files import PairTask, track_pair

    params = OffsetParameters(step_px=args.step, windows_px=WINDOWS, search_px=32)
    cores = os.cpu_count() or 1  # every run below cuts the default serial run's tiles (1024 MiB / cores)
    pairs = []
    for k in range(args.pairs):
        ref, sec = tmp / f"ref{k}.tif", tmp / f"sec{k}.tif"
        write_pair(ref, sec, args.size, seed=k)
        pairs.append((ref, sec))
    out: dict = {"pairs": args.pairs, "size": args.size, "step_px": args.step}
    serial_dir = tmp / "serial"
    t0 = time.perf_counter()
    for k, (ref, sec) in enumerate(pairs):
        track_files(ref, sec, serial_dir / f"p{k}.tif", parameters=params, force=True)
    out["serial_s"] = time.perf_counter() - t0
    serial = [serial_dir / f"p{k}.tif" for k in range(args.pairs)]
    nodes = gdal.Open(str(serial[0])).RasterXSize * gdal.Open(str(serial[0])).RasterYSize
    out["nodes_per_pair"] = nodes
    t0 = time.perf_counter()
    for k, (ref, sec) in enumerate(pairs):
        track_files(
            ref,
            sec,
            tmp / "serial1" / f"p{k}.tif",
            parameters=params,
            threads=1,
            memory_mb=1024.0 / cores,
            force=True,
        )
    out["serial_1thread_s"] = time.perf_counter() - t0
    print(
        f"serial, in process: {args.pairs} pairs of {args.size}^2 px ({nodes} nodes each) in "
        f"{out['serial_s']:.1f} s on {os.cpu_count()} threads = {args.pairs / out['serial_s']:.2f} pairs/s; "
        f"one thread {out['serial_1thread_s']:.1f} s = {args.pairs / out['serial_1thread_s']:.2f} pairs/s"
    )
    for workers in (1, 2):
        t0 = time.perf_counter()
        with DaskExecutor("local", workers=workers) as executor:
            client = executor.client()
            client.wait_for_workers(workers)
            start = time.perf_counter() - t0
            executor.map(_import_core, range(4 * workers))
            dest = tmp / f"dask{workers}"
            tasks = [
                PairTask(
                    f"r{k}",
                    f"s{k}",
                    str(ref),
                    str(sec),
                    str(dest / f"p{k}.tif"),
                    params.to_dict(),
                    1,
                    1024.0 / cores,
                    True,
                )
                for k, (ref, sec) in enumerate(pairs)
            ]
            t1 = time.perf_counter()
            executor.map(track_pair, tasks)
            seconds = time.perf_counter() - t1
            if workers == 2:
                trips = []
                for i in range(200):
                    t2 = time.perf_counter()
                    client.submit(_noop, i, pure=False).result()
                    trips.append(time.perf_counter() - t2)
                t2 = time.perf_counter()
                executor.map(_noop, range(1000))
                out["round_trip_ms"] = 1000 * float(np.median(trips))
                out["burst_ms_per_task"] = time.perf_counter() - t2  # 1000 tasks: s -> ms per task
        same = same_outputs(serial, [dest / f"p{k}.tif" for k in range(args.pairs)])
        out[f"dask{workers}_s"] = seconds
        out[f"dask{workers}_startup_s"] = start
        out[f"dask{workers}_identical"] = same
        print(
            f"dask, {workers} worker process(es): {seconds:.1f} s = {args.pairs / seconds:.2f} pairs/s "
            f"(x{out['serial_1thread_s'] / seconds:.2f} one serial thread, x{out['serial_s'] / seconds:.2f} the "
            f"default serial run); cluster start {start:.1f} s; outputs identical to serial: {same}"
        )
    print(
        f"scheduler overhead: {out['round_trip_ms']:.1f} ms per trivial task round trip (median of 200), "
        f"{out['burst_ms_per_task']:.2f} ms per task in a burst of 1000"
    )
    return out


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM; ``ru_maxrss`` would carry the forking parent's)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args: argparse.Namespace) -> int:
    """One ``track_files`` in this fresh process; prints its peak RSS as JSON."""
    from processing_core.offsets import OffsetParameters, track_files

    rss0 = peak_rss_mib()
    params = OffsetParameters(step_px=args.step, windows_px=WINDOWS, search_px=32)
    ref, sec, out = args.child
    t0 = time.perf_counter()
    track_files(ref, sec, out, parameters=params, memory_mb=args.memory_mb, threads=args.threads, force=True)
    seconds = time.perf_counter() - t0
    ds = gdal.Open(out)
    peak = peak_rss_mib()
    print(
        json.dumps(
            {
                "baseline_mib": rss0,
                "peak_mib": peak,
                "seconds": seconds,
                "nodes": ds.RasterXSize * ds.RasterYSize,
            }
        )
    )
    return 0


def memory(args: argparse.Namespace, tmp: Path) -> list[dict]:
    sizes = [int(s) for s in args.memory_sizes.split(",") if s.strip()]
    if args.big:
        sizes.append(args.big)
    rows = []
    env = dict(os.environ, GDAL_CACHEMAX=str(args.gdal_cache_mb), PYTHONPATH=str(ROOT))
    for size in sizes:
        ref, sec, out = tmp / f"m{size}_ref.tif", tmp / f"m{size}_sec.tif", tmp / f"m{size}_out.tif"
        t0 = time.perf_counter()
        write_pair(ref, sec, size, seed=size)
        made = time.perf_counter() - t0
        cmd = [
            sys.executable,
            __file__,
            "--child",
            str(ref),
            str(sec),
            str(out),
            "--memory-mb",
            str(args.memory_mb),
        ]
        cmd += ["--step", str(args.step)] + (["--threads", str(args.threads)] if args.threads else [])
        result = json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout)
        result.update(size=size, pixels=size * size)
        rows.append(result)
        print(
            f"{size} x {size} px ({size * size / 1e6:.0f} Mpx, {result['nodes']} nodes; rasters written in {made:.0f} s): "
            f"{result['seconds']:.1f} s = {result['pixels'] / result['seconds'] / 1e6:.2f} Mpx/s; "
            f"peak RSS {result['peak_mib']:.0f} MiB (before tracking {result['baseline_mib']:.0f} MiB)"
        )
        for p in (ref, sec, out):
            p.unlink(missing_ok=True)
    a, b = rows[0], rows[-1]
    growth_t = (b["seconds"] / a["seconds"]) / (b["pixels"] / a["pixels"])
    per_node = (b["peak_mib"] - a["peak_mib"]) * 2**20 / max(b["nodes"] - a["nodes"], 1)
    big = 20000**2
    big_nodes = b["nodes"] * big / b["pixels"]
    proj_s = b["seconds"] * big / b["pixels"]
    proj_mib = b["peak_mib"] + per_node * (big_nodes - b["nodes"]) / 2**20
    print(
        f"time per pixel from {a['size']}^2 to {b['size']}^2: x{growth_t:.2f} (1 = linear); peak RSS grows "
        f"{per_node:.0f} bytes per node; projection to 20000 x 20000 ({big_nodes:,.0f} nodes): "
        f"{proj_s / 60:.0f} min on this machine, peak RSS about {proj_mib:.0f} MiB"
    )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=6)
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--step", type=int, default=16)
    ap.add_argument("--memory-sizes", default="2000,4000")
    ap.add_argument("--memory-mb", type=float, default=256.0)
    ap.add_argument("--gdal-cache-mb", type=int, default=32)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--big", type=int, default=0, help="also one pair of this size (e.g. 20000)")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--child", nargs=3, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    from bench_offsets import cpu_busy

    busy = cpu_busy()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; CPUs {busy:.0f}% busy"
    )
    if busy > 10:
        print("warning: the machine is busy; timings will be low and the speed-up understated")
    report: dict = {"cpu_busy_percent": busy}
    with tempfile.TemporaryDirectory(prefix="bench_dask_") as name:
        tmp = Path(name)
        if not args.no_speed:
            report["speed"] = speed(args, tmp)
        if not args.no_memory:
            report["memory"] = memory(args, tmp)
    if "speed" in report:
        s = report["speed"]
        print(
            f"| offsets of {s['pairs']} pairs of {s['size']} x {s['size']} px ({s['nodes_per_pair']:,} nodes each, "
            f"windows 64/96/128) as Dask tasks | 1 worker: {s['pairs'] / s['dask1_s']:.2f} pairs/s, 2 workers: "
            f"{s['pairs'] / s['dask2_s']:.2f} pairs/s; scheduler overhead {s['round_trip_ms']:.1f} ms per task | "
            f"serial in process: {s['pairs'] / s['serial_1thread_s']:.2f} pairs/s on 1 thread, "
            f"{s['pairs'] / s['serial_s']:.2f} on {os.cpu_count()} | x{s['dask1_s'] / s['dask2_s']:.2f} from 1 to 2 workers | "
            f"outputs identical to the serial run: {s['dask1_identical'] and s['dask2_identical']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
