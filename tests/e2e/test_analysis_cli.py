"""Command line of the landslide analysis (issue 8): point, stages, forecast, correlate.

A small simulated stack gets time-series rasters sampled from its truth maps on a sub-grid,
the true master as the refined master, and rectified amplitudes, so every command runs on it
as on a processed stack; the stage and forecast commands also run on the baige-like history.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_runner import cli
from osgeo import gdal

from processing_core.radar_grids import SubGrid
from processing_core.rasters import write_geotiff
from processing_core.simulate import get_scenario, simulate_stack
from processing_core.stack import load_stack

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
DEM = REPO_ROOT.parent / "shared" / "fixtures" / "dem" / "bigtujunga_srtm30m_utm11.tif"
GRID = (2.0, 3.0, 4.0)  # ROW0, COL0, STEP_PX


def _read(path: Path) -> np.ndarray:
    ds = gdal.Open(str(path))
    return ds.ReadAsArray().reshape(ds.RasterCount, ds.RasterYSize, ds.RasterXSize).astype(np.float64)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    out = tmp_path_factory.mktemp("analysis_cli")
    simulate_stack(get_scenario("small"), DEM, out, seed=4)
    st = load_stack(out)
    final = st.masters["final"]
    (out / "geometry" / "refined").mkdir(parents=True)
    shutil.copy(out / "truth" / "scenes" / f"{final}.json", out / "geometry" / "refined" / f"{final}.json")
    los, az = _read(out / "truth" / "los.tif"), _read(out / "truth" / "azimuth.tif")
    row0, col0, step = GRID
    grid = SubGrid(
        row0,
        col0,
        step,
        int((los.shape[1] - 1 - row0) // step) + 1,
        int((los.shape[2] - 1 - col0) // step) + 1,
    )
    li, si = grid.lines().astype(int), grid.samples().astype(int)
    dates = [s.date for s in st.scenes]
    common = {
        "descriptions": ["D" + d.replace("-", "") for d in dates],
        "band_metadata": [{"DATE": d} for d in dates],
        "metadata": grid.metadata(),
    }
    write_geotiff(out / "timeseries" / "los.tif", list(los[:, li][:, :, si]), **common)
    write_geotiff(out / "timeseries" / "azimuth.tif", list(az[:, li][:, :, si]), **common)
    truth = json.loads((out / "truth" / "truth.json").read_text())
    rng = np.random.default_rng(0)
    for scene in truth["scenes"]:  # amplitude brightening with the simulated soil moisture
        amp = np.sqrt(scene["moisture_factor"]) * rng.rayleigh(1.0, los.shape[1:])
        write_geotiff(out / "rectified" / f"{scene['id']}.tif", [amp], descriptions=["amplitude"])
    p2 = next(p for p in truth["points"] if p["name"] == "P2")
    return out, grid, los, p2


@pytest.fixture(scope="module")
def baige_csv(tmp_path_factory):
    scenario = get_scenario("baige-like")
    dates = np.array(sorted(scenario.dates()), dtype="datetime64[D]")
    los = scenario.los_at_p2_m(dates)
    path = tmp_path_factory.mktemp("baige") / "p2.csv"
    path.write_text("date,los_m,azimuth_m\n" + "".join(f"{d},{v:.6f},0\n" for d, v in zip(dates, los)))
    months = np.arange(np.datetime64("2006-01"), np.datetime64("2019-01"))
    precip = 20 + 200 * np.exp(-((((months.astype(int) % 12) + 1 - 7.5) / 1.3) ** 2))
    (path.parent / "precip.csv").write_text(
        "month,precip_mm\n" + "".join(f"{m},{v:.1f}\n" for m, v in zip(months, precip))
    )
    return path


@pytest.mark.parametrize("command", ["point", "stages", "forecast", "correlate"])
def test_help(command):
    result = cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "--out" in result.stdout


def test_point_csv_and_plot(stack, tmp_path):
    out, grid, los, p2 = stack
    csv_path, png = tmp_path / "p2.csv", tmp_path / "p2.png"
    result = cli(
        "point",
        "--stack",
        str(out),
        "--lon",
        str(p2["lon"]),
        "--lat",
        str(p2["lat"]),
        "--dem",
        str(DEM),
        "--out",
        str(csv_path),
        "--plot",
        str(png),
    )
    assert result.returncode == 0, result.stderr
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "date,los_m,azimuth_m"  # no std rasters in this stack
    r = int(round((p2["line"] - grid.row0) / grid.step))
    c = int(round((p2["sample"] - grid.col0) / grid.step))
    values = np.array([float(row.split(",")[1]) for row in lines[1:]])
    np.testing.assert_allclose(values, los[:, int(grid.lines(r)), int(grid.samples(c))], atol=1e-5)
    assert values[-1] < -30  # P2 moved away from the sensor
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Several points, a radius mean.
    table = tmp_path / "pts.csv"
    table.write_text(f"name,lon,lat\nP2,{p2['lon']},{p2['lat']}\nQ,{p2['lon'] + 0.001},{p2['lat']}\n")
    many = tmp_path / "many.csv"
    result = cli(
        "point",
        "--stack",
        str(out),
        "--points",
        str(table),
        "--radius-m",
        "30",
        "--dem",
        str(DEM),
        "--out",
        str(many),
    )
    assert result.returncode == 0, result.stderr
    rows = many.read_text().splitlines()
    assert rows[0] == "name,date,los_m,azimuth_m,los_std_m,azimuth_std_m"
    assert {row.split(",")[0] for row in rows[1:]} == {"P2", "Q"}


def test_stages_and_forecast_of_the_baige_history(baige_csv, tmp_path):
    stages_json, png = tmp_path / "stages.json", tmp_path / "stages.png"
    result = cli("stages", "--csv", str(baige_csv), "--out", str(stages_json), "--plot", str(png))
    assert result.returncode == 0, result.stderr
    report = json.loads(stages_json.read_text())
    assert [b["date"] for b in report["breaks"][:3]] == ["2010-01-10", "2015-07-27", "2016-10-03"]
    assert report["onset"]["date"] == "2015-07-27"
    assert [s["kind"] for s in report["stages"]] == [
        "primary",
        "secondary",
        "tertiary",
        "tertiary",
        "tertiary",
    ]
    assert report["stages"][2]["rate_mm_per_day"] == pytest.approx(-17.0, rel=1e-3)
    assert png.exists()
    fc_json = tmp_path / "forecast.json"
    result = cli(
        "forecast", "--csv", str(baige_csv), "--out", str(fc_json), "--plot", str(tmp_path / "fc.png")
    )
    assert result.returncode == 0, result.stderr
    forecast = json.loads(fc_json.read_text())
    assert forecast["start_date"] == "2015-07-27"
    assert forecast["failure_date"] > "2018-10-11"  # a forecast from piecewise-constant creep
    assert forecast["ci_low"] < forecast["failure_date"] < forecast["ci_high"]
    fixed = cli(
        "forecast",
        "--csv",
        str(baige_csv),
        "--start",
        "2016-10-31",
        "--no-warning",
        "--out",
        str(tmp_path / "f2.json"),
    )
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads((tmp_path / "f2.json").read_text())["start_source"] == "given"


def test_correlate_precipitation_and_backscatter(stack, baige_csv, tmp_path):
    out, _, _, p2 = stack
    js, png = tmp_path / "corr.json", tmp_path / "corr.png"
    result = cli(
        "correlate",
        "--csv",
        str(baige_csv),
        "--precip",
        str(baige_csv.parent / "precip.csv"),
        "--permutations",
        "300",
        "--out",
        str(js),
        "--plot",
        str(png),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(js.read_text())
    assert len(report["precipitation"]["lags"]) == 7
    assert png.exists()
    js2 = tmp_path / "bs.json"
    result = cli(
        "correlate", "--stack", str(out), "--lon", str(p2["lon"]), "--lat", str(p2["lat"]), "--dem", str(DEM),
        "--backscatter", "--window", "100", "200", "20", "120", "--max-lag-months", "2", "--permutations", "200", "--out", str(js2),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    bs = json.loads(js2.read_text())["backscatter"]
    assert len(bs["series"]) == 6
    assert all(row["pixels"] == 100 * 100 for row in bs["series"])
    # Rayleigh amplitudes of mean power 2 * moisture: mean dB = 10 log10(2 m) - 2.51 dB (Euler's
    # gamma); the dB of one pixel scatters by 5.57 dB, so the mean of 10^4 pixels by 0.056 dB.
    truth = json.loads((out / "truth" / "truth.json").read_text())
    expected = [
        10 * np.log10(2 * s["moisture_factor"]) - 10 * np.euler_gamma / np.log(10) for s in truth["scenes"]
    ]
    np.testing.assert_allclose([row["mean_db"] for row in bs["series"]], expected, atol=0.25)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["stages", "--out", "x.json"], "give --csv"),
        (["correlate", "--csv", "nope.csv", "--out", "x.json"], "give --precip"),
        (["forecast", "--csv", "nope.csv", "--start", "soon", "--out", "x.json"], "--start"),
        (["stages", "--csv", "nope.csv", "--out", "x.json"], "nope.csv"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message, tmp_path):
    result = cli(*[a if a != "x.json" else str(tmp_path / a) for a in args])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    assert message in lines[0]


def test_point_outside_the_grid(stack, tmp_path):
    out, _, _, p2 = stack
    result = cli(
        "point",
        "--stack",
        str(out),
        "--lon",
        str(p2["lon"] + 0.05),
        "--lat",
        str(p2["lat"]),
        "--height-m",
        "1000",
        "--out",
        str(tmp_path / "o.csv"),
    )
    assert result.returncode == 2
    assert "outside" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.csv").exists()


def test_cli_choices_match_the_core():
    from processing_core.analysis import correlate, covariates, forecast, series
    from processing_core.commands import analysis

    assert analysis._COMPONENTS == series.COMPONENTS
    assert analysis._MEASURES == correlate.MEASURES
    assert analysis._DETRENDS == correlate.DETRENDS
    assert analysis._IMERG_UNITS == covariates.IMERG_UNITS
    assert analysis._STARTS == forecast.STARTS
