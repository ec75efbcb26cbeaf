"""Benchmark: SBAS inversion throughput against MintPy's ifgram_inversion (see README.md here).

28 dates (the simulated baige-like stack: 12 PALSAR-1, 16 PALSAR-2) and 83 pairs like the
paper's (31 PALSAR-1, 44 PALSAR-2, 8 bridging: from the pairs the paper's rule allows, the
shortest of each kind), a synthetic motion plus noise, and 20 % of the observations missing in
scattered patches (per pair, a smoothed random field thresholded at its 20th percentile), so that
almost every pixel has its own valid-pair pattern. Both sides solve Berardino's minimum-norm
velocity problem without weights; MintPy runs in benchmarks/.venv-peer-mintpy as a subprocess.

    PYTHONPATH=/work/main /usr/bin/python3 benchmarks/bench_inversion.py [--size 512] [--peer-pixels 40000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from processing_core.inversion import sbas  # noqa: E402
from processing_core.simulate.scenario import get_scenario  # noqa: E402

PEER = HERE / ".venv-peer-mintpy" / "bin" / "python"


def network() -> tuple[list[dt.date], list[tuple[int, int]]]:
    scenario = get_scenario("baige-like")
    acq = sorted(scenario.acquisitions, key=lambda a: a[1])
    dates = [dt.date.fromisoformat(d) for _, d in acq]
    plat = [s.platform for s, _ in acq]
    t = np.array([d.toordinal() for d in dates])
    p1 = [i for i, p in enumerate(plat) if p == "ALOS"]
    p2 = [i for i, p in enumerate(plat) if p == "ALOS-2"]

    def shortest(cands: list[tuple[int, int]], n: int) -> list[tuple[int, int]]:
        return sorted(cands, key=lambda p: (t[p[1]] - t[p[0]], p))[:n]

    c1 = shortest([(i, j) for i, j in itertools.combinations(p1, 2) if t[j] - t[i] >= 300], 31)
    c2 = shortest([(i, j) for i, j in itertools.combinations(p2, 2) if t[j] - t[i] >= 70], 44)
    br = shortest([(i, j) for i in p1[-3:] for j in p2[:3]], 8)
    return dates, sorted(c1 + c2 + br)


def data(dates, pairs, size: int, missing: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.array([(d - dates[0]).days for d in dates], dtype=float)
    yy, xx = np.mgrid[0:size, 0:size] / size
    bump = np.exp(-((yy - 0.5) ** 2 + (xx - 0.5) ** 2) / 0.05)
    motion = -0.02 * t[:, None, None] * bump[None]  # m, up to ~80 m at the centre
    obs = np.empty((len(pairs), size, size))
    for p, (i, j) in enumerate(pairs):
        obs[p] = motion[j] - motion[i] + rng.normal(0.0, 0.2, (size, size))
        field = ndimage.gaussian_filter(rng.normal(size=(size, size)), 4.0)
        obs[p][field < np.quantile(field, missing)] = np.nan
    return obs


def cpu_busy(seconds: float = 1.0) -> float:
    def ticks() -> tuple[int, int]:
        v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
        return sum(v), v[3] + v[4]

    a = ticks()
    time.sleep(seconds)
    b = ticks()
    return 1.0 - (b[1] - a[1]) / max(b[0] - a[0], 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512, help="image side, pixels (default 512)")
    ap.add_argument("--missing", type=float, default=0.2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--peer-pixels", type=int, default=40000, help="pixels MintPy inverts (a random subset)")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    busy = cpu_busy()
    if busy > 0.1:
        print(f"warning: CPUs {100 * busy:.0f} % busy before the run; figures will be low", file=sys.stderr)
    dates, pairs = network()
    obs = data(dates, pairs, args.size, args.missing, 0)
    n_pix = args.size**2
    valid = np.isfinite(obs).reshape(len(pairs), -1).T
    packed = np.ascontiguousarray(np.packbits(valid, axis=1))
    n_patterns = len(np.unique(packed.view(np.dtype((np.void, packed.shape[1]))).ravel()))
    print(
        f"{len(dates)} dates, {len(pairs)} pairs, {n_pix} pixels, {100 * np.isnan(obs).mean():.1f} % missing, "
        f"{n_patterns} distinct valid-pair patterns; CPUs {100 * busy:.0f} % busy before"
    )
    results = {}
    for workers in (1, os.cpu_count() or 1):
        best = np.inf
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            res = sbas(dates, pairs, obs, workers=workers)
            best = min(best, time.perf_counter() - t0)
        results[f"ours_{workers}"] = n_pix / best
        print(f"ours, {workers} thread(s): {n_pix / best:,.0f} pixels/s ({best:.2f} s)")
    row = {"pixels": n_pix, "patterns": n_patterns, **results}
    if not args.no_peer:
        if not PEER.exists():
            print("no peer venv: run bash benchmarks/setup_peer_mintpy.sh", file=sys.stderr)
            return 1
        rng = np.random.default_rng(1)
        subset = np.sort(rng.choice(n_pix, min(args.peer_pixels, n_pix), replace=False))
        flat = obs.reshape(len(pairs), -1)[:, subset]
        date12 = [f"{dates[i]:%Y%m%d}_{dates[j]:%Y%m%d}" for i, j in pairs]
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
            np.savez(src, obs=flat, date12=np.array(date12))
            run = subprocess.run(
                [str(PEER), str(HERE / "peer_mintpy_inversion.py"), str(src), str(dst), "1"],
                capture_output=True,
                text=True,
                check=True,
            )
            peer = json.loads(run.stdout.strip().splitlines()[-1])
            out = np.load(dst)
            ts_peer, count = out["ts"], out["count"]
        rate = peer["pixels"] / peer["seconds"]
        mine = res.displacement.reshape(len(dates), -1)[:, subset]
        solved = count > 0
        scale = np.maximum(np.nanmax(np.abs(mine[:, solved]), axis=0), 1e-9)
        rel = np.nanmax(np.abs(mine[:, solved] - ts_peer[:, solved]), axis=0) / scale
        ours_only = int(((res.n_valid.ravel()[subset] > 0) & ~solved).sum())
        print(
            f"MintPy {peer['mintpy']} estimate_timeseries: {rate:,.0f} pixels/s ({peer['pixels']} pixels, "
            f"{peer['seconds']:.2f} s, 1 process)"
        )
        print(
            f"agreement on {solved.sum()} pixels: max relative difference {rel.max():.1e} "
            f"(MintPy computes in float32), median {np.median(rel):.1e}; {ours_only} pixels solved only by us "
            "(MintPy's min_redundancy skips pixels where a date lost all its pairs)"
        )
        best_ours = max(results.values())
        print(f"ratio: {best_ours / rate:.1f}x ({results['ours_1'] / rate:.1f}x on one thread)")
        row.update(peer=rate, max_rel_diff=float(rel.max()), ratio=best_ours / rate, mintpy=peer["mintpy"])
        print(
            f"| {dt.date.today()} | {n_pix:,} px, {n_patterns:,} patterns | {best_ours:,.0f} | "
            f"{rate:,.0f} | {best_ours / rate:.1f}x | {rel.max():.0e} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(row, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
