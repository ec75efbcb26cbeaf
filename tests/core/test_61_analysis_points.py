"""Point time series from timeseries/*.tif at a lon/lat (issue 8): node, radius mean, heights.

The stack is the ``small`` simulated scenario (seconds). Its time-series rasters are written
here with known values on a ROW0/COL0/STEP_PX sub-grid, and the rectification's refined master
(``geometry/refined/<final>.json``) is the simulator's true master sidecar: the geometry in which
``truth/points.csv`` gives P2's master line and sample. The expected node and values come from
those truth coordinates and the written arrays, not from the code under test.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from geometry_helpers import BIGTUJUNGA

from processing_core.analysis.points import extract_point_series, locate_point, read_points_table
from processing_core.analysis.series import read_series_csv, write_series_csv
from processing_core.ellipsoid import ecef_to_geodetic, ellipsoid_normal, geodetic_to_ecef
from processing_core.errors import InputError
from processing_core.geometry import RadarGeometry
from processing_core.radar_grids import SubGrid, azimuth_spacing_m
from processing_core.rasters import write_geotiff
from processing_core.scene import read_scene
from processing_core.simulate import get_scenario, simulate_stack
from processing_core.stack import load_stack

ROW0, COL0, STEP = 3.0, 5.0, 6.0


def _values(n_dates: int, rows: int, cols: int, scale: float) -> np.ndarray:
    k, r, c = np.meshgrid(np.arange(n_dates), np.arange(rows), np.arange(cols), indexing="ij")
    return scale * k * (1.0 + 0.01 * r + 0.001 * c) + 0.0001 * c * (k > 0)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    out = tmp_path_factory.mktemp("points")
    simulate_stack(get_scenario("small"), BIGTUJUNGA, out, seed=4)
    st = load_stack(out)
    final = st.masters["final"]
    (out / "geometry" / "refined").mkdir(parents=True)
    shutil.copy(out / "truth" / "scenes" / f"{final}.json", out / "geometry" / "refined" / f"{final}.json")
    g = read_scene(out / "truth" / "scenes" / f"{final}.json").radar_grid
    grid = SubGrid(
        ROW0, COL0, STEP, int((g.lines - 1 - ROW0) // STEP) + 1, int((g.samples - 1 - COL0) // STEP) + 1
    )
    dates = [s.date for s in st.scenes]
    names = ["D" + d.replace("-", "") for d in dates]
    meta = [{"DATE": d} for d in dates]
    arrays = {
        "los": _values(len(dates), grid.rows, grid.cols, -1.0),
        "azimuth": _values(len(dates), grid.rows, grid.cols, 0.2),
        "los_std": np.abs(_values(len(dates), grid.rows, grid.cols, 0.01)),
        "azimuth_std": np.abs(_values(len(dates), grid.rows, grid.cols, 0.02)),
    }
    arrays["los"][2, 10, 4] = np.nan  # a hole, for the radius mean
    for key, a in arrays.items():
        write_geotiff(
            out / "timeseries" / f"{key}.tif",
            list(a),
            descriptions=names,
            band_metadata=meta,
            metadata={**grid.metadata(), "UNITS": "m"},
        )
    points = {}
    for line in (out / "truth" / "points.csv").read_text().splitlines()[1:]:
        name, lat, lon, h, li, sa = line.split(",")
        points[name] = {
            "lat": float(lat),
            "lon": float(lon),
            "h": float(h),
            "line": float(li),
            "sample": float(sa),
        }
    return out, grid, arrays, points, final


def test_nearest_node_at_p2(stack):
    out, grid, arrays, points, _ = stack
    p2 = points["P2"]
    series = extract_point_series(out, p2["lon"], p2["lat"], dem=BIGTUJUNGA)
    # geo2rdr on the refined (true) master with the DEM height lands on the truth's pixel.
    assert series.info["line"] == pytest.approx(p2["line"], abs=0.05)
    assert series.info["sample"] == pytest.approx(p2["sample"], abs=0.05)
    assert series.info["height_m"] == pytest.approx(p2["h"], abs=0.05)
    r = int(round((p2["line"] - ROW0) / STEP))
    c = int(round((p2["sample"] - COL0) / STEP))
    assert (series.info["node_row"], series.info["node_col"]) == (r, c)
    np.testing.assert_allclose(series.los_m, arrays["los"][:, r, c], rtol=1e-6)
    np.testing.assert_allclose(series.azimuth_m, arrays["azimuth"][:, r, c], rtol=1e-6)
    np.testing.assert_allclose(series.los_std_m, arrays["los_std"][:, r, c], rtol=1e-6)
    np.testing.assert_allclose(series.azimuth_std_m, arrays["azimuth_std"][:, r, c], rtol=1e-6)
    assert [str(d) for d in series.dates] == [s.date for s in load_stack(out).scenes]
    # The given height gives the same pixel.
    same = locate_point(out, p2["lon"], p2["lat"], height_m=p2["h"])
    assert (same.line, same.sample) == pytest.approx((series.info["line"], series.info["sample"]), abs=1e-3)


def test_radius_mean_at_p2(stack):
    out, grid, arrays, points, final = stack
    p2 = points["P2"]
    # Ground distance of every node from P2, approximated from the pixel sizes at P2: azimuth line
    # length and slant-range spacing / sin(incidence) (independent of the code's rdr2geo).
    geom = RadarGeometry(read_scene(out / "truth" / "scenes" / f"{final}.json"))
    a = float(azimuth_spacing_m(geom, np.array(p2["line"]), np.array(p2["sample"]), np.array(p2["h"])))
    xyz = geodetic_to_ecef(p2["lat"], p2["lon"], p2["h"])
    t = geom.geo2rdr_ecef(xyz[None, :]).azimuth_time_s
    look = geom.look_vector(xyz[None, :], t)[0]
    lat, lon, _ = ecef_to_geodetic(xyz[None, :])
    cos_inc = float(look @ ellipsoid_normal(lat, lon)[0])
    g = geom.grid.slant_range_spacing_m / np.sqrt(1 - cos_inc**2)
    rows, cols = np.meshgrid(np.arange(grid.rows), np.arange(grid.cols), indexing="ij")
    dist = np.hypot((grid.lines(rows) - p2["line"]) * a, (grid.samples(cols) - p2["sample"]) * g)
    # A radius in a wide gap of the sorted distances, so the approximation cannot change the set.
    d = np.sort(dist.ravel())[:40]
    k = int(np.argmax(np.diff(d[5:]) / d[6:])) + 5
    radius = 0.5 * (d[k] + d[k + 1])
    inside = dist <= radius
    assert 5 <= inside.sum() <= 40
    series = extract_point_series(out, p2["lon"], p2["lat"], radius_m=radius, dem=BIGTUJUNGA)
    assert series.info["n_nodes"] == int(inside.sum())
    expected = np.nanmean(arrays["los"][:, inside], axis=1)  # date 2 skips the NaN node
    np.testing.assert_allclose(series.los_m, expected, rtol=1e-6)
    np.testing.assert_allclose(series.azimuth_m, arrays["azimuth"][:, inside].mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(
        series.azimuth_std_m, arrays["azimuth"][:, inside].std(axis=1, ddof=1), rtol=1e-5
    )
    np.testing.assert_allclose(
        series.los_std_m, np.nanstd(arrays["los"][:, inside], axis=1, ddof=1), rtol=1e-5
    )
    with pytest.raises(InputError, match="no time-series node within"):
        extract_point_series(out, p2["lon"], p2["lat"], radius_m=0.5 * d[0], dem=BIGTUJUNGA)


def test_height_from_the_ground_lookup_table(stack, tmp_path):
    out, grid, arrays, points, final = stack
    p2 = points["P2"]
    copy = tmp_path / "stack"
    shutil.copytree(out, copy)
    # A lookup table of flat ground at P2's height: every master pixel's ground point by rdr2geo.
    geom = RadarGeometry(read_scene(copy / "geometry" / "refined" / f"{final}.json"))
    g = geom.grid
    lines, samples = np.meshgrid(
        np.arange(g.lines, dtype=float), np.arange(g.samples, dtype=float), indexing="ij"
    )
    lat, lon, _ = geom.rdr2geo(
        geom.time_of_line(lines), g.range_of_sample(samples), np.full(lines.shape, p2["h"])
    )
    write_geotiff(
        copy / "geometry" / "ground_lut.tif",
        [lat, lon, np.full(lat.shape, p2["h"]), np.zeros(lat.shape)],
        descriptions=["lat_deg", "lon_deg", "height_m", "layover"],
        dtype=np.float64,
    )
    where = locate_point(copy, p2["lon"], p2["lat"])
    assert where.height_m == pytest.approx(p2["h"])
    assert where.height_source.endswith("ground_lut.tif")
    assert (where.line, where.sample) == pytest.approx((p2["line"], p2["sample"]), abs=0.05)
    # Shadow (no ground point) over 40 pixels around P2: the master does not see it.
    hole = (np.abs(lines - p2["line"]) < 40) & (np.abs(samples - p2["sample"]) < 40)
    lat[hole] = lon[hole] = np.nan
    write_geotiff(
        copy / "geometry" / "ground_lut.tif",
        [lat, lon, np.full(lat.shape, p2["h"]), np.zeros(lat.shape)],
        descriptions=["lat_deg", "lon_deg", "height_m", "layover"],
        dtype=np.float64,
    )
    with pytest.raises(InputError, match="no master pixel sees"):
        locate_point(copy, p2["lon"], p2["lat"])


def test_points_file_and_csv_round_trip(stack, tmp_path):
    out, grid, arrays, points, _ = stack
    table = tmp_path / "points.csv"
    table.write_text(
        "name,lon,lat\n" + "".join(f"{n},{points[n]['lon']},{points[n]['lat']}\n" for n in ("P2", "P3"))
    )
    listed = read_points_table(table)
    assert [n for n, _, _ in listed] == ["P2", "P3"]
    series = [extract_point_series(out, lo, la, name=n, dem=BIGTUJUNGA) for n, lo, la in listed]
    path = write_series_csv(tmp_path / "series.csv", series)
    header = path.read_text().splitlines()[0]
    assert header == "name,date,los_m,azimuth_m,los_std_m,azimuth_std_m"
    back = read_series_csv(path, name="P3")
    np.testing.assert_allclose(back.los_m, series[1].los_m, atol=1e-6)
    np.testing.assert_array_equal(back.dates, series[1].dates)
    with pytest.raises(InputError, match="holds points P2, P3"):
        read_series_csv(path)
    single = write_series_csv(tmp_path / "one.csv", series[:1])
    assert single.read_text().splitlines()[0] == "date,los_m,azimuth_m,los_std_m,azimuth_std_m"


def test_point_errors(stack, tmp_path):
    out, grid, arrays, points, _ = stack
    p2 = points["P2"]
    with pytest.raises(InputError, match="outside"):
        extract_point_series(out, p2["lon"] + 0.05, p2["lat"], height_m=p2["h"])
    empty = tmp_path / "empty"
    shutil.copytree(out, empty, ignore=shutil.ignore_patterns("timeseries"))
    with pytest.raises(InputError, match="run the invert step first"):
        extract_point_series(empty, p2["lon"], p2["lat"], height_m=p2["h"])
    with pytest.raises(InputError, match="give --dem"):
        locate_point(empty, p2["lon"], p2["lat"])
    with pytest.raises(InputError, match="radius"):
        extract_point_series(out, p2["lon"], p2["lat"], radius_m=-1.0, height_m=p2["h"])
    bad = tmp_path / "bad.csv"
    bad.write_text("date,los_m\n2015-01-01,1\n2015-01-02,x\n")
    with pytest.raises(InputError, match="row 3, column los_m"):
        read_series_csv(bad)
    truth = read_series_csv(out / "truth" / "P2.csv")  # extra columns are ignored
    assert json.dumps(float(truth.los_m[-1])) == "-41.1902"
