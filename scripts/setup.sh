#!/usr/bin/env bash
# Install what the project needs on Debian 12, idempotently.
#
#   scripts/setup.sh system   Debian packages only (QGIS, GDAL, scipy, pyproj, Xvfb, ...)
#   scripts/setup.sh all      the same, then the test tools in .venv (default)
#
# A second run checks and returns in about a second: apt-get runs only when a package is
# missing (and `apt-get update` only then), the venv is made only when absent or broken, and
# pip runs only when scripts/requirements-test.txt or scripts/constraints.txt changed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

mode=${1:-all}
SYSTEM_PYTHON=/usr/bin/python3
VENV=.venv
REQUIREMENTS=scripts/requirements-test.txt
CONSTRAINTS=scripts/constraints.txt
APT_PACKAGES=(
    python3-qgis qgis qgis-providers
    python3-gdal gdal-bin python3-scipy python3-pyproj python3-matplotlib proj-data
    python3-dask python3-distributed python3-venv
    xvfb xauth make zip unzip
)

log() { printf 'setup: %s\n' "$*" >&2; }

missing_packages() {
    # Prints the packages of APT_PACKAGES that are not fully installed ("ii"). dpkg-query
    # exits non-zero when it knows nothing of a package; its answers still come out.
    local installed
    installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${APT_PACKAGES[@]}" 2>/dev/null \
        | awk '$1 == "ii" { print $2 }' || true)
    local pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        grep -qx -- "$pkg" <<<"$installed" || printf '%s\n' "$pkg"
    done
}

install_system() {
    local missing
    mapfile -t missing < <(missing_packages)
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            log "missing Debian packages: ${missing[*]}"
            log "run this as root, or install sudo, then run it again"
            exit 1
        fi
        sudo=(sudo)
    fi
    log "installing Debian packages: ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

venv_is_usable() {
    # The venv must be built on Debian's Python (GDAL and QGIS bindings live there) and work.
    [ -x "$VENV/bin/python" ] \
        && grep -qx 'home = /usr/bin' "$VENV/pyvenv.cfg" 2>/dev/null \
        && grep -qx 'include-system-site-packages = true' "$VENV/pyvenv.cfg" 2>/dev/null \
        && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1
}

install_venv() {
    if ! venv_is_usable; then
        log "creating $VENV on $SYSTEM_PYTHON (with system site packages)"
        rm -rf "$VENV"
        "$SYSTEM_PYTHON" -m venv --system-site-packages "$VENV"
        rm -f "$VENV/.requirements.sha256"
    fi
    local want have
    want=$(cat "$REQUIREMENTS" "$CONSTRAINTS" | sha256sum | cut -d' ' -f1)
    have=$(cat "$VENV/.requirements.sha256" 2>/dev/null || true)
    if [ "$want" != "$have" ]; then
        log "installing test tools into $VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            -r "$REQUIREMENTS" -c "$CONSTRAINTS"
        printf '%s\n' "$want" >"$VENV/.requirements.sha256"
    fi
}

case "$mode" in
    system) install_system ;;
    all) install_system; install_venv ;;
    *) log "unknown mode '$mode' (expected: system or all)"; exit 2 ;;
esac
