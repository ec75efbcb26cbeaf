"""Layer 3: the stack simulator (scenarios, imaging geometry, moved texture, truth files)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from geometry_helpers import BIGTUJUNGA, alos_scene
from offset_reference import measure_shift
from osgeo import gdal

from processing_core.dem import read_dem
from processing_core.ellipsoid import enu_basis, geodetic_to_ecef
from processing_core.geometry import RadarGeometry
from processing_core.scene import read_scene
from processing_core.simulate import get_scenario, simulate_stack
from processing_core.simulate.imaging import evolve_scatterers, image_scene, make_terrain
from processing_core.simulate.platforms import PALSAR1_FBS, PALSAR2_SM3
from processing_core.stack import load_stack

# --- scenario -------------------------------------------------------------------------------------------


def test_baige_like_dates_and_history():
    scenario = get_scenario("baige-like")
    dates = scenario.dates()
    assert len(dates) == 28
    p1 = [np.datetime64(d) for s, d in scenario.acquisitions if s is PALSAR1_FBS]
    p2 = [np.datetime64(d) for s, d in scenario.acquisitions if s is PALSAR2_SM3]
    assert np.datetime64("2007-01-01") <= min(p1)
    assert max(p1) <= np.datetime64("2011-03-31")
    assert np.datetime64("2014-10-01") <= min(p2)
    assert max(p2) <= np.datetime64("2018-08-31")
    # On each platform's repeat cycle.
    assert all((d - p1[0]).astype(int) % 46 == 0 for d in p1)
    assert all((d - p2[0]).astype(int) % 14 == 0 for d in p2)
    # The paper's creep history, integrated by hand: 6 mm/d to 2010-01-10, 10 to 2015-07-27,
    # 17 to 2016-10-03, 35 to 2018-05-28, 92 after; from the first date (2007-01-02) to 2018-08-06.
    days = [
        (np.datetime64("2010-01-10") - np.datetime64("2007-01-02")).astype(int),
        (np.datetime64("2015-07-27") - np.datetime64("2010-01-10")).astype(int),
        (np.datetime64("2016-10-03") - np.datetime64("2015-07-27")).astype(int),
        (np.datetime64("2018-05-28") - np.datetime64("2016-10-03")).astype(int),
        (np.datetime64("2018-08-06") - np.datetime64("2018-05-28")).astype(int),
    ]
    expected = -(0.006 * days[0] + 0.010 * days[1] + 0.017 * days[2] + 0.035 * days[3] + 0.092 * days[4])
    los = scenario.los_at_p2_m(np.array(dates))
    assert los[0] == 0.0
    assert los[-1] == pytest.approx(expected, abs=1e-9)
    assert -64.0 < los[-1] < -58.0  # the paper's "about -60 m" (P2: -60.2 m)


# --- imaging geometry and moved texture ----------------------------------------------------------------


@pytest.fixture(scope="module")
def patch():
    """A small real-DEM patch, its terrain and a PALSAR-1 geometry with a squint."""
    dem = read_dem(BIGTUJUNGA)
    row, col = (int(round(v)) for v in dem.index_of(34.32, -118.15))
    crop = dem.crop(row - 30, row + 31, col - 30, col + 31)
    terrain = make_terrain(crop, fa=12, fb=6, rng=np.random.default_rng(1))
    geometry = RadarGeometry(alos_scene(lines=900, samples=500, doppler_centroid_hz=(120.0, -0.01)))
    return crop, terrain, geometry


def _centroid(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / image.sum()), float((cols * image).sum() / image.sum())


def test_a_dem_feature_lands_where_geo2rdr_says(patch):
    crop, terrain, geometry = patch
    quads_cols = crop.shape[1] - 1
    i, j = 30, 30
    lit = terrain.texture.copy()
    terrain_one = type(terrain)(
        terrain.dem, terrain.xyz, terrain.basis, terrain.fa, terrain.fb, np.zeros_like(lit)
    )
    terrain_one.texture[:, :, i * quads_cols + j] = 1.0  # one bright DEM quad, everything else black
    state = np.ones(terrain.texture.shape, dtype=np.complex64)
    zero = np.zeros(crop.shape + (3,))
    image = image_scene(geometry, terrain_one, zero, state)
    lon, lat = crop.lonlat()
    corners = (slice(i, i + 2), slice(j, j + 2))
    rc = geometry.geo2rdr(lat[corners].mean(), lon[corners].mean(), crop.heights_m[corners].mean())
    # Intensity-weighted centre of the quad's pixels (coherent sum, so use a generous window).
    li, si = int(round(float(rc.line))), int(round(float(rc.sample)))
    window = image[li - 12 : li + 13, si - 8 : si + 9]
    cl, cs = _centroid(window)
    assert window.sum() > 0.99 * image.sum()
    assert cl + li - 12 == pytest.approx(float(rc.line), abs=0.6)
    assert cs + si - 8 == pytest.approx(float(rc.sample), abs=0.6)
    # Moving the ground 20 m east moves the feature by what geo2rdr predicts for the moved point.
    d = np.zeros(crop.shape + (3,))
    d[..., 0] = 20.0
    moved = image_scene(geometry, terrain_one, d, state)
    e, _, _ = enu_basis(lat[corners].mean(), lon[corners].mean())
    p = geodetic_to_ecef(lat[corners].mean(), lon[corners].mean(), crop.heights_m[corners].mean()) + 20.0 * e
    rc2 = geometry.geo2rdr_ecef(p[None, :])
    cl2, cs2 = _centroid(moved[li - 12 : li + 13, si - 12 : si + 13])
    assert cs2 + si - 12 - (cs + si - 8) == pytest.approx(float(rc2.sample[0] - rc.sample), abs=0.3)
    assert float(rc2.sample[0] - rc.sample) > 2.0  # the test moves the feature by several samples


def test_no_motion_zero_offset_and_rigid_motion_as_geo2rdr(patch):
    crop, terrain, geometry = patch
    rng = np.random.default_rng(4)
    memory = np.full((1, 1, terrain.quads), 600.0)
    s1 = evolve_scatterers(None, terrain.texture.shape, memory, 0.0, rng)
    s2 = evolve_scatterers(s1, terrain.texture.shape, memory, 400.0, rng)  # speckle correlation e^-0.67
    still = np.zeros(crop.shape + (3,))
    a = np.sqrt(image_scene(geometry, terrain, still, s1))
    b = np.sqrt(image_scene(geometry, terrain, still, s2))
    lon, lat = crop.lonlat()
    rc = geometry.geo2rdr(lat[30, 30], lon[30, 30], crop.heights_m[30, 30])
    li, si = int(round(float(rc.line))), int(round(float(rc.sample)))
    chip = (slice(li - 96, li + 96), slice(si - 48, si + 48))
    assert np.count_nonzero(a[chip]) > 0.95 * a[chip].size
    d_row, d_col = measure_shift(a[chip], b[chip])
    assert abs(d_row) < 0.05
    assert abs(d_col) < 0.05
    # A rigid 12 m east, 6 m north motion of the ground (texture and all) between the dates.
    d = np.zeros(crop.shape + (3,))
    d[..., 0], d[..., 1] = 12.0, 6.0
    c = np.sqrt(image_scene(geometry, terrain, d, s2))
    e, n, _ = enu_basis(lat[30, 30], lon[30, 30])
    p = geodetic_to_ecef(lat[30, 30], lon[30, 30], crop.heights_m[30, 30])
    moved = geometry.geo2rdr_ecef((p + 12.0 * e + 6.0 * n)[None, :])
    d_row, d_col = measure_shift(a[chip], c[chip])
    assert d_row == pytest.approx(float(moved.line[0] - rc.line), abs=0.1)
    assert d_col == pytest.approx(float(moved.sample[0] - rc.sample), abs=0.1)


# --- a whole simulated stack ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_stack(tmp_path_factory):
    out = tmp_path_factory.mktemp("small")
    stack = simulate_stack(get_scenario("small"), BIGTUJUNGA, out, seed=3)
    return out, stack


def test_stack_folder_and_scenes(small_stack):
    out, stack = small_stack
    loaded = load_stack(out)
    assert [s.id for s in loaded.scenes] == [s.id for s in stack.scenes]
    assert [s.date for s in loaded.scenes] == sorted(s.date for s in loaded.scenes)
    assert len(loaded.scenes) == 6
    assert loaded.masters["final"].startswith("PALSAR2_")
    assert set(loaded.masters["per_platform"]) == {"ALOS", "ALOS-2"}
    for entry in loaded.scenes:
        scene = read_scene(out / entry.sidecar)
        ds = gdal.Open(str(scene.image_path))
        assert (ds.RasterYSize, ds.RasterXSize) == (scene.radar_grid.lines, scene.radar_grid.samples)
        amplitude = ds.GetRasterBand(1).ReadAsArray()
        assert np.isfinite(amplitude).all()
        assert np.mean(amplitude > 0) > 0.97
        assert scene.is_zero_doppler == (scene.platform == "ALOS-2")  # PALSAR-1 keeps its squint


def test_baselines_and_annotation_errors(small_stack):
    out, _ = small_stack
    truth = json.loads((out / "truth" / "truth.json").read_text())
    bperp = {s["id"]: s["perpendicular_baseline_m"] for s in truth["scenes"]}
    for s in truth["scenes"]:
        if s["platform"] == "ALOS":
            assert 25_000 < abs(s["perpendicular_baseline_m"]) < 31_000  # ~28 km between platforms
        else:
            assert abs(s["perpendicular_baseline_m"]) < 1500
        errors = s["annotation_errors"]
        assert 0 < abs(errors["azimuth_px"]) + abs(errors["range_px"]) < 12
    assert bperp[truth["final_master"]] == pytest.approx(0.0, abs=1e-3)


def test_truth_is_self_consistent(small_stack):
    """LOS truth = minus the projection of the 3-D truth on the master's line of sight, etc."""
    out, stack = small_stack
    truth = json.loads((out / "truth" / "truth.json").read_text())
    master = RadarGeometry(stack.scene(truth["final_master"]))
    los_ds = gdal.Open(str(out / "truth" / "los.tif"))
    assert los_ds.RasterCount == 6
    assert los_ds.GetRasterBand(6).GetDescription() == "D" + stack.scenes[-1].date.replace("-", "")
    assert los_ds.GetRasterBand(6).GetMetadataItem("DATE") == stack.scenes[-1].date
    los_map = los_ds.ReadAsArray()
    for point in truth["points"]:
        series = np.genfromtxt(
            out / "truth" / f"{point['name']}.csv", delimiter=",", names=True, dtype=None, encoding=None
        )
        lat, lon, h = point["lat"], point["lon"], point["height_m"]
        p = geodetic_to_ecef(lat, lon, h)
        t = master.geo2rdr_ecef(p[None, :]).azimuth_time_s
        look = p - master.orbit.interpolate(t).position_m[0]
        look /= np.linalg.norm(look)
        e, n, u = enu_basis(lat, lon)
        along = master.orbit.interpolate(t).velocity_m_s[0]
        along -= (along @ look) * look
        along /= np.linalg.norm(along)
        for row in series:
            d = row["east_m"] * e + row["north_m"] * n + row["up_m"] * u
            size = np.linalg.norm(d)
            assert row["los_m"] == pytest.approx(-(d @ look), abs=0.002 + 1e-3 * size)
            assert row["azimuth_m"] == pytest.approx(d @ along, abs=0.01 + 5e-3 * size)
        # The LOS map agrees with the point series at the point's pixel (the map is smooth there).
        line, sample = int(round(point["line"])), int(round(point["sample"]))
        assert los_map[-1, line, sample] == pytest.approx(
            series["los_m"][-1], abs=0.02 * abs(series["los_m"][-1]) + 0.05
        )
    p2 = np.genfromtxt(out / "truth" / "P2.csv", delimiter=",", names=True)
    assert p2["los_m"][-1] == pytest.approx(
        get_scenario("small").los_at_p2_m(np.array([np.datetime64(stack.scenes[-1].date)]))[0], abs=0.01
    )
    # Stable ground outside the body does not move.
    assert los_map[:, :5, :5].max() == 0.0


