"""Shared test set-up: headless Qt, version header, paths.

The three tiers: ``tests/core`` (no QGIS), ``tests/qgis`` (pytest-qgis fixtures, offscreen),
``tests/e2e`` (make, qgis_process and the command line as subprocesses).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Before pytest-qgis creates its QgsApplication (in its pytest_configure): no display needed,
# and a private runtime dir so Qt does not warn about a missing XDG_RUNTIME_DIR.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if not os.environ.get("XDG_RUNTIME_DIR"):
    os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="sarots-xdg-runtime-")
    atexit.register(shutil.rmtree, os.environ["XDG_RUNTIME_DIR"], ignore_errors=True)

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"
#: Debian's interpreter, which has numpy, scipy, GDAL, pyproj and QGIS; never the PATH python3.
SYSTEM_PYTHON = "/usr/bin/python3"
QGIS_PROCESS = "/usr/bin/qgis_process.bin"
PLUGIN_DIR_NAME = "sar_offset_tracking"


def _versions() -> list[str]:
    parts = []
    try:
        from qgis.core import Qgis
        from qgis.PyQt.QtCore import PYQT_VERSION_STR, QT_VERSION_STR

        parts.append(f"QGIS {Qgis.QGIS_VERSION}")
        parts.append(f"Qt {QT_VERSION_STR} (PyQt {PYQT_VERSION_STR})")
    except ImportError:
        parts.append("QGIS not available")
    try:
        from osgeo import gdal

        parts.append(f"GDAL {gdal.__version__}")
    except ImportError:
        parts.append("GDAL not available")
    return parts


def pytest_report_header(config: pytest.Config) -> str:
    return "versions: " + ", ".join(_versions())


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(autouse=True)
def _collect_garbage_between_tests():
    """Collect reference cycles after every test, at a known point.

    Tests that catch errors keep tracebacks whose frames hold GDAL datasets and bands; GDAL 3.6's
    bindings do not tie a band to its dataset, and a cycle collected at a random later moment
    (seen: inside QGIS's import hook while pytest imported hypothesis at the end of the session)
    crashed the interpreter after every test had passed. Collecting here, between tests, ran clean
    in the same combination (tests/core/test_70_chain.py with test_80_bad_input.py).
    """
    yield
    import gc

    gc.collect()
