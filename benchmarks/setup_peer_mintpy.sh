#!/usr/bin/env bash
# Create the peer venv for bench_inversion.py: MintPy (ifgram_inversion.estimate_timeseries) in
# benchmarks/.venv-peer-mintpy, on Debian's Python 3.11 with its system site-packages (numpy
# 1.24.2, scipy 1.10.1). MintPy is installed without its dependency tree (--no-deps: it would
# pull a newer numpy, GDAL bindings and plotting stacks that ifgram_inversion does not need),
# plus the few modules its import chain needs. Idempotent: an existing venv whose
# mintpy.ifgram_inversion imports is left as it is.
#
#   bash benchmarks/setup_peer_mintpy.sh          # create or check
#   FORCE=1 bash benchmarks/setup_peer_mintpy.sh  # remove and recreate
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-peer-mintpy"
python=/usr/bin/python3
mintpy_version="${MINTPY_VERSION:-1.6.4}"
check="from mintpy.ifgram_inversion import estimate_timeseries"

if [[ "${FORCE:-0}" == 1 && -d "$venv" ]]; then
    rm -rf "$venv"
fi

if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c "$check" 2>/dev/null; then
    echo "peer venv ready: $venv (mintpy $("$venv/bin/python" -c 'import mintpy; print(mintpy.__version__)'))"
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv --system-site-packages "$venv"
fi
pip=("$venv/bin/python" -m pip install --quiet --constraint "$here/constraints-peer.txt")
"${pip[@]}" --no-deps "mintpy==$mintpy_version"
"${pip[@]}" h5py matplotlib utm pyresample shapely
"$venv/bin/python" -c "$check; import mintpy, numpy, scipy; \
print(f'peer venv ready: $venv (mintpy {mintpy.__version__}, numpy {numpy.__version__}, scipy {scipy.__version__})')"
