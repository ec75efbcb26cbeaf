"""Layer 2: DEM<->radar lookup tables, incidence, layover/shadow, simulated intensity, GeoTIFF output."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from geometry_helpers import BIGTUJUNGA, alos_scene, write_geographic_dem
from osgeo import gdal

from processing_core import lookup_dem
from processing_core.dem import _upsample, read_dem
from processing_core.ellipsoid import ecef_to_geodetic, ellipsoid_normal, enu_basis, geodetic_to_ecef
from processing_core.errors import DemError
from processing_core.geometry import RadarGeometry
from processing_core.lookup import (
    LAYOVER,
    SHADOW,
    dem_to_radar,
    radar_to_ground,
    scene_dem,
    simulate_intensity,
    write_lookup_tables,
)
from processing_core.lookup_dem import STRIP_CELLS, _exclusive_cummax, _fill_nan
from processing_core.lookup_tiles import (
    GROUND_BYTES_PER_PIXEL,
    INTENSITY_BYTES_PER_PIXEL,
    SUBFACET_BYTES,
    FacetSplat,
    _accumulate_bounded,
    _PositiveMedian,
    tile_shape,
    tile_windows,
)
from processing_core.scene import write_scene

LAT0, LON0 = 34.32, -118.15
STEP = 0.0003  # deg, ~33 m north-south, ~28 m east-west


def _synthetic_dem(tmp_path, heights, name="dem.tif"):
    return _synthetic_dem_step(tmp_path, heights, STEP, name)


def _synthetic_dem_step(tmp_path, heights, step, name="dem.tif"):
    rows, cols = heights.shape
    return write_geographic_dem(
        tmp_path / name, heights, LAT0 + rows / 2 * step, LON0 - cols / 2 * step, step
    )


@pytest.fixture(scope="module")
def real():
    geometry = RadarGeometry(alos_scene())
    dem = read_dem(BIGTUJUNGA)
    return geometry, dem, dem_to_radar(geometry, dem)


def test_dem_lookup_equals_geo2rdr_of_every_cell(real):
    geometry, dem, lut = real
    lon, lat = dem.lonlat()
    direct = geometry.geo2rdr(lat, lon, dem.heights_m)
    inside = lut.inside
    assert 0.1 < inside.mean() < 0.9  # the scene covers part of the DEM
    assert np.abs(lut.line[inside] - direct.line[inside]).max() < 1e-6
    assert np.abs(lut.sample[inside] - direct.sample[inside]).max() < 1e-6
    assert np.isnan(lut.line[~inside]).all()


def test_flat_terrain_local_incidence_equals_ellipsoid_incidence(tmp_path):
    geometry = RadarGeometry(alos_scene(lines=2000, samples=1200))
    dem = read_dem(_synthetic_dem(tmp_path, np.full((120, 140), 500.0)), vertical="ellipsoid")
    lut = dem_to_radar(geometry, dem)
    core = (slice(2, -2), slice(2, -2))
    assert np.nanmax(np.abs(lut.local_incidence_deg[core] - lut.incidence_deg[core])) < 0.01
    # Off-nadir 34.3 deg from 691 km: on a sphere, sin(inc) = (R + H) / R * sin(look) gives ~38.6 deg.
    r_earth = 6.3713e6
    expected = np.degrees(np.arcsin((r_earth + 691.65e3) / r_earth * np.sin(np.radians(34.3))))
    centre = lut.incidence_deg[60, 70]
    assert centre == pytest.approx(expected, abs=0.3)


def test_tilted_plane_local_incidence(tmp_path):
    """A plane rising 20 deg to the east: its normal, built independently in ENU, sets the expected angle."""
    geometry = RadarGeometry(alos_scene(lines=2000, samples=1200))
    rows, cols = 120, 140
    east_m = (np.arange(cols) - cols / 2) * STEP * np.pi / 180 * 6.378e6 * np.cos(np.radians(LAT0))
    slope = np.tan(np.radians(20.0))
    heights = np.tile(1000.0 + slope * east_m, (rows, 1))
    dem = read_dem(_synthetic_dem(tmp_path, heights), vertical="ellipsoid")
    lut = dem_to_radar(geometry, dem)
    lon, lat = dem.lonlat()
    r, c = 60, 70
    e, n, u = enu_basis(lat[r, c], lon[r, c])
    normal = (-slope * e + u) / np.hypot(slope, 1.0)
    p = geodetic_to_ecef(lat[r, c], lon[r, c], dem.heights_m[r, c])
    look = geometry.look_vector(p, lut.azimuth_time_s[r, c])
    expected = np.degrees(np.arccos(normal @ look))
    assert lut.local_incidence_deg[r, c] == pytest.approx(expected, abs=0.05)
    # The slope faces the radar (ascending, right-looking: the radar is to the west).
    assert lut.local_incidence_deg[r, c] < lut.incidence_deg[r, c] - 15.0


def test_layover_and_shadow_on_a_steep_ridge(tmp_path):
    """A N-S ridge 1.5 km high: 60 deg face towards the radar (layover), 75 deg back face (shadow)."""
    geometry = RadarGeometry(alos_scene(lines=3000, samples=1600))
    rows, cols = 100, 400
    east_m = (np.arange(cols) - cols / 2) * STEP * np.pi / 180 * 6.378e6 * np.cos(np.radians(LAT0))
    height = 1500.0
    west = height - (-east_m) * np.tan(np.radians(60.0))
    east = height - east_m * np.tan(np.radians(75.0))
    profile = np.maximum(0.0, np.where(east_m < 0, west, east)) + 200.0
    dem = read_dem(_synthetic_dem(tmp_path, np.tile(profile, (rows, 1))), vertical="ellipsoid")
    lut = dem_to_radar(geometry, dem)
    row = rows // 2

    def col_at(x_m):
        return int(np.argmin(np.abs(east_m - x_m)))

    mask = lut.mask[row]
    assert mask[col_at(-400.0)] & LAYOVER  # mid fore-slope
    assert mask[col_at(200.0)] & SHADOW  # back slope
    assert mask[col_at(800.0)] & SHADOW  # flat ground within H * tan(inc) ~ 1.2 km behind the crest
    assert mask[col_at(-1500.0)] & LAYOVER  # flat ground within H / tan(inc) ~ 1.9 km before the crest
    assert mask[col_at(-3000.0)] == 0
    assert mask[col_at(3000.0)] == 0
    assert not (mask[col_at(-400.0)] & SHADOW)
    image = simulate_intensity(lut, geometry.grid.lines, geometry.grid.samples)
    li, si = int(round(lut.line[row, col_at(-400.0)])), int(round(lut.sample[row, col_at(-400.0)]))
    lit = image[image > 0]
    # Layover adds the fore-slope (2.75 m of slope per slant-range metre, cos^2 21 deg) to the flat
    # ground in front (1.6 m per metre, cos^2 38.7 deg): about 3.4 times flat ground.
    assert image[li - 2 : li + 3, si - 2 : si + 3].mean() > 2.5 * np.median(lit)
    ls, ss = int(round(lut.line[row, col_at(900.0)])), int(round(lut.sample[row, col_at(900.0)]))
    assert image[ls - 3 : ls + 4, ss - 3 : ss + 4].max() == 0.0  # shadow stays dark


def test_simulated_intensity_of_flat_ground_is_uniform(tmp_path):
    geometry = RadarGeometry(alos_scene(lines=1500, samples=900))
    dem = read_dem(_synthetic_dem(tmp_path, np.full((100, 120), 300.0)), vertical="ellipsoid")
    lut = dem_to_radar(geometry, dem)
    image = simulate_intensity(lut, geometry.grid.lines, geometry.grid.samples)
    lc, sc = int(round(lut.line[50, 60])), int(round(lut.sample[50, 60]))
    block = image[lc - 200 : lc + 200, sc - 100 : sc + 100]
    assert block.min() > 0
    # Ideal: constant across the scene (cos^2 of a slowly varying incidence); splatting keeps the
    # sub-pixel ripple within a few per cent.
    assert block.std() / block.mean() < 0.03
    assert abs(block.mean() - 1.0) < 0.05


def test_radar_to_ground_round_trip_on_real_dem(real):
    geometry, dem, _ = real
    ground = radar_to_ground(geometry, dem)
    ok = np.isfinite(ground.lat_deg) & ~ground.layover
    assert ok.mean() > 0.95
    rng = np.random.default_rng(5)
    lines, samples = np.unravel_index(rng.choice(np.flatnonzero(ok), 3000, replace=False), ok.shape)
    rc = geometry.geo2rdr(
        ground.lat_deg[lines, samples], ground.lon_deg[lines, samples], ground.height_m[lines, samples]
    )
    assert np.abs(rc.line - lines).max() < 1e-3
    assert np.abs(rc.sample - samples).max() < 1e-3
    on_dem = dem.sample(ground.lat_deg[lines, samples], ground.lon_deg[lines, samples])
    assert np.abs(on_dem - ground.height_m[lines, samples]).max() < 0.01


def test_a_window_of_the_ground_table_is_the_same_bits_whatever_ran_before(real):
    """Reproducibility: the ground points of one window, computed again after other windows (the
    tiles of a smaller memory budget), are the same bits. numpy 1.24's arctan2 on strided views
    rounded by where the heap put its output, so rdr2geo's geodetic coordinates, and with them
    the rectified scenes of two identical runs, differed in their last bits (1e-14 deg)."""
    geometry, dem, _ = real
    lines, samples = geometry.grid.lines, geometry.grid.samples
    right = (0, 144, 144, min(209, samples))
    first = radar_to_ground(geometry, dem, coarse_step=8, window=right)
    for window in [(0, 144, 0, 144), right, (144, 288, 0, 144), right, right]:
        again = radar_to_ground(geometry, dem, coarse_step=8, window=window)
        if window == right:
            for name in ("lat_deg", "lon_deg", "height_m", "layover"):
                assert getattr(again, name).tobytes() == getattr(first, name).tobytes(), name
    assert lines >= 288


def test_write_lookup_tables(tmp_path):
    scene = alos_scene(lines=900, samples=600)
    sidecar = write_scene(scene, tmp_path / "scene.json")
    calls = []
    written = write_lookup_tables(
        sidecar, BIGTUJUNGA, tmp_path / "lut", progress=lambda f, m: calls.append(f)
    )
    names = sorted(p.name for p in written)
    assert names == ["dem_lut.tif", "ground_lut.tif", "layover_shadow.tif", "simulated_intensity.tif"]
    assert calls[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in calls)
    ds = gdal.Open(str(tmp_path / "lut" / "dem_lut.tif"))
    src = gdal.Open(str(BIGTUJUNGA))
    # The DEM's grid cropped to the scene (test_scene_dem_crop_changes_no_value): same spacing,
    # origin whole cells inside the DEM, fewer cells.
    gt, dem_gt = ds.GetGeoTransform(), src.GetGeoTransform()
    assert (gt[1], gt[2], gt[4], gt[5]) == (dem_gt[1], dem_gt[2], dem_gt[4], dem_gt[5])
    offset = ((gt[3] - dem_gt[3]) / dem_gt[5], (gt[0] - dem_gt[0]) / dem_gt[1])
    assert offset == pytest.approx(np.round(offset), abs=1e-9)
    assert min(offset) >= 0
    assert ds.RasterXSize * ds.RasterYSize < src.RasterXSize * src.RasterYSize
    assert [ds.GetRasterBand(i + 1).GetDescription() for i in range(4)] == [
        "line_px",
        "sample_px",
        "incidence_deg",
        "local_incidence_deg",
    ]
    assert np.isnan(ds.GetRasterBand(1).GetNoDataValue())
    assert ds.GetMetadataItem("SCENE_ID") == scene.id
    line = ds.GetRasterBand(1).ReadAsArray()
    ground = gdal.Open(str(tmp_path / "lut" / "ground_lut.tif"))
    assert (ground.RasterYSize, ground.RasterXSize) == (900, 600)
    lat = ground.GetRasterBand(1).ReadAsArray()
    lon = ground.GetRasterBand(2).ReadAsArray()
    h = ground.GetRasterBand(3).ReadAsArray()
    back = RadarGeometry(scene).geo2rdr(lat[::50, ::50], lon[::50, ::50], h[::50, ::50])
    assert np.abs(back.line - np.arange(0, 900, 50)[:, None]).max() < 1e-3
    assert np.nanmin(line) >= -0.5
    assert np.nanmax(line) <= 899.5
    assert not list(tmp_path.glob("lut/.*partial*"))


@pytest.mark.parametrize(("lines", "samples"), [(900, 600), (200, 120)])
def test_scene_dem_crop_changes_no_value(lines, samples):
    """dem_to_radar on scene_dem's crop of the real DEM equals it on the whole DEM (8 and 21 times
    the cells): every cell that falls in the grid is in the crop, with the same line and sample
    (Newton from other seeds: 1e-6 px), angles, and layover/shadow bits, shadows included."""
    geometry = RadarGeometry(alos_scene(lines=lines, samples=samples))
    dem = read_dem(BIGTUJUNGA)
    crop = scene_dem(dem, geometry)
    full, part = dem_to_radar(geometry, dem), dem_to_radar(geometry, crop)
    r0 = round((crop.geotransform[3] - dem.geotransform[3]) / dem.geotransform[5])
    c0 = round((crop.geotransform[0] - dem.geotransform[0]) / dem.geotransform[1])
    window = (slice(r0, r0 + crop.shape[0]), slice(c0, c0 + crop.shape[1]))
    np.testing.assert_array_equal(crop.heights_m, dem.heights_m[window])
    assert crop.heights_m.size * 4 < dem.heights_m.size
    inside = full.inside
    assert inside.sum() > 400
    assert inside[window].sum() == inside.sum()  # nothing inside the grid left out
    assert np.array_equal(part.inside, inside[window])
    ok = inside[window]
    for name, tol in (
        ("line", 1e-6),
        ("sample", 1e-6),
        ("incidence_deg", 1e-9),
        ("local_incidence_deg", 1e-9),
    ):
        np.testing.assert_allclose(getattr(part, name)[ok], getattr(full, name)[window][ok], rtol=0, atol=tol)
    assert (
        np.count_nonzero(full.mask[inside] & SHADOW) > 0 or np.count_nonzero(full.mask[inside] & LAYOVER) > 0
    )
    np.testing.assert_array_equal(part.mask[ok], full.mask[window][ok])
    # The ground lookup (each pixel's highest crossing with the DEM, found by a scan of 32 heights
    # over the DEM's height range): the same point within the bisection's 1 mm, except at under
    # 0.1 % of the pixels, near layover, where the curve grazes the terrain between two scanned
    # heights and the whole DEM's coarser scan (65 m steps, against the crop's 36 m) sees a
    # different crossing.
    whole, cropped = radar_to_ground(geometry, dem), radar_to_ground(geometry, crop)
    assert np.isfinite(whole.lat_deg).mean() > 0.95
    assert np.array_equal(np.isfinite(cropped.lat_deg), np.isfinite(whole.lat_deg))
    finite = np.isfinite(whole.height_m)
    moved = finite & ~(np.abs(cropped.height_m - whole.height_m) < 0.01)
    assert np.count_nonzero(moved) < 1e-3 * finite.sum()
    ok = finite & ~moved
    for name in ("lat_deg", "lon_deg"):
        np.testing.assert_allclose(getattr(cropped, name)[ok], getattr(whole, name)[ok], rtol=0, atol=1e-7)


def test_scene_off_the_dem_is_a_clear_error(tmp_path):
    scene = alos_scene(lines=400, samples=300, centre_lat_deg=41.9, centre_lon_deg=12.5)
    sidecar = write_scene(scene, tmp_path / "rome.json")
    with pytest.raises(
        DemError, match=r"bigtujunga_srtm30m_utm11.tif: DEM .* does not cover scene ALOS_20080101"
    ):
        write_lookup_tables(sidecar, BIGTUJUNGA, tmp_path / "lut")
    assert not (tmp_path / "lut").exists()


def test_lat_lon_of_ground_lut_are_geodetic():
    geometry = RadarGeometry(alos_scene(lines=200, samples=200))
    lat, lon, xyz = geometry.rdr2geo(
        geometry.time_of_line(100.0), geometry.grid.range_of_sample(100.0), 900.0
    )
    la, lo, h = ecef_to_geodetic(xyz)
    assert (la, lo, h) == pytest.approx((lat, lon, 900.0), abs=1e-6)


def _band(path, i):
    ds = gdal.Open(str(path))  # kept alive while its band is read
    return ds.GetRasterBand(i).ReadAsArray()


def test_tiled_rasters_equal_the_whole_arrays(tmp_path):
    """With a budget of a few MiB both radar-grid rasters are written in many tiles, bit for bit."""
    lines, samples, memory_mb = 900, 600, 8.0
    scene = alos_scene(lines=lines, samples=samples)
    sidecar = write_scene(scene, tmp_path / "scene.json")
    written = write_lookup_tables(sidecar, BIGTUJUNGA, tmp_path / "lut", memory_mb=memory_mb)
    assert sorted(p.name for p in written) == sorted(
        ["dem_lut.tif", "layover_shadow.tif", "simulated_intensity.tif", "ground_lut.tif"]
    )
    # Several tiles of each raster, the ground tiles on multiples of the coarse step (8).
    ground_tile = tile_shape(lines, samples, memory_mb, GROUND_BYTES_PER_PIXEL, multiple=8)
    image_tile = tile_shape(lines, samples, memory_mb, INTENSITY_BYTES_PER_PIXEL)
    assert len(tile_windows(lines, samples, *ground_tile)) > 10
    assert len(tile_windows(lines, samples, *image_tile)) > 3
    assert ground_tile[0] % 8 == 0
    assert ground_tile[1] % 8 == 0
    geometry = RadarGeometry(scene)
    dem = scene_dem(read_dem(BIGTUJUNGA), geometry)  # the DEM the tables are computed on
    whole = radar_to_ground(geometry, dem)
    ground = tmp_path / "lut" / "ground_lut.tif"
    for i, expected in enumerate((whole.lat_deg, whole.lon_deg, whole.height_m), start=1):
        assert np.array_equal(_band(ground, i), expected, equal_nan=True)
    assert np.array_equal(_band(ground, 4), whole.layover.astype(np.float64))
    assert np.isfinite(whole.lat_deg).mean() > 0.95
    image = simulate_intensity(dem_to_radar(geometry, dem), lines, samples)
    tiled = _band(tmp_path / "lut" / "simulated_intensity.tif", 1)
    assert tiled.dtype == np.float32
    assert np.array_equal(tiled, image)
    lit = tiled[tiled > 0]
    assert lit.size > 0.5 * tiled.size
    assert np.median(lit) == pytest.approx(1.0, abs=1e-6)  # normalised over the whole image, not per tile
    for name, bands, dtype in (
        ("ground_lut.tif", 4, gdal.GDT_Float64),
        ("simulated_intensity.tif", 1, gdal.GDT_Float32),
    ):
        ds = gdal.Open(str(tmp_path / "lut" / name))
        assert ds.RasterCount == bands
        assert ds.GetRasterBand(1).DataType == dtype
        assert np.isnan(ds.GetRasterBand(1).GetNoDataValue())
        assert ds.GetMetadataItem("SCENE_ID") == scene.id
    assert not [p.name for p in (tmp_path / "lut").iterdir() if p.name.startswith(".")]


def test_splat_of_a_tile_equals_the_window_of_the_whole(real):
    geometry, _, lut = real
    lines, samples = geometry.grid.lines, geometry.grid.samples
    splat = FacetSplat.from_grid(lut.line, lut.sample, np.nan_to_num(lut.area_m2))
    whole = splat.accumulate((0, lines, 0, samples))
    for window in ((0, 700, 0, 500), (1234, 1777, 901, 1800), (2999, 3000, 0, 1800)):
        l0, l1, s0, s1 = window
        index = splat.reaching(window)
        assert index.size < splat.weight.size
        assert np.array_equal(splat.accumulate(window, index), whole[l0:l1, s0:s1])


@pytest.mark.parametrize("n", [1, 2, 7, 10, 1001])
def test_exact_median_of_positive_values_over_blocks(n):
    rng = np.random.default_rng(n)
    values = np.concatenate([rng.lognormal(0.0, 1.0, n), np.zeros(n // 3), np.full(n // 2, 1.0)])
    values[rng.random(values.size) < 0.1] *= 1.0 + 2e-16  # neighbours one ulp apart
    rng.shuffle(values)
    blocks = np.array_split(values, 5)
    median = _PositiveMedian()
    for block in blocks:
        median.add(block)
    assert median.median(lambda: iter(blocks)) == np.median(values[values > 0])
    assert _PositiveMedian().median(lambda: iter(())) is None


@pytest.mark.parametrize("memory_mb", [0, -1.0, float("nan"), float("inf"), "512"])
def test_memory_budget_must_be_positive(tmp_path, memory_mb):
    sidecar = write_scene(alos_scene(lines=300, samples=200), tmp_path / "scene.json")
    with pytest.raises(ValueError, match="memory_mb"):
        write_lookup_tables(sidecar, BIGTUJUNGA, tmp_path / "lut", memory_mb=memory_mb)
    assert not (tmp_path / "lut").exists()


def test_tile_shape_follows_the_budget():
    # 1 GiB / 400 B = 2.68 Mpx: sqrt 1638 -> 1536 (a multiple of 256); 2.68 M / 1536 = 1747 -> 1536.
    assert tile_shape(20000, 20000, 1024.0, GROUND_BYTES_PER_PIXEL, multiple=8) == (1536, 1536)
    lines, samples = tile_shape(20000, 20000, 1024.0, INTENSITY_BYTES_PER_PIXEL)
    assert lines * samples * INTENSITY_BYTES_PER_PIXEL <= 1024 * 2**20
    assert tile_shape(100, 50, 1024.0, 400) == (100, 50)
    assert tile_shape(5000, 30, 1.0, 400, multiple=8) == (80, 30)  # narrow grid: full width, taller tiles
    windows = tile_windows(900, 600, 256, 256)
    cover = np.zeros((900, 600), dtype=int)
    for l0, l1, s0, s1 in windows:
        cover[l0:l1, s0:s1] += 1
    assert (cover == 1).all()
    with pytest.raises(ValueError, match="memory_mb"):
        tile_shape(10, 10, 0.0, 400)


def test_peak_memory_does_not_grow_with_the_radar_grid(tmp_path):
    """16 times the pixels, the same DEM and budget: the same peak (numpy allocations are traced)."""
    rows, cols = 100, 120  # 0.0018 deg cells: about 20 km x 20 km, a small DEM lookup table
    r, c = np.mgrid[0:rows, 0:cols]
    dem = _synthetic_dem_step(tmp_path, 1000.0 + 150.0 * np.sin(r / 7.0) * np.cos(c / 9.0), 0.0018)
    memory_mb = 8.0
    peaks, radar_phase = [], []
    for lines, samples in ((250, 200), (1000, 800)):
        sidecar = write_scene(alos_scene(lines=lines, samples=samples), tmp_path / f"s{lines}.json")
        held = []

        def progress(fraction, message, held=held):
            if fraction >= 0.3 and not held:  # the DEM-grid products are done: the radar grid's begin
                held.append(tracemalloc.get_traced_memory()[0])
                radar_phase.append(tracemalloc.get_traced_memory()[1])
                tracemalloc.reset_peak()

        tracemalloc.start()
        try:
            write_lookup_tables(
                sidecar,
                dem,
                tmp_path / f"lut{lines}",
                dem_vertical="ellipsoid",
                memory_mb=memory_mb,
                progress=progress,
            )
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        peaks.append(max(peak, radar_phase[-1]))
        # The radar-grid phase needs at most the budget beyond what the DEM-grid phase left.
        assert peak - held[0] < memory_mb * 2**20
        ground = gdal.Open(str(tmp_path / f"lut{lines}" / "ground_lut.tif"))
        assert (ground.RasterYSize, ground.RasterXSize) == (lines, samples)
        assert np.isfinite(ground.GetRasterBand(3).ReadAsArray()).mean() > 0.99
    small, large = peaks
    assert large < 2.0 * small
    assert large < 1000 * 800 * 8 * 4  # well under the four float64 bands of the whole large grid


def test_crowded_tiles_are_split_with_the_same_sums(real):
    """A budget smaller than a tile's splats halves it: the sums stay those of the whole window."""
    geometry, _, lut = real
    splat = FacetSplat.from_grid(lut.line, lut.sample, np.nan_to_num(lut.area_m2))
    window = (1000, 1600, 400, 1000)
    whole = splat.accumulate(window)
    assert splat.reaching(window).size * splat.factor_b * SUBFACET_BYTES > 2e6
    assert np.array_equal(_accumulate_bounded(splat, window, 2e6), whole)


