#!/usr/bin/python3
"""geo2rdr throughput and accuracy: processing_core versus sarsen's backward geocoding.

Every cell of a real DEM (Big Tujunga SRTM 30 m, 643 x 1197 = 770k cells) is put
into the radar geometry of a synthetic ALOS-like scene (9000 lines x 5000 samples,
9 state vectors 60 s apart) by

* ours: ``RadarGeometry(scene).geo2rdr_ecef(xyz)`` in this interpreter;
* the peer: ``sarsen.geocoding.backward_geocode`` (B-Open), run in its own venv
  (``benchmarks/.venv-peer``, made by ``setup_peer.sh``) as a subprocess that gets the
  same state vectors and the same DEM in ECEF through a temporary ``.npz``.

Both are timed on the whole DEM, one warm-up run then the best of ``--repeats``.
Accuracy: ours against the peer over all cells; both against references computed
here on a random subset (``--subset`` points), independently of either solver:

* exact: the synthetic orbit is a Keplerian circle known in closed form; the
  zero-Doppler time by bisection of V.(P-S) on that exact orbit (to ~1e-13 s);
* dense: a brute-force minimum-range search on the state vectors interpolated by
  our Hermite orbit (1 ms scan, then 1 us steps, zero-Doppler crossing interpolated
  within the 1 us bracket); it shares the orbit model with ours but not the solver;
* Doppler residual: squint cosine V.(P-S)/(|V||P-S|) and along-track distance
  V.(P-S)/|V| at the returned times, with the exact orbit, over all cells.

Run with Debian's Python and the project on the path:

    PYTHONPATH=/work/main /usr/bin/python3 benchmarks/bench_geo2rdr.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
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

from processing_core.dem import read_dem  # noqa: E402
from processing_core.ellipsoid import geodetic_to_ecef  # noqa: E402
from processing_core.geometry import RadarGeometry  # noqa: E402
from processing_core.orbitgen import orbit_looking_at, synthetic_scene  # noqa: E402

DEM_NAME = "bigtujunga_srtm30m_utm11.tif"
DEM_CANDIDATES = (
    ROOT / "resources" / "dem" / DEM_NAME,
    ROOT.parent / "shared" / "fixtures" / "dem" / DEM_NAME,
)
CENTRE = {"lat": 34.32, "lon": -118.15, "height": 1000.0, "time": np.datetime64("2008-01-01T06:00:00", "ns")}
OFF_NADIR_DEG = 34.3  # synthetic_scene's default, needed to rebuild the exact orbit
PEER_PYTHON = HERE / ".venv-peer" / "bin" / "python"
PEER_SCRIPT = HERE / "peer_sarsen.py"

# A peer variant counts as accuracy-matched if, on the subset, it is this close to the exact solution.
MATCH_TIME_S = 1e-8
MATCH_RANGE_M = 1e-3


def make_scene():
    return synthetic_scene(
        scene_id="bench",
        centre_lat_deg=CENTRE["lat"],
        centre_lon_deg=CENTRE["lon"],
        centre_height_m=CENTRE["height"],
        centre_time=CENTRE["time"],
        lines=9000,
        samples=5000,
    )


def exact_orbit(scene, epoch: np.datetime64):
    """The closed-form orbit behind the scene's state vectors, as f(s since epoch) -> (pos, vel)."""
    circle = orbit_looking_at(CENTRE["lat"], CENTRE["lon"], CENTRE["height"], off_nadir_deg=OFF_NADIR_DEG)
    shift = (CENTRE["time"] - epoch) / np.timedelta64(1, "ns") * 1e-9  # circle's t=0 is the scene centre

    def state(t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = np.asarray(t_s, dtype=np.float64)
        pos, vel = circle.state(t.ravel() - shift)
        return pos.reshape(t.shape + (3,)), vel.reshape(t.shape + (3,))

    t_sv = np.array([(sv.time - epoch) / np.timedelta64(1, "ns") * 1e-9 for sv in scene.orbit])
    pos, vel = state(t_sv)
    err_p = np.abs(pos - np.array([sv.position_m for sv in scene.orbit])).max()
    err_v = np.abs(vel - np.array([sv.velocity_m_s for sv in scene.orbit])).max()
    if err_p > 1e-6 or err_v > 1e-9:
        raise RuntimeError(
            f"rebuilt orbit does not reproduce the scene's state vectors ({err_p:.3g} m, {err_v:.3g} m/s): "
            "synthetic_scene's orbit parameters changed; update exact_orbit()"
        )
    return state


def exact_zero_doppler(state, p: np.ndarray, t_lo: float, t_hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Zero-Doppler time and range of points on the exact orbit, by bisection of V.(P-S)."""

    def g(t):
        s, v = state(t)
        return np.einsum("ij,ij->i", v, p - s)

    lo = np.full(len(p), t_lo)
    hi = np.full(len(p), t_hi)
    if not ((g(lo) > 0).all() and (g(hi) < 0).all()):
        raise RuntimeError("bisection bracket does not hold every subset point")
    for _ in range(64):  # 20 s / 2**64: far below float64 resolution of the times
        mid = 0.5 * (lo + hi)
        ahead = g(mid) > 0
        lo = np.where(ahead, mid, lo)
        hi = np.where(ahead, hi, mid)
    t = 0.5 * (lo + hi)
    s, _ = state(t)
    return t, np.linalg.norm(p - s, axis=-1)


def dense_minimum_range(orbit, p: np.ndarray, t_lo: float, t_hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force zero-Doppler time and range on an interpolated orbit.

    A 1 ms scan of |P - S(t)| over [t_lo, t_hi] brackets the minimum; around it the orbit is
    sampled every 1 us (+-1.5 ms), and the sign change of V.(P-S) (minus half the derivative
    of the squared range) is located and interpolated linearly within its 1 us step; the
    range there must be the smallest of all the dense samples.
    """
    coarse_t = np.arange(t_lo, t_hi, 1e-3)
    coarse_s = orbit.interpolate(coarse_t).position_m
    t0 = np.empty(len(p))
    for i in range(0, len(p), 100):
        d2 = ((p[i : i + 100, None, :] - coarse_s[None, :, :]) ** 2).sum(-1)
        t0[i : i + 100] = coarse_t[np.argmin(d2, axis=1)]
    steps = np.arange(-1500, 1501) * 1e-6
    t_zero = np.empty(len(p))
    r_min = np.empty(len(p))
    for i in range(0, len(p), 50):
        pp = p[i : i + 50]
        tt = t0[i : i + 50, None] + steps[None, :]
        st = orbit.interpolate(tt)
        d = pp[:, None, :] - st.position_m
        g = np.einsum("ijk,ijk->ij", st.velocity_m_s, d)
        r2 = np.einsum("ijk,ijk->ij", d, d)
        # g > 0 before the closest approach, < 0 after: first index where it turns negative.
        k = np.argmax(g < 0, axis=1)
        if np.any(k == 0) or np.any(g[np.arange(len(pp)), -1] >= 0):
            raise RuntimeError("dense scan does not bracket the zero-Doppler crossing")
        rows = np.arange(len(pp))
        g0, g1 = g[rows, k - 1], g[rows, k]
        frac = g0 / (g0 - g1)
        tz = tt[rows, k - 1] + frac * 1e-6
        r_zero = np.linalg.norm(pp - orbit.interpolate(tz).position_m, axis=-1)
        # Sanity: the range at the crossing is the minimum of the dense samples. (Their argmin
        # is no check of the time: over a few us the range changes by less than float64 resolves.)
        if np.any(np.sqrt(r2.min(axis=1)) < r_zero - 1e-6):
            raise RuntimeError("a dense sample is nearer than the zero-Doppler crossing")
        t_zero[i : i + 50] = tz
        r_min[i : i + 50] = r_zero
    return t_zero, r_min


def doppler_residual(state, xyz: np.ndarray, t: np.ndarray) -> tuple[float, float]:
    """Max |squint cosine| and max |along-track distance| (m) of points from their zero-Doppler planes."""
    ok = np.isfinite(t)
    s, v = state(t[ok])
    d = xyz[ok] - s
    vd = np.einsum("ij,ij->i", v, d)
    vn = np.linalg.norm(v, axis=-1)
    return float(np.max(np.abs(vd / (vn * np.linalg.norm(d, axis=-1))))), float(np.max(np.abs(vd / vn)))


def timed(fn, repeats: int, warmup: int):
    for _ in range(warmup):
        fn()
    times = []
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), times, out


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def busy_note(seconds: float = 1.0) -> tuple[float, str]:
    """Share of the CPUs busy over ``seconds`` before we start (Linux /proc/stat), with a warning."""
    try:

        def sample() -> tuple[int, int]:
            fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
            return sum(fields), fields[3] + fields[4]  # total, idle + iowait

        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
        busy = 1.0 - (idle1 - idle0) / max(total1 - total0, 1)
    except (OSError, ValueError, IndexError):
        return float("nan"), f"load average {os.getloadavg()[0]:.2f}"
    note = f"CPUs {100 * busy:.0f}% busy before the runs"
    if busy > 0.1:
        note += " -- WARNING: other processes compete for the cores, timings are pessimistic; rerun when idle"
    return busy, note


def max_abs(a: np.ndarray, b: np.ndarray) -> float:
    d = np.abs(np.asarray(a) - np.asarray(b))
    return float(np.nanmax(d)) if np.isfinite(d).any() else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--dem", type=Path, help=f"DEM (default: {DEM_NAME} from resources/dem or ../shared/fixtures/dem)"
    )
    ap.add_argument(
        "--repeats", type=int, default=3, help="timed runs of each solver; the best counts (default 3)"
    )
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    ap.add_argument(
        "--subset", type=int, default=1000, help="random points for the brute-force checks (default 1000)"
    )
    ap.add_argument("--seed", type=int, default=20080101, help="random seed of the subset")
    ap.add_argument("--peer-python", type=Path, default=PEER_PYTHON, help="interpreter of the peer venv")
    ap.add_argument("--no-peer", action="store_true", help="time ours only")
    ap.add_argument("--json", type=Path, help="also write all figures to this JSON file")
    args = ap.parse_args(argv)

    dem_path = args.dem or next((p for p in DEM_CANDIDATES if p.exists()), None)
    if dem_path is None or not Path(dem_path).exists():
        sys.exit(f"DEM not found: give --dem (looked for {', '.join(map(str, DEM_CANDIDATES))})")

    busy_at_start, busy_text = busy_note()
    # -- inputs shared by both solvers (not timed) -----------------------------------------
    scene = make_scene()
    dem = read_dem(dem_path)
    lon, lat = dem.lonlat()
    xyz = geodetic_to_ecef(lat, lon, dem.heights_m)  # (rows, cols, 3)
    rows, cols = dem.shape
    n = rows * cols
    geometry = RadarGeometry(scene)
    epoch = geometry.epoch
    state = exact_orbit(scene, epoch)
    print(f"geo2rdr benchmark, {dt.datetime.now().isoformat(timespec='seconds')}")
    print(
        f"  machine: {machine()}; Python {platform.python_version()}, numpy {np.__version__}; "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"
    )
    print(f"  {busy_text}")
    print(
        f"  DEM: {dem_path.name}, {rows} x {cols} = {n:,} cells, {int(np.isnan(dem.heights_m).sum())} voids"
    )
    print(
        f"  scene: {scene.radar_grid.lines} x {scene.radar_grid.samples}, zero Doppler, "
        f"{len(scene.orbit)} state vectors every 60 s, epoch {epoch}"
    )

    # -- ours ----------------------------------------------------------------------------------
    best, runs, rc = timed(lambda: geometry.geo2rdr_ecef(xyz), args.repeats, args.warmup)
    ours_t, ours_r = rc.azimuth_time_s, rc.slant_range_m
    ours = {
        "best_s": best,
        "times_s": runs,
        "points_per_s": n / best,
        "unsolved": int((~np.isfinite(ours_t)).sum()),
    }
    print(f"\nours: processing_core RadarGeometry.geo2rdr_ecef ({os.cpu_count()} threads)")
    print(
        f"  best {best:.3f} s of {[round(x, 3) for x in runs]} -> {n / best / 1e6:.2f} M points/s, "
        f"{ours['unsolved']} unsolved"
    )
    print(
        f"  lines {np.nanmin(rc.line):.1f}..{np.nanmax(rc.line):.1f}, "
        f"samples {np.nanmin(rc.sample):.1f}..{np.nanmax(rc.sample):.1f}"
    )

    # -- references on a random subset ---------------------------------------------------------
    rng = np.random.default_rng(args.seed)
    pick = rng.choice(n, size=min(args.subset, n), replace=False)
    p_sub = xyz.reshape(-1, 3)[pick]
    centre_s = (CENTRE["time"] - epoch) / np.timedelta64(1, "ns") * 1e-9
    t_exact, r_exact = exact_zero_doppler(state, p_sub, centre_s - 10.0, centre_s + 10.0)
    t_dense, r_dense = dense_minimum_range(geometry.orbit, p_sub, centre_s - 5.0, centre_s + 5.0)
    tt = np.linspace(centre_s - 5.0, centre_s + 5.0, 1001)
    hermite_err = float(
        np.max(np.linalg.norm(geometry.orbit.interpolate(tt).position_m - state(tt)[0], axis=-1))
    )

    def accuracy(t: np.ndarray, r: np.ndarray) -> dict:
        ts, rs = t.reshape(-1)[pick], r.reshape(-1)[pick]
        squint, along = doppler_residual(state, xyz.reshape(-1, 3), t.reshape(-1))
        return {
            "exact_dt_s": max_abs(ts, t_exact),
            "exact_dr_m": max_abs(rs, r_exact),
            "dense_dt_s": max_abs(ts, t_dense),
            "dense_dr_m": max_abs(rs, r_dense),
            "squint_cos_max": squint,
            "along_track_m_max": along,
        }

    ours["accuracy"] = accuracy(ours_t, ours_r)
    ours["orbit_max_error_m"] = hermite_err
    print(
        f"  vs exact orbit (subset of {len(pick)}): max |dt| {ours['accuracy']['exact_dt_s']:.2e} s, "
        f"max |dR| {ours['accuracy']['exact_dr_m']:.2e} m"
    )
    print(
        f"  vs dense 1 us brute force on our Hermite orbit: max |dt| {ours['accuracy']['dense_dt_s']:.2e} s, "
        f"max |dR| {ours['accuracy']['dense_dr_m']:.2e} m"
    )
    print(
        f"  Doppler residual (all cells, exact orbit): squint cos {ours['accuracy']['squint_cos_max']:.1e}, "
        f"along-track {ours['accuracy']['along_track_m_max']:.1e} m"
    )
    print(f"  Hermite orbit vs exact orbit over the scene +-5 s: {hermite_err:.1e} m")
    # Dense-scan consistency: the brute force itself agrees with the exact solution up to the orbit model.
    print(
        f"  (dense brute force vs exact: max |dt| {max_abs(t_dense, t_exact):.1e} s, "
        f"max |dR| {max_abs(r_dense, r_exact):.1e} m)"
    )

    results = {
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu_busy_before": busy_at_start,
        "dem": dem_path.name,
        "cells": n,
        "ours": ours,
    }
    if args.no_peer:
        _write_json(args.json, results)
        return 0

    # -- peer ----------------------------------------------------------------------------------
    if not Path(args.peer_python).exists():
        sys.exit(
            f"peer venv missing ({args.peer_python}): run bash benchmarks/setup_peer.sh, or pass --no-peer"
        )
    x_map, y_map = dem.xy(np.zeros(cols), np.arange(cols))[0], dem.xy(np.arange(rows), np.zeros(rows))[1]
    check_t = tt
    with tempfile.TemporaryDirectory(prefix="bench_geo2rdr_") as tmp:
        inp, out = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(
            inp,
            sv_time_ns=np.array([sv.time for sv in scene.orbit], dtype="datetime64[ns]").astype(np.int64),
            sv_position_m=np.array([sv.position_m for sv in scene.orbit], dtype=np.float64),
            sv_velocity_m_s=np.array([sv.velocity_m_s for sv in scene.orbit], dtype=np.float64),
            dem_ecef_m=xyz,
            dem_x=x_map,
            dem_y=y_map,
            reference_ns=np.int64(epoch.astype("datetime64[ns]").astype(np.int64)),
            check_time_ns=(epoch + np.round(check_t * 1e9).astype("timedelta64[ns]")).astype(np.int64),
            check_position_m=state(np.round(check_t * 1e9) * 1e-9)[0],
        )
        print(f"\npeer: sarsen backward_geocode in {args.peer_python} ...", flush=True)
        proc = subprocess.run(
            [
                str(args.peer_python),
                str(PEER_SCRIPT),
                str(inp),
                str(out),
                "--repeats",
                str(args.repeats),
                "--warmup",
                str(args.warmup),
            ],
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            sys.exit(f"peer failed with exit status {proc.returncode}")
        peer = json.loads(proc.stdout.strip().splitlines()[-1])
        with np.load(out) as arrays:
            peer_arrays = {k: arrays[k] for k in arrays.files}

    print(
        f"  sarsen {peer['sarsen']}, xarray {peer['xarray']}, numpy {peer['numpy']}, {peer['workers']} cores"
    )
    for name, v in peer["variants"].items():
        pt, pr = peer_arrays[f"{name}__azimuth_time_s"], peer_arrays[f"{name}__slant_range_m"]
        v["accuracy"] = accuracy(pt, pr)
        v["vs_ours_dt_s"] = max_abs(pt, ours_t)
        v["vs_ours_dr_m"] = max_abs(pr, ours_r)
        v["unsolved"] = int((~np.isfinite(pt)).sum())
        a = v["accuracy"]
        v["accuracy_matched"] = bool(a["exact_dt_s"] <= MATCH_TIME_S and a["exact_dr_m"] <= MATCH_RANGE_M)
        print(f"  {name}: {v['label']}")
        print(
            f"    best {v['best_s']:.3f} s of {[round(x, 3) for x in v['times_s']]} -> "
            f"{v['points_per_s'] / 1e6:.2f} M points/s; orbit fit vs exact {v.get('orbit_fit_max_error_m', float('nan')):.1e} m"
        )
        print(
            f"    vs ours (all cells): max |dt| {v['vs_ours_dt_s']:.2e} s, max |dR| {v['vs_ours_dr_m']:.2e} m; "
            f"vs exact (subset): {a['exact_dt_s']:.2e} s, {a['exact_dr_m']:.2e} m; "
            f"vs dense: {a['dense_dt_s']:.2e} s, {a['dense_dr_m']:.2e} m; "
            f"along-track residual {a['along_track_m_max']:.1e} m"
            + ("" if v["accuracy_matched"] else "  [NOT accuracy-matched]")
        )

    matched = {k: v for k, v in peer["variants"].items() if v["accuracy_matched"]}
    if not matched:
        sys.exit("no peer variant reached the accuracy of ours; nothing fair to compare")
    head_name = max(matched, key=lambda k: matched[k]["points_per_s"])
    head = matched[head_name]
    ratio = ours["points_per_s"] / head["points_per_s"]
    results["peer"] = {**peer, "headline": head_name, "ratio_ours_over_peer": ratio}

    print("\nsummary (peer = fastest accuracy-matched sarsen variant: " + head_name + ")")
    print(
        f"  ours {ours['points_per_s'] / 1e6:.2f} M points/s, peer {head['points_per_s'] / 1e6:.2f} M points/s, "
        f"ratio ours/peer {ratio:.2f}x (target >= 2x)"
    )
    if "default" in peer["variants"]:
        d = peer["variants"]["default"]
        print(
            f"  (sarsen at its defaults: {d['points_per_s'] / 1e6:.2f} M points/s, ratio {ours['points_per_s'] / d['points_per_s']:.2f}x, "
            f"but {d['accuracy']['exact_dt_s']:.1e} s / {d['accuracy']['exact_dr_m']:.1e} m off the exact solution)"
        )
    print(
        f"  agreement ours vs peer over all {n:,} cells: max |d azimuth time| {head['vs_ours_dt_s']:.2e} s, "
        f"max |d slant range| {head['vs_ours_dr_m']:.2e} m"
    )
    print(
        f"  vs exact ({len(pick)} pts): ours {ours['accuracy']['exact_dt_s']:.1e} s / {ours['accuracy']['exact_dr_m']:.1e} m, "
        f"peer {head['accuracy']['exact_dt_s']:.1e} s / {head['accuracy']['exact_dr_m']:.1e} m"
    )

    print("\nMarkdown (README performance table):")
    print(
        "| date | machine | DEM cells | ours (pts/s) | peer sarsen "
        + peer["sarsen"]
        + " (pts/s) | ours/peer "
        "| max abs dt ours-peer (s) | max abs dR ours-peer (m) | ours vs exact (s / m) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {results['date']} | {results['machine']} | {n:,} | {ours['points_per_s']:,.0f} "
        f"| {head['points_per_s']:,.0f} ({head_name}) | {ratio:.2f}x | {head['vs_ours_dt_s']:.1e} "
        f"| {head['vs_ours_dr_m']:.1e} | {ours['accuracy']['exact_dt_s']:.0e} / {ours['accuracy']['exact_dr_m']:.0e} |"
    )
    _write_json(args.json, results)
    return 0


def _write_json(path: Path | None, results: dict) -> None:
    if path is not None:
        path.write_text(json.dumps(results, indent=2, default=float) + "\n")
        print(f"\nwrote {path}")


if __name__ == "__main__":
    sys.exit(main())
