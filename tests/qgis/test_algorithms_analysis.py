"""The analysis algorithms (point, stages, correlate) through ``processing.run``.

The ``small`` demo stack (simulated, then the whole chain run by the core: ``run_demo``) is built
once for the module, with one 32 px window and no traditional-method figure: these tests read a
finished stack and compare the algorithms with the core, not the offsets with the truth. The results are checked against sources independent of the
algorithms' glue: the core's ``extract_point_series`` called directly at the simulator's truth
points, the simulated baige-like history (its acceleration onset is the scenario's 2015-07-27
rate change, in five stages), and a synthetic landslide built here whose speed follows the
precipitation of two months earlier.
"""

from __future__ import annotations

import calendar
import csv
import json
from pathlib import Path

import numpy as np
import pytest
from osgeo import ogr
from qgis.core import (
    QgsApplication,
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingException,
    QgsProcessingParameterDefinition,
    QgsProject,
    QgsVectorLayer,
)

pytestmark = [pytest.mark.qgis, pytest.mark.slow]

PNG = b"\x89PNG\r\n\x1a\n"
#: (algorithm, a parameter for everyone, an expert parameter)
EXPERT = (
    ("point", "RADIUS_M", "DEM_VERTICAL"),
    ("stages", "COMPONENT", "PENALTY"),
    ("correlate", "PRECIP", "PERMUTATIONS"),
)


def _run(alg: str, params: dict) -> dict:
    import processing

    return processing.run(f"sarots:{alg}", params)


@pytest.fixture(scope="module")
def stack(provider, tmp_path_factory) -> Path:
    from processing_core.chain import RunOptions
    from processing_core.demo import run_demo

    out = tmp_path_factory.mktemp("analysis_demo")
    options = RunOptions(
        step_px=16,
        windows_px=(32,),
        search_px=16,
        tie_window_px=64,
        tie_step_px=16,
        compare_traditional=False,
    )
    run_demo(out, scenario="small", options=options)
    return out / "stack"


@pytest.fixture(scope="module")
def truth_points(stack: Path) -> list[tuple[str, float, float]]:
    with (stack / "truth" / "points.csv").open(newline="", encoding="utf-8") as f:
        return [(r["name"], float(r["lon"]), float(r["lat"])) for r in csv.DictReader(f)]


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _column(rows: list[dict[str, str]], key: str) -> np.ndarray:
    return np.array([float(r[key]) if r[key] else np.nan for r in rows])


def _gpkg_features(path: Path, layer: str) -> list[dict]:
    ds = ogr.Open(str(path))
    lyr = ds.GetLayerByName(layer)
    assert lyr is not None, f"{path} has no layer {layer}"
    out = []
    for feature in lyr:
        point = feature.GetGeometryRef()
        out.append({"xy": (point.GetX(), point.GetY()), **feature.items()})
    return out


@pytest.mark.parametrize(("alg", "plain", "expert"), EXPERT)
def test_identity_group_icon_help_expert_options(provider, alg: str, plain: str, expert: str) -> None:
    algorithm = QgsApplication.processingRegistry().createAlgorithmById(f"sarots:{alg}")
    assert (algorithm.groupId(), algorithm.group()) == ("analysis", "Analysis")
    assert Path(algorithm.svgIconPath()).name == "group_analysis.svg"
    assert Path(algorithm.svgIconPath()).is_file()
    assert len(algorithm.shortHelpString()) > 500
    assert f"processing_core {alg}" in algorithm.shortHelpString()  # names the CLI twin
    flags = {name: algorithm.parameterDefinition(name).flags() for name in (plain, expert)}
    assert not flags[plain] & QgsProcessingParameterDefinition.FlagAdvanced
    assert flags[expert] & QgsProcessingParameterDefinition.FlagAdvanced