# --- dem_to_radar in strips equals the whole-grid algorithm --------------------------------------------------------


def _reference_dem_to_radar(geometry, dem, seed_step=16):
    """The former whole-grid dem_to_radar (about 540 bytes per DEM cell), kept as the reference."""
    lon, lat = dem.lonlat()
    xyz = geodetic_to_ecef(lat, lon, dem.heights_m)
    coarse = geometry.geo2rdr_ecef(xyz[::seed_step, ::seed_step])
    rows, cols = np.indices(dem.shape, dtype=np.float64)
    seed = _upsample(_fill_nan(coarse.azimuth_time_s), rows / seed_step, cols / seed_step)
    rc = geometry.geo2rdr_ecef(xyz, t_init_s=seed)
    grid = geometry.grid
    line, sample = rc.line.copy(), rc.sample.copy()
    outside = ~(
        (line >= -0.5) & (line <= grid.lines - 0.5) & (sample >= -0.5) & (sample <= grid.samples - 0.5)
    )
    line[outside] = np.nan
    sample[outside] = np.nan
    sat = geometry.orbit.interpolate(np.nan_to_num(rc.azimuth_time_s, nan=geometry.first_line_s), check=False)
    look = sat.position_m - xyz
    look /= np.linalg.norm(look, axis=-1, keepdims=True)
    normal = np.cross(np.gradient(xyz, axis=0), np.gradient(xyz, axis=1))
    area = np.linalg.norm(normal, axis=-1)
    normal /= area[..., None]
    up = ellipsoid_normal(lat, lon)
    normal *= np.sign(np.einsum("...i,...i->...", normal, up))[..., None]
    cos_local = np.einsum("...i,...i->...", normal, look)
    cos_ell = np.einsum("...i,...i->...", up, look)
    return {
        "line": line,
        "sample": sample,
        "azimuth_time_s": rc.azimuth_time_s,
        "slant_range_m": rc.slant_range_m,
        "incidence_deg": np.degrees(np.arccos(np.clip(cos_ell, -1, 1))),
        "local_incidence_deg": np.degrees(np.arccos(np.clip(cos_local, -1, 1))),
        "area_m2": area,
        "mask": _reference_layover_shadow(
            geometry, dem, xyz, sat.position_m, rc.line, rc.slant_range_m, ~outside
        ),
    }


