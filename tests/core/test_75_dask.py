"""Execution through Dask (issue 13): the offsets of a stack's pairs, the rectification of its
scenes and the inversion's blocks of rows as tasks on a local cluster of worker processes, or on a
running cluster given by its scheduler address, equal the serial run bit for bit; progress per
finished task, cancellation, option checks."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from geometry_helpers import BIGTUJUNGA
from osgeo import gdal

from processing_core.errors import InputError
from processing_core.execution import (
    DaskExecutor,
    SerialExecutor,
    check_scheduler,
    executor_for,
    worker_interpreter,
)
from processing_core.network import select_stack_pairs
from processing_core.offsets import OffsetParameters
from processing_core.offsets.files import track_stack
from processing_core.progress import Cancelled
from processing_core.rectify import RectifyParameters, rectify_stack
from processing_core.stack import load_stack

distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")

# The small scenario's landslide: windows of 32-64 px (as tests/core/test_70_chain.py); a 16 px
# search keeps the test short and still covers its motion.
PARAMS = OffsetParameters(step_px=16, windows_px=(32, 48, 64), search_px=16)
# Tiles change the last bits of an offset field, and their size follows the memory per thread: a
# 16 MiB budget cuts these 27 x 12 node grids into 8-node tiles on 2 threads (13 on one thread), and
# the single-threaded tasks must cut them alike.
MEMORY_MB = 16.0


RECTIFY = RectifyParameters(window_px=64, step_px=16)


@pytest.fixture(scope="module")
def paired(tmp_path_factory, small_simulation):
    """The small simulated stack, paired, not rectified."""
    root = tmp_path_factory.mktemp("dask") / "stack"
    shutil.copytree(small_simulation, root)
    select_stack_pairs(root, plot=False)
    return root


@pytest.fixture(scope="module")
def rectified(paired, tmp_path_factory):
    """The small simulated stack, paired and rectified (serially), without offsets."""
    root = tmp_path_factory.mktemp("rectified") / "stack"
    shutil.copytree(paired, root)
    rectify_stack(root, BIGTUJUNGA, params=RECTIFY)
    return root


@pytest.fixture(scope="module")
def cluster():
    """One local cluster of two single-threaded workers for the module's newer tests."""
    with DaskExecutor("local", workers=2) as executor:
        executor.client()
        yield executor


@pytest.fixture(scope="module")
def serial(rectified, tmp_path_factory):
    """Offsets of every pair the default (serial, in-process) way."""
    root = tmp_path_factory.mktemp("serial") / "stack"
    shutil.copytree(rectified, root)
    results = track_stack(root, parameters=PARAMS, memory_mb=MEMORY_MB)
    assert len(results) >= 10
    assert not any(r.skipped for r in results)
    return root, results


def _copy(rectified, tmp_path, pairs: int | None = None):
    root = tmp_path / "stack"
    shutil.copytree(rectified, root)
    if pairs is not None:
        stack = load_stack(root)
        stack.pairs = stack.pairs[:pairs]
        stack.save()
    return root


def _assert_same_offsets(results, reference_results):
    reference = {(r.reference, r.secondary): r.path for r in reference_results}
    for r in results:
        ours, theirs = gdal.Open(str(r.path)), gdal.Open(str(reference[r.reference, r.secondary]))
        assert ours.RasterCount == theirs.RasterCount == 8
        for b in range(1, ours.RasterCount + 1):
            mine, other = ours.GetRasterBand(b), theirs.GetRasterBand(b)
            assert mine.GetDescription() == other.GetDescription()
            np.testing.assert_array_equal(
                mine.ReadAsArray(), other.ReadAsArray(), err_msg=f"{r.path} band {b}"
            )
        assert ours.GetMetadata() == theirs.GetMetadata()
        assert ours.GetGeoTransform(can_return_null=True) == theirs.GetGeoTransform(can_return_null=True)


