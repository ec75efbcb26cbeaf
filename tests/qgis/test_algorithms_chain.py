"""The chain's algorithms through ``processing.run`` on a ``small`` simulated stack, and the model.

The stack is simulated once per module by ``sarots:simulate`` itself (seed 3: six scenes of
about 450 x 210 px, seconds) and its scenes imported by ``sarots:import`` into the stack the
steps run on, as the model does (the importer reads zero amplitude, the simulated radar
shadow, as no-data). The numbers are checked against sources independent of the code
under test: the paper's pair rule applied here to the stack's dates, the rectification QC, the
simulator's ground truth at the point P2 (``truth/P2.csv``), the DEM's CRS and extent, and the
step-by-step results for the model.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsPointXY,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputFolder,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterRasterLayer,
    QgsProject,
    QgsRasterLayer,
    QgsSingleBandPseudoColorRenderer,
)

pytestmark = [pytest.mark.qgis, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEM = REPO_ROOT / "resources" / "dem" / "bigtujunga_srtm30m_utm11.tif"
#: coarse offsets for speed: one 32 px window every 16 px (14 pairs in about 6 s)
OFFSETS = {"STEP_PX": 16, "WINDOWS": "32", "SEARCH_PX": 32}
#: the paper's lower bounds of the temporal baseline (days) and bridging images per side
PAPER_MIN_DAYS = {"ALOS": 300, "ALOS-2": 70}
PAPER_BRIDGE = 3
STACK_ALGORITHMS = ("pairs", "rectify", "offsets", "invert", "geocode")
GROUPS = {
    "simulate": ("simulation", "Simulation"),
    "pairs": ("timeseries", "Time series"),
    "rectify": ("geometry", "Geometry"),
    "offsets": ("offsets", "Offset tracking"),
    "invert": ("timeseries", "Time series"),
    "geocode": ("timeseries", "Time series"),
}
#: (algorithm, a parameter for everyone, an expert parameter)
EXPERT = (
    ("simulate", "SCENARIO", "SEED"),
    ("pairs", "MIN_DAYS_ALOS2", "MAX_BPERP_M"),
    ("rectify", "METHOD", "WINDOW_PX"),
    ("offsets", "WINDOWS", "MIN_SNR"),
    ("invert", "WEIGHTED", "MEMORY_MB"),
    ("geocode", "CRS", "RESAMPLING"),
)


class CancelAtFirstReport(QgsProcessingFeedback):
    """Presses Cancel as soon as the algorithm reports progress."""

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[float] = []

    def setProgress(self, progress: float) -> None:  # noqa: N802 - QGIS API
        super().setProgress(progress)
        self.reports.append(progress)
        self.cancel()


def _run(alg: str, params: dict, feedback: QgsProcessingFeedback | None = None) -> dict:
    import processing

    return processing.run(f"sarots:{alg}", params, feedback=feedback)


@pytest.fixture(scope="module")
def chain(provider, tmp_path_factory) -> dict:
    """Every step once, in order, from the import of the simulated scenes; keeps copies of the
    simulated stack and of the stack before offsets."""
    root = tmp_path_factory.mktemp("chain")
    dem = Path(shutil.copy(DEM, root))  # GDAL may write .aux.xml beside it: not in the checkout
    simulated = root / "simulated"
    stack = root / "stack"
    out = {"dem": dem, "stack": stack, "simulated": simulated}
    out["simulate"] = _run("simulate", {"SCENARIO": 1, "SEED": 3, "OUTPUT": str(simulated)})
    out["template"] = Path(shutil.copytree(simulated, root / "template"))
    out["import"] = _run("import", {"FOLDER": str(simulated / "scenes"), "OUTPUT": str(stack)})
    out["pairs"] = _run("pairs", {"STACK": str(stack)})
    out["rectify"] = _run("rectify", {"STACK": str(stack), "DEM": str(dem)})
    out["rectified"] = Path(shutil.copytree(stack, root / "rectified_copy"))
    out["offsets"] = _run("offsets", {"STACK": str(stack), **OFFSETS})
    out["invert"] = _run("invert", {"STACK": str(stack)})
    out["geocode"] = _run("geocode", {"STACK": str(stack)})
    return out


def _truth(stack: Path, name: str = "P2") -> tuple[dict, list[dict[str, str]]]:
    point = next(
        p for p in json.loads((stack / "truth" / "truth.json").read_text())["points"] if p["name"] == name
    )
    with (stack / "truth" / f"{name}.csv").open(newline="", encoding="utf-8") as f:
        return point, list(csv.DictReader(f))


def _tolerance_m(truth_m: np.ndarray) -> np.ndarray:
    """What offset tracking of 32 px chips should reach at P2 (see test_time_series_at_p2_matches_truth)."""
    return 1.5 + 0.1 * np.abs(truth_m)


@pytest.mark.parametrize("alg", sorted(GROUPS))
def test_identity_group_icon_help(provider, alg: str) -> None:
    algorithm = QgsApplication.processingRegistry().createAlgorithmById(f"sarots:{alg}")
    assert (algorithm.groupId(), algorithm.group()) == GROUPS[alg]
    assert Path(algorithm.svgIconPath()).name == f"group_{GROUPS[alg][0]}.svg"
    assert Path(algorithm.svgIconPath()).is_file()
    assert len(algorithm.shortHelpString()) > 500
    assert "processing_core" in algorithm.shortHelpString()  # names the CLI twin
    assert isinstance(algorithm.outputDefinition("STACK"), QgsProcessingOutputFolder)
    if alg == "simulate":
        assert isinstance(algorithm.parameterDefinition("OUTPUT"), QgsProcessingParameterFolderDestination)
    else:
        stack = algorithm.parameterDefinition("STACK")
        assert isinstance(stack, QgsProcessingParameterFile)
        assert stack.behavior() == QgsProcessingParameterFile.Folder


@pytest.mark.parametrize(("alg", "plain", "expert"), EXPERT)
def test_expert_options_are_advanced(provider, alg: str, plain: str, expert: str) -> None:
    algorithm = QgsApplication.processingRegistry().createAlgorithmById(f"sarots:{alg}")
    advanced = QgsProcessingParameterDefinition.FlagAdvanced
    assert not algorithm.parameterDefinition(plain).flags() & advanced
    assert algorithm.parameterDefinition(expert).flags() & advanced


def test_paper_defaults(provider) -> None:
    registry = QgsApplication.processingRegistry()
    pairs = registry.createAlgorithmById("sarots:pairs")
    assert pairs.parameterDefinition("MIN_DAYS_ALOS").defaultValue() == 300
    assert pairs.parameterDefinition("MIN_DAYS_ALOS2").defaultValue() == 70
    assert pairs.parameterDefinition("BRIDGE").defaultValue() == 3
    offsets = registry.createAlgorithmById("sarots:offsets")
    assert offsets.parameterDefinition("WINDOWS").defaultValue() == "64,96,128"
    assert "(px)" in offsets.parameterDefinition("STEP_PX").description()
    rectify = registry.createAlgorithmById("sarots:rectify")
    assert isinstance(rectify.parameterDefinition("DEM"), QgsProcessingParameterRasterLayer)
    assert rectify.parameterDefinition("METHOD").options()[0].startswith("improved")


def test_simulate_writes_the_small_scenario(chain) -> None:
    result, stack = chain["simulate"], chain["simulated"]
    assert result["OUTPUT"] == result["STACK"] == str(stack)
    assert result["SCENES"] == 6
    assert result["FINAL_MASTER"] == "PALSAR2_20160725"  # newest platform's master (stack.json)
    dates = [s["date"] for s in json.loads((stack / "stack.json").read_text())["scenes"]]
    _, rows = _truth(stack)
    assert [r["date"] for r in rows] == dates
    imported = json.loads((chain["stack"] / "stack.json").read_text())["scenes"]
    assert [s["date"] for s in imported] == dates
    assert chain["import"]["SCENES"] == 6
    assert gdal.Open(result["TRUTH_LOS"]).RasterCount == 6


def _paper_pairs(scenes: list[dict]) -> set[tuple[str, str]]:
    """The paper's rule, written out independently of processing_core.network."""
    by_platform: dict[str, list[tuple[dt.date, str]]] = {}
    for s in scenes:
        by_platform.setdefault(s["platform"], []).append((dt.date.fromisoformat(s["date"]), s["id"]))
    pairs = set()
    for platform, acq in by_platform.items():
        acq.sort()
        for i, (d1, a) in enumerate(acq):
            for d2, b in acq[i + 1 :]:
                if (d2 - d1).days >= PAPER_MIN_DAYS[platform]:
                    pairs.add((a, b))
    platforms = sorted(by_platform, key=lambda p: min(by_platform[p]))
    for early, late in zip(platforms, platforms[1:]):
        for _, a in by_platform[early][-PAPER_BRIDGE:]:
            for _, b in by_platform[late][:PAPER_BRIDGE]:
                pairs.add((a, b))
    return pairs


