"""The provider seen from ``qgis_process`` 3.22, with the plugin enabled from the checkout.

How a Python plugin gets into qgis_process 3.22:

- QGIS_PLUGINPATH adds a folder to the plugin search path; ours holds a symlink
  ``sar_offset_tracking -> checkout``, so the checkout itself is the plugin.
- qgis_process loads only *enabled* plugins whose metadata says ``hasProcessingProvider=yes``
  and calls their ``initProcessing()``. Enabled means ``[PythonPlugins] <name>=true`` in the
  profile's QGIS3.ini, which ``qgis_process plugins enable <name>`` writes (3.22 has the
  ``plugins``/``plugins enable`` commands).
- QGIS_CUSTOM_CONFIG_PATH points the profile (``profiles/default``) at a temporary folder, and
  HOME too, so neither the user's profile nor their settings are read or written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
PLUGIN_NAME = "sar_offset_tracking"
ALGORITHMS = {
    "sarots:geo2rdr",
    "sarots:rdr2geo",
    "sarots:lookup",
    "sarots:simulate",
    "sarots:pairs",
    "sarots:rectify",
    "sarots:offsets",
    "sarots:invert",
    "sarots:geocode",
    "sarots:offset_tracking_chain",
    "sarots:import",
    "sarots:run",
}
DEM = REPO_ROOT / "resources" / "dem" / "bigtujunga_srtm30m_utm11.tif"


@pytest.fixture(scope="module")
def enabled_env(qgis_env_factory) -> dict[str, str]:
    return qgis_env_factory(REPO_ROOT)


def _providers(qgis_process, env: dict[str, str]) -> dict:
    result = qgis_process(env, "--json", "list")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["providers"]


def test_plugin_is_found_but_disabled_by_default(qgis_env_factory, qgis_process) -> None:
    env = qgis_env_factory(REPO_ROOT, enabled=False)
    result = qgis_process(env, "plugins")
    assert result.returncode == 0, result.stderr
    assert PLUGIN_NAME in result.stdout
    assert "sarots" not in _providers(qgis_process, env)


def test_list_shows_provider_and_algorithms(enabled_env, qgis_process) -> None:
    providers = _providers(qgis_process, enabled_env)
    assert "sarots" in providers, sorted(providers)
    provider = providers["sarots"]
    assert provider["name"] == "SAR offset tracking"
    assert ALGORITHMS <= set(provider["algorithms"])
    assert provider["algorithms"]["sarots:geo2rdr"]["name"] == "Radar coordinates of ground points (geo2rdr)"


def test_plain_list_output(enabled_env, qgis_process) -> None:
    result = qgis_process(enabled_env, "list")
    assert result.returncode == 0, result.stderr
    assert "SAR offset tracking" in result.stdout
    for alg_id in ALGORITHMS:
        assert alg_id in result.stdout


def test_help_shows_parameters(enabled_env, qgis_process) -> None:
    result = qgis_process(enabled_env, "help", "sarots:lookup")
    assert result.returncode == 0, result.stderr
    for name in ("SCENE", "DEM", "DEM_VERTICAL", "GROUND_LUT", "OUTPUT"):
        assert name in result.stdout


def test_run_with_bad_scene_fails_naming_the_file(enabled_env, qgis_process, tmp_path: Path) -> None:
    points = tmp_path / "points.csv"
    points.write_text("lat,lon,height\n34.3,-118.1,1000\n", encoding="utf-8")
    missing = tmp_path / "missing_scene.json"
    result = qgis_process(
        enabled_env,
        "run",
        "sarots:geo2rdr",
        "--",
        f"SCENE={missing}",
        f"POINTS={points}",
        f"OUTPUT={tmp_path / 'out.csv'}",
    )
    assert result.returncode != 0
    assert missing.name in result.stdout + result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_run_geo2rdr_on_a_scene(enabled_env, qgis_process, tmp_path: Path) -> None:
    import numpy as np

    from processing_core.orbitgen import synthetic_scene
    from processing_core.scene import write_scene

    scene = synthetic_scene(
        scene_id="ALOS_20080101",
        centre_lat_deg=34.32,
        centre_lon_deg=-118.15,
        centre_height_m=1000.0,
        centre_time=np.datetime64("2008-01-01T06:00:00"),
        lines=600,
        samples=400,
    )
    sidecar = write_scene(scene, tmp_path / "scene.json")
    points = tmp_path / "points.csv"
    points.write_text("lat,lon,height\n34.32,-118.15,1000\n", encoding="utf-8")
    out = tmp_path / "radar.csv"
    result = qgis_process(
        enabled_env,
        "--json",
        "run",
        "sarots:geo2rdr",
        "--",
        f"SCENE={sidecar}",
        f"POINTS={points}",
        f"OUTPUT={out}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads(result.stdout)["results"]
    assert results["COUNT"] == 1
    assert results["OUTPUT"] == str(out)
    assert out.read_text(encoding="utf-8").splitlines()[0].endswith("azimuth_time,slant_range_m,line,sample")


def _run_json(qgis_process, env: dict[str, str], alg: str, *params: str, timeout: int = 180) -> dict:
    result = qgis_process(env, "--json", "run", alg, "--", *params, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def small_stack(enabled_env, qgis_process, tmp_path_factory) -> tuple[Path, dict]:
    """``sarots:simulate`` of the small scenario through qgis_process (seed 3, about 5 s)."""
    stack = tmp_path_factory.mktemp("qgis_process_stack") / "stack"
    out = _run_json(qgis_process, enabled_env, "sarots:simulate", "SCENARIO=1", "SEED=3", f"OUTPUT={stack}")
    return stack, out


def test_run_simulate_json(small_stack) -> None:
    stack, out = small_stack
    assert out["algorithm_details"]["group"] == "Simulation"
    results = out["results"]
    assert results["SCENES"] == 6
    assert results["STACK"] == results["OUTPUT"] == str(stack)
    assert len(json.loads((stack / "stack.json").read_text())["scenes"]) == 6


def test_run_import_json(small_stack, enabled_env, qgis_process, tmp_path: Path) -> None:
    """``sarots:import`` of the simulated scenes: a folder plus a file list (one sidecar twice)."""
    stack = tmp_path / "imported"
    scenes = small_stack[0] / "scenes"
    first = sorted(scenes.glob("*.json"))[0]
    out = _run_json(
        qgis_process,
        enabled_env,
        "sarots:import",
        f"FOLDER={scenes}",
        f"FILES={first}",
        "MULTILOOK=1x1",
        f"OUTPUT={stack}",
    )
    assert out["algorithm_details"]["group"] == "Import"
    results = out["results"]
    assert (results["SCENES"], results["IMPORTED"]) == (6, 6)
    assert results["PLATFORMS"] == "ALOS,ALOS-2"
    assert results["STACK"] == results["OUTPUT"] == str(stack)
    dates = [s["date"] for s in json.loads((stack / "stack.json").read_text())["scenes"]]
    assert dates == sorted(dates)
    assert len(list((stack / "scenes").glob("*.tif"))) == 6


def test_run_import_of_a_text_file_names_it(enabled_env, qgis_process, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a product\n", encoding="utf-8")
    result = qgis_process(
        enabled_env, "run", "sarots:import", "--", f"FILES={text}", f"OUTPUT={tmp_path / 'stack'}"
    )
    assert result.returncode != 0
    assert "notes.txt: unknown product kind" in result.stdout + result.stderr
    assert not (tmp_path / "stack" / "stack.json").exists()


def test_run_pairs_json(small_stack, enabled_env, qgis_process, tmp_path: Path) -> None:
    import shutil

    stack = Path(shutil.copytree(small_stack[0], tmp_path / "stack"))
    results = _run_json(qgis_process, enabled_env, "sarots:pairs", f"STACK={stack}")["results"]
    assert results["PAIRS"] == 14  # ALOS 2 (>= 300 d), ALOS-2 3 (>= 70 d), 3 x 3 bridges
    assert results["CONNECTED"] is True
    assert results["STACK"] == str(stack)
    assert Path(results["PAIRS_CSV"]).read_text(encoding="utf-8").count("\n") == 15  # header + 14


def test_run_model_json(small_stack, enabled_env, qgis_process, tmp_path: Path) -> None:
    """The shipped model, import to geocode, as one qgis_process run on the simulated scenes."""
    import shutil

    import numpy as np
    from osgeo import gdal

    stack = tmp_path / "stack"
    dem = Path(shutil.copy(DEM, tmp_path))
    out = _run_json(
        qgis_process,
        enabled_env,
        "sarots:offset_tracking_chain",
        f"INPUT={small_stack[0] / 'scenes'}",
        f"import:STACK={stack}",
        f"DEM={dem}",
        "STEP_PX=16",
        "WINDOWS=32",
        "SEARCH_PX=32",
        timeout=300,
    )
    assert out["results"]["import:STACK"] == str(stack)
    assert out["results"]["geocode:GEOCODED"] == str(stack / "geocoded")
    info = "\n".join(out["log"]["info"])
    assert "6 scene(s) imported" in info
    assert "14 pairs" in info
    assert "14 pair(s) computed" in info
    geocoded = gdal.Open(str(stack / "geocoded" / "los.tif"))
    assert geocoded.RasterCount == 6
    assert geocoded.GetRasterBand(6).GetDescription() == "D20170724"
    assert geocoded.GetProjection() == gdal.Open(str(dem)).GetProjection()
    # the time series at P2 against the simulator's truth (tolerance: tests/qgis/test_algorithms_chain.py)
    truth = json.loads((small_stack[0] / "truth" / "truth.json").read_text())
    p2 = next(p for p in truth["points"] if p["name"] == "P2")
    ds = gdal.Open(str(stack / "timeseries" / "los.tif"))
    row0, col0, step = (float(ds.GetMetadataItem(k)) for k in ("ROW0", "COL0", "STEP_PX"))
    node = ds.ReadAsArray()[:, round((p2["line"] - row0) / step), round((p2["sample"] - col0) / step)]
    expected = float(
        (small_stack[0] / "truth" / "P2.csv").read_text(encoding="utf-8").splitlines()[-1].split(",")[1]
    )
    assert abs(float(node[-1]) - expected) <= 1.5 + 0.1 * abs(expected)
    assert np.isfinite(node).all()


def test_run_rectify_without_dem_file_names_it(
    small_stack, enabled_env, qgis_process, tmp_path: Path
) -> None:
    missing = tmp_path / "no_such_dem.tif"
    result = qgis_process(
        enabled_env, "run", "sarots:rectify", "--", f"STACK={small_stack[0]}", f"DEM={missing}"
    )
    assert result.returncode != 0
    assert "no_such_dem.tif" in result.stdout + result.stderr
    assert not (small_stack[0] / "rectified").exists()


def test_run_on_a_folder_without_stack_json(enabled_env, qgis_process, tmp_path: Path) -> None:
    result = qgis_process(enabled_env, "run", "sarots:invert", "--", f"STACK={tmp_path}")
    assert result.returncode != 0
    assert "no stack.json" in result.stdout + result.stderr
