"""import_products: a folder of mixed products (PALSAR-1 folder, PALSAR-2 zips, a Sentinel-1
SAFE, a hand-written sidecar) into a stack folder, sorted by date; resuming; clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from ceos_writer import spec_from_scene, write_product
from osgeo import gdal
from safe_copy import azimuth_cut, copy_safe
from sentinel1_fixture import scene_dict

from processing_core.errors import ProductError
from processing_core.orbitgen import synthetic_scene
from processing_core.readers.importer import import_products
from processing_core.scene import read_scene, scene_to_dict
from processing_core.stack import load_stack


def _slc(seed: int, shape=(48, 36)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)


def _truth(time: str, **kwargs):
    return synthetic_scene(
        scene_id="t",
        centre_lat_deg=34.32,
        centre_lon_deg=-118.15,
        centre_height_m=1000.0,
        centre_time=np.datetime64(time),
        lines=48,
        samples=36,
        **kwargs,
    )


def write_generic(folder: Path, amplitude: np.ndarray) -> Path:
    """A GeoTIFF plus a sidecar as a user would write it by hand (README example)."""
    folder.mkdir(parents=True)
    truth = _truth("2010-06-01T06:00:00", doppler_centroid_hz=(120.0, -0.02))
    rows, cols = amplitude.shape
    ds = gdal.GetDriverByName("GTiff").Create(
        str(folder / "tsx_20100601.tif"), cols, rows, 1, gdal.GDT_Float32
    )
    ds.GetRasterBand(1).WriteArray(amplitude)
    ds = None
    sidecar = scene_to_dict(truth)
    sidecar.update(
        id="TSX_20100601", platform="TerraSAR-X", sensor="SAR-X", mode="SM", image="tsx_20100601.tif"
    )
    path = folder / "tsx_20100601.json"
    path.write_text(json.dumps(sidecar, indent=2), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def incoming(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("incoming")
    hh, hv = _slc(1), _slc(2)
    write_product(
        spec_from_scene(
            _truth("2015-07-27T05:12:33"), "ALOS-2", "ALOS2065432100-150727-FBDR1.1__A", {"HH": hh, "HV": hv}
        ),
        base,
        zip_name="0000111_ALOS2065432100-150727.zip",
    )
    write_product(  # the next frame of the same pass: same day, 10 s later
        spec_from_scene(
            _truth("2015-07-27T05:12:43"), "ALOS-2", "ALOS2065432110-150727-FBDR1.1__A", {"HH": _slc(3)}
        ),
        base,
        zip_name="0000112_ALOS2065432110-150727.zip",
    )
    write_product(
        spec_from_scene(_truth("2008-01-01T06:00:00"), "ALOS", "ALPSRP123456780-H1.1__A", {"HH": _slc(4)}),
        base / "alos1" / "ALPSRP123456780",
    )
    copy_safe(base / "s1", azimuth_cut(400), ramp=False)
    write_generic(base / "generic", np.arange(48 * 36, dtype=np.float32).reshape(48, 36) + 1.0)
    (base / "notes.txt").write_text("field notes", encoding="utf-8")
    return base


@pytest.fixture(scope="module")
def stack(incoming, tmp_path_factory):
    root = tmp_path_factory.mktemp("stack") / "STACK"
    return import_products([incoming], root, multilook=(2, 2))


def test_mixed_folder_becomes_a_stack_sorted_by_date(stack):
    got = [(s.date, s.platform, s.id) for s in stack.scenes]
    assert got == [
        ("2008-01-01", "ALOS", "PALSAR1_20080101"),
        ("2010-06-01", "TerraSAR-X", "TSX_20100601"),
        ("2015-07-27", "ALOS-2", "PALSAR2_20150727"),
        ("2015-07-27", "ALOS-2", "PALSAR2_20150727_051242"),  # same day: hhmmss of its first line
        ("2021-12-23", "Sentinel-1B", "S1B_20211223"),
    ]
    on_disk = json.loads((stack.root / "stack.json").read_text(encoding="utf-8"))
    assert [s["id"] for s in on_disk["scenes"]] == [g[2] for g in got]
    for entry in stack.scenes:
        scene = read_scene(stack.root / entry.sidecar)
        assert entry.sidecar == f"scenes/{entry.id}.json"
        assert scene.image == f"{entry.id}.tif"
        ds = gdal.Open(str(scene.image_path))
        assert (ds.RasterYSize, ds.RasterXSize) == (scene.radar_grid.lines, scene.radar_grid.samples)
        assert gdal.GetDataTypeName(ds.GetRasterBand(1).DataType) == "Float32"
        assert scene.extra["import"]["multilook"] == [2, 2]
    step = on_disk["provenance"][-1]
    assert step["step"] == "import"
    assert any(p.endswith("notes.txt") for p in step["arguments"]["skipped"])
    assert not list((stack.root / "scenes").glob(".partial*"))


def test_generic_sidecar_is_multilooked_with_its_grid_and_doppler(stack, incoming):
    source = read_scene(incoming / "generic" / "tsx_20100601.json")
    scene = load_stack(stack.root).scene("TSX_20100601")
    raw = np.arange(48 * 36, dtype=np.float64).reshape(48, 36) + 1.0
    expected = np.sqrt((raw**2).reshape(24, 2, 18, 2).mean(axis=(1, 3)))
    assert np.allclose(gdal.Open(str(scene.image_path)).ReadAsArray(), expected, rtol=1e-6)
    g, g0 = scene.radar_grid, source.radar_grid
    assert (g.lines, g.samples) == (24, 18)
    half_line = np.timedelta64(int(round(0.5 * g0.line_time_interval_s * 1e9)), "ns")
    assert abs((g.first_line_time - g0.first_line_time - half_line) / np.timedelta64(1, "ns")) <= 1
    assert g.slant_range_first_m == pytest.approx(g0.slant_range_first_m + 0.5 * g0.slant_range_spacing_m)
    s = np.arange(18.0)  # output sample s covers input samples 2s and 2s+1: centre 2s + 0.5
    f = np.polynomial.polynomial.polyval(s, scene.doppler_centroid_hz)
    assert np.allclose(f, 120.0 - 0.02 * (2 * s + 0.5))


def test_rerun_skips_unchanged_products_and_new_options_replace_scenes(stack, incoming):
    tifs = sorted((stack.root / "scenes").glob("*.tif"))
    stamps = [p.stat().st_mtime_ns for p in tifs]
    again = import_products([incoming], stack.root, multilook=(2, 2))
    step = again.provenance[-1]["arguments"]
    assert step["imported"] == []
    assert sorted(step["unchanged"]) == sorted(s.id for s in stack.scenes)
    assert [p.stat().st_mtime_ns for p in tifs] == stamps
    full = import_products([incoming / "alos1"], stack.root, multilook=(1, 1))
    assert [s.id for s in full.scenes] == [s.id for s in stack.scenes]  # replaced, not duplicated
    assert full.scene("PALSAR1_20080101").radar_grid.lines == 48


def test_polarisation_and_orbit_files(incoming, tmp_path):
    hv = import_products([incoming / "0000111_ALOS2065432100-150727.zip"], tmp_path / "hv", polarization="HV")
    assert hv.scene("PALSAR2_20150727").polarization == "HV"
    vectors = scene_dict()["orbit"]
    osv = "".join(
        f"<OSV><UTC>UTC={v['time'].rstrip('Z')}</UTC><X>{v['position_m'][0]}</X><Y>{v['position_m'][1]}</Y>"
        f"<Z>{v['position_m'][2]}</Z><VX>{v['velocity_m_s'][0]}</VX><VY>{v['velocity_m_s'][1]}</VY>"
        f"<VZ>{v['velocity_m_s'][2]}</VZ></OSV>"
        for v in vectors
    )
    eof = tmp_path / "S1B_OPER_AUX_RESORB_OPOD_20211223T080000_V20211223T043000_20211223T074000.EOF"
    eof.write_text(
        "<Earth_Explorer_File><Earth_Explorer_Header><Fixed_Header><Mission>Sentinel-1B</Mission>"
        "<Validity_Period><Validity_Start>UTC=2021-12-23T04:30:00</Validity_Start>"
        "<Validity_Stop>UTC=2021-12-23T07:40:00</Validity_Stop></Validity_Period></Fixed_Header>"
        f"</Earth_Explorer_Header><Data_Block><List_of_OSVs>{osv}</List_of_OSVs></Data_Block></Earth_Explorer_File>",
        encoding="utf-8",
    )
    s1 = import_products([incoming / "s1", eof], tmp_path / "s1", multilook=(4, 4))
    assert s1.scene("S1B_20211223").extra["product"]["orbit_source"] == eof.name


def test_unknown_and_partial_products_are_clear_errors(incoming, tmp_path):
    stray = tmp_path / "dem.tif"
    stray.write_bytes(b"not a product")
    with pytest.raises(ProductError, match=r"dem\.tif: unknown product kind"):
        import_products([stray], tmp_path / "a")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProductError, match=r"empty: no SAR product found"):
        import_products([tmp_path / "empty"], tmp_path / "a")
    with pytest.raises(ProductError, match=r"nowhere: no such file or folder"):
        import_products([tmp_path / "nowhere"], tmp_path / "a")
    partial = tmp_path / "partial"
    shutil.copytree(incoming / "alos1", partial)
    next(partial.rglob("LED-*")).unlink()
    with pytest.raises(
        ProductError, match=r"partial product, the leader file LED-ALPSRP123456780-H1\.1__A is missing"
    ):
        import_products([partial], tmp_path / "a")


def test_generic_sidecar_errors_name_the_file(tmp_path):
    path = write_generic(tmp_path / "g", np.ones((40, 36), dtype=np.float32))
    with pytest.raises(
        ProductError, match=r"tsx_20100601\.tif: 40 lines x 36 samples, but .*tsx_20100601\.json says"
    ):
        import_products([path], tmp_path / "a")
    (tmp_path / "g" / "tsx_20100601.tif").unlink()
    with pytest.raises(ProductError, match=r"its image 'tsx_20100601\.tif' .* does not exist"):
        import_products([path], tmp_path / "a")
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["radar_grid"]["lines"]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ProductError, match=r"tsx_20100601\.json: key 'radar_grid\.lines' is missing"):
        import_products([path], tmp_path / "a")
