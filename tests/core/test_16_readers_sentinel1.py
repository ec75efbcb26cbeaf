"""Sentinel-1 SAFE reader on the real annotation: orbit, timing and geolocation grid checked
with geo2rdr; GRD ground range resampled to slant range checked against ESA's own
(slant range, pixel) pairs; precise orbit files; bursts; partial products."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from safe_copy import TIFF, azimuth_cut, copy_safe
from sentinel1_fixture import ANNOTATION, C_M_S, SAFE, geolocation_grid, scene_dict

from processing_core.errors import ProductError
from processing_core.geometry import RadarGeometry
from processing_core.readers.base import ReadOptions
from processing_core.readers.safe import parse_orbit_file
from processing_core.readers.sentinel1 import Sentinel1Reader, read_metadata

LOOKS = (20, 1)


@pytest.fixture(scope="module")
def grd(tmp_path_factory):
    base = tmp_path_factory.mktemp("s1")
    safe = copy_safe(base)
    scene = Sentinel1Reader().read(safe, base / "out", options=ReadOptions(multilook=LOOKS))
    amplitude = gdal.Open(str(scene.image_path)).ReadAsArray()
    return safe, scene, amplitude


def test_metadata_and_orbit_match_the_annotation(grd):
    _, scene, amplitude = grd
    truth = scene_dict()  # the annotation parsed independently (tests/core/sentinel1_fixture.py)
    assert scene.id == "S1B_20211223"
    assert (scene.platform, scene.sensor, scene.mode, scene.polarization) == (
        "Sentinel-1B",
        "C-SAR",
        "IW",
        "VV",
    )
    assert (scene.pass_direction, scene.look_side, scene.is_zero_doppler) == ("descending", "right", True)
    assert scene.wavelength_m == pytest.approx(C_M_S / 5.405000454334350e09, rel=1e-15)
    assert len(scene.orbit) == 16
    for sv, ref in zip(scene.orbit, truth["orbit"]):
        assert sv.time == np.datetime64(ref["time"].rstrip("Z"), "ns")
        assert sv.position_m == tuple(ref["position_m"])
        assert sv.velocity_m_s == tuple(ref["velocity_m_s"])
    g = scene.radar_grid
    dt = truth["radar_grid"]["line_time_interval_s"]
    assert g.lines == 16705 // LOOKS[0]
    assert g.line_time_interval_s == pytest.approx(LOOKS[0] * dt, rel=1e-15)
    first = np.datetime64(truth["radar_grid"]["first_line_time"].rstrip("Z"), "ns")
    assert abs((g.first_line_time - first) / np.timedelta64(1, "ns") - 9.5 * dt * 1e9) <= 1
    # Slant range of GRD pixel 0 and a spacing near 10 m x sin(incidence) (39 deg mid swath).
    assert g.slant_range_first_m == pytest.approx(truth["radar_grid"]["slant_range_first_m"], abs=0.5)
    assert g.slant_range_spacing_m == pytest.approx(10.0 * np.sin(np.radians(38.9)), rel=0.03)
    assert amplitude.shape == (g.lines, g.samples)
    assert scene.extra["product"]["orbit_source"] == "annotation"
    assert len(scene.extra["ground_range"]["conversions"]) == 28


def test_geo2rdr_on_the_read_scene_reproduces_esa_geolocation_grid(grd):
    _, scene, _ = grd
    points = geolocation_grid()
    geometry = RadarGeometry(scene)
    rc = geometry.geo2rdr(points.lat_deg, points.lon_deg, points.height_m)
    expected_t = geometry.orbit.seconds(points.azimuth_time)
    assert points.lat_deg.size == 210
    assert np.abs(rc.azimuth_time_s - expected_t).max() < 1e-5
    assert np.abs(rc.slant_range_m - points.slant_range_m).max() < 0.05
    # GRD lines are the grid's lines (before multilooking), so geo2rdr's line is ESA's / looks.
    assert np.abs(rc.line - (points.line - 0.5 * (LOOKS[0] - 1)) / LOOKS[0]).max() < 0.2 / LOOKS[0]


def test_ground_range_resampled_to_slant_range_matches_esa_pixels(grd):
    """DN = GRD pixel index, so the slant-range image holds the GRD pixel seen at each range:
    at every grid point it must be ESA's pixel for that point's slant range."""
    _, scene, amplitude = grd
    points = geolocation_grid()
    g = scene.radar_grid
    inner = (points.pixel > 0) & (points.pixel < 26101)
    errors = []
    for line, pixel, rng in zip(points.line[inner], points.pixel[inner], points.slant_range_m[inner]):
        row = int(np.clip(round((line - 0.5 * (LOOKS[0] - 1)) / LOOKS[0]), 0, g.lines - 1))
        sample = (rng - g.slant_range_first_m) / g.slant_range_spacing_m
        errors.append(np.interp(sample, np.arange(g.samples), amplitude[row]) - pixel)
    assert len(errors) == 190  # 10 lines x 19 inner pixels
    assert np.abs(errors).max() < 0.01  # GRD pixels
    # Beyond the last GRD pixel the slant grid is empty (NaN), never extrapolated.
    assert np.isnan(amplitude[:, 0]).all()  # DN 0 of pixel 0 is no-data


def _eof(path: Path, mission: str, vectors: list[dict], start: str, stop: str) -> Path:
    osv = "".join(
        f"<OSV><TAI>TAI={v['time']}</TAI><UTC>UTC={v['time'].rstrip('Z')}</UTC><Absolute_Orbit>+30148</Absolute_Orbit>"
        f'<X unit="m">{v["position_m"][0]}</X><Y unit="m">{v["position_m"][1]}</Y><Z unit="m">{v["position_m"][2]}</Z>'
        f'<VX unit="m/s">{v["velocity_m_s"][0]}</VX><VY unit="m/s">{v["velocity_m_s"][1]}</VY>'
        f'<VZ unit="m/s">{v["velocity_m_s"][2]}</VZ><Quality>NOMINAL</Quality></OSV>'
        for v in vectors
    )
    path.write_text(
        '<?xml version="1.0"?><Earth_Explorer_File><Earth_Explorer_Header><Fixed_Header>'
        f"<File_Name>{path.stem}</File_Name><Mission>{mission}</Mission><Validity_Period>"
        f"<Validity_Start>UTC={start}</Validity_Start><Validity_Stop>UTC={stop}</Validity_Stop>"
        f'</Validity_Period></Fixed_Header></Earth_Explorer_Header><Data_Block type="xml">'
        f'<List_of_OSVs count="{len(vectors)}">{osv}</List_of_OSVs></Data_Block></Earth_Explorer_File>',
        encoding="utf-8",
    )
    return path


def test_precise_orbit_file_replaces_the_annotation_orbit(tmp_path):
    safe = copy_safe(tmp_path, azimuth_cut(200), ramp=False)
    vectors = scene_dict()["orbit"]
    shifted = [dict(v, position_m=[v["position_m"][0] + 1.0, *v["position_m"][1:]]) for v in vectors]
    good = _eof(
        tmp_path / "S1B_OPER_AUX_POEORB_OPOD_20220112T081711_V20211222T225942_20211224T005942.EOF",
        "Sentinel-1B",
        shifted,
        "2021-12-22T22:59:42",
        "2021-12-24T00:59:42",
    )
    other = _eof(
        tmp_path / "S1A_OPER_AUX_POEORB_OPOD_X.EOF",
        "Sentinel-1A",
        vectors,
        "2021-12-22T22:59:42",
        "2021-12-24T00:59:42",
    )
    eof = parse_orbit_file(good.read_bytes(), good.name)
    assert (eof.mission, len(eof.state_vectors)) == ("Sentinel-1B", 16)
    assert eof.validity_start == np.datetime64("2021-12-22T22:59:42", "ns")
    scene = Sentinel1Reader().read(
        safe, tmp_path / "out", options=ReadOptions(multilook=(50, 50), orbit_files=(other, good))
    )
    assert scene.extra["product"]["orbit_source"] == good.name
    # The vectors from 60 s before the first line to 60 s after the last, shifted by 1 m in x.
    by_time = {np.datetime64(v["time"].rstrip("Z"), "ns"): v for v in vectors}
    first, last = scene.radar_grid.first_line_time, scene.radar_grid.last_line_time
    window = [t for t in by_time if first - np.timedelta64(60, "s") <= t <= last + np.timedelta64(60, "s")]
    assert len(scene.orbit) == len(window) == 12
    for sv in scene.orbit:
        assert sv.position_m[0] == by_time[sv.time]["position_m"][0] + 1.0
    (tmp_path / "bad.EOF").write_text("<Earth_Explorer_File><Data_Block>", encoding="utf-8")
    with pytest.raises(ProductError, match=r"bad\.EOF: not well-formed XML"):
        Sentinel1Reader().read(
            safe, tmp_path / "out", options=ReadOptions(orbit_files=(tmp_path / "bad.EOF",))
        )


def test_zipped_safe_reads_like_the_folder(tmp_path):
    safe = copy_safe(tmp_path / "f", azimuth_cut(2006))
    archive = tmp_path / (SAFE.stem + ".zip")
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(safe.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(safe.parent).as_posix())
    assert Sentinel1Reader().can_read(archive)
    a = Sentinel1Reader().read(safe, tmp_path / "a", options=ReadOptions(multilook=(10, 2)))
    b = Sentinel1Reader().read(archive, tmp_path / "b", options=ReadOptions(multilook=(10, 2)))
    assert a.radar_grid == b.radar_grid
    assert a.orbit == b.orbit
    assert np.array_equal(
        gdal.Open(str(a.image_path)).ReadAsArray(), gdal.Open(str(b.image_path)).ReadAsArray(), equal_nan=True
    )


def test_tops_slc_bursts_are_read_and_import_is_a_clear_error(tmp_path):
    text = azimuth_cut(8)
    text = text.replace("<productType>GRD</productType>", "<productType>SLC</productType>")
    bursts = "".join(
        f"<burst><azimuthTime>2021-12-23T05:11:{22 + 3 * k:02d}.594441</azimuthTime><byteOffset>{k * 1000}</byteOffset>"
        f'<firstValidSample count="4">-1 10 10 -1</firstValidSample><lastValidSample count="4">-1 900 901 -1</lastValidSample></burst>'
        for k in range(2)
    )
    text = re.sub(
        r"<swathTiming>.*?</swathTiming>",
        f'<swathTiming><linesPerBurst>4</linesPerBurst><samplesPerBurst>26102</samplesPerBurst><burstList count="2">{bursts}</burstList></swathTiming>',
        text,
        flags=re.S,
    )
    safe = copy_safe(tmp_path, text, ramp=False)
    (safe / "annotation" / ANNOTATION.name).rename(
        safe / "annotation" / ANNOTATION.name.replace("-grd-", "-slc-")
    )
    _, _, ann, _ = read_metadata(safe)
    assert ann.product_type == "SLC"
    assert ann.lines_per_burst == 4
    assert [b.byte_offset for b in ann.bursts] == [0, 1000]
    assert ann.bursts[1].azimuth_time == np.datetime64("2021-12-23T05:11:25.594441", "ns")
    assert ann.bursts[0].first_valid_sample.tolist() == [-1, 10, 10, -1]
    with pytest.raises(ProductError, match=r"TOPS \(2 bursts in IW\).*debursting is not supported"):
        Sentinel1Reader().read(safe, tmp_path / "out")


def test_partial_and_corrupt_safe_products_are_named(tmp_path):
    safe = copy_safe(tmp_path, azimuth_cut(4), ramp=False)
    measurement = safe / "measurement" / TIFF.name
    measurement.rename(tmp_path / "away.tiff")
    with pytest.raises(ProductError, match=r"measurement file measurement/s1b-iw-grd-vv-.*\.tiff is missing"):
        Sentinel1Reader().read(safe, tmp_path / "out")
    with pytest.raises(ProductError, match=r"no HH annotation \(has VV\)"):
        Sentinel1Reader().read(safe, tmp_path / "out", options=ReadOptions(polarization="HH"))
    (tmp_path / "away.tiff").rename(measurement)
    annotation = safe / "annotation" / ANNOTATION.name
    annotation.write_text(annotation.read_text(encoding="utf-8")[:5000], encoding="utf-8")
    with pytest.raises(ProductError, match=r"s1b-iw-grd-vv-.*\.xml: not well-formed XML"):
        Sentinel1Reader().read(safe, tmp_path / "out")
    (safe / "manifest.safe").unlink()
    with pytest.raises(ProductError, match=r"partial SAFE product, manifest.safe is missing"):
        Sentinel1Reader().read(safe, tmp_path / "out")
