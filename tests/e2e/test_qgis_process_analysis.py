"""The analysis algorithms from ``qgis_process`` 3.22 (plugin enabled from the checkout, as in
test_qgis_process.py): listed in the Analysis group, and ``sarots:stages`` run with ``--json`` on
the baige-like history, whose acceleration onset is the scenario's 2015-07-27 rate change."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
ANALYSIS = {"sarots:point", "sarots:stages", "sarots:correlate"}


@pytest.fixture(scope="module")
def enabled_env(qgis_env_factory) -> dict[str, str]:
    return qgis_env_factory(REPO_ROOT)


def test_list_shows_the_analysis_algorithms(enabled_env, qgis_process) -> None:
    result = qgis_process(enabled_env, "--json", "list")
    assert result.returncode == 0, result.stderr
    algorithms = json.loads(result.stdout)["providers"]["sarots"]["algorithms"]
    assert ANALYSIS <= set(algorithms)
    assert {algorithms[a]["group"] for a in ANALYSIS} == {"Analysis"}


def test_run_stages_json_on_the_baige_like_history(enabled_env, qgis_process, tmp_path: Path) -> None:
    from processing_core.simulate import get_scenario

    scenario = get_scenario("baige-like")
    dates = np.array(sorted(scenario.dates()), dtype="datetime64[D]")
    series = tmp_path / "p2.csv"
    rows = "".join(f"{d},{v:.6f},0\n" for d, v in zip(dates, scenario.los_at_p2_m(dates)))
    series.write_text("date,los_m,azimuth_m\n" + rows, encoding="utf-8")
    out = tmp_path / "stages.json"
    result = qgis_process(
        enabled_env,
        "--json",
        "run",
        "sarots:stages",
        "--",
        f"CSV={series}",
        "COMPONENT=0",
        f"OUTPUT_JSON={out}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads(result.stdout)["results"]
    assert results["ONSET"] == "2015-07-27"
    assert results["N_STAGES"] == 5
    assert results["OUTPUT_JSON"] == str(out)
    report = json.loads(out.read_text(encoding="utf-8"))
    assert results["FAILURE_DATE"] == report["forecast"]["failure_date"]
    assert results["FIRST_WARNING"] == report["forecast"]["first_warning_date"]


def test_run_point_without_points_says_so(enabled_env, qgis_process, tmp_path: Path) -> None:
    (tmp_path / "stack.json").write_text("{}", encoding="utf-8")
    result = qgis_process(
        enabled_env,
        "run",
        "sarots:point",
        "--",
        f"STACK={tmp_path}",
        f"OUTPUT_CSV={tmp_path / 'p.csv'}",
        f"OUTPUT_GPKG={tmp_path / 'p.gpkg'}",
    )
    assert result.returncode != 0
    assert "No points given" in result.stdout + result.stderr
    assert not (tmp_path / "p.csv").exists()
