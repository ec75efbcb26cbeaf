"""Shared test set-up: headless Qt, version header, paths.

The three tiers: ``tests/core`` (no QGIS), ``tests/qgis`` (pytest-qgis fixtures, offscreen),
``tests/e2e`` (make, qgis_process and the command line as subprocesses).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

# Before pytest-qgis creates its QgsApplication (in its pytest_configure): no display needed,
# and a private runtime dir so Qt does not warn about a missing XDG_RUNTIME_DIR.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_OWN_RUNTIME_DIR = ""
if not os.environ.get("XDG_RUNTIME_DIR"):
    _OWN_RUNTIME_DIR = os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="sarots-xdg-runtime-")
    atexit.register(shutil.rmtree, _OWN_RUNTIME_DIR, ignore_errors=True)

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


@pytest.fixture(scope="session")
def small_simulation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``small`` scenario simulated over the real Big Tujunga DEM with seed 3, once per test
    process (about 10 s). Read-only: a test that runs anything on it copies it first
    (``shutil.copytree``)."""
    from processing_core.simulate import get_scenario, simulate_stack

    root = tmp_path_factory.mktemp("small_seed3") / "stack"
    simulate_stack(
        get_scenario("small"), SHARED_FIXTURES / "dem" / "bigtujunga_srtm30m_utm11.tif", root, seed=3
    )
    return root


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


_EXIT_STATUS = pytest.StashKey[int]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Skip the interpreter's finalization once pytest has reported everything.

    After pytest returns, Python's finalization destroys what the QgsApplication left, SIP
    wrappers, GDAL objects held by modules and the threads of Dask clients, in an order nobody
    controls. In CI this killed the process with SIGSEGV after all 503 tests had passed and
    pytest had printed its summary (and once here with glibc's "corrupted size vs. prev_size"),
    which turned a green run red. An exit handler registered now runs before every other one
    (they run last-registered first): it flushes the streams and ends the process with pytest's
    own exit status, so nothing that was reported is lost and the finalization never runs.
    """
    status = config.stash.get(_EXIT_STATUS, None)
    if status is None:  # no session ran (usage error, --help, --version)
        return

    def _exit_now() -> None:
        if _OWN_RUNTIME_DIR:  # its own exit handler, registered earlier, will not run
            shutil.rmtree(_OWN_RUNTIME_DIR, ignore_errors=True)
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if stream is not None:
                stream.flush()
        os._exit(status)

    atexit.register(_exit_now)
