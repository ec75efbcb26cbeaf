"""``sarots:import`` and ``sarots:run`` through ``processing.run`` on the ``small`` simulated stack.

The stack is simulated once per module by the core (seed 3: six scenes of about 450 x 210 px);
its ``scenes/`` folder of sar-scene/1 sidecars is what the import reads, as a user's folder of
hand-written sidecars. Checked against sources independent of the code under test: the source
sidecars and rasters, the DEM's CRS and the simulator's ground truth at the point P2.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import (
    QgsApplication,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputFolder,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFolderDestination,
    QgsProject,
    QgsRasterLayer,
    QgsSingleBandPseudoColorRenderer,
)

from processing_core.chain import STEPS
from processing_core.simulate import get_scenario, simulate_stack

pytestmark = [pytest.mark.qgis, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEM = REPO_ROOT / "resources" / "dem" / "bigtujunga_srtm30m_utm11.tif"
#: keys a reader adds to the interchange sidecar (where it came from, with which options)
READER_KEYS = {"product", "import"}
#: the small scenario's scenes are 450 x 210 px: windows of 32-64 px, tie points every 16 px
RUN = {
    "WINDOWS": "32,48,64",
    "STEP_PX": 16,
    "SEARCH_PX": 32,
    "TIE_WINDOW_PX": 64,
    "TIE_STEP_PX": 16,
}


class CancelPast(QgsProcessingFeedback):
    """Presses Cancel once the overall progress passes ``percent``.

    Listens to ``progressChanged``: a multi-step feedback sets its parent's progress from C++,
    past any Python override of ``setProgress``.
    """

    def __init__(self, percent: float) -> None:
        super().__init__()
        self.percent = percent
        self.values: list[float] = []
        self.progressChanged.connect(self._seen)

    def _seen(self, progress: float) -> None:
        self.values.append(progress)
        if progress > self.percent:
            self.cancel()


def _run(alg: str, params: dict, feedback: QgsProcessingFeedback | None = None) -> dict:
    import processing

    return processing.run(f"sarots:{alg}", params, feedback=feedback)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("import_run")
    dem = Path(shutil.copy(DEM, root))  # GDAL may write .aux.xml beside it: not in the checkout
    stack = simulate_stack(get_scenario("small"), dem, root / "simulated", seed=3)
    return {"root": root, "dem": dem, "simulated": stack.root}


@pytest.fixture(scope="module")
def imported(provider, simulated) -> dict:
    stack = simulated["root"] / "imported"
    result = _run("import", {"FOLDER": str(simulated["simulated"] / "scenes"), "OUTPUT": str(stack)})
    return {"stack": stack, "result": result}


@pytest.fixture(scope="module")
def finished(provider, simulated, imported) -> dict:
    """The chain on a copy of the imported stack: cancelled once past 30 %, then run again to the
    end (the rerun resumes: the scenes rectified before the cancel are not redone)."""
    stack = Path(shutil.copytree(imported["stack"], simulated["root"] / "run"))
    params = {"STACK": str(stack), "DEM": str(simulated["dem"]), **RUN}
    cancelled = CancelPast(30.0)
    try:
        _run("run", params, cancelled)
        error = ""
    except QgsProcessingException as exc:
        error = str(exc)
    after_cancel = {
        "error": error,
        "progress": cancelled.values,
        "los_written": (stack / "timeseries" / "los.tif").exists(),
        "log": (stack / "run.log").read_text(encoding="utf-8"),
    }
    feedback = CancelPast(101.0)  # records the progress only
    result = _run("run", params, feedback)
    return {"stack": stack, "result": result, "progress": feedback.values, "cancelled": after_cancel}


def _without_reader_keys(path: Path) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if k not in READER_KEYS}


def test_identity_of_import_and_run(provider) -> None:
    registry = QgsApplication.processingRegistry()
    imp = registry.createAlgorithmById("sarots:import")
    assert (imp.groupId(), imp.group()) == ("import", "Import")
    assert Path(imp.svgIconPath()).name == "group_import.svg"
    assert isinstance(imp.parameterDefinition("OUTPUT"), QgsProcessingParameterFolderDestination)
    assert isinstance(imp.outputDefinition("STACK"), QgsProcessingOutputFolder)
    run = registry.createAlgorithmById("sarots:run")
    assert (run.groupId(), run.group()) == ("", "")  # top level of the provider
    assert Path(run.svgIconPath()).name == "icon.svg"
    assert Path(run.svgIconPath()).is_file()
    for alg in (imp, run):
        assert len(alg.shortHelpString()) > 500
        assert "processing_core" in alg.shortHelpString()
    advanced = QgsProcessingParameterDefinition.FlagAdvanced
    assert run.parameterDefinition("WINDOWS").defaultValue() == "64,96,128"
    assert (
        run.parameterDefinition("STEP_PX").defaultValue(),
        run.parameterDefinition("SEARCH_PX").defaultValue(),
    ) == (
        8,
        32,
    )
    assert run.parameterDefinition("MIN_DAYS").defaultValue() == "ALOS=300, ALOS-2=70"
    assert run.parameterDefinition("BRIDGE").defaultValue() == 3
    assert run.parameterDefinition("STEPS").defaultValue() == list(range(len(STEPS)))
    advanced_names = ("MIN_DAYS", "MAX_DAYS", "BRIDGE", "WEIGHTED", "ROBUST", "TIE_WINDOW_PX", "TIE_STEP_PX")
    for name in (*advanced_names, "SCHEDULER", "DASK_WORKERS"):
        assert run.parameterDefinition(name).flags() & advanced, name
    for name in ("STACK", "DEM", "WINDOWS", "STEP_PX", "SEARCH_PX", "CRS", "COMPARE_TRADITIONAL", "STEPS"):
        assert not run.parameterDefinition(name).flags() & advanced, name


def test_import_sorts_the_scenes_by_date(imported, simulated) -> None:
    result, stack = imported["result"], imported["stack"]
    assert result["STACK"] == result["OUTPUT"] == str(stack)
    assert (result["SCENES"], result["IMPORTED"]) == (6, 6)
    assert result["PLATFORMS"] == "ALOS,ALOS-2"
    data = json.loads((stack / "stack.json").read_text(encoding="utf-8"))
    dates = [s["date"] for s in data["scenes"]]
    assert len(dates) == 6
    assert dates == sorted(dates)
    assert {s["platform"] for s in data["scenes"]} == {"ALOS", "ALOS-2"}
    assert data["masters"] == {}  # chosen by the pairs step
    source = json.loads((simulated["simulated"] / "stack.json").read_text(encoding="utf-8"))
    assert [s["id"] for s in data["scenes"]] == [s["id"] for s in source["scenes"]]
    for scene in data["scenes"]:
        mine = stack / scene["sidecar"]
        theirs = simulated["simulated"] / "scenes" / mine.name
        assert _without_reader_keys(mine) == _without_reader_keys(theirs)
        a = gdal.Open(str(mine.with_suffix(".tif"))).ReadAsArray()
        b = gdal.Open(str(theirs.with_suffix(".tif"))).ReadAsArray()
        np.testing.assert_array_equal(a[b != 0], b[b != 0])  # zero amplitude becomes no-data


def test_import_again_skips_what_is_up_to_date(imported, simulated, tmp_path: Path) -> None:
    stack = Path(shutil.copytree(imported["stack"], tmp_path / "stack"))
    sidecars = sorted((simulated["simulated"] / "scenes").glob("*.json"))
    result = _run("import", {"FILES": [str(p) for p in sidecars[:2]], "OUTPUT": str(stack)})
    assert (result["SCENES"], result["IMPORTED"]) == (6, 0)


def test_import_files_and_multilook(provider, simulated, tmp_path: Path) -> None:
    sidecar = sorted((simulated["simulated"] / "scenes").glob("PALSAR2_*.json"))[0]
    result = _run("import", {"FILES": [str(sidecar)], "MULTILOOK": "2x3", "OUTPUT": str(tmp_path / "s")})
    assert (result["SCENES"], result["PLATFORMS"]) == (1, "ALOS-2")
    grid = json.loads(sidecar.read_text(encoding="utf-8"))["radar_grid"]
    ds = gdal.Open(str(tmp_path / "s" / "scenes" / sidecar.with_suffix(".tif").name))
    assert (ds.RasterYSize, ds.RasterXSize) == (grid["lines"] // 2, grid["samples"] // 3)


def test_import_without_inputs(provider, tmp_path: Path) -> None:
    with pytest.raises(QgsProcessingException, match="No products given"):
        _run("import", {"OUTPUT": str(tmp_path / "stack")})


def test_import_of_an_empty_folder_names_it(provider, tmp_path: Path) -> None:
    empty = tmp_path / "empty_folder"
    empty.mkdir()
    with pytest.raises(QgsProcessingException, match=r"empty_folder: no SAR product found"):
        _run("import", {"FOLDER": str(empty), "OUTPUT": str(tmp_path / "stack")})
    assert not (tmp_path / "stack" / "stack.json").exists()


def test_import_of_a_text_file_names_it(provider, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a product\n", encoding="utf-8")
    with pytest.raises(QgsProcessingException, match=r"notes\.txt: unknown product kind"):
        _run("import", {"FILES": [str(text)], "OUTPUT": str(tmp_path / "stack")})


def test_import_bad_multilook(provider, simulated, tmp_path: Path) -> None:
    with pytest.raises(QgsProcessingException, match=r"Multilook: expected AZxRG.*'2by2'"):
        _run(
            "import",
            {"FOLDER": str(simulated["simulated"] / "scenes"), "MULTILOOK": "2by2", "OUTPUT": str(tmp_path)},
        )


def _p2(simulated: Path) -> tuple[dict[str, str], list[dict[str, str]]]:
    with (simulated / "truth" / "points.csv").open(newline="", encoding="utf-8") as f:
        point = next(row for row in csv.DictReader(f) if row["name"] == "P2")
    with (simulated / "truth" / "P2.csv").open(newline="", encoding="utf-8") as f:
        return point, list(csv.DictReader(f))


def test_run_full_chain(finished, simulated) -> None:
    result, stack = finished["result"], finished["stack"]
    assert result["STACK"] == str(stack)
    assert result["REPORT"] == str(stack / "report" / "report.html")
    assert Path(result["REPORT"]).stat().st_size > 1000
    assert list(json.loads(result["STEP_SECONDS"])) == list(STEPS)
    # the masters the pairs step chose for the imported stack are the simulator's
    masters = json.loads((stack / "stack.json").read_text(encoding="utf-8"))["masters"]
    assert (
        masters["final"]
        == json.loads((simulated["simulated"] / "stack.json").read_text())["masters"]["final"]
    )
    # geocoded in the DEM's CRS
    los = QgsRasterLayer(result["LOS"], "los", "gdal")
    assert los.isValid()
    assert Path(result["LOS"]) == stack / "geocoded" / "los.tif"
    assert los.crs() == QgsRasterLayer(str(simulated["dem"]), "dem", "gdal").crs()
    for name in ("AZIMUTH", "LOS_RATE", "AZIMUTH_RATE"):
        assert Path(result[name]).is_file()
    # the time series at P2's nearest offset-grid node (ROW0/COL0/STEP_PX) against the truth
    point, rows = _p2(simulated["simulated"])
    ds = gdal.Open(str(stack / "timeseries" / "los.tif"))
    row0, col0, step = (float(ds.GetMetadataItem(k)) for k in ("ROW0", "COL0", "STEP_PX"))
    assert step == 16
    r = round((float(point["line"]) - row0) / step)
    c = round((float(point["sample"]) - col0) / step)
    series = ds.ReadAsArray()[:, r, c].astype(float)
    truth = float(rows[-1]["los_m"])
    assert truth < -30.0  # P2 moved about 41 m away from the sensor
    assert abs(series[-1] - truth) <= 0.15 * abs(truth), (series, truth)
    # one multi-step progress bar, never going back
    progress = finished["progress"]
    assert progress == sorted(progress)
    assert progress[-1] == pytest.approx(100.0)


def test_run_only_some_steps_and_load_the_products(finished, simulated, qgis_new_project) -> None:
    """A rerun of two steps on the finished stack, as the toolbox runs it (results loaded): both
    steps up to date, the geocoded products loaded with the diverging style."""
    import processing

    result = processing.runAndLoadResults(
        "sarots:run",
        {"STACK": str(finished["stack"]), "DEM": str(simulated["dem"]), **RUN, "STEPS": [3, 4]},
    )
    assert list(json.loads(result["STEP_SECONDS"])) == ["invert", "geocode"]
    assert result["LOS"] == finished["result"]["LOS"]
    assert result["REPORT"] == ""
    layers = {layer.name(): layer for layer in QgsProject.instance().mapLayers().values()}
    for name in ("Geocoded LOS displacement (m)", "Geocoded LOS rate (m/yr)"):
        renderer = layers[name].renderer()
        assert isinstance(renderer, QgsSingleBandPseudoColorRenderer)
        assert renderer.classificationMin() == pytest.approx(-renderer.classificationMax())


def test_cancel_the_run(finished) -> None:
    """Cancel once past 30 % (in the rectification: six steps, 16.7 % each): a clear message, no
    time series that looks finished, the stop in the log; the rerun above finished from there."""
    cancelled = finished["cancelled"]
    assert "Cancelled" in cancelled["error"]
    assert max(cancelled["progress"]) < 50.0
    assert not cancelled["los_written"]
    assert "stopped" in cancelled["log"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"WINDOWS": "32,x"}, r"Window sizes.*'32,x'"),
        ({"MIN_DAYS": "ALOS=soon"}, r"PLATFORM=DAYS.*'ALOS=soon'"),
        ({"STEPS": []}, r"STEPS"),
        ({"CRS": "EPSG:32611"}, r"cell size together"),
        ({"SCHEDULER": "my cluster"}, r"scheduler must be 'local' or a dask scheduler address.*'my cluster'"),
        ({"DASK_WORKERS": 2}, r"workers sets the size of a local Dask cluster"),
    ],
)
def test_run_bad_parameters(imported, simulated, params: dict, message: str) -> None:
    with pytest.raises(QgsProcessingException, match=message):
        _run("run", {"STACK": str(imported["stack"]), "DEM": str(simulated["dem"]), **params})


def test_run_on_a_folder_without_stack_json(provider, simulated, tmp_path: Path) -> None:
    with pytest.raises(QgsProcessingException, match=r"no stack\.json"):
        _run("run", {"STACK": str(tmp_path), "DEM": str(simulated["dem"])})


def test_run_passes_the_dask_scheduler_to_the_chain(provider, simulated) -> None:
    """SCHEDULER / DASK_WORKERS reach RunOptions as given; empty means in process."""
    from qgis.core import QgsProcessingContext

    run = QgsApplication.processingRegistry().createAlgorithmById("sarots:run")
    context = QgsProcessingContext()
    base = {"STACK": "stack", "DEM": str(simulated["dem"])}
    options = run.run_options({**base, "SCHEDULER": " local ", "DASK_WORKERS": 2}, context)
    assert (options.scheduler, options.workers) == ("local", 2)
    options = run.run_options({**base, "SCHEDULER": "tcp://10.0.0.5:8786"}, context)
    assert (options.scheduler, options.workers) == ("tcp://10.0.0.5:8786", None)
    options = run.run_options(base, context)
    assert (options.scheduler, options.workers) == (None, None)


def test_run_and_offsets_pass_the_speckle_filter(provider, simulated, monkeypatch) -> None:
    """PREFILTER / SMOOTH_PX / MIN_SNR reach the chain's and the offsets' parameters."""
    from qgis.core import QgsProcessingContext

    import processing_core.offsets

    registry = QgsApplication.processingRegistry()
    context = QgsProcessingContext()
    run = registry.createAlgorithmById("sarots:run")
    base = {"STACK": "stack", "DEM": str(simulated["dem"])}
    sqrt = [o.startswith("square root") for o in run.parameterDefinition("PREFILTER").options()].index(True)
    options = run.run_options({**base, "PREFILTER": sqrt, "SMOOTH_PX": 1.0, "MIN_SNR": 10.0}, context)
    params = options.offset_parameters()
    assert (params.prefilter, params.smooth_px, params.min_snr) == ("sqrt", 1.0, 10.0)
    assert run.run_options(base, context).offset_parameters().smooth_px == 0.0
    seen: list = []
    monkeypatch.setattr(
        processing_core.offsets, "track_stack", lambda *a, parameters, **k: seen.append(parameters) or []
    )
    _run("offsets", {"STACK": str(simulated["simulated"]), "PREFILTER": sqrt, "SMOOTH_PX": 1.5})
    assert (seen[-1].prefilter, seen[-1].smooth_px) == ("sqrt", 1.5)
    with pytest.raises(QgsProcessingException, match="smooth_px"):
        run.run_options({**base, "SMOOTH_PX": 9.0}, context)
