"""Peer side of ``bench_geo2rdr.py``: sarsen's backward geocoding (B-Open), timed.

Runs inside ``benchmarks/.venv-peer`` (see ``setup_peer.sh``) and never imports
``processing_core``: it only sees the orbit state vectors and the DEM in ECEF that
the benchmark writes to a ``.npz``, and writes sarsen's azimuth times and slant
ranges back to another ``.npz``.

    .venv-peer/bin/python peer_sarsen.py IN.npz OUT.npz [--repeats 3] [--warmup 1]

Input keys: ``sv_time_ns`` (int64 ns since 1970), ``sv_position_m`` (n, 3),
``dem_ecef_m`` (rows, cols, 3), ``dem_x``/``dem_y`` (map coordinates of the columns
and rows), ``reference_ns`` (the epoch of the returned times), and optionally
``check_time_ns``/``check_position_m`` (true orbit positions to measure the fit).

Each variant is timed on the whole DEM, a warm-up run then the best of ``repeats``.
The timed call is ``sarsen.geocoding.backward_geocode`` plus the slant range
``sqrt(sum(dem_distance**2, "axis"))`` exactly as ``sarsen.apps.simulate_acquisition``
computes it; building the input DataArray and converting the output times to float
seconds are outside the timing (as building the ECEF array is for ours).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings

import numpy as np

# The rasterio wheel points PROJ_DATA at its own PROJ data, which Debian's pyproj (imported
# by rioxarray) does not accept; the peer never reprojects, so the warning is noise.
warnings.filterwarnings("ignore", message="Valid PROJ data directory not found")

import sarsen  # noqa: E402
import xarray as xr  # noqa: E402
from sarsen import geocoding, orbit  # noqa: E402

# Accuracy-matched settings: a polynomial through all 9 state vectors (degree 8; sarsen's
# default degree 5 is 5 cm off over the 480 s span of ALOS vectors) and a Doppler-plane
# tolerance of 1 um (default 1 m stops Newton at ~3e-5 s). Both cost the same as the defaults
# but one Newton iteration.
MATCHED = {"deg": 8, "kwargs": {"zero_doppler_distance": 1e-6}}
VARIANTS = {
    "default": {
        "label": "sarsen defaults (deg-5 fit, 1 m tolerance), 1 thread",
        "deg": 5,
        "kwargs": {},
        "dask": False,
        "matched": False,
    },
    "matched": {
        "label": "deg-8 fit, 1 um tolerance, 1 thread",
        **MATCHED,
        "dask": False,
        "matched": True,
    },
    "matched-seeded": {
        "label": "deg-8 fit, 1 um tolerance, seed_step 32x32 + 2 Newton, 1 thread",
        "deg": MATCHED["deg"],
        "kwargs": {**MATCHED["kwargs"], "seed_step": (32, 32), "maxiter_after_seed": 2},
        "dask": False,
        "matched": True,
    },
    "matched-dask": {
        "label": "deg-8 fit, 1 um tolerance, dask map_blocks on all cores",
        **MATCHED,
        "dask": True,
        "matched": True,
    },
    "matched-seeded-dask": {
        "label": "deg-8 fit, 1 um tolerance, seed_step 32x32 + 2 Newton, dask map_blocks on all cores",
        "deg": MATCHED["deg"],
        "kwargs": {**MATCHED["kwargs"], "seed_step": (32, 32), "maxiter_after_seed": 2},
        "dask": True,
        "matched": True,
    },
}


def _geocode(dem_ecef: xr.DataArray, interp: orbit.OrbitPolyfitInterpolator, kwargs: dict) -> xr.Dataset:
    acq = geocoding.backward_geocode(dem_ecef, interp, **kwargs)
    slant_range = (acq.dem_distance**2).sum(dim="axis") ** 0.5
    return xr.Dataset({"azimuth_time": acq.azimuth_time, "slant_range": slant_range})


def _runner(dem_ecef: xr.DataArray, interp: orbit.OrbitPolyfitInterpolator, variant: dict, workers: int):
    kwargs = dict(variant["kwargs"])
    if not variant["dask"]:
        return lambda: _geocode(dem_ecef, interp, kwargs)

    # As sarsen.apps.map_simulate_acquisition does: one backward_geocode per dask block.
    # Two row blocks per core balance the threads.
    blocks = 2 * workers
    rows = dem_ecef.sizes["y"]
    plane = dem_ecef.isel(axis=0).drop_vars("axis")
    template = xr.Dataset({"azimuth_time": plane.astype("datetime64[ns]"), "slant_range": plane}).chunk(
        {"y": math.ceil(rows / blocks), "x": -1}
    )

    def run() -> xr.Dataset:
        chunked = dem_ecef.chunk({"axis": -1, "y": math.ceil(rows / blocks), "x": -1})
        lazy = xr.map_blocks(_geocode, chunked, args=(interp, kwargs), template=template)
        return lazy.compute(scheduler="threads", num_workers=workers)

    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated subset of " + ",".join(VARIANTS)
    )
    args = ap.parse_args(argv)

    data = np.load(args.inp)
    sv_time = data["sv_time_ns"].astype("datetime64[ns]")
    position = xr.DataArray(
        data["sv_position_m"],
        dims=("azimuth_time", "axis"),
        coords={"azimuth_time": sv_time, "axis": [0, 1, 2]},
    )
    xyz = data["dem_ecef_m"]
    dem_ecef = xr.DataArray(
        np.ascontiguousarray(np.moveaxis(xyz, -1, 0)),  # sarsen's layout: (axis, y, x)
        dims=("axis", "y", "x"),
        coords={"axis": [0, 1, 2], "y": data["dem_y"], "x": data["dem_x"]},
    )
    reference = np.datetime64(int(data["reference_ns"]), "ns")
    workers = os.cpu_count() or 1
    n_points = xyz.shape[0] * xyz.shape[1]

    report: dict = {
        "sarsen": sarsen.__version__,
        "xarray": xr.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "workers": workers,
        "variants": {},
    }
    arrays: dict[str, np.ndarray] = {}
    for name in args.variants.split(","):
        variant = VARIANTS[name]
        interp = orbit.OrbitPolyfitInterpolator.from_position(position, deg=variant["deg"])
        fit = {}
        if "check_time_ns" in data:
            times = xr.DataArray(
                data["check_time_ns"].astype("datetime64[ns]"), dims="azimuth_time", name="azimuth_time"
            )
            fitted = interp.position(times).transpose("azimuth_time", "axis").values
            fit["orbit_fit_max_error_m"] = float(
                np.max(np.linalg.norm(fitted - data["check_position_m"], axis=-1))
            )
        run = _runner(dem_ecef, interp, variant, workers)
        for _ in range(args.warmup):
            run()
        times_s = []
        result = None
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            result = run()
            times_s.append(time.perf_counter() - t0)
        assert result is not None
        result = result.transpose("y", "x")
        az = result["azimuth_time"].values
        arrays[f"{name}__azimuth_time_s"] = (az - reference) / np.timedelta64(1, "ns") * 1e-9
        arrays[f"{name}__slant_range_m"] = result["slant_range"].values.astype(np.float64)
        best = min(times_s)
        report["variants"][name] = {
            "label": variant["label"],
            "deg": variant["deg"],
            "kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in variant["kwargs"].items()},
            "dask": variant["dask"],
            "matched": variant["matched"],
            "times_s": times_s,
            "best_s": best,
            "points_per_s": n_points / best,
            **fit,
        }
        print(f"  peer {name}: best {best:.3f} s of {times_s}", file=sys.stderr, flush=True)
    np.savez(args.out, **arrays)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
