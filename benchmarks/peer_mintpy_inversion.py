"""Peer side of bench_inversion.py, run in benchmarks/.venv-peer-mintpy: MintPy's SBAS inversion.

Reads an .npz (obs (pairs, pixels), date12 list), inverts it exactly as MintPy's
``ifgram_inversion.run_ifgram_inversion_patch`` does for offsets without weights
(``weight_func='no'``, ``min_norm_velocity=True``: Berardino's SBAS): the pixels valid in every
pair in one call of ``estimate_timeseries``, every other pixel in its own call; times it and
writes the time series back.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")
from mintpy.ifgram_inversion import estimate_timeseries  # noqa: E402
from mintpy.objects import ifgramStack  # noqa: E402


def main(src: str, dst: str, repeats: int) -> None:
    data = np.load(src)
    obs = data["obs"]
    date12 = [str(s) for s in data["date12"]]
    A, B = ifgramStack.get_design_matrix4timeseries(date12)[0:2]
    dates = sorted({d for pair in date12 for d in pair.split("_")})
    tbase = (
        np.array(
            [
                (
                    np.datetime64(f"{d[:4]}-{d[4:6]}-{d[6:]}")
                    - np.datetime64(f"{dates[0][:4]}-{dates[0][4:6]}-{dates[0][6:]}")
                ).astype(int)
                for d in dates
            ],
            np.float32,
        )
        / 365.25
    )
    tbase_diff = np.diff(tbase).reshape(-1, 1)
    kwargs = {
        "A": A,
        "B": B,
        "tbase_diff": tbase_diff,
        "min_norm_velocity": True,
        "rcond": 1e-5,
        "min_redundancy": 1.0,
        "inv_quality_name": "residual",
        "print_msg": False,
    }
    n_date, n_pix = A.shape[1] + 1, obs.shape[1]
    best = np.inf
    for _ in range(repeats):
        ts = np.zeros((n_date, n_pix), np.float32)
        quality = np.full(n_pix, np.nan, np.float32)
        count = np.zeros(n_pix, np.int16)
        t0 = time.perf_counter()
        all_net = np.all(~np.isnan(obs), axis=0)
        part_net = ~all_net & ~np.all(np.isnan(obs), axis=0)
        if all_net.any():
            tsi, qi, ni = estimate_timeseries(y=obs[:, all_net], weight_sqrt=None, **kwargs)
            ts[:, all_net], quality[all_net], count[all_net] = tsi, qi, ni
        for idx in np.flatnonzero(part_net):
            tsi, qi, ni = estimate_timeseries(y=obs[:, idx], weight_sqrt=None, **kwargs)
            ts[:, idx], quality[idx], count[idx] = tsi.ravel(), qi, ni
        best = min(best, time.perf_counter() - t0)
    np.savez(dst, ts=ts, residual=quality, count=count)
    import mintpy

    print(
        json.dumps(
            {"seconds": best, "pixels": int(n_pix), "mintpy": mintpy.__version__, "numpy": np.__version__}
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
