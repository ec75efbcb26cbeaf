"""invert on a simulated stack with offsets made from its truth: metres, signs, grid, outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from geometry_helpers import BIGTUJUNGA
from osgeo import gdal
from scipy.interpolate import LinearNDInterpolator
from scipy.ndimage import binary_dilation, binary_erosion

from processing_core.errors import InputError
from processing_core.geometry import RadarGeometry
from processing_core.network import select_stack_pairs
from processing_core.radar_grids import SubGrid, azimuth_spacing_m
from processing_core.rasters import write_geotiff
from processing_core.scene import read_scene
from processing_core.simulate import get_scenario, simulate_stack
from processing_core.stack import load_stack
from processing_core.timeseries import invert_stack
from processing_core.timeseries_tasks import period_rate

ROOT = Path(__file__).resolve().parents[2]
GRID = SubGrid(row0=3.0, col0=5.0, step=6.0, rows=0, cols=0)


def _read(path: Path) -> tuple[np.ndarray, gdal.Dataset]:
    ds = gdal.Open(str(path))
    return ds.ReadAsArray().reshape(ds.RasterCount, ds.RasterYSize, ds.RasterXSize).astype(np.float64), ds


def test_period_rate_is_the_least_squares_line():
    """Against numpy's polyfit on uneven dates; NaN stays on its pixel; bad periods raise."""
    import datetime as dt

    rng = np.random.default_rng(3)
    dates = sorted(
        dt.date(2007, 1, 7) + dt.timedelta(days=int(d)) for d in rng.choice(1500, 12, replace=False)
    )
    years = np.array([(d - dates[0]).days for d in dates]) / 365.25
    series = rng.normal(0.0, 1.0, (12, 4, 5)) + years[:, None, None] * rng.normal(0, 3, (4, 5))
    series[5, 1, 2] = np.nan
    rate = period_rate(dates, series)
    flat = series.reshape(12, -1)
    ok = np.isfinite(flat).all(axis=0)
    np.testing.assert_allclose(rate.ravel()[ok], np.polyfit(years, flat[:, ok], 1)[0], rtol=1e-12)
    assert np.isnan(rate[1, 2])
    assert np.isfinite(rate).sum() == 19
    # A constant rate is the secant; two dates are the secant.
    line = -2.5 * years[:, None]
    np.testing.assert_allclose(period_rate(dates, line), -2.5, rtol=1e-12)
    np.testing.assert_allclose(period_rate(dates[:2], series[:2]), (series[1] - series[0]) / years[1])
    with pytest.raises(ValueError, match="at least two dates"):
        period_rate(dates[:1], series[:1])
    with pytest.raises(ValueError, match="same day"):
        period_rate([dates[0], dates[0]], series[:2])


