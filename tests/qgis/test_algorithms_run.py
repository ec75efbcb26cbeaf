"""The algorithms run through Processing on a small synthetic scene over the bundled DEM.

These check the glue: parameters reach the core, outputs come back, progress and
cancellation flow through the feedback. The numbers themselves are the core tests' business.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from qgis.core import QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback

from processing_core.orbitgen import synthetic_scene
from processing_core.scene import write_scene

pytestmark = pytest.mark.qgis

REPO_ROOT = Path(__file__).resolve().parents[2]
DEM = REPO_ROOT / "resources" / "dem" / "bigtujunga_srtm30m_utm11.tif"
CENTRE = (34.32, -118.15)  # inside the bundled Big Tujunga DEM


class ProgressFeedback(QgsProcessingFeedback):
    def __init__(self, cancel_at: float | None = None) -> None:
        super().__init__()
        self.values: list[float] = []
        self.cancel_at = cancel_at

    def setProgress(self, progress: float) -> None:  # noqa: N802 - QGIS API
        super().setProgress(progress)
        self.values.append(progress)
        if self.cancel_at is not None and progress >= self.cancel_at:
            self.cancel()


@pytest.fixture(scope="module")
def scene_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scene = synthetic_scene(
        scene_id="ALOS_20080101",
        centre_lat_deg=CENTRE[0],
        centre_lon_deg=CENTRE[1],
        centre_height_m=1000.0,
        centre_time=np.datetime64("2008-01-01T06:00:00"),
        lines=600,
        samples=400,
    )
    return write_scene(scene, tmp_path_factory.mktemp("scene") / "scene.json")


def _run(registry, alg_id: str, params: dict, feedback: QgsProcessingFeedback | None = None) -> dict:
    alg = registry.createAlgorithmById(alg_id)
    context = QgsProcessingContext()
    feedback = feedback or QgsProcessingFeedback()
    ok, message = alg.checkParameterValues(params, context)
    assert ok, message
    return alg.processAlgorithm(params, context, feedback)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_geo2rdr_then_rdr2geo(loaded_plugin, registry, scene_json: Path, tmp_path: Path) -> None:
    ground = tmp_path / "ground.csv"
    ground.write_text("name,lat,lon,height\nA,34.32,-118.15,1000\nB,34.33,-118.16,1200\n", encoding="utf-8")
    radar = tmp_path / "radar.csv"
    feedback = ProgressFeedback()
    result = _run(
        registry,
        "sarots:geo2rdr",
        {"SCENE": str(scene_json), "POINTS": str(ground), "OUTPUT": str(radar)},
        feedback,
    )
    assert result == {"OUTPUT": str(radar), "COUNT": 2}
    rows = _rows(radar)
    assert [row["name"] for row in rows] == ["A", "B"]
    assert {"azimuth_time", "slant_range_m", "line", "sample"} <= set(rows[0])

    back = tmp_path / "back.csv"
    result = _run(
        registry,
        "sarots:rdr2geo",
        {"SCENE": str(scene_json), "POINTS": str(radar), "OUTPUT": str(back)},
    )
    assert result["COUNT"] == 2
    assert {"lat", "lon"} <= set(_rows(back)[0])


def test_bad_points_csv_names_the_file(loaded_plugin, registry, scene_json: Path, tmp_path: Path) -> None:
    bad = tmp_path / "wrong_columns.csv"
    bad.write_text("x,y\n1,2\n", encoding="utf-8")
    with pytest.raises(QgsProcessingException, match="wrong_columns.csv"):
        _run(
            registry,
            "sarots:geo2rdr",
            {"SCENE": str(scene_json), "POINTS": str(bad), "OUTPUT": str(tmp_path / "out.csv")},
        )


@pytest.mark.slow
def test_lookup_writes_tables(loaded_plugin, registry, scene_json: Path, tmp_path: Path) -> None:
    dem = Path(shutil.copy(DEM, tmp_path))
    out = tmp_path / "lut"
    feedback = ProgressFeedback()
    result = _run(
        registry,
        "sarots:lookup",
        {
            "SCENE": str(scene_json),
            "DEM": str(dem),
            "DEM_VERTICAL": 0,
            "GROUND_LUT": False,
            "OUTPUT": str(out),
        },
        feedback,
    )
    assert result["OUTPUT"] == str(out)
    names = sorted(Path(p).name for p in result["FILES"])
    assert "simulated_intensity.tif" in names
    assert "ground_lut.tif" not in names  # GROUND_LUT=False reached the core
    assert all(Path(p).is_file() for p in result["FILES"])
    assert feedback.values
    assert feedback.values[-1] == pytest.approx(100.0)


def test_lookup_cancel_stops_the_core(loaded_plugin, registry, scene_json: Path, tmp_path: Path) -> None:
    dem = Path(shutil.copy(DEM, tmp_path))
    out = tmp_path / "lut"
    with pytest.raises(QgsProcessingException, match="^Cancelled"):
        _run(
            registry,
            "sarots:lookup",
            {"SCENE": str(scene_json), "DEM": str(dem), "OUTPUT": str(out)},
            ProgressFeedback(cancel_at=0.0),
        )
    assert not (out / "ground_lut.tif").exists()