def test_point_at_p2_equals_the_core_series(stack: Path, truth_points, tmp_path: Path) -> None:
    from processing_core.analysis.points import extract_point_series

    _, lon, lat = next(p for p in truth_points if p[0] == "P2")
    out_csv, gpkg, png = tmp_path / "p2.csv", tmp_path / "p2.gpkg", tmp_path / "p2.png"
    result = _run(
        "point",
        {
            "STACK": str(stack),
            "LON": lon,
            "LAT": lat,
            "OUTPUT_CSV": str(out_csv),
            "OUTPUT_GPKG": str(gpkg),
            "PLOT": str(png),
        },
    )
    assert (result["COUNT"], result["OUTPUT_CSV"], result["OUTPUT_GPKG"]) == (1, str(out_csv), str(gpkg))
    assert result["PLOT"] == str(png)
    assert png.read_bytes()[:8] == PNG
    assert (
        out_csv.read_text(encoding="utf-8").splitlines()[0] == "date,los_m,azimuth_m,los_std_m,azimuth_std_m"
    )
    rows = _csv(out_csv)
    expected = extract_point_series(stack, lon, lat)
    assert [r["date"] for r in rows] == [str(d) for d in expected.dates]
    for key in ("los_m", "azimuth_m", "los_std_m", "azimuth_std_m"):
        np.testing.assert_allclose(_column(rows, key), getattr(expected, key), atol=5e-7)  # %.6f in the CSV
    assert _column(rows, "los_m")[-1] < -10  # P2 moves away from the sensor
    for component, key in (("los", "los_m"), ("azimuth", "azimuth_m")):
        (feature,) = _gpkg_features(gpkg, f"points_{component}")
        assert feature["xy"] == pytest.approx((lon, lat), abs=1e-9)
        values = np.array([feature["D" + r["date"].replace("-", "")] for r in rows])
        np.testing.assert_allclose(values, _column(rows, key), atol=5e-7)


def test_points_layer_in_utm_gives_the_lon_lat_series(stack: Path, truth_points, tmp_path: Path) -> None:
    from pyproj import Transformer

    from processing_core.analysis.points import extract_point_series

    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32611", always_xy=True)
    layer = QgsVectorLayer("Point?crs=EPSG:32611&field=name:string", "truth points", "memory")
    features = []
    for name, lon, lat in truth_points:
        feature = QgsFeature(layer.fields())
        feature.setAttribute("name", name)
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(*to_utm.transform(lon, lat))))
        features.append(feature)
    assert layer.dataProvider().addFeatures(features)[0]
    out_csv, gpkg = tmp_path / "points.csv", tmp_path / "points.gpkg"
    result = _run(
        "point", {"STACK": str(stack), "POINTS": layer, "OUTPUT_CSV": str(out_csv), "OUTPUT_GPKG": str(gpkg)}
    )
    assert result["COUNT"] == 4
    rows = _csv(out_csv)
    assert list(rows[0])[:2] == ["name", "date"]
    los_layer = {f["name"]: f for f in _gpkg_features(gpkg, "points_los")}
    assert sorted(los_layer) == ["P1", "P2", "P3", "P4"]
    for name, lon, lat in truth_points:
        mine = [r for r in rows if r["name"] == name]
        expected = extract_point_series(stack, lon, lat)
        np.testing.assert_allclose(_column(mine, "los_m"), expected.los_m, atol=5e-7)
        np.testing.assert_allclose(_column(mine, "azimuth_m"), expected.azimuth_m, atol=5e-7)
        assert los_layer[name]["xy"] == pytest.approx((lon, lat), abs=1e-7)


def test_run_and_load_results_loads_points_los(stack: Path, truth_points, tmp_path: Path) -> None:
    import processing

    _, lon, lat = truth_points[0]
    gpkg = tmp_path / "loaded.gpkg"
    params = {
        "STACK": str(stack),
        "LON": lon,
        "LAT": lat,
        "OUTPUT_CSV": str(tmp_path / "p.csv"),
        "OUTPUT_GPKG": str(gpkg),
    }
    project = QgsProject.instance()
    before = set(project.mapLayers())
    processing.runAndLoadResults("sarots:point", params)
    added = [project.mapLayer(i) for i in set(project.mapLayers()) - before]
    try:
        assert [layer.source() for layer in added] == [f"{gpkg}|layername=points_los"]
        assert added[0].isValid()
        assert added[0].featureCount() == 1
    finally:
        project.removeMapLayers([layer.id() for layer in added])


