"""Peer offset trackers for bench_offsets.py, run in benchmarks/.venv-peer-offsets.

    python peer_offsets.py IN.npz OUT.npz

IN holds ``reference``, ``secondary`` (2-D float32), ``rows``, ``cols`` (node pixels: a chip of
side w spans rows r - w//2 ... r - w//2 + w - 1), ``windows`` and ``search``. For every node and
window, chip by chip:

* ``opencv``: ``cv2.matchTemplate(region, chip, cv2.TM_CCOEFF_NORMED)`` with the secondary
  region of side w + 2 search, then ``cv2.minMaxLoc``: an integer offset;
* ``skimage``: ``skimage.registration.phase_cross_correlation(chip, secondary chip,
  upsample_factor=64)`` (scikit-image's defaults otherwise, i.e. phase normalisation), the
  secondary chip at the same place; the offset is minus its registration shift.

OUT holds, per method and window, the (n, 2) offsets and the seconds spent in the loop.
"""

from __future__ import annotations

import sys
import time

import cv2
import numpy as np
import skimage
from skimage.registration import phase_cross_correlation


def main(src: str, dst: str) -> None:
    data = np.load(src)
    ref = np.ascontiguousarray(data["reference"], dtype=np.float32)
    sec = np.ascontiguousarray(data["secondary"], dtype=np.float32)
    rows, cols = data["rows"].astype(int), data["cols"].astype(int)
    search = int(data["search"])
    out: dict[str, np.ndarray] = {}
    for w in data["windows"].astype(int):
        top, left = rows - w // 2, cols - w // 2
        result = np.empty((rows.size, 2))
        start = time.perf_counter()
        for k in range(rows.size):
            chip = ref[top[k] : top[k] + w, left[k] : left[k] + w]
            region = sec[top[k] - search : top[k] + w + search, left[k] - search : left[k] + w + search]
            score = cv2.matchTemplate(region, chip, cv2.TM_CCOEFF_NORMED)
            _, _, _, (x, y) = cv2.minMaxLoc(score)
            result[k] = (y - search, x - search)
        out[f"opencv_{w}_s"] = np.array(time.perf_counter() - start)
        out[f"opencv_{w}"] = result.copy()
        start = time.perf_counter()
        for k in range(rows.size):
            chip = ref[top[k] : top[k] + w, left[k] : left[k] + w]
            moving = sec[top[k] : top[k] + w, left[k] : left[k] + w]
            shift, _, _ = phase_cross_correlation(chip, moving, upsample_factor=64)
            result[k] = -shift
        out[f"skimage_{w}_s"] = np.array(time.perf_counter() - start)
        out[f"skimage_{w}"] = result.copy()
    out["versions"] = np.array(
        f"opencv {cv2.__version__} (threads {cv2.getNumThreads()}), scikit-image {skimage.__version__}"
    )
    np.savez(dst, **out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
