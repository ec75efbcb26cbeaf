#!/usr/bin/env bash
# Create the peer venv for bench_offsets.py: OpenCV (matchTemplate) and scikit-image
# (phase_cross_correlation) in benchmarks/.venv-peer-offsets, on Debian's Python 3.11 with its
# system site-packages (numpy 1.24.2, scipy 1.10.1, GDAL). Idempotent.
#
#   bash benchmarks/setup_peer_offsets.sh          # create or check
#   FORCE=1 bash benchmarks/setup_peer_offsets.sh  # remove and recreate
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-peer-offsets"
python=/usr/bin/python3
# Both are the newest releases built against numpy 1.x that install on numpy 1.24 / Python 3.11.
opencv_version="${OPENCV_VERSION:-4.10.0.84}"
skimage_version="${SKIMAGE_VERSION:-0.22.0}"

if [[ "${FORCE:-0}" == 1 && -d "$venv" ]]; then
    rm -rf "$venv"
fi

check='import cv2, skimage, numpy; print(f"peer venv ready: '"$venv"' (opencv {cv2.__version__}, scikit-image {skimage.__version__}, numpy {numpy.__version__})")'
if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c "$check" 2>/dev/null; then
    exit 0
fi
if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv --system-site-packages "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --constraint "$here/constraints-peer-offsets.txt" \
    "opencv-python-headless==$opencv_version" "scikit-image==$skimage_version"
"$venv/bin/python" -c "$check"
