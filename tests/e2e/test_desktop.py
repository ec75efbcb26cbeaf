"""QGIS desktop under ``xvfb-run``: the plugin installed from its zip plots a clicked pixel.

The plugin zip (scripts/build_package.py) is unzipped into a fresh profile's
``python/plugins`` and enabled there (``[PythonPlugins] sar_offset_tracking=true``); then
``/usr/bin/qgis --profiles-path ... --code tests/e2e/desktop_script.py`` opens a time-series
raster written here (a landslide-like creep curve on two platforms, with std and precipitation),
shows the dock, clicks two pixels through the dock's map tool, saves screenshots and the
plotted values, and quits. The screenshots stay in ``test-artifacts/desktop/`` (gitignored).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "qgis"))

from timeseries_writer import write_stack_json, write_timeseries  # noqa: E402

QGIS = "/usr/bin/qgis"
SYSTEM_PYTHON = "/usr/bin/python3"
PLUGIN = "sar_offset_tracking"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "desktop"
TIMEOUT_S = 240
EXIT_GRACE_S = 30
ROWS, COLS = 40, 50
GEOTRANSFORM = (370000.0, 30.0, 0.0, 3795000.0, 0.0, -30.0)  # UTM 11N, Big Tujunga
PIXELS = [(20, 25), (26, 17)]  # the landslide's centre and its flank
FRAME = 40  # a temporal-controller frame (84-day steps from 2007-02-10) inside the ALOS-2 period


def creep_dates() -> tuple[np.ndarray, list[str]]:
    """ALOS 2007-2010 every 92 days and ALOS-2 2014-2018 every 84 days."""
    alos = np.datetime64("2007-02-10") + np.arange(0, 1380, 92)
    alos2 = np.datetime64("2014-09-09") + np.arange(0, 1500, 84)
    dates = np.concatenate([alos, alos2]).astype("datetime64[D]")
    return dates, ["ALOS"] * len(alos) + ["ALOS-2"] * len(alos2)


def creep_cube(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LOS (negative: away from the sensor), azimuth and LOS std of a slowly accelerating slide."""
    days = (dates - dates[0]).astype(float)
    onset = float((np.datetime64("2017-06-01") - dates[0]).astype(float))
    curve = 0.004 * days + 2e-5 * np.clip(days - onset, 0.0, None) ** 2  # m at the centre
    rr, cc = np.mgrid[0:ROWS, 0:COLS]
    blob = np.exp(-(((rr - 20) / 9.0) ** 2 + ((cc - 25) / 12.0) ** 2))
    noise = np.random.default_rng(7).normal(0.0, 0.15, (len(dates), ROWS, COLS))
    los = -(curve[:, None, None] * blob + noise)
    azimuth = 0.6 * curve[:, None, None] * blob + 0.5 * noise
    std = 0.1 + 0.002 * np.arange(len(dates))[:, None, None] * np.ones((1, ROWS, COLS))
    return los.astype(np.float32), azimuth.astype(np.float32), std.astype(np.float32)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("desktop")
    stack = root / "STACK"
    dates, platforms = creep_dates()
    los, azimuth, std = creep_cube(dates)
    for name, cube in (("los", los), ("azimuth", azimuth), ("los_std", std)):
        write_timeseries(stack / "timeseries" / f"{name}.tif", dates, cube, GEOTRANSFORM)
    write_stack_json(stack, dates, platforms)
    months = np.arange(np.datetime64("2007-01"), np.datetime64("2019-01"))
    month_number = months.astype(int) % 12
    rain = 20.0 + 180.0 * np.exp(-(((month_number - 6.5) / 1.6) ** 2))  # a summer monsoon
    lines = ["month,precip_mm", *(f"{m},{r:.1f}" for m, r in zip(months, rain))]
    (root / "precip.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "root": root,
        "stack": stack,
        "los": los,
        "azimuth": azimuth,
        "std": std,
        "dates": dates,
        "platforms": platforms,
    }


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A QGIS profiles folder whose profile ``test`` has the plugin from the zip, enabled."""
    base = tmp_path_factory.mktemp("qgis_profiles")
    package = base / f"{PLUGIN}.zip"
    built = subprocess.run(
        [SYSTEM_PYTHON, "scripts/build_package.py", "--out", str(package)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    plugins = base / "profiles" / "test" / "python" / "plugins"
    plugins.mkdir(parents=True)
    with zipfile.ZipFile(package) as zf:
        zf.extractall(plugins)
    ini = base / "profiles" / "test" / "QGIS" / "QGIS3.ini"
    ini.parent.mkdir(parents=True)
    ini.write_text(f"[PythonPlugins]\n{PLUGIN}=true\n", encoding="utf-8")
    return base


def run_qgis(profile: Path, params: dict, workdir: Path) -> subprocess.CompletedProcess[str]:
    """QGIS desktop on a private X server, killed with its whole process group on timeout."""
    params_path = workdir / "params.json"
    params_path.write_text(json.dumps(params), encoding="utf-8")
    home = workdir / "home"
    runtime = workdir / "runtime"
    home.mkdir(exist_ok=True)
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QGIS_", "PYTHON", "QT_"))}
    env.update(
        HOME=str(home),
        XDG_RUNTIME_DIR=str(runtime),
        XDG_CONFIG_HOME=str(home / ".config"),
        SAROTS_DESKTOP_PARAMS=str(params_path),
    )
    command = [
        "xvfb-run",
        "-a",
        "-s",
        "-screen 0 1600x1000x24",
        QGIS,
        "--profiles-path",
        str(profile),
        "--profile",
        "test",
        "--nologo",
        "--noversioncheck",
        "--code",
        str(REPO_ROOT / "tests" / "e2e" / "desktop_script.py"),
    ]
    process = subprocess.Popen(
        command,
        env=env,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    # The output is read by a thread (a full pipe would block QGIS); QGIS is waited for until it
    # quits, or until EXIT_GRACE_S after the script wrote its result (a QGIS that finished the
    # work but hangs on the way out is stopped and reported as returncode None).
    pool = ThreadPoolExecutor(max_workers=1)
    reader = pool.submit(process.stdout.read)
    result_path = Path(params["result"])
    deadline = time.monotonic() + TIMEOUT_S
    written_at = None
    while process.poll() is None:
        now = time.monotonic()
        if written_at is None and result_path.exists():
            written_at = now
        if now > deadline or (written_at is not None and now - written_at > EXIT_GRACE_S):
            break
        time.sleep(0.2)
    returncode = process.poll()
    if returncode is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    output = reader.result()
    pool.shutdown()
    process.stdout.close()
    if returncode is None and written_at is None:
        pytest.fail(f"QGIS did not finish the script within {TIMEOUT_S} s:\n{output[-4000:]}")
    return subprocess.CompletedProcess(command, returncode, output, "")


@pytest.fixture(scope="module")
def desktop(demo: dict, profile: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    if shutil.which("xvfb-run") is None or not Path(QGIS).exists():
        pytest.fail("QGIS desktop or xvfb-run missing: run scripts/setup.sh system")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    workdir = tmp_path_factory.mktemp("desktop_run")
    params = {
        "raster": str(demo["stack"] / "timeseries" / "los.tif"),
        "precipitation": str(demo["root"] / "precip.csv"),
        "pixels": PIXELS,
        "dock_png": str(ARTIFACTS / "dock.png"),
        "window_png": str(ARTIFACTS / "qgis_window.png"),
        "result": str(workdir / "result.json"),
        "frame": FRAME,
    }
    for stale in (params["dock_png"], params["window_png"]):
        Path(stale).unlink(missing_ok=True)
    completed = run_qgis(profile, params, workdir)
    (ARTIFACTS / "qgis_output.txt").write_text(completed.stdout, encoding="utf-8")
    result_path = Path(params["result"])
    assert result_path.exists(), (
        f"QGIS exited {completed.returncode} without a result:\n{completed.stdout[-4000:]}"
    )
    result = json.loads(result_path.read_text(encoding="utf-8"))
    assert result["error"] == "", result["error"]
    return {**result, "returncode": completed.returncode, "params": params}


def test_plugin_comes_from_the_installed_zip(desktop: dict, profile: Path) -> None:
    assert Path(desktop["plugin_file"]).resolve().is_relative_to(profile.resolve())
    assert desktop["map_tool_is_dock_tool"]
    # 0: QGIS quit by itself; None: it wrote its result and was stopped after EXIT_GRACE_S.
    assert desktop["returncode"] in (0, None)


def test_clicked_pixels_plot_the_raster_values(desktop: dict, demo: dict) -> None:
    assert [(s["row"], s["col"]) for s in desktop["series"]] == PIXELS
    for series, (row, col) in zip(desktop["series"], PIXELS):
        np.testing.assert_array_equal(series["los"], demo["los"][:, row, col].astype(float))
        np.testing.assert_array_equal(series["azimuth"], demo["azimuth"][:, row, col].astype(float))
        np.testing.assert_allclose(series["los_std"], demo["std"][:, row, col], rtol=1e-6)
    assert desktop["markers"] == len(PIXELS)
    assert desktop["style"] == "QgsSingleBandPseudoColorRenderer"
    dates, platforms = demo["dates"], np.asarray(demo["platforms"])
    expected = [
        [p, str(dates[platforms == p].min()), str(dates[platforms == p].max())] for p in ("ALOS", "ALOS-2")
    ]
    assert desktop["spans"] == expected


def test_temporal_controller_steps_the_band(desktop: dict, demo: dict) -> None:
    temporal = desktop["temporal"]
    assert temporal["controller"] == "QgsTemporalNavigationObject"
    assert temporal["frames"] > FRAME
    assert temporal["canvas_end"] == temporal["frame_end"]
    end = np.datetime64(temporal["frame_end"].rstrip("Z"), "s")
    moments = demo["dates"].astype("datetime64[s]")
    shown = moments <= end if temporal["include_end"] else moments < end
    assert temporal["band"] == int(np.flatnonzero(shown)[-1]) + 1
    assert 15 < temporal["band"] < len(demo["dates"])  # not the last band shown before


def test_screenshots_saved(desktop: dict) -> None:
    from qgis.PyQt.QtGui import QImage

    for key in ("dock_png", "window_png"):
        assert desktop[key] is True
        image = QImage(desktop["params"][key])
        assert not image.isNull()
        assert image.width() > 400
        assert image.height() > 300
        # not a blank grab: many distinct colours (plot lines, shading, bars)
        step = max(1, image.width() // 60)
        colours = {
            image.pixel(x, y) for x in range(0, image.width(), step) for y in range(0, image.height(), step)
        }
        assert len(colours) > 20