def test_local_cluster_equals_the_serial_run(rectified, serial, tmp_path):
    _, expected = serial
    root = _copy(rectified, tmp_path)
    fractions: list[float] = []
    messages: list[str] = []

    def progress(fraction, message):
        fractions.append(fraction)
        messages.append(message)

    with DaskExecutor("local", workers=2) as executor:
        results = track_stack(
            root, parameters=PARAMS, memory_mb=MEMORY_MB, executor=executor, progress=progress
        )
        assert executor.workers == 2
    # Results in pair order, whatever order the tasks finished in.
    assert [(r.reference, r.secondary) for r in results] == [(r.reference, r.secondary) for r in expected]
    assert not any(r.skipped for r in results)
    _assert_same_offsets(results, expected)
    # One report per finished task, monotonic, ending at 1.
    assert len(fractions) == len(results)
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert all(m.endswith(".tif done") for m in messages)
    # Resumable as before: a rerun through the executor skips every pair without starting a task.
    executor = DaskExecutor("local", workers=1)
    again = track_stack(root, parameters=PARAMS, memory_mb=MEMORY_MB, executor=executor)
    assert all(r.skipped for r in again)
    assert executor._client is None  # nothing to compute: the cluster was never started
    stack = load_stack(root)
    assert stack.provenance[-1]["step"] == "offsets"
    assert stack.provenance[-1]["arguments"]["computed"] == 0


def test_running_cluster_by_address_equals_the_serial_run(rectified, serial, tmp_path):
    _, expected = serial
    root = _copy(rectified, tmp_path, pairs=2)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
        ) as cluster,
        DaskExecutor(cluster.scheduler_address) as executor,
    ):
        results = track_stack(root, parameters=PARAMS, memory_mb=MEMORY_MB, executor=executor)
        assert executor.workers == 2
    assert len(results) == 2
    _assert_same_offsets(results, expected)


def test_cancel_drops_pending_tasks(rectified, tmp_path):
    root = _copy(rectified, tmp_path, pairs=3)
    with DaskExecutor("local", workers=1) as executor:
        with pytest.raises(Cancelled):
            track_stack(
                root, parameters=PARAMS, memory_mb=MEMORY_MB, executor=executor, progress=lambda f, m: False
            )
        # The executor stays usable after a cancellation.
        assert executor.map(abs, [-1, 2, -3]) == [1, 2, 3]
    written = sorted((root / "offsets").glob("*.tif")) if (root / "offsets").exists() else []
    assert len(written) < 3  # the pending pairs were dropped
    for path in written:  # what looks finished is finished (outputs are renamed into place)
        assert gdal.Open(str(path)).RasterCount == 8


def test_task_errors_come_back_as_raised():
    with DaskExecutor("local", workers=1) as executor, pytest.raises(InputError, match="nope.tif"):
        executor.map(_fails, ["nope.tif"])


def _fails(name: str) -> None:
    raise InputError(f"{name}: no such file")


def _interpreter_and_gdal(_: int) -> tuple[str, str]:
    import sys

    from osgeo import gdal as worker_gdal

    return sys.version, worker_gdal.__version__


def test_a_local_cluster_runs_this_python_where_sys_executable_is_another_program(tmp_path, monkeypatch):
    """Inside QGIS ``sys.executable`` is the first ``python3`` on PATH (here a pyenv shim of
    another Python without GDAL); the workers must run this interpreter all the same."""
    import multiprocessing.spawn
    import os
    import sys

    impostor = tmp_path / "python3"
    impostor.write_text("#!/bin/sh\nexit 3\n")
    impostor.chmod(0o755)
    assert worker_interpreter() == sys.executable  # the test's own (virtual environment) Python
    saved = multiprocessing.spawn.get_executable()
    monkeypatch.setattr(sys, "executable", str(impostor))
    multiprocessing.spawn.set_executable(str(impostor))  # as multiprocessing imported inside QGIS has it
    try:
        assert Path(worker_interpreter()).resolve() == Path(os.fsdecode(saved)).resolve()
        with DaskExecutor("local", workers=1) as executor:
            assert executor.map(_interpreter_and_gdal, [0]) == [(sys.version, gdal.__version__)]
    finally:
        multiprocessing.spawn.set_executable(saved)
    monkeypatch.setattr(sys, "executable", "/usr/bin/qgis")  # an application, not a Python
    assert Path(worker_interpreter()).name.startswith("python")


def test_serial_executor_and_options():
    seen: list[float] = []
    assert SerialExecutor().map(abs, [-2, 3], progress=lambda f, m: seen.append(f)) == [2, 3]
    assert seen == [0.5, 1.0]
    with pytest.raises(Cancelled):
        SerialExecutor().map(abs, [1, 2], progress=lambda f, m: False)
    assert isinstance(executor_for(None), SerialExecutor)
    assert isinstance(executor_for("tcp://10.0.0.5:8786"), DaskExecutor)
    for good in (None, "local", "tcp://10.0.0.5:8786", "scheduler:8786", "tls://h.example.org:8786"):
        check_scheduler(good, None)
    check_scheduler("local", 2)
    for bad, workers in (("here", None), ("tcp://", None), ("local", 0), (None, 2), ("tcp://h:1", 2)):
        with pytest.raises(ValueError, match="scheduler|workers"):
            check_scheduler(bad, workers)