@pytest.fixture(scope="module")
def baige_csv(tmp_path_factory) -> Path:
    """The baige-like scenario's true LOS history at P2, at its acquisition dates."""
    from processing_core.simulate import get_scenario

    scenario = get_scenario("baige-like")
    dates = np.array(sorted(scenario.dates()), dtype="datetime64[D]")
    path = tmp_path_factory.mktemp("baige") / "p2.csv"
    rows = "".join(f"{d},{v:.6f},0\n" for d, v in zip(dates, scenario.los_at_p2_m(dates)))
    path.write_text("date,los_m,azimuth_m\n" + rows, encoding="utf-8")
    return path


def test_stages_and_forecast_of_the_baige_like_history(baige_csv: Path, tmp_path: Path) -> None:
    out, stages_png, forecast_png = (
        tmp_path / "stages.json",
        tmp_path / "stages.png",
        tmp_path / "forecast.png",
    )
    result = _run(
        "stages",
        {
            "CSV": str(baige_csv),
            "OUTPUT_JSON": str(out),
            "PLOT_STAGES": str(stages_png),
            "PLOT_FORECAST": str(forecast_png),
        },
    )
    assert result["ONSET"] == "2015-07-27"  # the scenario's acceleration (PALSAR-2 period)
    assert result["N_STAGES"] == 5
    report = json.loads(out.read_text(encoding="utf-8"))
    assert set(report) == {"input", "stages", "forecast"}
    assert report["stages"]["onset"]["date"] == result["ONSET"]
    assert len(report["stages"]["stages"]) == 5
    forecast = report["forecast"]
    assert result["FAILURE_DATE"] == forecast["failure_date"] > "2017-07-24"  # after the last date
    assert result["FAILURE_CI_LOW"] == forecast["ci_low"] < forecast["failure_date"] < forecast["ci_high"]
    assert result["FAILURE_CI_HIGH"] == forecast["ci_high"]
    assert result["FIRST_WARNING"] == forecast["first_warning_date"] >= "2015-07-27"
    assert stages_png.read_bytes()[:8] == PNG
    assert forecast_png.read_bytes()[:8] == PNG


def test_stages_at_a_stack_point(stack: Path, truth_points, tmp_path: Path) -> None:
    _, lon, lat = next(p for p in truth_points if p[0] == "P2")
    out = tmp_path / "stages.json"
    result = _run(
        "stages", {"STACK": str(stack), "LON": lon, "LAT": lat, "COMPONENT": 0, "OUTPUT_JSON": str(out)}
    )
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["input"]["component"] == "los"
    assert report["input"]["source"].startswith(str(stack))
    assert result["N_STAGES"] == len(report["stages"]["stages"]) >= 1
    assert result["PLOT_STAGES"] == result["PLOT_FORECAST"] == ""


def _synthetic_lagged(tmp_path: Path, lag_months: int) -> tuple[Path, Path]:
    """A landslide whose speed is 10 + 2 x daily rain of ``lag_months`` earlier (mm/day), sampled
    every 14 days with 2 cm noise, and its monthly precipitation (a monsoon): CSV files."""
    rng = np.random.default_rng(5)
    months = np.arange(np.datetime64("2012-01"), np.datetime64("2019-01"))
    season = 10.0 + 250.0 * np.exp(-((((months.astype(int) % 12) + 1 - 7.5) / 1.3) ** 2))
    totals = season * rng.gamma(4.0, 0.25, len(months))
    days = np.arange(months[0].astype("datetime64[D]"), months[-1].astype("datetime64[D]") + 31)
    month_of_day = days.astype("datetime64[M]")
    index = (month_of_day - months[0]).astype(int)
    days_in = np.array([calendar.monthrange(int(str(m)[:4]), int(str(m)[5:7]))[1] for m in months])
    rain = totals[index] / days_in[index]  # mm/day, each month's total spread over its days
    shift = int(round(lag_months * 365.25 / 12))
    speed = 10.0 + 2.0 * rain[: len(days) - shift]  # on days[shift:]
    moved_m = np.concatenate([[0.0], np.cumsum(speed)]) / 1000.0  # at the start of days[shift:]
    start = np.datetime64("2014-10-06")
    dates = np.arange(start, np.datetime64("2018-08-07"), 14)
    at = (dates - days[shift]).astype(int)
    los = -(moved_m[at] - moved_m[at[0]]) + rng.normal(0.0, 0.02, len(dates))
    series = tmp_path / "lagged.csv"
    series.write_text("date,los_m,azimuth_m\n" + "".join(f"{d},{v:.6f},\n" for d, v in zip(dates, los)))
    precip = tmp_path / "precip.csv"
    precip.write_text("month,precip_mm\n" + "".join(f"{m},{v:.3f}\n" for m, v in zip(months, totals)))
    return series, precip


