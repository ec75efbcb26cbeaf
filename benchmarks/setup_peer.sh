#!/usr/bin/env bash
# Create the peer venv for bench_geo2rdr.py: sarsen (B-Open's backward geocoding) in
# benchmarks/.venv-peer, on Debian's Python 3.11 with its system site-packages (numpy 1.24.2,
# scipy, GDAL). Idempotent: an existing venv whose sarsen imports is left as it is.
#
#   bash benchmarks/setup_peer.sh          # create or check
#   FORCE=1 bash benchmarks/setup_peer.sh  # remove and recreate
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-peer"
python=/usr/bin/python3
# sarsen 0.9.6 requires numpy>=1.26; 0.9.5 is the newest release that accepts numpy 1.24.
sarsen_version="${SARSEN_VERSION:-0.9.5}"

if [[ "${FORCE:-0}" == 1 && -d "$venv" ]]; then
    rm -rf "$venv"
fi

if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c "import sarsen" 2>/dev/null; then
    echo "peer venv ready: $venv (sarsen $("$venv/bin/python" -c 'import sarsen; print(sarsen.__version__)'))"
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv --system-site-packages "$venv"
fi
"$venv/bin/python" -m pip install --quiet \
    --constraint "$here/constraints-peer.txt" \
    "sarsen==$sarsen_version"
"$venv/bin/python" -c "import numpy, sarsen, xarray; from osgeo import gdal; \
print(f'peer venv ready: $venv (sarsen {sarsen.__version__}, xarray {xarray.__version__}, numpy {numpy.__version__}, GDAL {gdal.__version__})')"