def test_run_options_and_command_line(rectified, serial, tmp_path, capsys):
    from processing_core.chain import RunOptions
    from processing_core.cli import main

    options = RunOptions(scheduler="local", workers=2)
    assert options.to_dict()["scheduler"] == "local"
    with pytest.raises(ValueError, match="scheduler"):
        RunOptions(scheduler="not an address")
    with pytest.raises(ValueError, match="workers"):
        RunOptions(workers=2)
    # The offsets command through a local cluster: same outputs as the serial run.
    _, expected = serial
    root = _copy(rectified, tmp_path, pairs=2)
    args = [
        "offsets",
        "--stack",
        str(root),
        "--step-px",
        "16",
        "--windows",
        "32,48,64",
        "--search-px",
        "16",
        "--memory-mb",
        str(MEMORY_MB),
    ]
    assert main([*args, "--scheduler", "local", "--dask-workers", "1"]) == 0
    assert "2 pair(s) computed" in capsys.readouterr().out
    _assert_same_offsets(load_stack_results(root, 2), expected)
    # Bad values: one line, exit status 2.
    assert main([*args, "--scheduler", "nowhere"]) == 2
    assert "scheduler" in capsys.readouterr().err
    assert main([*args, "--dask-workers", "2"]) == 2
    assert "workers" in capsys.readouterr().err
    assert main(["run", "--stack", str(root), "--dem", str(BIGTUJUNGA), "--scheduler", "x y"]) == 2
    assert "scheduler" in capsys.readouterr().err


def load_stack_results(root, n):
    from processing_core.offsets.files import PairResult

    pairs = load_stack(root).pairs[:n]
    return [
        PairResult(
            p["reference"],
            p["secondary"],
            root / "offsets" / f"{p['reference']}__{p['secondary']}.tif",
            False,
        )
        for p in pairs
    ]


def test_run_stack_offsets_step_through_a_local_cluster(rectified, tmp_path):
    from processing_core.chain import RunOptions, run_stack

    here = _copy(rectified, tmp_path / "here", pairs=2)
    there = _copy(rectified, tmp_path / "there", pairs=2)
    options = {"step_px": 16, "windows_px": (32, 48, 64), "search_px": 16}
    run_stack(here, BIGTUJUNGA, options=RunOptions(**options), steps=("offsets",))
    fractions: list[float] = []
    summary = run_stack(
        there,
        BIGTUJUNGA,
        options=RunOptions(**options, scheduler="local", workers=1),
        steps=("offsets",),
        progress=lambda f, m: fractions.append(f),
    )
    assert len(summary.outputs["offsets"]) == 2
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    _assert_same_offsets(load_stack_results(there, 2), load_stack_results(here, 2))


def test_the_core_runs_without_dask(monkeypatch):
    import subprocess
    import sys

    code = (
        "import sys, processing_core.execution, processing_core.offsets.files, processing_core.chain; "
        "print('distributed' in sys.modules or 'dask' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"  # dask is imported only when a Dask executor connects
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    with pytest.raises(InputError, match="python3-distributed"):
        DaskExecutor("local").map(abs, [1])
    assert SerialExecutor().map(abs, [-1]) == [1]


# -- rectification and inversion as tasks -----------------------------------------------------------


def _rasters(root: Path, folder: str) -> dict[str, list[np.ndarray]]:
    out = {}
    for path in sorted((root / folder).glob("*.tif")):
        ds = gdal.Open(str(path))
        out[path.name] = [ds.GetRasterBand(b).ReadAsArray() for b in range(1, ds.RasterCount + 1)]
        out[path.name].append(ds.GetMetadata())
        ds = None
    return out


def _assert_same_rasters(root: Path, reference: Path, folder: str) -> None:
    ours, theirs = _rasters(root, folder), _rasters(reference, folder)
    assert sorted(ours) == sorted(theirs)
    assert ours
    for name, bands in ours.items():
        assert bands[-1] == theirs[name][-1], name  # metadata
        for k, (mine, other) in enumerate(zip(bands[:-1], theirs[name][:-1])):
            assert mine.dtype == other.dtype
            # Bit for bit, NaN included: the bytes of the two arrays.
            assert mine.tobytes() == other.tobytes(), f"{folder}/{name} band {k + 1}"


def _texts(root: Path, pattern: str) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.glob(pattern))}


