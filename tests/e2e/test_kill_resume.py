"""Reliability (issue 13): ``run`` killed with SIGKILL at several points and restarted finishes
with results identical to an uninterrupted run, and a killed run never leaves a file under its
final name that is not complete (partial files carry a temporary ``.name.partial`` name).

One copy of the ``small`` simulated stack runs uninterrupted (the reference); a second copy is
killed during rectification, again during offset tracking, again at the start of the inversion,
and then run to completion. The kill points are targeted through ``run.log`` and the files the
steps write, so each lands in the step it names.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from processing_core.offsets.field import BANDS
from processing_core.stack import load_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

gdal.UseExceptions()

REPO_ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
DEM = REPO_ROOT.parent / "shared" / "fixtures" / "dem" / "bigtujunga_srtm30m_utm11.tif"
# One 32 px window and a 16 px search (the small stack moves ~10 px): reliability, not accuracy, is
# tested here, and offsets are most of the run time.
ARGS = (
    "--step-px",
    "16",
    "--windows",
    "32",
    "--search-px",
    "16",
    "--tie-window-px",
    "64",
    "--tie-step-px",
    "16",
)


def _command(stack: Path) -> list[str]:
    return [SYSTEM_PYTHON, "-m", "processing_core", "run", "--stack", str(stack), "--dem", str(DEM),
            *ARGS, "--no-compare"]  # fmt: skip


def _run(stack: Path) -> None:
    result = subprocess.run(
        _command(stack), cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 0, result.stderr[-2000:]


def _log(stack: Path) -> str:
    try:
        return (stack / "run.log").read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def _count(folder: Path, pattern: str) -> int:
    return sum(1 for p in folder.glob(pattern) if not p.name.startswith("."))


def _run_and_kill(stack: Path, ready: Callable[[str], bool], what: str) -> None:
    """Start ``run`` and SIGKILL it as soon as ``ready(new log text)`` holds."""
    before = len(_log(stack))
    proc = subprocess.Popen(
        _command(stack), cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while not ready(_log(stack)[before:]):
            assert proc.poll() is None, f"run finished before the kill point ({what})"
            assert time.monotonic() < deadline, f"kill point never reached ({what})"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"run was not killed ({what})"
    assert f"step {what}: done" not in _log(stack)[before:], f"the kill missed step {what}"


def _assert_finished_files_complete(stack: Path, n_dates: int) -> None:
    """Every file under its final name in rectified/, offsets/, timeseries/ is complete."""
    expected_bands = {"rectified": 1, "offsets": len(BANDS)}
    for name in ("rectified", "offsets", "timeseries"):
        for path in sorted((stack / name).glob("*")):
            if path.name.startswith("."):  # a temporary name: allowed to be partial
                assert ".partial" in path.name or path.name.endswith(".tmp"), path
                continue
            if path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))  # complete JSON
                continue
            assert path.suffix == ".tif", path
            ds = gdal.Open(str(path))
            if name in expected_bands:
                assert ds.RasterCount == expected_bands[name], path
            elif path.stem in ("los", "azimuth", "los_std", "azimuth_std"):
                assert ds.RasterCount == n_dates, path
            data = ds.ReadAsArray()  # every block decodes
            assert data.size > 0, path
            ds = None


def _bands(path: Path) -> np.ndarray:
    return gdal.Open(str(path)).ReadAsArray()


def test_sigkill_at_three_points_then_resume_is_identical(tmp_path: Path, small_simulation: Path) -> None:
    pristine = small_simulation
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    shutil.copytree(pristine, reference)
    shutil.copytree(pristine, killed)
    n_dates = len(load_stack(pristine).scenes)

    _run(reference)

    kill_points: list[tuple[str, Callable[[str], bool]]] = [
        # rectify: the final master and at least one slave done, others in progress
        ("rectify", lambda log: "step rectify: start" in log and _count(killed / "rectified", "*.tif") >= 2),
        # offsets: some pairs written, not all
        ("offsets", lambda log: "step offsets: start" in log and _count(killed / "offsets", "*.tif") >= 3),
        # invert: the moment the step starts (it writes its ten rasters block by block)
        ("invert", lambda log: "step invert: start" in log),
    ]
    for step, ready in kill_points:
        _run_and_kill(killed, ready, step)
        _assert_finished_files_complete(killed, n_dates)
    n_pairs = len(load_stack(killed).pairs)
    assert 3 <= _count(killed / "offsets", "*.tif") <= n_pairs

    _run(killed)

    for name in ("los.tif", "azimuth.tif"):
        np.testing.assert_array_equal(
            _bands(killed / "timeseries" / name), _bands(reference / "timeseries" / name)
        )
    names = lambda root: sorted(p.name for p in (root / "offsets").glob("*") if not p.name.startswith("."))  # noqa: E731
    assert names(killed) == names(reference)
    for path in (reference / "offsets").glob("*.tif"):
        np.testing.assert_array_equal(_bands(killed / "offsets" / path.name), _bands(path))
    assert not list(killed.rglob(".*.partial*")), "temporary files left after the final run"