def test_correlation_finds_the_two_month_lag(tmp_path: Path) -> None:
    series, precip = _synthetic_lagged(tmp_path, 2)
    out, png = tmp_path / "corr.json", tmp_path / "corr.png"
    result = _run(
        "correlate", {"CSV": str(series), "PRECIP": str(precip), "OUTPUT_JSON": str(out), "PLOT": str(png)}
    )
    assert result["BEST_LAG_MONTHS"] == 2
    assert result["BEST_P"] < 0.01
    assert result["BEST_R"] > 0.8
    assert result["BACKSCATTER_BEST_LAG_MONTHS"] is None
    report = json.loads(out.read_text(encoding="utf-8"))["precipitation"]
    assert report["best_lag_months"] == 2
    assert report["source"] == str(precip)
    assert [lag["lag_months"] for lag in report["lags"]] == list(range(7))
    assert png.read_bytes()[:8] == PNG


def test_correlation_with_the_backscatter_of_the_stack(stack: Path, truth_points, tmp_path: Path) -> None:
    _, lon, lat = next(p for p in truth_points if p[0] == "P2")
    out = tmp_path / "bs.json"
    params = {"STACK": str(stack), "LON": lon, "LAT": lat, "BACKSCATTER": True, "WINDOW": "150,300,40,160"}
    result = _run("correlate", {**params, "MAX_LAG_MONTHS": 0, "PERMUTATIONS": 200, "OUTPUT_JSON": str(out)})
    report = json.loads(out.read_text(encoding="utf-8"))
    assert set(report) == {"input", "backscatter"}
    assert report["backscatter"]["region"]["window"] == [150, 300, 40, 160]
    assert len(report["backscatter"]["series"]) == 6  # one mean per rectified scene
    assert result["BEST_LAG_MONTHS"] == result["BACKSCATTER_BEST_LAG_MONTHS"] == 0
    assert result["BEST_R"] == pytest.approx(report["backscatter"]["best_r"])


def test_parameter_errors(stack: Path, baige_csv: Path, tmp_path: Path) -> None:
    outputs = {"OUTPUT_CSV": str(tmp_path / "p.csv"), "OUTPUT_GPKG": str(tmp_path / "p.gpkg")}
    with pytest.raises(
        QgsProcessingException, match="No points given: choose a points layer, or a longitude and latitude"
    ):
        _run("point", {"STACK": str(stack), **outputs})
    with pytest.raises(QgsProcessingException, match="longitude and the latitude of the point together"):
        _run("point", {"STACK": str(stack), "LON": -118.1, **outputs})
    with pytest.raises(QgsProcessingException, match=r"needs a GeoPackage file \(\.gpkg\)"):
        _run(
            "point",
            {
                "STACK": str(stack),
                "LON": -118.1,
                "LAT": 34.3,
                **outputs,
                "OUTPUT_GPKG": str(tmp_path / "p.shp"),
            },
        )
    assert not (tmp_path / "p.csv").exists()
    missing = tmp_path / "missing_precip.csv"
    corr = {"CSV": str(baige_csv), "OUTPUT_JSON": str(tmp_path / "c.json")}
    with pytest.raises(QgsProcessingException, match=rf"Precipitation CSV not found: .*{missing.name}"):
        _run("correlate", {**corr, "PRECIP": str(missing)})
    with pytest.raises(QgsProcessingException, match="No covariate given"):
        _run("correlate", corr)
    with pytest.raises(QgsProcessingException, match="No series given"):
        _run("stages", {"STACK": str(stack), "OUTPUT_JSON": str(tmp_path / "s.json")})
    with pytest.raises(QgsProcessingException, match=r"Time-series CSV not found: .*nope\.csv"):
        _run("stages", {"CSV": str(tmp_path / "nope.csv"), "OUTPUT_JSON": str(tmp_path / "s.json")})
    assert not (tmp_path / "c.json").exists()
    assert not (tmp_path / "s.json").exists()