def _recording(executor, monkeypatch) -> list[str]:
    """The names of the functions ``executor`` maps from now on (this test's tasks)."""
    names: list[str] = []
    real = executor.map

    def map(fn, items, **kwargs):
        items = list(items)
        names.extend([fn.__name__] * len(items))
        return real(fn, items, **kwargs)

    monkeypatch.setattr(executor, "map", map)
    return names


def test_rectify_through_a_cluster_equals_the_serial_run(paired, rectified, cluster, tmp_path, monkeypatch):
    root = tmp_path / "stack"
    shutil.copytree(paired, root)
    messages: list[str] = []
    tasks = _recording(cluster, monkeypatch)
    rectify_stack(
        root, BIGTUJUNGA, params=RECTIFY, executor=cluster, progress=lambda f, m: messages.append(m)
    )
    _assert_same_rasters(root, rectified, "rectified")
    # Every wave held at least as many scenes as workers: one task per slave.
    assert tasks == ["rectify_scene"] * (len(load_stack(root).scenes) - 1)
    # QC reports, refined sidecars and the step i refinement: the same text.
    for pattern in ("rectified/*.json", "geometry/refined/*.json", "geometry/refinement.json"):
        assert _texts(root, pattern) == _texts(rectified, pattern), pattern
    scenes = [s.id for s in load_stack(root).scenes]
    final = load_stack(root).masters["final"]
    assert sorted(m.split()[1] for m in messages if m.startswith("rectified ")) == sorted(
        s for s in scenes if s != final
    )
    # Platform masters first: every slave's reference was rectified before the slave's task ran.
    order = [m.split()[1] for m in messages if m.startswith("rectified ")]
    for scene in scenes:
        reference = json.loads((root / "rectified" / f"{scene}.json").read_text())["reference"]
        if reference not in ("itself", final):
            assert order.index(reference) < order.index(scene)


@pytest.fixture(scope="module")
def two_scenes(paired, tmp_path_factory):
    """The final master and one other scene of the small stack (no pairs, masters to choose)."""
    root = tmp_path_factory.mktemp("two") / "stack"
    shutil.copytree(paired, root)
    stack = load_stack(root)
    final = stack.masters["final"]
    other = next(
        s for s in stack.scenes if s.id != final and stack.scene(s.id).platform == stack.scene(final).platform
    )
    stack.scenes = [s for s in stack.scenes if s.id in (final, other.id)]
    stack.pairs, stack.masters = [], {}
    stack.save()
    return root


@pytest.mark.parametrize("method", ["improved", "traditional"])
def test_a_scene_through_a_cluster_tile_by_tile_equals_the_serial_run(
    two_scenes, cluster, tmp_path, monkeypatch, method
):
    """One slave and two workers: the slave's tie-point and residual tiles and its raster's
    windows are the tasks (several of each at 8 MiB), the fits in this process; the rasters, QC
    reports and refined sidecars are those of the serial run, bit for bit."""
    params = replace(RECTIFY, method=method)
    folder = "rectified" if method == "improved" else "rectified_traditional"
    serial_root, root = tmp_path / "serial", tmp_path / "cluster"
    for copy in (serial_root, root):
        shutil.copytree(two_scenes, copy)
    rectify_stack(serial_root, BIGTUJUNGA, params=params, memory_mb=8.0)
    tasks = _recording(cluster, monkeypatch)
    rectify_stack(root, BIGTUJUNGA, params=params, executor=cluster, memory_mb=8.0)
    assert "rectify_scene" not in tasks
    assert tasks.count("run_tile") > params.iterations + 1  # the passes' and the residual's tiles
    assert tasks.count("run_window") > 1
    _assert_same_rasters(root, serial_root, folder)
    patterns = [f"{folder}/*.json"] + (["geometry/refined/*.json"] if method == "improved" else [])
    for pattern in patterns:
        assert _texts(root, pattern) == _texts(serial_root, pattern), pattern
    slave = next(x.id for x in load_stack(root).scenes if x.id != load_stack(root).masters["final"])
    qc = json.loads((root / folder / f"{slave}.json").read_text())
    assert qc["tie_points"] > 10
    if method == "improved":  # counted by the workers, as the serial run counts while it writes
        assert 0.0 < qc["layover_shadow_fraction"] < 0.5
    assert not list((root / folder).glob(".*"))  # the slave's mask file is gone


