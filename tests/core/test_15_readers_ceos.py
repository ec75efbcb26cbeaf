"""ALOS CEOS readers: the real ALOS-2 Level 1.5 leader against its summary.txt and physics, and
Level 1.1 products of both platforms written byte by byte by a test writer, read back."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from ceos_writer import C_M_S, spec_from_scene, write_product
from geometry_helpers import SHARED
from osgeo import gdal

from processing_core.ellipsoid import ellipsoid_normal, geodetic_to_ecef
from processing_core.errors import ProductError
from processing_core.geometry import RadarGeometry
from processing_core.orbit import Orbit
from processing_core.orbitgen import synthetic_scene
from processing_core.readers import palsar
from processing_core.readers.alos import find_ceos_products, parse_leader
from processing_core.readers.base import ProductFiles, ReadOptions, doppler_in_samples
from processing_core.readers.ceos import parse_image_descriptor
from processing_core.readers.palsar import PalsarReader

ZIP = next((SHARED / "alos2").glob("*.zip"))
STEM = "ALOS2015976960-140909-FBDR1.5GUA"


@pytest.fixture(scope="module")
def summary() -> dict[str, str]:
    """summary.txt of the product, parsed here (key="value" lines)."""
    text = zipfile.ZipFile(ZIP).read("summary.txt").decode("ascii")
    return dict(re.findall(r'^(\w+)="(.*)"\s*$', text, flags=re.M))


@pytest.fixture(scope="module")
def fixture_product():
    files = ProductFiles.of(ZIP)
    (product,) = find_ceos_products(files)
    leader = parse_leader(files.read(product.leader), product.leader)
    return files, product, leader


def _summary_time(text: str) -> np.datetime64:
    day, clock = text.split()
    return np.datetime64(f"{day[:4]}-{day[4:6]}-{day[6:]}T{clock}", "ns")


def test_fixture_files_and_descriptors_match_summary(fixture_product, summary):
    files, product, leader = fixture_product
    assert product.stem.endswith(summary["Pds_ProductID"])
    listed = {
        summary[f"Pdi_L15ProductFileName0{i}"]
        for i in range(1, int(summary["Pdi_CntOfL15ProductFileName"]) + 1)
    }
    assert listed == {product.volume, product.leader, product.trailer, *product.images.values()}
    for name in product.images.values():
        desc = parse_image_descriptor(files.read(name), name)
        assert desc.pixels == int(summary["Pdi_NoOfPixels_0"]) == 12870
        assert desc.lines == int(summary["Pdi_NoOfLines_0"]) == 13161
        assert desc.bits_per_sample == int(summary["Pdi_BitPixel"]) == 16
        assert desc.prefix_bytes == 192  # read from the descriptor, not assumed
        assert desc.record_length == desc.prefix_bytes + 2 * desc.pixels
        assert desc.format_code == "IU2"


def test_fixture_dataset_summary_matches_summary_txt(fixture_product, summary):
    _, _, leader = fixture_product
    s = leader.summary
    assert s.centre_time == _summary_time(summary["Img_SceneCenterDateTime"])
    start, end = (_summary_time(summary[k]) for k in ("Img_SceneStartDateTime", "Img_SceneEndDateTime"))
    assert s.centre_time == start + (end - start) // 2
    assert str(s.centre_time.astype("datetime64[D]")).replace("-", "") == summary["Lbi_ObservationDate"]
    assert s.centre_lat_deg == pytest.approx(float(summary["Img_FrameSceneCenterLatitude"]), abs=5e-4)
    assert s.centre_lon_deg == pytest.approx(float(summary["Img_FrameSceneCenterLongitude"]), abs=5e-4)
    assert s.mission == summary["Lbi_Satellite"] == "ALOS2"
    assert s.product_level == summary["Lbi_ProcessLevel"] == "1.5"
    assert s.pixel_spacing_m == s.line_spacing_m == float(summary["Pds_PixelSpacing"]) == 6.25
    assert s.off_nadir_deg == pytest.approx(float(summary["Img_OffNadirAngle"]), abs=0.05)
    assert s.clock_angle_deg == 90.0  # right-looking: the 'R' of FBDR
    assert summary["Pds_ProductID"][3] == "R"
    # Fields summary.txt does not print, checked against physics: L band at 1236.5 MHz, a PRF
    # between 1.5 and 3.5 kHz, a range cell c/2fs that projects to the 6.25 m ground pixel.
    assert C_M_S / s.wavelength_m == pytest.approx(1236.5e6, abs=0.5e6)
    assert 1500.0 < s.prf_hz < 3500.0
    assert s.prf_hz == pytest.approx(2122.3184485, abs=1e-6)
    cell = C_M_S / (2 * s.range_sampling_rate_hz)
    assert cell / np.sin(np.radians(s.incidence_deg)) == pytest.approx(s.pixel_spacing_m, rel=0.1)
    assert s.looks_azimuth == 2.0
    assert s.looks_range == 1.0
    # Doppler centroid (Hz, Hz/km of slant range): tens of Hz, far inside +-PRF/2 (yaw steering).
    c0, c1 = s.doppler_vs_range_km
    assert (c0, c1) == (-18.5767897, -0.0243354)
    assert abs(c0 + c1 * 812.0) < 0.05 * s.prf_hz


def test_fixture_map_projection_matches_summary_txt(fixture_product, summary):
    _, _, leader = fixture_product
    mp = leader.map_projection
    assert mp.utm_zone == int(summary["Pds_UTM_ZoneNo"]) == 20
    assert mp.false_northing_m == 10_000_000.0  # southern hemisphere
    assert (mp.pixels, mp.lines) == (12870, 13161)
    keys = ("LeftTop", "RightTop", "RightBottom", "LeftBottom")
    expected = [[float(summary[f"Img_FrameScene{k}{c}"]) for c in ("Latitude", "Longitude")] for k in keys]
    assert np.abs(mp.corners_lat_lon_deg - expected).max() < 5e-4 + 1e-9
    # The corners' map coordinates are 12869 and 13160 pixels of 6.25 m apart.
    east, north = mp.corners_map_m[:, 0], mp.corners_map_m[:, 1]
    assert east[1] - east[0] == pytest.approx(12869 * 6.25, abs=1e-3)
    assert north[0] - north[3] == pytest.approx(13160 * 6.25, abs=1e-3)


def test_fixture_state_vectors(fixture_product, summary):
    _, _, leader = fixture_product
    pp = leader.platform_position
    assert pp.count == 28
    assert pp.interval_s == 60.0
    assert pp.first_time == np.datetime64("2014-09-09T04:20:00", "ns")
    assert pp.reference_frame == "ECR"
    assert not pp.converted_from_inertial
    assert pp.designator == "2"
    assert summary["Pds_OrbitDataPrecision"] == "Precision"
    times = np.array([sv.time for sv in pp.state_vectors])
    assert times[0] < _summary_time(summary["Img_SceneStartDateTime"])
    assert times[-1] > _summary_time(summary["Img_SceneEndDateTime"])
    r = np.array([sv.position_m for sv in pp.state_vectors])
    v = np.array([sv.velocity_m_s for sv in pp.state_vectors])
    # Physics: ALOS-2 flies ~630 km high at ~7.6 km/s (Earth-fixed), positions m and velocities m/s.
    assert np.all((np.linalg.norm(r, axis=1) > 7.00e6) & (np.linalg.norm(r, axis=1) < 7.02e6))
    assert np.all((np.linalg.norm(v, axis=1) > 7.55e3) & (np.linalg.norm(v, axis=1) < 7.65e3))
    # Velocities are the positions' derivative (central differences over 120 s: < 6 m/s error).
    assert np.abs((r[2:] - r[:-2]) / 120.0 - v[1:-1]).max() < 6.0


def test_fixture_orbit_sees_the_scene_centre_at_its_time_and_incidence(fixture_product, summary):
    """Zero-Doppler time of the scene centre within 5 ms of summary.txt; incidence within 0.1 deg."""
    _, _, leader = fixture_product
    s = leader.summary
    orbit = Orbit(leader.platform_position.state_vectors)
    ground = geodetic_to_ecef(s.centre_lat_deg, s.centre_lon_deg, s.terrain_height_m)
    t = np.linspace(0.0, orbit.end_s, 200001)
    state = orbit.interpolate(t)
    doppler = np.einsum("ij,ij->i", state.velocity_m_s, ground - state.position_m)
    k = int(np.flatnonzero(np.diff(np.sign(doppler)))[0])
    t0 = t[k] - doppler[k] * (t[k + 1] - t[k]) / (doppler[k + 1] - doppler[k])
    expected = orbit.seconds(_summary_time(summary["Img_SceneCenterDateTime"]))
    assert abs(t0 - expected) < 5e-3
    sat = orbit.interpolate(t0).position_m
    los = (sat - ground) / np.linalg.norm(sat - ground)
    incidence = np.degrees(np.arccos(los @ ellipsoid_normal(s.centre_lat_deg, s.centre_lon_deg)))
    assert incidence == pytest.approx(s.incidence_deg, abs=0.1)


def test_fixture_images_are_cut_to_their_descriptors_clear_error(tmp_path):
    with pytest.raises(ProductError, match=r"IMG-HH-.*13161 lines of 25932 bytes.*truncated"):
        PalsarReader().read(ZIP, tmp_path)
    assert not list(tmp_path.iterdir())


def test_doppler_conversion_to_sample_index():
    """f(R) = c0 + c1 R_km (PALSAR-2) re-expressed in samples agrees with direct evaluation."""
    c0, c1, r0, dr = -18.5767897, -0.0243354, 811_000.0, 4.29
    coeffs = doppler_in_samples((c0, c1), r0 / 1e3, dr / 1e3)
    s = np.array([0.0, 100.0, 5000.0, 12869.0])
    assert np.allclose(np.polynomial.polynomial.polyval(s, coeffs), c0 + c1 * (r0 + s * dr) / 1e3, atol=1e-9)
    quadratic = doppler_in_samples((350.0, -0.05, 2e-5), 12869.0 - 1.0, -3.0)  # flipped, 3 looks
    p = 12868.0 - 3.0 * s
    assert np.allclose(np.polynomial.polynomial.polyval(s, quadratic), 350.0 - 0.05 * p + 2e-5 * p**2)


# -- Level 1.1 products from the test writer ---------------------------------------------------------


def _scene(**kwargs):
    options = {
        "scene_id": "w",
        "centre_lat_deg": 34.32,
        "centre_lon_deg": -118.15,
        "centre_height_m": 1000.0,
        "centre_time": np.datetime64("2015-07-27T05:12:33"),
        "lines": 48,
        "samples": 36,
    }
    options.update(kwargs)
    return synthetic_scene(**options)


def _slc(seed: int, shape=(48, 36)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64) * 100


def _read(path: Path, out: Path, **options):
    scene = PalsarReader().read(path, out, options=ReadOptions(**options))
    amplitude = gdal.Open(str(scene.image_path)).ReadAsArray()
    return scene, amplitude


def _expected_amplitude(slc: np.ndarray, az: int, rg: int) -> np.ndarray:
    n, m = slc.shape[0] // az, slc.shape[1] // rg
    power = np.abs(slc[: n * az, : m * rg].astype(np.complex128)) ** 2
    return np.sqrt(power.reshape(n, az, m, rg).mean(axis=(1, 3)))


@pytest.mark.parametrize("container", ["folder", "zip"])
def test_palsar2_level11_round_trip(tmp_path, container):
    truth = _scene(wavelength_m=0.2424525, line_time_interval_s=1 / 2122.3184, slant_range_spacing_m=4.2915)
    hh, hv = _slc(1), _slc(2)
    spec = spec_from_scene(
        truth, "ALOS-2", "ALOS2065432100-150727-FBDR1.1__A", {"HH": hh, "HV": hv}, doppler=(-18.5, -0.024)
    )
    path = write_product(spec, tmp_path / "p", zip_name="p.zip" if container == "zip" else None)
    scene, amplitude = _read(path, tmp_path / "out")
    assert scene.id == "PALSAR2_20150727"
    assert (scene.platform, scene.sensor, scene.mode, scene.polarization) == (
        "ALOS-2",
        "PALSAR-2",
        "FBD",
        "HH",
    )
    assert (scene.pass_direction, scene.look_side) == ("ascending", "right")
    g = scene.radar_grid
    assert (g.lines, g.samples) == (48, 36)
    assert abs((g.first_line_time - spec.first_line_time) / np.timedelta64(1, "ns")) <= 1000  # microseconds
    assert g.line_time_interval_s == pytest.approx(1 / spec.prf_hz, rel=1e-12)
    assert g.slant_range_first_m == spec.slant_range_first_m
    # The DSS prints the sampling rate in MHz with 7 decimals: 3e-9 relative.
    assert g.slant_range_spacing_m == pytest.approx(C_M_S / (2 * spec.range_sampling_rate_hz), rel=1e-8)
    assert scene.wavelength_m == 0.2424525
    r = np.array([sv.position_m for sv in scene.orbit])
    assert np.abs(r - spec.positions_m).max() < 1e-6
    assert np.abs(np.array([sv.velocity_m_s for sv in scene.orbit]) - spec.velocities_m_s).max() < 1e-9
    assert [sv.time for sv in scene.orbit] == [sv.time for sv in truth.orbit]
    s = np.arange(36.0)
    f = np.polynomial.polynomial.polyval(s, scene.doppler_centroid_hz)
    assert np.allclose(f, -18.5 - 0.024 * (g.slant_range_first_m + s * g.slant_range_spacing_m) / 1e3)
    assert np.allclose(amplitude, _expected_amplitude(hh, 1, 1), rtol=1e-6)
    # The other polarisation on request.
    scene_hv, amp_hv = _read(path, tmp_path / "out_hv", polarization="HV")
    assert scene_hv.polarization == "HV"
    assert np.allclose(amp_hv, _expected_amplitude(hv, 1, 1), rtol=1e-6)


@pytest.mark.parametrize("block_lines", [None, 5])
def test_palsar1_level11_with_flipped_storage_multilook_and_squint(tmp_path, monkeypatch, block_lines):
    """PALSAR-1: lines stored latest first, samples far range first, non-zero Doppler, 3 x 2 looks;
    read in one block or in blocks of 5 lines (looks straddle the blocks)."""
    if block_lines:
        monkeypatch.setattr(palsar, "_BLOCK_BYTES", block_lines * (412 + 8 * 36))
    truth = _scene(centre_time=np.datetime64("2008-01-01T06:00:00"))
    slc = _slc(3)
    doppler = (350.0, -0.05, 2e-5)  # Hz, Hz/pixel, Hz/pixel^2 of the stored pixel index
    spec = spec_from_scene(
        truth,
        "ALOS",
        "ALPSRP123456780-H1.1__A",
        {"HH": slc},
        doppler=doppler,
        line_direction="DESCEND",
        pixel_direction="DECREASE",
    )
    scene, amplitude = _read(write_product(spec, tmp_path / "p"), tmp_path / "out", multilook=(3, 2))
    assert scene.id == "PALSAR1_20080101"
    assert scene.platform == "ALOS"
    assert scene.mode == "FBS"
    g = scene.radar_grid
    assert (g.lines, g.samples) == (16, 18)
    dt = 1 / spec.prf_hz
    expected_first = spec.first_line_time + np.timedelta64(int(round(dt * 1e9)), "ns")  # centre of 3 lines
    # PALSAR-1 prefixes carry milliseconds only: the mean over all lines is within 1 ms.
    assert abs((g.first_line_time - expected_first) / np.timedelta64(1, "ms")) < 1.0
    assert g.line_time_interval_s == pytest.approx(3 * dt, rel=1e-12)
    dr = C_M_S / (2 * spec.range_sampling_rate_hz)
    assert g.slant_range_first_m == pytest.approx(spec.slant_range_first_m + 0.5 * dr, abs=1.0)
    assert g.slant_range_spacing_m == pytest.approx(2 * dr)
    assert np.allclose(amplitude, _expected_amplitude(slc, 3, 2), rtol=1e-6)
    # Output sample s covers stored pixels p = 35 - (2 s + 0.5): f must follow.
    s = np.arange(18.0)
    p = 35.0 - (2.0 * s + 0.5)
    f = np.polynomial.polynomial.polyval(s, scene.doppler_centroid_hz)
    assert np.allclose(f, np.polynomial.polynomial.polyval(p, doppler))
    assert not scene.is_zero_doppler


def test_inertial_vectors_in_mm_per_s_are_brought_to_earth_fixed(tmp_path):
    truth = _scene(centre_time=np.datetime64("2008-01-01T06:00:00"))
    spec = spec_from_scene(
        truth,
        "ALOS",
        "ALPSRP123456780-H1.1__A",
        {"HH": _slc(4)},
        frame="ECI",
        gmha_deg=123.4,
        velocity_unit=1000.0,
    )
    scene, _ = _read(write_product(spec, tmp_path / "p"), tmp_path / "out")
    assert scene.extra["product"]["orbit_converted_from_inertial"] is True
    assert np.abs(np.array([sv.position_m for sv in scene.orbit]) - spec.positions_m).max() < 1e-3
    assert np.abs(np.array([sv.velocity_m_s for sv in scene.orbit]) - spec.velocities_m_s).max() < 1e-6


def test_left_looking_descending_palsar2_geometry_matches_truth(tmp_path):
    """geo2rdr of ground points on the read scene agrees with the synthetic truth to 1e-3 px."""
    truth = _scene(pass_direction="descending", look_side="left")
    spec = spec_from_scene(
        truth, "ALOS-2", "ALOS2065432100-150727-UBSL1.1__D", {"HH": _slc(5)}, clock_angle_deg=-90.0
    )
    scene, _ = _read(write_product(spec, tmp_path / "p"), tmp_path / "out")
    assert (scene.pass_direction, scene.look_side, scene.mode) == ("descending", "left", "UBS")
    lat, lon, _ = RadarGeometry(truth).rdr2geo(
        RadarGeometry(truth).time_of_line(np.array([5.0, 40.0])),
        truth.radar_grid.range_of_sample(np.array([3.0, 30.0])),
        1000.0,
    )
    got = RadarGeometry(scene).geo2rdr(lat, lon, np.full(2, 1000.0))
    want = RadarGeometry(truth).geo2rdr(lat, lon, np.full(2, 1000.0))
    assert np.abs(got.line - want.line).max() < 1e-2  # first line time to the microsecond
    assert np.abs(got.slant_range_m - want.slant_range_m).max() < 1e-3


def _two_pol_product(tmp_path: Path) -> tuple[Path, str]:
    truth = _scene()
    stem = "ALOS2065432100-150727-FBDR1.1__A"
    spec = spec_from_scene(truth, "ALOS-2", stem, {"HH": _slc(1), "HV": _slc(2)})
    return write_product(spec, tmp_path / "p"), stem


def test_partial_products_name_the_missing_file(tmp_path):
    path, stem = _two_pol_product(tmp_path)
    (path / f"IMG-HV-{stem}").unlink()
    with pytest.raises(ProductError, match=rf"VOL-{stem} lists 2 image files, found 1 \(IMG-HH-{stem}\)"):
        PalsarReader().read(path, tmp_path / "out")
    (path / f"LED-{stem}").unlink()
    with pytest.raises(ProductError, match=rf"the leader file LED-{stem} is missing"):
        PalsarReader().read(path, tmp_path / "out")


def test_short_records_are_named(tmp_path):
    path, stem = _two_pol_product(tmp_path)
    led = path / f"LED-{stem}"
    data = led.read_bytes()
    led.write_bytes(data[: 720 + 4096 + 1200])  # cut inside the platform position record
    with pytest.raises(
        ProductError, match=rf"LED-{stem}: record 3 \(platform position\) is 1200 bytes, expected 4680"
    ):
        PalsarReader().read(path, tmp_path / "out")
    img = path / f"IMG-HH-{stem}"
    img.write_bytes(img.read_bytes()[:-100])
    led.write_bytes(data)
    with pytest.raises(ProductError, match=rf"IMG-HH-{stem}: .* the image file is truncated"):
        PalsarReader().read(path, tmp_path / "out")


# -- Level 1.5: a miniature of the real product, resampled to slant range ----------------------------


def _miniature_level15(folder: Path, pixels: int, lines: int, image: np.ndarray) -> Path:
    """The real leader and trailer with the map grid coarsened to pixels x lines, and an
    HH image file of ``image`` (uint16) in the real descriptor's layout (192-byte prefix)."""
    archive = zipfile.ZipFile(ZIP)
    folder.mkdir()
    for kind in ("TRL",):  # no VOL: it lists two image files, the miniature has one
        (folder / f"{kind}-{STEM}").write_bytes(archive.read(f"{kind}-{STEM}"))
    led = bytearray(archive.read(f"LED-{STEM}"))
    mp = 720 + 4096  # the map projection record follows the data set summary
    east_span, north_span = 12869 * 6.25, 13160 * 6.25
    for start, text in (
        (61, f"{pixels:16d}"),
        (77, f"{lines:16d}"),
        (93, f"{east_span / (pixels - 1):16.7f}"),
        (109, f"{north_span / (lines - 1):16.7f}"),
    ):
        led[mp + start - 1 : mp + start - 1 + 16] = text.encode()
    (folder / f"LED-{STEM}").write_bytes(bytes(led))
    fd = bytearray(archive.read(f"IMG-HH-{STEM}"))
    record = 192 + 2 * pixels
    for start, width, value in (
        (181, 6, lines),
        (187, 6, record),
        (237, 8, lines),
        (249, 8, pixels),
        (281, 8, 2 * pixels),
    ):
        fd[start - 1 : start - 1 + width] = str(value).rjust(width).encode()
    body = [bytes(fd)]
    for i in range(lines):
        head = bytearray(192)
        head[0:12] = (i + 2).to_bytes(4, "big") + bytes([50, 11, 18, 20]) + record.to_bytes(4, "big")
        body.append(bytes(head) + image[i].astype(">u2").tobytes())
    (folder / f"IMG-HH-{STEM}").write_bytes(b"".join(body))
    return folder


