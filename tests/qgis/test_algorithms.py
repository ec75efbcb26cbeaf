"""The provider's algorithms: names, groups, parameters, help, icons, errors, progress."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterRasterLayer,
)

pytestmark = pytest.mark.qgis

REPO_ROOT = Path(__file__).resolve().parents[2]
DEM = REPO_ROOT / "resources" / "dem" / "bigtujunga_srtm30m_utm11.tif"

TITLES = {
    "sarots:geo2rdr": "Radar coordinates of ground points (geo2rdr)",
    "sarots:rdr2geo": "Ground coordinates of radar pixels (rdr2geo)",
    "sarots:lookup": "DEM lookup tables and simulated intensity",
}


class RecordingFeedback(QgsProcessingFeedback):
    """Keeps what an algorithm reports, for assertions."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[str] = []
        self.texts: list[str] = []

    def reportError(self, error: str, fatalError: bool = False) -> None:  # noqa: N802
        self.errors.append(error)

    def setProgressText(self, text: str) -> None:  # noqa: N802
        self.texts.append(text)


def _create(registry, alg_id: str) -> QgsProcessingAlgorithm:
    alg = registry.createAlgorithmById(alg_id)
    assert alg is not None, alg_id
    return alg


@pytest.mark.parametrize("alg_id", sorted(TITLES))
def test_algorithm_identity(loaded_plugin, registry, alg_id: str) -> None:
    alg = _create(registry, alg_id)
    assert alg.id() == alg_id
    assert alg.displayName() == TITLES[alg_id]
    assert alg.group() == "Geometry"
    assert alg.groupId() == "geometry"
    assert alg.provider().id() == "sarots"
    assert not alg.icon().isNull()
    assert Path(alg.svgIconPath()).is_file()
    assert len(alg.shortHelpString()) > 200
    assert alg.helpUrl().startswith("https://")
    clone = alg.createInstance()
    assert type(clone) is type(alg)
    assert clone is not alg


@pytest.mark.parametrize("alg_id", ["sarots:geo2rdr", "sarots:rdr2geo"])
def test_points_csv_parameters(loaded_plugin, registry, alg_id: str) -> None:
    alg = _create(registry, alg_id)
    names = [p.name() for p in alg.parameterDefinitions()]
    assert names == ["SCENE", "POINTS", "OUTPUT"]
    scene = alg.parameterDefinition("SCENE")
    assert isinstance(scene, QgsProcessingParameterFile)
    assert scene.behavior() == QgsProcessingParameterFile.File
    assert scene.extension() == "json"
    points = alg.parameterDefinition("POINTS")
    assert isinstance(points, QgsProcessingParameterFile)
    assert "*.csv" in points.fileFilter()
    out = alg.parameterDefinition("OUTPUT")
    assert isinstance(out, QgsProcessingParameterFileDestination)
    assert out.defaultFileExtension() == "csv"
    assert isinstance(alg.outputDefinition("COUNT"), QgsProcessingOutputNumber)
    columns = (
        ("lat,lon,height", "azimuth_time")
        if alg_id.endswith("geo2rdr")
        else ("line,sample,height", "lat,lon")
    )
    for column in columns:
        assert column in alg.shortHelpString()


def test_lookup_parameters(loaded_plugin, registry) -> None:
    alg = _create(registry, "sarots:lookup")
    names = [p.name() for p in alg.parameterDefinitions()]
    assert names == ["SCENE", "DEM", "DEM_VERTICAL", "GROUND_LUT", "OUTPUT"]
    assert alg.parameterDefinition("SCENE").extension() == "json"
    assert isinstance(alg.parameterDefinition("DEM"), QgsProcessingParameterRasterLayer)
    vertical = alg.parameterDefinition("DEM_VERTICAL")
    assert isinstance(vertical, QgsProcessingParameterEnum)
    assert len(vertical.options()) == 2
    assert "EGM96" in vertical.options()[0]
    assert vertical.defaultValue() == 0
    ground = alg.parameterDefinition("GROUND_LUT")
    assert isinstance(ground, QgsProcessingParameterBoolean)
    assert ground.defaultValue() is True
    assert isinstance(alg.parameterDefinition("OUTPUT"), QgsProcessingParameterFolderDestination)
    assert isinstance(alg.outputDefinition("FILES"), QgsProcessingOutputMultipleLayers)


def test_lookup_enum_maps_to_core_values(plugin_package) -> None:
    from sar_offset_tracking.plugin.algorithms.lookup import DEM_VERTICAL_OPTIONS, gdal_path_of

    assert [value for value, _ in DEM_VERTICAL_OPTIONS] == ["egm96", "ellipsoid"]
    assert gdal_path_of("/data/dem.tif|option:NUM_THREADS=2") == "/data/dem.tif"
    assert gdal_path_of("/data/dem.tif") == "/data/dem.tif"