def test_traditional_rectification_through_a_cluster_equals_the_serial_run(paired, cluster, tmp_path):
    """The traditional method's scenes as tasks too (windows and strips, no whole scene): the
    same bits and QC reports as in this process, and every scene warped (no motion is needed for
    the comparison to hold)."""
    params = replace(RECTIFY, method="traditional")
    runs = []
    for name, executor in (("serial", None), ("cluster", cluster)):
        root = tmp_path / name / "stack"
        shutil.copytree(paired, root)
        rectify_stack(root, BIGTUJUNGA, params=params, executor=executor)
        runs.append(root)
    _assert_same_rasters(runs[1], runs[0], "rectified_traditional")
    assert _texts(runs[1], "rectified_traditional/*.json") == _texts(runs[0], "rectified_traditional/*.json")
    folder = runs[0] / "rectified_traditional"
    reports = [json.loads((folder / f"{s.id}.json").read_text()) for s in load_stack(runs[0]).scenes]
    slaves = [r for r in reports if r["scene"] != load_stack(runs[0]).masters["final"]]
    assert len(slaves) == len(load_stack(runs[0]).scenes) - 1
    # Measured on the written rasters: tie points found and a residual (the parallax stays).
    assert all(r["tie_points"] > 10 and np.isfinite(r["residual_sample_rms_px"]) for r in slaves)


def test_rectify_command_through_a_running_cluster(rectified, cluster, tmp_path, capsys):
    from processing_core.cli import main

    root = tmp_path / "stack"
    shutil.copytree(rectified, root)
    # A platform master and one of its slaves rectified anew: two waves, the slave's reference
    # read back from the file the first wave wrote.
    for scene in ("PALSAR_20090715", "PALSAR_20080712"):
        (root / "rectified" / f"{scene}.tif").unlink()
    address = cluster.client().scheduler.address
    args = ["rectify", "--stack", str(root), "--dem", str(BIGTUJUNGA), "--window-px", "64"]
    assert main([*args, "--step-px", "16", "--scheduler", address]) == 0
    assert "rectify:" in capsys.readouterr().out
    _assert_same_rasters(root, rectified, "rectified")
    assert main([*args, "--scheduler", "nowhere"]) == 2
    assert "scheduler" in capsys.readouterr().err
    assert main([*args, "--scheduler", address, "--dask-workers", "2"]) == 2
    assert "workers" in capsys.readouterr().err
    assert main([*args, "--memory-mb", "0"]) == 2
    assert "--memory-mb must be positive" in capsys.readouterr().err


@pytest.mark.parametrize("weighted", [False, True])
def test_invert_through_a_cluster_equals_the_serial_run(serial, cluster, tmp_path, weighted):
    from processing_core.timeseries import invert_stack

    with_offsets, _ = serial
    here, there = tmp_path / "here", tmp_path / "there"
    for root in (here, there):
        shutil.copytree(with_offsets, root)
    # Blocks of 5 rows: several tasks (the blocks decide the numbers, so both runs use them).
    expected = invert_stack(here, weighted=weighted, block_rows=5)
    fractions: list[float] = []
    summary = invert_stack(
        there, weighted=weighted, block_rows=5, executor=cluster, progress=lambda f, m: fractions.append(f)
    )
    _assert_same_rasters(there, here, "timeseries")
    assert len(summary["outputs"]) == len(expected["outputs"]) == 10
    for key in ("nodes_solved", "nodes_connected", "dates", "pairs_used", "grid", "los_m_per_range_px"):
        assert summary[key] == expected[key], key
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0


