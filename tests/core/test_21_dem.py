"""Layer 2: DEM reading, EGM96 -> ellipsoidal heights, coverage and bad-input errors."""

from __future__ import annotations

import numpy as np
import pytest
from geometry_helpers import BIGTUJUNGA, ROME, write_geographic_dem
from osgeo import gdal

from processing_core.dem import bilinear, geoid_undulation_m, read_dem, require_coverage
from processing_core.errors import DemError


@pytest.mark.parametrize(
    ("lat", "lon", "expected_m"),
    [
        # Published EGM96 geoid heights: 17.16 m at 0N 0E (NGA's EGM96 test value) and
        # 28.7068 m at 16:46:33N 3:00:34W (GeographicLib GeoidEval example, egm96-5 grid).
        (0.0, 0.0, 17.16),
        (16 + 46 / 60 + 33 / 3600, -(3 + 34 / 3600), 28.7068),
    ],
)
def test_egm96_undulation_matches_published_values(lat, lon, expected_m):
    assert geoid_undulation_m(np.array([lat]), np.array([lon]))[0] == pytest.approx(expected_m, abs=0.02)


@pytest.mark.parametrize("path", [BIGTUJUNGA, ROME])
def test_egm96_heights_become_ellipsoidal(path):
    geoid = read_dem(path)
    ellipsoidal = read_dem(path, vertical="ellipsoid")
    lon, lat = geoid.lonlat()
    sub = (slice(3, None, 37), slice(5, None, 41))
    n = geoid_undulation_m(lat[sub], lon[sub])
    diff = (geoid.heights_m - ellipsoidal.heights_m)[sub]
    assert np.nanmax(np.abs(diff - n)) < 1e-3
    # Southern California's geoid lies ~30-36 m below the ellipsoid, Rome's ~47-49 m above it.
    assert (-37 < n.min() and n.max() < -30) if path == BIGTUJUNGA else (46 < n.min() and n.max() < 50)


def test_reading_a_dem_needs_no_whole_grid_coordinates():
    """The geoid is applied from the coordinates of every 8th cell, interpolated in strips: the
    peak memory of a read is a few copies of the heights, not the ~130 bytes per cell that the
    coordinates and indices of every cell took (a frame's 30 m DEM has 10^7 cells or more)."""
    import tracemalloc

    tracemalloc.start()
    try:
        dem = read_dem(BIGTUJUNGA)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert dem._lonlat is None  # no cached coordinates of every cell either
    assert peak / dem.heights_m.size < 60


def test_real_dem_grid_and_sampling():
    dem = read_dem(BIGTUJUNGA, vertical="ellipsoid")
    assert dem.shape == (643, 1197)
    raw = gdal.Open(str(BIGTUJUNGA)).ReadAsArray().astype(float)
    assert np.nanmin(dem.heights_m) == pytest.approx(raw.min())
    assert np.nanmax(dem.heights_m) == pytest.approx(raw.max())
    lon, lat = dem.lonlat()
    rows = np.array([0, 100, 642, 321])
    cols = np.array([0, 600, 1196, 17])
    assert np.allclose(dem.sample(lat[rows, cols], lon[rows, cols]), raw[rows, cols], atol=1e-6)
    assert np.isnan(dem.sample(np.array([40.0]), np.array([-118.0]))[0])


def test_bilinear_is_exact_on_planes_and_nan_outside():
    rows, cols = np.indices((5, 7), dtype=float)
    plane = 3.0 + 2.0 * rows - 0.5 * cols
    r = np.array([0.0, 1.25, 3.99, 4.0, -0.01])
    c = np.array([0.0, 5.5, 0.01, 6.0, 2.0])
    out = bilinear(plane, r, c)
    assert np.allclose(out[:4], 3.0 + 2.0 * r[:4] - 0.5 * c[:4])
    assert np.isnan(out[4])


def test_bad_dems_name_the_file(tmp_path):
    with pytest.raises(DemError, match="nope.tif: cannot open DEM"):
        read_dem(tmp_path / "nope.tif")
    no_crs = tmp_path / "nocrs.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(no_crs), 4, 4, 1, gdal.GDT_Float32)
    ds.SetGeoTransform((0, 1, 0, 0, 0, -1))
    ds = None
    with pytest.raises(DemError, match="nocrs.tif: DEM has no coordinate reference system"):
        read_dem(no_crs)
    void = write_geographic_dem(tmp_path / "void.tif", np.full((4, 4), -32768.0), 34.0, -118.0, 0.001)
    with pytest.raises(DemError, match="void.tif: DEM holds no valid height"):
        read_dem(void)
    with pytest.raises(ValueError, match="vertical must be one of"):
        read_dem(BIGTUJUNGA, vertical="navd88")


def test_coverage_error_names_dem_and_extent():
    dem = read_dem(ROME)
    with pytest.raises(
        DemError, match=r"rome_srtm30m_egm96.tif: DEM \(lon 12.45.*does not cover the scene: 1 of 2"
    ):
        require_coverage(dem, np.array([42.0, 45.0]), np.array([12.5, 12.5]), what="the scene")
