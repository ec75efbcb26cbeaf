"""CLI contract of geo2rdr / rdr2geo / lookup / demo (DESIGN.md), run as subprocesses."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "core"))

from cli_runner import cli  # noqa: E402
from geometry_helpers import BIGTUJUNGA, alos_scene  # noqa: E402
from sentinel1_fixture import geolocation_grid, scene_dict  # noqa: E402

from processing_core.geometry import RadarGeometry  # noqa: E402
from processing_core.scene import scene_from_dict, write_scene  # noqa: E402


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_geo2rdr_and_rdr2geo_csv_on_esa_grid(tmp_path):
    sidecar = write_scene(scene_from_dict(scene_dict()), tmp_path / "s1.json")
    grid = geolocation_grid()
    with (tmp_path / "in.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "lat", "lon", "height"])
        for i in range(0, 210, 7):
            writer.writerow([f"p{i}", repr(grid.lat_deg[i]), repr(grid.lon_deg[i]), repr(grid.height_m[i])])
    result = cli(
        "geo2rdr",
        "--scene",
        str(sidecar),
        "--points",
        str(tmp_path / "in.csv"),
        "--out",
        str(tmp_path / "radar.csv"),
    )
    assert result.returncode == 0, result.stderr
    rows = _rows(tmp_path / "radar.csv")
    assert list(rows[0]) == ["id", "lat", "lon", "height", "azimuth_time", "slant_range_m", "line", "sample"]
    assert len(rows) == 30
    for row, i in zip(rows, range(0, 210, 7)):
        assert row["azimuth_time"].endswith("Z")
        dt = (np.datetime64(row["azimuth_time"][:-1], "ns") - grid.azimuth_time[i]) / np.timedelta64(1, "ns")
        assert abs(dt) < 1e4  # 1e-5 s
        assert abs(float(row["slant_range_m"]) - grid.slant_range_m[i]) < 0.05
    # rdr2geo takes line, sample, height and must land on ESA's lat/lon again.
    result = cli(
        "rdr2geo",
        "--scene",
        str(sidecar),
        "--points",
        str(tmp_path / "radar.csv"),
        "--out",
        str(tmp_path / "geo.csv"),
    )
    assert result.returncode == 0, result.stderr
    for row, i in zip(_rows(tmp_path / "geo.csv"), range(0, 210, 7)):
        assert abs(float(row["lat"]) - grid.lat_deg[i]) < 1e-6
        assert abs(float(row["lon"]) - grid.lon_deg[i]) < 1e-6


def test_csv_errors_are_one_line_and_name_the_file(tmp_path):
    sidecar = write_scene(alos_scene(lines=500, samples=400), tmp_path / "a.json")
    bad = tmp_path / "bad.csv"
    bad.write_text("lat,lon\n34.3,-118.1\n")
    result = cli("geo2rdr", "--scene", str(sidecar), "--points", str(bad), "--out", str(tmp_path / "o.csv"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {bad}: missing column(s) height; found lat, lon"
    bad.write_text("line,sample,height\n10,20,abc\n")
    result = cli("rdr2geo", "--scene", str(sidecar), "--points", str(bad), "--out", str(tmp_path / "o.csv"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {bad}: row 2, column height: 'abc' is not a number"
    bad.write_text("line,sample,height\n900000,20,0\n")
    result = cli("rdr2geo", "--scene", str(sidecar), "--points", str(bad), "--out", str(tmp_path / "o.csv"))
    assert result.returncode == 2
    assert "outside the orbit span" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.csv").exists()


def test_lookup_command_writes_tables(tmp_path):
    scene = alos_scene(lines=600, samples=500)
    sidecar = write_scene(scene, tmp_path / "a.json")
    result = cli(
        "lookup",
        "--scene",
        str(sidecar),
        "--dem",
        str(BIGTUJUNGA),
        "--out",
        str(tmp_path / "lut"),
        "--no-radar-lut",
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "lut").iterdir()) == [
        "dem_lut.tif",
        "layover_shadow.tif",
        "simulated_intensity.tif",
    ]
    ds = gdal.Open(str(tmp_path / "lut" / "dem_lut.tif"))
    line = ds.GetRasterBand(1).ReadAsArray()
    sample = ds.GetRasterBand(2).ReadAsArray()
    ok = np.isfinite(line)
    assert ok.any()
    assert line[ok].min() >= -0.5
    assert sample[ok].max() <= 499.5


def test_demo_runs_on_bundled_dem(tmp_path):
    """The README's demo code path, on the small scenario (the baige-like one takes minutes)."""
    out = tmp_path / "demo"
    result = make_demo(out)
    assert result.returncode == 0, result.stderr
    stack = json.loads((out / "stack" / "stack.json").read_text())
    assert len(stack["scenes"]) == 6
    assert f"report {out}/stack/report/report.html" in result.stdout
    assert (out / "stack" / "report" / "report.html").exists()
    assert (out / "overview.png").stat().st_size > 10000
    master_id = stack["masters"]["final"]
    # The geocoded LOS series sits on the DEM's grid, in its CRS.
    los = gdal.Open(str(out / "stack" / "geocoded" / "los.tif"))
    dem = gdal.Open(str(REPO_ROOT / "resources" / "dem" / "bigtujunga_srtm30m_utm11.tif"))
    assert los.RasterCount == 6
    assert los.GetGeoTransform()[1] == pytest.approx(dem.GetGeoTransform()[1])
    assert los.GetSpatialRef().IsSame(dem.GetSpatialRef())
    # The master's radar->ground table sends its pixels back where geo2rdr of its refined sidecar puts them.
    sidecar = out / "stack" / "geometry" / "refined" / f"{master_id}.json"
    geometry = RadarGeometry(scene_from_dict(json.loads(sidecar.read_text())))
    ground = gdal.Open(str(out / "stack" / "geometry" / "ground_lut.tif"))
    assert (ground.RasterYSize, ground.RasterXSize) == (geometry.grid.lines, geometry.grid.samples)
    lat, lon, h = (ground.GetRasterBand(i).ReadAsArray()[::37, ::23] for i in (1, 2, 3))
    assert np.isfinite(lat).mean() > 0.99
    ok = np.isfinite(lat)
    back = geometry.geo2rdr(lat[ok], lon[ok], h[ok])
    lines, samples = np.meshgrid(
        np.arange(0, geometry.grid.lines, 37), np.arange(0, geometry.grid.samples, 23), indexing="ij"
    )
    assert np.abs(back.line - lines[ok]).max() < 1e-3
    assert np.abs(back.sample - samples[ok]).max() < 1e-3
    # The QGIS project opens with its layers valid, styled and in the DEM's place.
    assert f"QGIS project: {out / 'stack' / 'project.qgz'}" in result.stdout
    check = subprocess.run(
        ["/usr/bin/python3", "-c", PROJECT_CHECK, str(out / "stack" / "project.qgz")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert check.returncode == 0, check.stderr
    layers = json.loads(check.stdout.strip().splitlines()[-1])
    by_name = {layer["name"]: layer for layer in layers}
    assert {"LOS rate (m/yr)", "LOS displacement (m)", "Points los (m)", "DEM (hillshade)"} <= set(by_name)
    assert all(layer["valid"] for layer in layers)
    dem_extent = by_name["DEM (hillshade)"]["extent"]
    rate = by_name["LOS rate (m/yr)"]
    assert rate["crs"] == by_name["DEM (hillshade)"]["crs"] == dem.GetSpatialRef().GetAuthorityCode(None)
    assert rate["renderer"] == "singlebandpseudocolor"
    assert rate["min"] == pytest.approx(-rate["max"])  # the ramp is centred on zero
    x0, y0, x1, y1 = rate["extent"]
    assert dem_extent[0] <= x0 < x1 <= dem_extent[2]
    assert dem_extent[1] <= y0 < y1 <= dem_extent[3]
    assert by_name["Points los (m)"]["features"] == 4  # P1-P4, with DYYYYMMDD columns
    assert "D" + stack["scenes"][-1]["date"].replace("-", "") in by_name["Points los (m)"]["fields"]
    # Rerunning the demo continues (here: finds everything done) instead of starting over.
    stamp = (out / "stack" / "timeseries" / "los.tif").stat().st_mtime_ns
    again = make_demo(out)
    assert again.returncode == 0, again.stderr
    assert (out / "stack" / "timeseries" / "los.tif").stat().st_mtime_ns == stamp


PROJECT_CHECK = """
import json, sys
from qgis.core import QgsApplication, QgsProject, QgsRasterLayer, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
project = QgsProject.instance()
assert project.read(sys.argv[1]), sys.argv[1]
out = []
for layer in project.mapLayers().values():
    e = layer.extent()
    item = {"name": layer.name(), "valid": layer.isValid(), "crs": layer.crs().authid().split(":")[-1],
            "extent": [e.xMinimum(), e.yMinimum(), e.xMaximum(), e.yMaximum()]}
    if isinstance(layer, QgsRasterLayer):
        r = layer.renderer()
        item["renderer"] = r.type()
        if r.type() == "singlebandpseudocolor":
            item["min"], item["max"] = r.classificationMin(), r.classificationMax()
    if isinstance(layer, QgsVectorLayer):
        item["features"] = layer.featureCount()
        item["fields"] = [f.name() for f in layer.fields()]
    out.append(item)
print(json.dumps(out))
app.exitQgis()
"""


def make_demo(out: Path) -> subprocess.CompletedProcess[str]:
    """The README's demo command (``make demo``), on the small scenario, into ``out``."""
    return subprocess.run(
        ["make", "demo", f"DEMO_OUT={out}", "DEMO_ARGS=--scenario small"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