def test_invert_command_accepts_a_scheduler(serial, cluster, tmp_path, capsys):
    from processing_core.cli import main

    with_offsets, _ = serial
    here, there = tmp_path / "here", tmp_path / "there"
    for root in (here, there):
        shutil.copytree(with_offsets, root)
    assert main(["invert", "--stack", str(here), "--block-rows", "8"]) == 0
    address = cluster.client().scheduler.address
    assert main(["invert", "--stack", str(there), "--block-rows", "8", "--scheduler", address]) == 0
    assert "invert:" in capsys.readouterr().out
    _assert_same_rasters(there, here, "timeseries")
    for bad, needle in ((["--scheduler", "tcp://"], "scheduler"), (["--dask-workers", "3"], "workers")):
        assert main(["invert", "--stack", str(there), *bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1
        assert needle in err[0]


def test_run_stack_gives_one_cluster_to_rectify_offsets_and_invert(rectified, tmp_path, monkeypatch):
    """The chain's executor: one for the three steps, closed at the end, also on an error."""
    import processing_core.offsets.files as offsets_files
    import processing_core.rectify as rectify_package
    import processing_core.timeseries as timeseries
    from processing_core.chain import RunOptions, run_stack

    root = _copy(rectified, tmp_path)
    seen: dict[str, object] = {}
    closed: list[object] = []

    def rectify(root, dem, *, executor=None, **kwargs):
        seen["rectify"] = executor
        return load_stack(root)

    def offsets(root, *, executor=None, **kwargs):
        seen["offsets"] = executor
        return []

    def invert(root, *, executor=None, **kwargs):
        seen["invert"] = executor
        if fail:
            raise InputError("invert failed")
        return {"outputs": []}

    monkeypatch.setattr(rectify_package, "rectify_stack", rectify)
    monkeypatch.setattr(offsets_files, "track_stack", offsets)
    monkeypatch.setattr(timeseries, "invert_stack", invert)
    monkeypatch.setattr(DaskExecutor, "close", lambda self: closed.append(self))
    steps = ("rectify", "offsets", "invert")
    for fail in (False, True):
        seen.clear()
        options = RunOptions(scheduler="local", workers=2)
        if fail:
            with pytest.raises(InputError, match="invert failed"):
                run_stack(root, BIGTUJUNGA, options=options, steps=steps)
        else:
            run_stack(root, BIGTUJUNGA, options=options, steps=steps)
        executors = {id(e) for e in seen.values()}
        assert len(seen) == 3
        assert len(executors) == 1
        assert isinstance(seen["rectify"], DaskExecutor)
        assert closed[-1] is seen["rectify"]  # closed once the run stopped
        assert seen["rectify"]._client is None  # the fakes sent no task: no cluster was started
    assert len(closed) == 2
    seen.clear()
    fail = False
    run_stack(root, BIGTUJUNGA, options=RunOptions(), steps=steps)
    assert seen == {"rectify": None, "offsets": None, "invert": None}  # serial without a scheduler


def test_fewer_pairs_than_workers_run_as_tiles(rectified, serial, cluster, tmp_path):
    """One pair left to compute on two workers: its tiles are the tasks, the same bits as serial."""
    _, expected = serial
    root = _copy(rectified, tmp_path, pairs=1)
    messages: list[str] = []
    results = track_stack(
        root,
        parameters=PARAMS,
        memory_mb=MEMORY_MB,
        executor=cluster,
        progress=lambda f, m: messages.append(m),
    )
    assert len(results) == 1
    assert not results[0].skipped
    assert sum(m.startswith("offsets: tile ") for m in messages) > 2  # tile tasks, not one pair task
    _assert_same_offsets(results, expected)


def test_one_pair_tiles_through_a_cluster_equal_the_serial_run(rectified, cluster, tmp_path, capsys):
    from processing_core.cli import main
    from processing_core.offsets.files import PairResult, track_files

    pair = load_stack(rectified).pairs[0]
    ref = rectified / "rectified" / f"{pair['reference']}.tif"
    sec = rectified / "rectified" / f"{pair['secondary']}.tif"
    here, there = tmp_path / "here.tif", tmp_path / "there.tif"
    # 16 MiB on 2 threads: 8-node tiles, several tasks of one pair.
    track_files(ref, sec, here, parameters=PARAMS, threads=2, memory_mb=MEMORY_MB)
    messages: list[str] = []
    track_files(
        ref,
        sec,
        there,
        parameters=PARAMS,
        threads=2,
        memory_mb=MEMORY_MB,
        executor=cluster,
        progress=lambda f, m: messages.append(m),
    )
    assert sum(m.startswith("offsets: tile ") for m in messages) > 2
    result = [PairResult(pair["reference"], pair["secondary"], there, False)]
    _assert_same_offsets(result, [PairResult(pair["reference"], pair["secondary"], here, False)])
    # The command line: --scheduler for a single pair.
    cli = tmp_path / "cli.tif"
    args = ["offsets", "--reference", str(ref), "--secondary", str(sec), "--out", str(cli)]
    args += ["--step-px", "16", "--windows", "32,48,64", "--search-px", "16"]
    args += ["--threads", "2", "--memory-mb", str(MEMORY_MB)]
    assert main([*args, "--scheduler", cluster.client().scheduler.address]) == 0
    assert f"offsets: {cli}" in capsys.readouterr().out
    _assert_same_offsets([PairResult(pair["reference"], pair["secondary"], cli, False)], result)