def _reference_layover_shadow(geometry, dem, xyz, sat, line, slant, inside):
    valid = np.isfinite(line) & np.isfinite(slant)
    mask = np.zeros(dem.shape, dtype=np.uint8)
    if valid.sum() < 2:
        return mask
    s_hat = sat / np.linalg.norm(sat, axis=-1, keepdims=True)
    lon, lat = dem.lonlat()
    foot = geodetic_to_ecef(lat, lon, 0.0)
    foot /= np.linalg.norm(foot, axis=-1, keepdims=True)
    ground = np.arccos(np.clip(np.einsum("...i,...i->...", s_hat, foot), -1, 1))
    off_nadir = np.arccos(np.clip(-np.einsum("...i,...i->...", xyz - sat, s_hat) / slant, -1, 1))
    cross = np.cross(np.gradient(xyz, axis=0), np.gradient(xyz, axis=1))
    # Strips about one cell wide: the median cell area inside the grid, the orbit at its first line.
    area = np.linalg.norm(cross, axis=-1)
    cell_m = float(np.sqrt(np.nanmedian(area[inside] if inside.any() else area)))
    first = geometry.orbit.interpolate(geometry.first_line_s)
    ground_speed = (
        float(np.linalg.norm(first.velocity_m_s)) * 6.371e6 / float(np.linalg.norm(first.position_m))
    )
    lines_per_cell = max(1.0, cell_m / (ground_speed * geometry.grid.line_time_interval_s))
    strip = np.floor(line[valid] / lines_per_cell)
    order = np.lexsort((ground[valid], strip))
    _, group = np.unique(strip[order], return_inverse=True)
    beta = off_nadir[valid][order]
    rng = slant[valid][order] - np.nanmin(slant[valid])
    big_b, big_r = 10.0, 1e7
    before_beta = _exclusive_cummax(beta + group * big_b) - group * big_b
    before_r = _exclusive_cummax(rng + group * big_r) - group * big_r
    after_r = -(_exclusive_cummax((-rng - group * big_r)[::-1])[::-1]) - group * big_r
    out = np.zeros(beta.shape, dtype=np.uint8)
    out[(rng <= before_r) | (rng >= after_r)] |= LAYOVER
    out[beta < before_beta - 1e-9] |= SHADOW
    flat = np.zeros(int(valid.sum()), dtype=np.uint8)
    flat[order] = out
    mask[valid] = flat
    return mask