def _as_measured(u_rows: np.ndarray, u_cols: np.ndarray, grid: SubGrid) -> Callable[[int, int], tuple]:
    """What a pair (i, j) measures at the grid's nodes, from the truth's displacement of every
    master pixel in pixels ((dates, lines, samples), the ground that was there on the first
    date): the motion from date i to date j of the ground that is *at the node on date i*.
    Scipy's linear interpolation of the truth's pixels, moved to where they are on date i,
    independently of the code under test."""
    lines, samples = np.mgrid[0 : u_rows.shape[1], 0 : u_rows.shape[2]].astype(np.float64)
    moving = (np.nan_to_num(np.abs(u_rows)) + np.nan_to_num(np.abs(u_cols))).max(axis=0) > 0
    box = binary_dilation(moving, iterations=24)
    ok = box & np.isfinite(u_rows).all(axis=0) & np.isfinite(u_cols).all(axis=0)
    node_l, node_s = np.meshgrid(grid.lines(), grid.samples(), indexing="ij")
    at_node = box[node_l.astype(int), node_s.astype(int)]

    def measure(i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        d_rows = np.zeros(node_l.shape)
        d_cols = np.zeros(node_l.shape)
        where = np.column_stack([lines[ok] + u_rows[i][ok], samples[ok] + u_cols[i][ok]])
        values = np.column_stack([(u_rows[j] - u_rows[i])[ok], (u_cols[j] - u_cols[i])[ok]])
        moved = LinearNDInterpolator(where, values)(node_l[at_node], node_s[at_node])
        d_rows[at_node], d_cols[at_node] = moved[:, 0], moved[:, 1]
        return d_rows, d_cols

    return measure


@pytest.fixture(scope="module")
def stack_with_offsets(tmp_path_factory):
    """The small stack, its pairs, and offsets (px) a pair would measure from its true motion,
    plus noise."""
    out = tmp_path_factory.mktemp("ts")
    simulate_stack(get_scenario("small"), BIGTUJUNGA, out, seed=4)
    select_stack_pairs(out, plot=False)
    stack = load_stack(out)
    los, ds = _read(out / "truth" / "los.tif")
    az, _ = _read(out / "truth" / "azimuth.tif")
    rows = (los.shape[1] - 1 - int(GRID.row0)) // int(GRID.step) + 1
    cols = (los.shape[2] - 1 - int(GRID.col0)) // int(GRID.step) + 1
    grid = SubGrid(GRID.row0, GRID.col0, GRID.step, rows, cols)
    li = grid.lines().astype(int)
    si = grid.samples().astype(int)
    los_n, az_n = los[:, li][:, :, si], az[:, li][:, :, si]
    # Independent of the code under test: the true (error-free) master geometry at the mean height
    # of the truth's points, and the truth's own definition of the azimuth pixel size.
    truth = json.loads((out / "truth" / "truth.json").read_text())
    master = RadarGeometry(read_scene(out / "truth" / "scenes" / f"{truth['final_master']}.json"))
    h = np.mean([p["height_m"] for p in truth["points"]])
    dr = master.grid.slant_range_spacing_m
    every_line, every_sample = np.mgrid[0 : los.shape[1], 0 : los.shape[2]]
    spacing_px = azimuth_spacing_m(master, every_line, every_sample, np.full(every_line.shape, h))
    measure = _as_measured(az / spacing_px, -los / dr, grid)  # farther range: away, negative LOS
    index = {s.id: k for k, s in enumerate(stack.scenes)}
    rng = np.random.default_rng(0)
    for pair in stack.pairs:
        i, j = index[pair["reference"]], index[pair["secondary"]]
        d_rows, d_cols = measure(i, j)
        range_px = d_cols + rng.normal(0, 0.02, d_cols.shape)
        azimuth_px = d_rows + rng.normal(0, 0.02, d_rows.shape)
        gaps = rng.random(d_cols.shape) < 0.1
        range_px[gaps] = np.nan
        azimuth_px[gaps] = np.nan
        sigma = np.full(d_cols.shape, 0.02)
        write_geotiff(
            out / "offsets" / f"{pair['reference']}__{pair['secondary']}.tif",
            [azimuth_px, range_px, sigma * 30, sigma * 30, np.full(d_cols.shape, 64.0), sigma, sigma],
            descriptions=[
                "azimuth_px",
                "range_px",
                "snr",
                "ncc",
                "window_px",
                "sigma_azimuth_px",
                "sigma_range_px",
            ],
            metadata=grid.metadata(),
        )
    return out, grid, los_n, az_n, stack


def test_invert_recovers_the_true_time_series(stack_with_offsets):
    out, grid, los_n, az_n, stack = stack_with_offsets
    summary = invert_stack(out, workers=2)
    assert summary["skipped_run"] is False
    assert len(summary["pairs_used"]) == len(stack.pairs)
    los, ds = _read(out / "timeseries" / "los.tif")
    az, _ = _read(out / "timeseries" / "azimuth.tif")
    assert los.shape == (len(stack.scenes), grid.rows, grid.cols)
    # The contract: band names, dates, NaN nodata, metres relative to the first date, the grid.
    for k, scene in enumerate(stack.scenes):
        band = ds.GetRasterBand(k + 1)
        assert band.GetDescription() == "D" + scene.date.replace("-", "")
        assert band.GetMetadataItem("DATE") == scene.date
        assert np.isnan(band.GetNoDataValue())
    assert SubGrid.from_metadata(ds.GetMetadata(), los.shape[1:]) == grid
    np.testing.assert_array_equal(los[0][np.isfinite(los[0])], 0.0)
    moving = np.abs(los_n[-1]) > 1.0
    assert moving.sum() > 20
    assert los_n[-1][moving].max() < 0  # the landslide moves away from the sensor
    # Noise 0.02 px (~0.09 m LOS, ~0.07 m azimuth) per pair; the SBAS series are better than 0.1 m.
    err_los = np.sqrt(np.nanmean((los - los_n) ** 2, axis=(1, 2)))
    err_az = np.sqrt(np.nanmean((az - az_n) ** 2, axis=(1, 2)))
    assert err_los.max() < 0.1, err_los
    assert err_az.max() < 0.1, err_az
    assert np.abs(np.nanmean(los[:, moving] - los_n[:, moving])) < 0.02  # no scale or sign error
    # Rates: per platform period and whole span, m/yr, against the truth's.
    rate, rds = _read(out / "timeseries" / "los_rate.tif")
    names = [rds.GetRasterBand(k + 1).GetDescription() for k in range(rds.RasterCount)]
    assert [n.split("_")[1] for n in names] == ["ALOS", "ALOS-2", "all"]
    assert {rds.GetRasterBand(k + 1).GetMetadataItem("RATE_METHOD") for k in range(3)} == {"least_squares"}
    # The truth's rate: numpy's straight-line fit through the true series at every date.
    t = np.array(
        [(np.datetime64(s.date) - np.datetime64(stack.scenes[0].date)).astype(float) for s in stack.scenes]
    )
    true_all = np.polyfit(t / 365.25, los_n.reshape(len(t), -1), 1)[0].reshape(los_n.shape[1:])
    np.testing.assert_allclose(rate[2][moving], true_all[moving], rtol=0.1, atol=0.05)
    # Counts, residuals, std.
    count, cds = _read(out / "timeseries" / "los_count.tif")
    assert cds.GetRasterBand(1).DataType == gdal.GDT_Int16
    assert count[0].max() == len(stack.pairs)
    resid, _ = _read(out / "timeseries" / "los_residual.tif")
    assert 0.0 < np.nanmedian(resid) < 0.2
    std, _ = _read(out / "timeseries" / "los_std.tif")
    assert np.all(std[0][np.isfinite(std[0])] == 0)
    assert 0.0 < np.nanmedian(std[-1]) < 0.3


def test_weighted_robust_rerun_and_cli(stack_with_offsets):
    out, _, los_n, _, _ = stack_with_offsets
    first = invert_stack(out, weighted=True)
    again = invert_stack(out, weighted=True)
    assert again["skipped_run"] is True
    assert again["signature"] == first["signature"]
    los, _ = _read(out / "timeseries" / "los.tif")
    assert np.sqrt(np.nanmean((los - los_n) ** 2)) < 0.1
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "processing_core",
            "invert",
            "--stack",
            str(out),
            "--robust",
            "--frame",
            "material",
            "--block-rows",
            "7",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "invert: 6 dates" in run.stdout
    assert json.loads((out / "timeseries" / "invert.json").read_text())["parameters"]["frame"] == "material"
    los_r, _ = _read(out / "timeseries" / "los.tif")
    assert np.sqrt(np.nanmean((los_r - los_n) ** 2)) < 0.1
    assert not list((out / "timeseries").glob(".*partial*"))


def test_eulerian_frame_misses_the_ground_where_the_motion_changes(stack_with_offsets):
    """The offsets as measured, summed at fixed nodes, follow other ground than the truth's once it
    has moved by pixels; the material frame (default, above within 0.1 m) does not."""
    out, _, los_n, _, _ = stack_with_offsets
    summary = invert_stack(out, frame="eulerian", force=True)
    assert summary["parameters"]["frame"] == "eulerian"
    assert summary["material_frame"] is None
    # Nodes inside the landslide (the rim is a jump from 0 to metres, where no frame helps).
    inner = binary_erosion(np.abs(los_n[-1]) > 0, iterations=1)
    assert inner.sum() > 200
    los, _ = _read(out / "timeseries" / "los.tif")
    eulerian = np.abs(los - los_n)[:, inner]
    # ~15 m of motion with gradients of ~0.05 m/m: u |u'| / 2 ~ 0.4 m, plus the noise (~0.05 m).
    assert np.nanmax(eulerian) > 0.5
    material = invert_stack(out)
    assert material["parameters"]["frame"] == "material"
    assert material["material_frame"]["iterations"] >= 1
    assert material["material_frame"]["last_change_px"] < 0.01
    los_m, _ = _read(out / "timeseries" / "los.tif")
    error = np.abs(los_m - los_n)[:, inner]
    assert np.sqrt(np.nanmean(error**2)) < 0.5 * np.sqrt(np.nanmean(eulerian**2))
    assert np.nanmax(error) < 0.7 * np.nanmax(eulerian)
    # Blocks of 4 rows read their ground through halos of rows: the same series, to the
    # iteration's tolerance (1e-3 px ~ 5 mm).
    invert_stack(out, block_rows=4, force=True)
    los_b, _ = _read(out / "timeseries" / "los.tif")
    np.testing.assert_allclose(los_b, los_m, atol=0.005, rtol=0)


def test_invert_refuses_missing_offsets_and_mixed_grids(tmp_path, stack_with_offsets):
    out, grid, _, _, stack = stack_with_offsets
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "stack.json").write_text((out / "stack.json").read_text())
    with pytest.raises(InputError, match="offset files exist"):
        invert_stack(empty)
    (empty / "offsets").mkdir()
    a, b = stack.pairs[0], stack.pairs[1]
    for pair, step in ((a, 6), (b, 8)):
        write_geotiff(
            empty / "offsets" / f"{pair['reference']}__{pair['secondary']}.tif",
            [np.zeros((4, 4)), np.zeros((4, 4))],
            descriptions=["azimuth_px", "range_px"],
            metadata={"ROW0": "0", "COL0": "0", "STEP_PX": str(step)},
        )
    with pytest.raises(InputError, match="differs"):
        invert_stack(empty)