def test_pairs_follow_the_papers_rule(chain) -> None:
    stack, result = chain["stack"], chain["pairs"]
    data = json.loads((stack / "stack.json").read_text())
    expected = _paper_pairs(data["scenes"])
    # ALOS: 368, 593 d >= 300 (225 d is not); ALOS-2: 364, 728, 364 d >= 70; 3 x 3 bridges
    assert len(expected) == 2 + 3 + 9
    assert result["PAIRS"] == len(expected)
    assert {(p["reference"], p["secondary"]) for p in data["pairs"]} == expected
    with open(result["PAIRS_CSV"], newline="", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == len(expected)
    assert result["CONNECTED"] is True
    assert result["STACK"] == str(stack)
    assert result["FINAL_MASTER"] == chain["simulate"]["FINAL_MASTER"]


def test_rectified_scenes_are_aligned(chain) -> None:
    """QC of the paper's ortho-rectification: residual offsets of the tie points after the fit.

    Per scene, the RMS is the scatter of single 128 px tie points (about 30 per scene): in range,
    where the 28 km baseline's parallax lies, below 0.1 px; in azimuth up to 0.12 px on this
    small scene (the core's tests explain why). Their mean, the alignment error that remains, is
    below 0.05 px.
    """
    result, stack = chain["rectify"], chain["stack"]
    assert result["SCENES"] == 6
    assert result["RECTIFIED"] == str(stack / "rectified")
    assert (stack / "geometry" / "dem_lut.tif").is_file()
    worst = 0.0
    for scene in json.loads((stack / "stack.json").read_text())["scenes"]:
        qc = json.loads((stack / "rectified" / f"{scene['id']}.json").read_text())
        assert (stack / "rectified" / f"{scene['id']}.tif").is_file()
        if scene["id"] == result["FINAL_MASTER"]:
            continue
        assert qc["residual_sample_rms_px"] < 0.1, qc
        assert qc["residual_line_rms_px"] < 0.15, qc
        assert abs(qc["residual_sample_mean_px"]) < 0.05
        assert abs(qc["residual_line_mean_px"]) < 0.05
        worst = max(worst, qc["residual_sample_rms_px"], qc["residual_line_rms_px"])
    assert result["MAX_RESIDUAL_PX"] == pytest.approx(worst)


def test_traditional_rectification_is_worse(chain) -> None:
    """Without the DEM, 28 km of perpendicular baseline leave topographic parallax behind."""
    stack = chain["rectified"]
    result = _run("rectify", {"STACK": str(stack), "DEM": str(chain["dem"]), "METHOD": 1})
    assert result["RECTIFIED"] == str(stack / "rectified_traditional")
    assert len(list((stack / "rectified_traditional").glob("*.tif"))) == 6
    assert result["MAX_RESIDUAL_PX"] > 2 * chain["rectify"]["MAX_RESIDUAL_PX"]


def test_offsets_one_field_per_pair(chain) -> None:
    result, stack = chain["offsets"], chain["stack"]
    assert result["COMPUTED"] == chain["pairs"]["PAIRS"] == 14
    assert result["SKIPPED"] == 0
    assert result["OFFSETS"] == str(stack / "offsets")
    for path in result["FILES"]:
        ds = gdal.Open(path)
        assert ds.GetMetadataItem("STEP_PX") == "16"
        assert [ds.GetRasterBand(k + 1).GetDescription() for k in range(3)] == [
            "azimuth_px",
            "range_px",
            "snr",
        ]
    rerun = _run("offsets", {"STACK": str(stack), **OFFSETS})
    assert (rerun["COMPUTED"], rerun["SKIPPED"]) == (0, 14)  # resumable


def _node_value(path: Path, point: dict) -> np.ndarray:
    """Every band at the offset-grid node nearest to the point (ROW0/COL0/STEP_PX contract)."""
    ds = gdal.Open(str(path))
    row0, col0, step = (float(ds.GetMetadataItem(k)) for k in ("ROW0", "COL0", "STEP_PX"))
    r = int(round((point["line"] - row0) / step))
    c = int(round((point["sample"] - col0) / step))
    return ds.ReadAsArray()[:, r, c].astype(float)


def test_time_series_at_p2_matches_truth(chain) -> None:
    """P2 moves 41 m away from the sensor and 9 m along track in nine years.

    Offset tracking measures the mean motion of a 32 px chip (about 150 m in slant range) on
    a landslide whose motion tapers towards its edges and whose speckle decorrelates within
    weeks: a bias towards smaller motion of up to ~10 %, plus ~0.3 px noise (1.4 m at the 4.7 m
    PALSAR-1 range spacing) per pair. Hence 1.5 m + 10 % of the truth, at every date.
    """
    result = chain["invert"]
    point, rows = _truth(chain["simulated"])
    dates = [r["date"] for r in rows]
    assert result["DATES"] == ",".join(dates)
    assert result["PAIRS_USED"] == 14
    for key, column in (("LOS", "los_m"), ("AZIMUTH", "azimuth_m")):
        ds = gdal.Open(result[key])
        assert [ds.GetRasterBand(k + 1).GetDescription() for k in range(ds.RasterCount)] == [
            "D" + d.replace("-", "") for d in dates
        ]
        measured = _node_value(Path(result[key]), point)
        truth = np.array([float(r[column]) for r in rows])
        assert measured[0] == 0.0
        assert np.all(np.abs(measured - truth) <= _tolerance_m(truth)), (key, measured, truth)
    assert _node_value(Path(result["LOS"]), point)[-1] < -30.0  # away from the sensor
    assert Path(result["LOS_RATE"]).is_file()
    assert Path(result["AZIMUTH_RATE"]).is_file()


def test_invert_frame_choice_reaches_the_core(chain, tmp_path: Path) -> None:
    """FRAME: material by default (index 0), eulerian on request, recorded in invert.json."""
    invert = QgsApplication.processingRegistry().createAlgorithmById("sarots:invert")
    frame = invert.parameterDefinition("FRAME")
    assert frame.defaultValue() == 0
    assert frame.options()[0].startswith("Material")
    assert frame.options()[1].startswith("Eulerian")
    assert (
        json.loads((chain["stack"] / "timeseries" / "invert.json").read_text())["parameters"]["frame"]
        == "material"
    )
    copy = Path(shutil.copytree(chain["stack"], tmp_path / "stack"))
    _run("invert", {"STACK": str(copy), "FRAME": 1})
    summary = json.loads((copy / "timeseries" / "invert.json").read_text())
    assert summary["parameters"]["frame"] == "eulerian"
    assert summary["material_frame"] is None
    run = QgsApplication.processingRegistry().createAlgorithmById("sarots:run")
    assert run.parameterDefinition("FRAME").flags() & QgsProcessingParameterDefinition.FlagAdvanced


def test_geocoded_on_the_dem_grid(chain) -> None:
    result, stack = chain["geocode"], chain["stack"]
    assert result["OUTPUT"] == str(stack / "geocoded")
    assert len(result["FILES"]) == 10  # every timeseries/*.tif
    dem = QgsRasterLayer(str(chain["dem"]), "dem", "gdal")
    los = QgsRasterLayer(result["LOS"], "los", "gdal")
    assert los.isValid()
    assert los.crs() == dem.crs()
    assert dem.extent().contains(los.extent())
    assert (los.rasterUnitsPerPixelX(), los.rasterUnitsPerPixelY()) == (30.0, 30.0)
    assert los.bandName(6).endswith("D20170724")
    # The value at P2's map position (lat/lon of the truth, projected by QGIS) is its time series.
    point, rows = _truth(chain["simulated"])
    to_map = QgsCoordinateTransform(
        QgsCoordinateReferenceSystem("EPSG:4326"), los.crs(), QgsProject.instance().transformContext()
    )
    xy = to_map.transform(QgsPointXY(point["lon"], point["lat"]))
    last, ok = los.dataProvider().sample(xy, 6)
    assert ok
    truth = float(rows[-1]["los_m"])
    assert abs(last - truth) <= _tolerance_m(np.array(truth))


def test_geocode_to_another_crs_and_cell_size(chain, tmp_path: Path) -> None:
    stack = chain["stack"]
    result = _run(
        "geocode",
        {
            "STACK": str(stack),
            "INPUT": [str(stack / "timeseries" / "los.tif")],
            "CRS": "EPSG:32611",
            "RESOLUTION": 60.0,
            "OUTPUT": str(tmp_path / "geo"),
        },
    )
    assert [Path(p).name for p in result["FILES"]] == ["los_epsg32611.tif"]
    layer = QgsRasterLayer(result["LOS"], "los", "gdal")
    assert layer.crs().authid() == "EPSG:32611"
    assert layer.rasterUnitsPerPixelX() == pytest.approx(60.0)


def test_results_load_styled(chain, qgis_new_project) -> None:
    """runAndLoadResults (what the toolbox does) loads the products with the plugin's styles."""
    import processing

    processing.runAndLoadResults("sarots:invert", {"STACK": str(chain["stack"])})
    layers = {layer.name(): layer for layer in QgsProject.instance().mapLayers().values()}
    for name, suffix in (("LOS displacement (m)", " m"), ("LOS rate (m/yr)", " m/yr")):
        layer = layers[name]
        renderer = layer.renderer()
        assert isinstance(renderer, QgsSingleBandPseudoColorRenderer)
        assert renderer.band() == layer.bandCount()  # the last date / the whole span
        assert renderer.classificationMin() == pytest.approx(-renderer.classificationMax())
        assert renderer.classificationMax() > 0
        ramp = renderer.shader().rasterShaderFunction()
        assert ramp.legendSettings().suffix() == suffix
        items = ramp.colorRampItemList()
        assert items[len(items) // 2].value == pytest.approx(0.0, abs=1e-9)  # white at zero
    assert {"Azimuth displacement (m)", "Azimuth rate (m/yr)"} <= set(layers)


def test_cancel_stops_offset_tracking(chain, tmp_path: Path) -> None:
    stack = Path(shutil.copytree(chain["rectified"], tmp_path / "stack"))
    feedback = CancelAtFirstReport()
    with pytest.raises(QgsProcessingException, match="^Cancelled"):
        _run("offsets", {"STACK": str(stack), **OFFSETS}, feedback)
    assert len(feedback.reports) == 1
    assert not list((stack / "offsets").glob("*.tif"))  # nothing that looks finished
    steps = [entry["step"] for entry in json.loads((stack / "stack.json").read_text())["provenance"]]
    assert "offsets" not in steps


def test_model_is_in_the_toolbox(provider) -> None:
    model = QgsApplication.processingRegistry().createAlgorithmById("sarots:offset_tracking_chain")
    assert model is not None
    assert model.provider().id() == "sarots"
    children = model.childAlgorithms()
    chain = ("import", *STACK_ALGORITHMS)
    assert {c.algorithmId() for c in children.values()} == {f"sarots:{a}" for a in chain}
    (source,) = children["import"].parameterSources()["FOLDER"]
    assert source.parameterName() == "INPUT"
    for previous, child in zip(chain, chain[1:]):
        (source,) = children[child].parameterSources()["STACK"]
        assert (source.outputChildId(), source.outputName()) == (previous, "STACK")
    names = {p.name() for p in model.parameterDefinitions()}
    assert names >= {"INPUT", "import:STACK", "DEM", "STEP_PX", "WINDOWS"}
    assert isinstance(model.parameterDefinition("import:STACK"), QgsProcessingParameterFolderDestination)


def test_model_runs_end_to_end(chain, tmp_path: Path) -> None:
    """The model imports the simulated stack's scenes (sar-scene/1 sidecars) into a new stack and
    gives the step-by-step results."""
    stack = tmp_path / "stack"
    result = _run(
        "offset_tracking_chain",
        {
            "INPUT": str(chain["template"] / "scenes"),
            "import:STACK": str(stack),
            "DEM": str(chain["dem"]),
            **OFFSETS,
        },
    )
    assert result["import:STACK"] == str(stack)
    assert result["geocode:GEOCODED"] == str(stack / "geocoded")
    assert len(list((stack / "offsets").glob("*.tif"))) == 14
    for name in ("los.tif", "azimuth.tif"):
        mine = gdal.Open(str(stack / "geocoded" / name)).ReadAsArray()
        steps = gdal.Open(str(chain["stack"] / "geocoded" / name)).ReadAsArray()
        np.testing.assert_allclose(mine, steps, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("alg", STACK_ALGORITHMS)
def test_folder_without_stack_json(chain, tmp_path: Path, alg: str) -> None:
    empty = tmp_path / "not_a_stack"
    empty.mkdir()
    params = {"STACK": str(empty), "DEM": str(chain["dem"])} if alg == "rectify" else {"STACK": str(empty)}
    with pytest.raises(QgsProcessingException, match=r"no stack\.json.*not_a_stack"):
        _run(alg, params)


def test_text_file_given_as_the_stack(chain, tmp_path: Path) -> None:
    text = tmp_path / "stack.txt"
    text.write_text("not a stack\n", encoding="utf-8")
    with pytest.raises(QgsProcessingException, match=r"got a file: .*stack\.txt"):
        _run("pairs", {"STACK": str(text)})


def test_missing_dem(chain, tmp_path: Path) -> None:
    missing = tmp_path / "no_such_dem.tif"
    with pytest.raises(QgsProcessingException, match=r"DEM.*file not found: .*no_such_dem\.tif"):
        _run("rectify", {"STACK": str(chain["template"]), "DEM": str(missing)})


def test_dem_of_the_wrong_file_type(chain, tmp_path: Path) -> None:
    text = tmp_path / "dem.txt"
    text.write_text("1 2 3\n", encoding="utf-8")
    with pytest.raises(QgsProcessingException, match=r"not a raster GDAL can read: .*dem\.txt"):
        _run("rectify", {"STACK": str(chain["template"]), "DEM": str(text)})


def test_offsets_before_rectification_names_the_file(chain, tmp_path: Path) -> None:
    """A core error reaches the user with the core's message."""
    stack = Path(shutil.copytree(chain["template"], tmp_path / "stack"))
    _run("pairs", {"STACK": str(stack)})
    with pytest.raises(QgsProcessingException, match=r"rectified.*\.tif: rectified scene missing"):
        _run("offsets", {"STACK": str(stack), **OFFSETS})


def test_bad_window_sizes(chain) -> None:
    with pytest.raises(QgsProcessingException, match="Window sizes.*'64,abc'"):
        _run("offsets", {"STACK": str(chain["stack"]), "WINDOWS": "64,abc"})
    with pytest.raises(QgsProcessingException, match="all even or all odd"):
        _run("offsets", {"STACK": str(chain["stack"]), "WINDOWS": "64,97"})