def _assert_equals_reference(lut, reference):
    for name, expected in reference.items():
        got = getattr(lut, name)
        assert got.shape == expected.shape, name
        if name == "mask":
            assert np.array_equal(got, expected)
        else:
            assert np.array_equal(np.isnan(got), np.isnan(expected)), name
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0, equal_nan=True, err_msg=name)


def test_strips_equal_the_whole_grid_on_the_real_dem(real):
    geometry, dem, lut = real
    assert dem.heights_m.size > 2 * STRIP_CELLS  # several strips and several sweep chunks
    reference = _reference_dem_to_radar(geometry, dem)
    assert (reference["mask"] & LAYOVER).any()
    assert (reference["mask"] & SHADOW).any()
    _assert_equals_reference(lut, reference)


@pytest.mark.parametrize("strip_cells", [STRIP_CELLS, 3000])
def test_strips_equal_the_whole_grid_with_layover_and_shadow(tmp_path, monkeypatch, strip_cells):
    """The steep ridge (layover and shadow), rough, on an odd grid; small strips and sweep chunks too."""
    monkeypatch.setattr(lookup_dem, "STRIP_CELLS", strip_cells)
    geometry = RadarGeometry(alos_scene(lines=3000, samples=1600))
    rows, cols = 131, 397
    east_m = (np.arange(cols) - cols / 2) * STEP * np.pi / 180 * 6.378e6 * np.cos(np.radians(LAT0))
    west = 1500.0 + east_m * np.tan(np.radians(60.0))
    east = 1500.0 - east_m * np.tan(np.radians(75.0))
    profile = np.maximum(0.0, np.where(east_m < 0, west, east)) + 200.0
    noise = np.random.default_rng(7).normal(0.0, 20.0, (rows, cols))
    heights = np.tile(profile, (rows, 1)) + noise + 3.0 * np.arange(rows)[:, None]
    dem = read_dem(_synthetic_dem(tmp_path, heights), vertical="ellipsoid")
    lut = dem_to_radar(geometry, dem)
    reference = _reference_dem_to_radar(geometry, dem)
    assert (reference["mask"] & LAYOVER).mean() > 0.05
    assert (reference["mask"] & SHADOW).mean() > 0.05
    _assert_equals_reference(lut, reference)


def test_dem_to_radar_peak_memory_is_a_small_multiple_of_its_output(tmp_path):
    """About 100 bytes per DEM cell (the outputs are 57); the whole-grid algorithm took 540."""
    rows, cols = 600, 900
    r, c = np.mgrid[0:rows, 0:cols]
    heights = 800.0 + 400.0 * np.sin(r / 40.0) * np.cos(c / 55.0)
    dem = read_dem(_synthetic_dem(tmp_path, heights), vertical="ellipsoid")
    geometry = RadarGeometry(alos_scene())
    tracemalloc.start()
    try:
        lut = dem_to_radar(geometry, dem)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert lut.inside.mean() > 0.2
    assert peak / dem.heights_m.size < 150.0