def test_level15_is_resampled_to_slant_range_where_geo2rdr_puts_the_ground(
    tmp_path, fixture_product, summary
):
    from pyproj import Transformer

    _, _, leader = fixture_product
    pixels, lines = 129, 141
    mp = leader.map_projection
    dx, dy = 12869 * 6.25 / (pixels - 1), 13160 * 6.25 / (lines - 1)
    image = np.full((lines, pixels), 100, dtype=np.uint16)
    image[:, :4] = 0  # no-data margin
    to_utm = Transformer.from_crs("EPSG:4326", "+proj=utm +zone=20 +south +ellps=GRS80", always_xy=True)
    markers = [(-10.95, -62.55), (-11.15, -62.45), (-11.05, -62.75)]
    for lat, lon in markers:
        e, n = to_utm.transform(lon, lat)
        col = (e - mp.corners_map_m[0, 0]) / dx
        row = (mp.corners_map_m[0, 1] - n) / dy
        r, c = int(round(row)), int(round(col))
        image[r - 1 : r + 2, c - 1 : c + 2] = 1000
    path = _miniature_level15(tmp_path / "l15", pixels, lines, image)
    scene, amplitude = _read(path, tmp_path / "out")
    assert scene.extra["product"]["level"] == "1.5"
    assert scene.is_zero_doppler
    g = scene.radar_grid
    start, end = (_summary_time(summary[k]) for k in ("Img_SceneStartDateTime", "Img_SceneEndDateTime"))
    # The map-north box around the tilted swath is seen a little before and after the scene.
    assert g.first_line_time <= start
    assert g.last_line_time >= end
    assert (g.last_line_time - g.first_line_time) / np.timedelta64(1, "s") < 16.0
    assert np.isnan(amplitude).any()
    assert np.nanmedian(amplitude) == pytest.approx(100.0)
    geometry = RadarGeometry(scene)
    rc = geometry.geo2rdr(np.array([m[0] for m in markers]), np.array([m[1] for m in markers]), np.zeros(3))
    for line, sample in zip(rc.line, rc.sample):
        i, j = int(round(line)), int(round(sample))
        window = np.nan_to_num(amplitude[i - 4 : i + 5, j - 4 : j + 5]) - 100.0
        assert window.max() > 600.0
        rows, cols = np.mgrid[i - 4 : i + 5, j - 4 : j + 5]
        weight = np.clip(window, 0, None)
        assert (weight * rows).sum() / weight.sum() == pytest.approx(line, abs=0.6)
        assert (weight * cols).sum() / weight.sum() == pytest.approx(sample, abs=0.6)


def test_unsupported_products_say_so(tmp_path):
    path, stem = _two_pol_product(tmp_path)
    led = path / f"LED-{stem}"
    data = bytearray(led.read_bytes())
    data[720 + 1094 : 720 + 1097] = b"1.0"  # data set summary product level (bytes 1095-1110)
    led.write_bytes(bytes(data))
    with pytest.raises(ProductError, match=r"Level 1\.0 \(raw signal data\) is not supported"):
        PalsarReader().read(path, tmp_path / "out")
    (path / f"IMG-HV-{stem}").rename(path / f"IMG-HV-{stem}-F1")
    with pytest.raises(ProductError, match=r"ScanSAR .* is not supported"):
        PalsarReader().read(path, tmp_path / "out")
