"""Pair selection: the paper's rule on the baige-like dates, bounds, bridging, connectivity, outputs."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from geometry_helpers import BIGTUJUNGA, alos_scene

from processing_core.baselines import baseline, select_master, select_masters
from processing_core.errors import InputError
from processing_core.geometry import RadarGeometry
from processing_core.network import (
    Acquisition,
    PairRules,
    connectivity,
    plot_network,
    select_pairs,
    select_stack_pairs,
)
from processing_core.readers.importer import import_products
from processing_core.simulate import get_scenario, simulate_stack
from processing_core.stack import load_stack

ROOT = Path(__file__).resolve().parents[2]


def _baige_like() -> list[Acquisition]:
    scenario = get_scenario("baige-like")
    return [
        Acquisition(f"{spec.sensor}_{date}", spec.platform, dt.date.fromisoformat(date), 0.0)
        for spec, date in scenario.acquisitions
    ]


def test_paper_rule_on_the_baige_like_dates_gives_the_hand_derived_count():
    acqs = _baige_like()
    pairs = select_pairs(acqs)
    # PALSAR-1 dates sit on 46-day cycles -25 -22 -19 -16 -13 -9 -6 -3 0 3 6 8 (from 2010-02-25);
    # >= 300 days means >= 7 cycles (6 x 46 = 276 < 300 <= 322 = 7 x 46). Later dates >= 7 cycles
    # after each date: 9 + 8 + 7 + 7 + 6 + 4 + 3 + 2 + 1 + 0 + 0 + 0 = 47.
    # PALSAR-2 dates are 14-day cycles -21 -14 -7 0 7 13 20 27 33 40 46 53 59 66 72 79: consecutive
    # dates are >= 6 cycles = 84 days >= 70 apart, so all C(16, 2) = 120 pairs qualify.
    # Bridging: the 3 last PALSAR-1 x the 3 first PALSAR-2 dates = 9.
    kinds = {k: sum(p.kind == k for p in pairs) for k in ("ALOS", "ALOS-2", "bridge")}
    assert kinds == {"ALOS": 47, "ALOS-2": 120, "bridge": 9}
    assert len(pairs) == 176
    assert all(p.days >= 300 for p in pairs if p.kind == "ALOS")
    assert all(p.days >= 70 for p in pairs if p.kind == "ALOS-2")
    p1 = sorted(a.date for a in acqs if a.platform == "ALOS")
    p2 = sorted(a.date for a in acqs if a.platform == "ALOS-2")
    by_id = {a.id: a for a in acqs}
    bridges = {(by_id[p.reference].date, by_id[p.secondary].date) for p in pairs if p.kind == "bridge"}
    assert bridges == {(a, b) for a in p1[-3:] for b in p2[:3]}
    assert connectivity(acqs, pairs).connected


def test_upper_bounds_bperp_bound_and_bridge_options():
    acqs = _baige_like()
    capped = select_pairs(acqs, PairRules(max_days={"ALOS": 700, "ALOS-2": 200}, bridge=2))
    assert all(p.days <= 700 for p in capped if p.kind == "ALOS")
    assert all(p.days <= 200 for p in capped if p.kind == "ALOS-2")
    assert sum(p.kind == "bridge" for p in capped) == 4
    none = select_pairs(acqs, PairRules(bridge=0))
    report = connectivity(acqs, none)
    assert not report.connected
    assert len(report.components) == 2
    # Where it splits: between the last PALSAR-1 and the first PALSAR-2 scene.
    last_p1 = max((a for a in acqs if a.platform == "ALOS"), key=lambda a: a.date)
    first_p2 = min((a for a in acqs if a.platform == "ALOS-2"), key=lambda a: a.date)
    assert (last_p1.id, first_p2.id) in report.gaps
    assert "split into 2 subsets" in report.describe()
    spread = [Acquisition(a.id, a.platform, a.date, 1000.0 * k) for k, a in enumerate(acqs)]
    bounded = select_pairs(spread, PairRules(max_bperp_m=2500.0))
    assert bounded
    assert all(abs(p.bperp_m) <= 2500.0 for p in bounded)


def test_sentinel1_constellation_is_one_group_with_the_general_bound():
    start = dt.date(2020, 1, 1)
    acqs = [
        Acquisition(f"S1{'AB'[k % 2]}_{k}", f"Sentinel-1{'AB'[k % 2]}", start + dt.timedelta(days=6 * k))
        for k in range(12)
    ]
    pairs = select_pairs(acqs)
    assert {p.kind for p in pairs} == {"Sentinel-1"}
    assert all(p.days >= 30 for p in pairs)
    assert len(pairs) == sum(1 for i in range(12) for j in range(i + 1, 12) if 6 * (j - i) >= 30)


def test_gaps_inside_one_platform_are_reported():
    start = dt.date(2015, 1, 1)
    acqs = [
        Acquisition(f"S{k}", "ALOS-2", start + dt.timedelta(days=d)) for k, d in enumerate([0, 100, 200, 300])
    ]
    pairs = select_pairs(acqs, PairRules(max_days={"ALOS-2": 100}))
    assert len(pairs) == 3
    report = connectivity(acqs, pairs[:1] + pairs[2:])
    assert report.components == [["S0", "S1"], ["S2", "S3"]]
    assert report.gaps == [("S1", "S2")]


def test_bad_rules_and_duplicates_are_refused():
    acqs = _baige_like()
    with pytest.raises(InputError, match="bridge"):
        select_pairs(acqs, PairRules(bridge=-1))
    with pytest.raises(InputError, match="duplicate"):
        select_pairs(acqs + acqs[:1])


def test_network_plot_is_a_png(tmp_path):
    acqs = _baige_like()
    out = plot_network(tmp_path / "net.png", acqs, select_pairs(acqs))
    assert out is not None
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def small_stack(tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs")
    simulate_stack(get_scenario("small"), BIGTUJUNGA, out, seed=2)
    return out


def test_pairs_on_a_stack_writes_stack_json_csv_and_png(small_stack):
    pairs, report, written = select_stack_pairs(small_stack)
    data = json.loads((small_stack / "stack.json").read_text())
    assert len(data["pairs"]) == len(pairs) == 2 + 3 + 9
    entry = data["pairs"][0]
    assert set(entry) == {"reference", "secondary", "days", "bperp_m", "kind"}
    # The PALSAR-1 -> PALSAR-2 pairs cross the ~28 km baseline between the platforms' tracks.
    bridge = [p for p in data["pairs"] if p["kind"] == "bridge"]
    assert all(abs(p["bperp_m"]) > 10_000 for p in bridge)
    assert all(abs(p["bperp_m"]) < 5_000 for p in data["pairs"] if p["kind"] != "bridge")
    assert data["parameters"]["pairs"]["connected"] is True
    rows = (small_stack / "network" / "pairs.csv").read_text().splitlines()
    assert rows[0].startswith("reference,secondary,reference_date,secondary_date")
    assert len(rows) == len(pairs) + 1
    assert (small_stack / "network" / "network.png").stat().st_size > 10_000
    assert report.connected


def test_pairs_cli(small_stack):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "processing_core",
            "pairs",
            "--stack",
            str(small_stack),
            "--bridge",
            "0",
            "--no-plot",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "pairs: 5 (2 ALOS, 3 ALOS-2)" in run.stdout
    assert "split into 2 subsets" in run.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "processing_core", "pairs", "--stack", str(small_stack / "nope")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error:")
    assert len(bad.stderr.strip().splitlines()) == 1


def _spread_cost(*quantities: np.ndarray) -> np.ndarray:
    """The paper's master criterion written out: sum over the other scenes of each quantity's
    absolute difference divided by its standard deviation."""
    cost = np.zeros(len(quantities[0]))
    for values in quantities:
        for i in range(len(values)):
            cost[i] += sum(abs(values[i] - v) for v in values) / np.std(values)
    return cost


# Five PALSAR-1 passes: days after the first, cross-track orbit shift (m), Doppler centroid (Hz).
# Scene 2 (day 230) is the median date, but scene 3 (day 276) sits in the middle of the orbit
# shifts and Dopplers too: the summed normalised spread is smallest there, 30 % below the next.
MASTER_DAYS = (0, 138, 230, 276, 506)
MASTER_SHIFTS_M = (0.0, 100.0, 700.0, 100.0, 300.0)
MASTER_DOPPLERS_HZ = (0.0, 70.0, 10.0, 30.0, 30.0)


def _passes(shifts, dopplers):
    t0 = np.datetime64("2008-01-01T06:00:00")
    return [
        alos_scene(
            lines=400,
            samples=300,
            scene_id=f"ALOS_{k}",
            centre_time=t0 + np.timedelta64(days, "D"),
            cross_track_shift_m=shift,
            doppler_centroid_hz=(doppler, 0.0),  # (f,) alone trips geometry._doppler_d
        )
        for k, (days, shift, doppler) in enumerate(zip(MASTER_DAYS, shifts, dopplers))
    ]


def test_select_master_minimises_the_summed_normalised_spread():
    scenes = _passes(MASTER_SHIFTS_M, MASTER_DOPPLERS_HZ)
    # Precondition of the independent computation: a sideways orbit shift of a few hundred metres
    # is a perpendicular baseline proportional to it (the factor cancels in the normalisation).
    ref = RadarGeometry(scenes[0])
    bperp = np.array([baseline(ref, RadarGeometry(s)).perpendicular_m for s in scenes])
    factor = bperp[2] / MASTER_SHIFTS_M[2]
    assert 0.5 < factor <= 1.0
    np.testing.assert_allclose(bperp, factor * np.array(MASTER_SHIFTS_M), atol=0.5)
    cost = _spread_cost(np.array(MASTER_DAYS, float), np.array(MASTER_SHIFTS_M), np.array(MASTER_DOPPLERS_HZ))
    assert int(np.argmin(cost)) == 3
    assert np.sort(cost)[1] > 1.3 * cost.min()  # an obvious minimiser
    assert select_master(scenes) == "ALOS_3"
    # Equal orbits and Dopplers have no spread and are ignored: the median date wins.
    alike = _passes((0.0,) * 5, (0.0,) * 5)
    assert int(np.argmin(_spread_cost(np.array(MASTER_DAYS, float)))) == 2
    assert select_master(alike) == "ALOS_2"
    assert select_master(alike[:1]) == "ALOS_0"


def test_pairs_choose_and_save_the_masters_of_an_imported_stack(small_stack, tmp_path):
    imported = import_products([small_stack / "scenes"], tmp_path / "imported")
    assert imported.masters == {}
    select_stack_pairs(imported.root, plot=False)
    stack = load_stack(imported.root)
    expected = select_masters([stack.scene(s.id) for s in stack.scenes])
    assert stack.masters == expected
    assert set(stack.masters["per_platform"]) == {"ALOS", "ALOS-2"}
    assert stack.masters["final"] == expected["per_platform"]["ALOS-2"]  # the newest platform's
    assert len(stack.pairs) == 2 + 3 + 9


def test_pairs_keep_the_masters_a_stack_has(small_stack, tmp_path):
    copied = load_stack(shutil.copytree(small_stack, tmp_path / "stack"))
    first = copied.scenes[0].id  # not the one select_masters would choose
    assert first != copied.masters["final"]
    mine = {"per_platform": {"ALOS": first, "ALOS-2": copied.masters["final"]}, "final": first}
    copied.masters = mine
    copied.save()
    select_stack_pairs(copied.root, plot=False)
    assert load_stack(copied.root).masters == mine