def test_truth_csvs_are_complete_and_no_temporary_is_left(small_stack):
    """The truth CSVs go through the core's atomic CSV writer: whole files, no ``.partial`` beside them."""
    out, _ = small_stack
    truth = out / "truth"
    assert not [p.name for p in truth.rglob("*.partial*")]
    points = (truth / "points.csv").read_bytes().decode("utf-8")
    assert points.startswith("name,lat,lon,height_m,line,sample\n")
    assert "\r" not in points
    assert [line.split(",")[0] for line in points.splitlines()[1:]] == ["P1", "P2", "P3", "P4"]
    for name in ("P1", "P2", "P3", "P4"):
        text = (truth / f"{name}.csv").read_text(encoding="utf-8")
        assert text.startswith("date,los_m,azimuth_m,east_m,north_m,up_m\n")
        assert text.endswith("\n")
        assert len(text.splitlines()) == 1 + 6


def test_a_failure_while_writing_a_csv_leaves_no_partial_file(tmp_path, monkeypatch):
    """The writer the simulator's truth CSVs use: an error mid-way keeps the old file and no temporary."""
    from processing_core.simulate import stack_sim

    def rows():
        yield ("2015-07-27", "0.0000")
        raise RuntimeError("disk full")

    fresh = tmp_path / "truth" / "P1.csv"
    with pytest.raises(RuntimeError, match="disk full"):
        stack_sim.write_csv(fresh, ("date", "los_m"), rows(), lineterminator="\n")
    assert not fresh.exists()
    assert list(fresh.parent.iterdir()) == []
    old = tmp_path / "truth" / "points.csv"
    old.write_text("name,lat\nP1,34.3\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="disk full"):
        stack_sim.write_csv(old, ("name", "lat"), rows())
    assert old.read_text(encoding="utf-8") == "name,lat\nP1,34.3\n"
    assert sorted(p.name for p in old.parent.iterdir()) == ["points.csv"]
    # and complete rows, sequences or mappings by the header's names, are written in full
    stack_sim.write_csv(
        old, ("name", "lat"), [("P1", "1.5"), {"lat": "2.5", "name": "P2"}], lineterminator="\n"
    )
    assert old.read_text(encoding="utf-8") == "name,lat\nP1,1.5\nP2,2.5\n"


def test_same_seed_same_stack(small_stack, tmp_path):
    out, stack = small_stack
    again = simulate_stack(get_scenario("small"), BIGTUJUNGA, tmp_path / "again", seed=3)
    first = stack.scenes[1]
    a = gdal.Open(str(out / "scenes" / f"{first.id}.tif")).ReadAsArray()
    b = gdal.Open(str(tmp_path / "again" / "scenes" / f"{first.id}.tif")).ReadAsArray()
    assert np.array_equal(a, b)
    assert again.masters == stack.masters


def test_descending_zero_doppler_variant(tmp_path):
    from dataclasses import replace

    scenario = replace(get_scenario("small"), pass_direction="descending", palsar1_doppler=False)
    stack = simulate_stack(scenario, BIGTUJUNGA, tmp_path / "desc", seed=1)
    for entry in stack.scenes:
        scene = stack.scene(entry.id)
        assert scene.pass_direction == "descending"
        assert scene.is_zero_doppler
        geometry = RadarGeometry(scene)
        mid = geometry.time_of_line(0.5 * scene.radar_grid.lines)
        state = geometry.orbit.interpolate(mid)
        lat, lon, _ = geometry.rdr2geo(mid, scene.radar_grid.range_of_sample(0.0), 1000.0)
        _, north, _ = enu_basis(lat, lon)
        assert state.velocity_m_s @ north < -6000.0  # flying south
    truth = json.loads((tmp_path / "desc" / "truth" / "truth.json").read_text())
    # Right-looking from the east: the slope that moves away from the radar faces west.
    assert 180.0 < truth["landslide"]["downslope_azimuth_deg"] < 360.0
    p2 = np.genfromtxt(tmp_path / "desc" / "truth" / "P2.csv", delimiter=",", names=True)
    assert p2["los_m"][-1] == pytest.approx(
        scenario.los_at_p2_m(np.array([np.datetime64("2017-07-24")]))[0], abs=0.01
    )


def test_true_sidecars_differ_by_the_recorded_annotation_errors(small_stack):
    out, stack = small_stack
    truth = json.loads((out / "truth" / "truth.json").read_text())
    for record in truth["scenes"]:
        true = read_scene(out / "truth" / "scenes" / f"{record['id']}.json")
        annotated = stack.scene(record["id"])
        assert true.image_path == annotated.image_path
        g_true, g_ann = true.radar_grid, annotated.radar_grid
        d_lines = (
            (g_ann.first_line_time - g_true.first_line_time)
            / np.timedelta64(1, "ns")
            * 1e-9
            / g_true.line_time_interval_s
        )
        assert d_lines == pytest.approx(record["annotation_errors"]["azimuth_px"], abs=1e-4)
        d_samples = (g_ann.slant_range_first_m - g_true.slant_range_first_m) / g_true.slant_range_spacing_m
        assert d_samples == pytest.approx(record["annotation_errors"]["range_px"], abs=1e-6)
        offset = np.subtract(annotated.orbit[0].position_m, true.orbit[0].position_m)
        assert offset == pytest.approx(record["annotation_errors"]["orbit_m"], abs=1e-6)