def _bad_scene_parameters(alg_id: str, tmp_path: Path) -> tuple[dict, Path]:
    missing = tmp_path / "no_such_scene.json"
    points = tmp_path / "points.csv"
    points.write_text("lat,lon,height\n34.3,-118.1,1000\n", encoding="utf-8")
    if alg_id == "sarots:lookup":
        dem = Path(shutil.copy(DEM, tmp_path))  # GDAL may write .aux.xml beside it: not in the checkout
        params = {"SCENE": str(missing), "DEM": str(dem), "OUTPUT": str(tmp_path / "lut")}
    else:
        params = {"SCENE": str(missing), "POINTS": str(points), "OUTPUT": str(tmp_path / "out.csv")}
    return params, missing


@pytest.mark.parametrize("alg_id", sorted(TITLES))
def test_bad_scene_path_raises_processing_exception(loaded_plugin, registry, tmp_path, alg_id: str) -> None:
    alg = _create(registry, alg_id)
    params, missing = _bad_scene_parameters(alg_id, tmp_path)
    context = QgsProcessingContext()
    feedback = RecordingFeedback()
    ok, message = alg.checkParameterValues(params, context)
    assert ok, message  # well-formed parameters; the file itself is checked when running
    with pytest.raises(QgsProcessingException, match=missing.name):
        alg.processAlgorithm(params, context, feedback)


@pytest.mark.parametrize("alg_id", sorted(TITLES))
def test_bad_scene_path_through_run(loaded_plugin, registry, tmp_path, alg_id: str) -> None:
    """As Processing runs it: no result, and the reported error names the file."""
    alg = _create(registry, alg_id)
    params, missing = _bad_scene_parameters(alg_id, tmp_path)
    feedback = RecordingFeedback()
    results, ok = alg.run(params, QgsProcessingContext(), feedback)
    assert not ok
    assert any(missing.name in error for error in feedback.errors), feedback.errors
    assert not (tmp_path / "out.csv").exists()


def test_progress_adapter_reports_and_cancels(plugin_package) -> None:
    from sar_offset_tracking.plugin.corebridge import FeedbackProgress

    from processing_core.progress import Cancelled, report

    feedback = RecordingFeedback()
    progress = FeedbackProgress(feedback)
    assert progress(0.25, "orbit") is True
    assert feedback.progress() == pytest.approx(25.0)
    assert progress(2.0, "orbit") is True  # clamped, message shown once
    assert feedback.progress() == pytest.approx(100.0)
    assert feedback.texts == ["orbit"]
    report(progress, 0.5, "lines")  # the core's helper accepts it
    feedback.cancel()
    assert progress(0.6, "lines") is False
    with pytest.raises(Cancelled):
        report(progress, 0.7, "lines")


def test_progress_adapter_sub_range(plugin_package) -> None:
    from sar_offset_tracking.plugin.corebridge import FeedbackProgress

    feedback = RecordingFeedback()
    FeedbackProgress(feedback, start=50.0, stop=100.0)(0.5, "")
    assert feedback.progress() == pytest.approx(75.0)
    assert FeedbackProgress(None)(0.5, "no feedback") is True


def test_core_errors_become_processing_exceptions(plugin_package, tmp_path) -> None:
    from sar_offset_tracking.plugin.corebridge import core_errors, core_function, require_file

    from processing_core.errors import SceneFormatError
    from processing_core.progress import Cancelled

    with pytest.raises(QgsProcessingException, match=r"scene\.json: missing key 'orbit'"):
        with core_errors():
            raise SceneFormatError("scene.json: missing key 'orbit'\n(sar-scene/1)")
    with pytest.raises(QgsProcessingException, match="^Cancelled: "):
        with core_errors():
            raise Cancelled("cancelled at 40%")
    missing = tmp_path / "gone.csv"
    with pytest.raises(QgsProcessingException, match="gone.csv"):
        with core_errors():
            missing.open()
    with pytest.raises(ZeroDivisionError):  # programming errors are not hidden
        with core_errors():
            _ = 1 / 0
    with pytest.raises(QgsProcessingException, match="not found: .*gone.csv"):
        require_file(str(missing), "Points CSV")
    with pytest.raises(QgsProcessingException, match="is a folder"):
        require_file(str(tmp_path), "Points CSV")
    with pytest.raises(QgsProcessingException, match=r"processing_core\.no_such_module\.f cannot be loaded"):
        core_function("no_such_module", "f")
    assert core_function("progress", "report").__name__ == "report"
