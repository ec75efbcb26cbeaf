"""Layer 1: the sar-scene/1 sidecar model (DESIGN.md contract)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from geometry_helpers import alos_scene

from processing_core.errors import SceneFormatError
from processing_core.scene import read_scene, scene_to_dict, write_scene
from processing_core.timeutil import format_utc, parse_utc


def test_round_trip_keeps_every_value_and_unknown_keys(tmp_path):
    scene = alos_scene()
    data = scene_to_dict(scene)
    data["calibration"] = {"k_db": -83.0}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    back = read_scene(path)
    assert back.radar_grid == scene.radar_grid
    assert back.orbit == scene.orbit
    assert back.extra["calibration"] == {"k_db": -83.0}
    write_scene(back, tmp_path / "t.json")
    again = json.loads((tmp_path / "t.json").read_text())
    assert again == data
    assert back.image_path == tmp_path / "ALOS_20080101.tif"


def test_times_are_utc_iso_with_z_and_nanosecond_exact():
    t = parse_utc("2015-07-27T05:12:33.123456789Z")
    assert format_utc(t, digits=9) == "2015-07-27T05:12:33.123456789Z"
    assert format_utc(t) == "2015-07-27T05:12:33.123456Z"
    with pytest.raises(ValueError, match="not an ISO-8601"):
        parse_utc("2015-07-27 05:12:33+02:00")


def _broken(tmp_path, mutate):
    data = scene_to_dict(alos_scene())
    mutate(data)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("wavelength_m"), "key 'wavelength_m' is missing"),
        (lambda d: d["radar_grid"].pop("lines"), "key 'radar_grid.lines' is missing"),
        (lambda d: d["radar_grid"].update(lines=0), "radar_grid.lines' must be a positive integer"),
        (lambda d: d.update(look_side="up"), "key 'look_side' must be one of right, left"),
        (lambda d: d.update(format="sar-scene/9"), "key 'format' must be 'sar-scene/1'"),
        (
            lambda d: d["orbit"][2].update(time=d["orbit"][1]["time"]),
            "state vector times must strictly increase",
        ),
        (lambda d: d["orbit"][0].update(position_m=[1.0, 2.0, 3.0]), r"orbit\[0\].position_m' is 0 km"),
        (lambda d: d.update(orbit=d["orbit"][:3]), "at least 4 state vectors"),
        (lambda d: d["radar_grid"].update(first_line_time="2008-01-01T07:00:00Z"), "not the scene's lines"),
        (lambda d: d["radar_grid"].update(first_line_time="yesterday"), "must be an ISO-8601 UTC time"),
        (lambda d: d.update(doppler_centroid_hz=[]), "doppler_centroid_hz' must be a non-empty list"),
        (lambda d: d.update(wavelength_m=float("nan")), "wavelength_m' must be a finite number"),
    ],
)
def test_bad_sidecar_names_file_and_key(tmp_path, mutate, message):
    path = _broken(tmp_path, mutate)
    with pytest.raises(SceneFormatError, match=message) as info:
        read_scene(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_unreadable_sidecars(tmp_path):
    with pytest.raises(SceneFormatError, match="scene sidecar not found"):
        read_scene(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SceneFormatError, match=r"bad.json: not valid JSON \(line 1"):
        read_scene(bad)


def test_scene_properties():
    scene = alos_scene(doppler_centroid_hz=(120.0, -0.01))
    assert scene.date == np.datetime64("2008-01-01")
    assert not scene.is_zero_doppler
    g = scene.radar_grid
    assert g.sample_of_range(g.range_of_sample(123.25)) == pytest.approx(123.25, abs=1e-9)


def test_readme_example_sidecar_is_valid_and_imports(tmp_path):
    """The hand-written sidecar of the README's "Scene interchange format" section works as documented."""
    from pathlib import Path

    from processing_core.geometry import RadarGeometry
    from processing_core.rasters import write_geotiff
    from processing_core.readers.importer import import_products

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("### Scene interchange format and generic input") :]
    block = section[
        section.index("```json") + len("```json") : section.index("```", section.index("```json") + 7)
    ]
    data = json.loads(block)
    sidecar = tmp_path / "products" / "tsx_20100601.json"
    sidecar.parent.mkdir()
    sidecar.write_text(block)
    grid = data["radar_grid"]
    write_geotiff(
        sidecar.parent / data["image"],
        [np.ones((grid["lines"], grid["samples"]), np.float32)],
        descriptions=["amplitude"],
    )
    scene = read_scene(sidecar)
    assert scene.platform == "TerraSAR-X"
    # The orbit covers the lines and the geometry is sensible: a right-looking X-band scene ~850 km away.
    geometry = RadarGeometry(scene)
    lat, lon, _ = geometry.rdr2geo(
        geometry.time_of_line(np.array([1000.0])), np.array([854308.801 + 750 * 4.683]), np.array([0.0])
    )
    back = geometry.geo2rdr(lat, lon, 0.0)
    assert float(back.line[0]) == pytest.approx(1000.0, abs=1e-3)
    stack = import_products([sidecar.parent], tmp_path / "stack")
    assert [s.platform for s in stack.scenes] == ["TerraSAR-X"]
    assert stack.scenes[0].date == "2010-06-01"


def test_geotiff_writer_blocks_equal_one_write_and_failure_leaves_nothing(tmp_path):
    from osgeo import gdal

    from processing_core.rasters import GeoTiffWriter, write_geotiff

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(300, 270)), rng.normal(size=(300, 270))
    whole = write_geotiff(tmp_path / "whole.tif", [a, b], descriptions=["a", "b"], metadata={"K": "v"})
    with GeoTiffWriter(tmp_path / "blocks.tif", a.shape, descriptions=["a", "b"], metadata={"K": "v"}) as w:
        assert not (tmp_path / "blocks.tif").exists()  # nothing under the final name until done
        for r0 in range(0, 300, 70):
            w.write(1, r0, 0, a[r0 : r0 + 70])
            w.write(2, r0, 0, b[r0 : r0 + 70])
        with pytest.raises(ValueError, match="overflows"):
            w.write(1, 290, 0, a[:20])
    one, two = gdal.Open(str(whole)), gdal.Open(str(tmp_path / "blocks.tif"))
    assert np.array_equal(one.ReadAsArray(), two.ReadAsArray())
    assert two.GetRasterBand(2).GetDescription() == "b"
    assert two.GetMetadata() == {"K": "v"}
    one = two = None

    def fail_halfway() -> None:
        with GeoTiffWriter(tmp_path / "failed.tif", (10, 10), descriptions=["a"]) as w:
            w.write(1, 0, 0, np.ones((5, 10)))
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        fail_halfway()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocks.tif", "whole.tif"]
    # before_commit sees the finished raster under its temporary name; its failure removes it.
    seen = []

    def measure(tmp):
        seen.append(
            (tmp.name, float(gdal.Open(str(tmp)).ReadAsArray().sum()), (tmp_path / "qc.tif").exists())
        )

    with GeoTiffWriter(tmp_path / "qc.tif", (4, 5), descriptions=["a"], before_commit=measure) as w:
        w.write(1, 0, 0, np.ones((4, 5)))
    assert seen == [(".qc.partial.tif", 20.0, False)]

    def refuse(tmp):
        raise ValueError("bad raster")

    with pytest.raises(ValueError, match="bad raster"):
        with GeoTiffWriter(tmp_path / "refused.tif", (4, 5), descriptions=["a"], before_commit=refuse) as w:
            w.write(1, 0, 0, np.ones((4, 5)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocks.tif", "qc.tif", "whole.tif"]
