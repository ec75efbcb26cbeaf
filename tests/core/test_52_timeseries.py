"""invert on a simulated stack with offsets made from its truth: metres, signs, grid, outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from geometry_helpers import BIGTUJUNGA
from osgeo import gdal

from processing_core.errors import InputError
from processing_core.geometry import RadarGeometry
from processing_core.network import select_stack_pairs
from processing_core.radar_grids import SubGrid, azimuth_spacing_m
from processing_core.rasters import write_geotiff
from processing_core.scene import read_scene
from processing_core.simulate import get_scenario, simulate_stack
from processing_core.stack import load_stack
from processing_core.timeseries import invert_stack

ROOT = Path(__file__).resolve().parents[2]
GRID = SubGrid(row0=3.0, col0=5.0, step=6.0, rows=0, cols=0)


def _read(path: Path) -> tuple[np.ndarray, gdal.Dataset]:
    ds = gdal.Open(str(path))
    return ds.ReadAsArray().reshape(ds.RasterCount, ds.RasterYSize, ds.RasterXSize).astype(np.float64), ds


@pytest.fixture(scope="module")
def stack_with_offsets(tmp_path_factory):
    """The small stack, its pairs, and offsets (px) made from its true LOS/azimuth maps plus noise."""
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
    lines, samples = np.meshgrid(grid.lines(), grid.samples(), indexing="ij")
    spacing = azimuth_spacing_m(master, lines, samples, np.full(lines.shape, h))
    dr = master.grid.slant_range_spacing_m
    index = {s.id: k for k, s in enumerate(stack.scenes)}
    rng = np.random.default_rng(0)
    for pair in stack.pairs:
        i, j = index[pair["reference"]], index[pair["secondary"]]
        d_los = los_n[j] - los_n[i]
        d_az = az_n[j] - az_n[i]
        range_px = -d_los / dr + rng.normal(0, 0.02, d_los.shape)  # farther range: away, negative LOS
        azimuth_px = d_az / spacing + rng.normal(0, 0.02, d_az.shape)
        gaps = rng.random(d_los.shape) < 0.1
        range_px[gaps] = np.nan
        azimuth_px[gaps] = np.nan
        sigma = np.full(d_los.shape, 0.02)
        write_geotiff(
            out / "offsets" / f"{pair['reference']}__{pair['secondary']}.tif",
            [azimuth_px, range_px, sigma * 30, sigma * 30, np.full(d_los.shape, 64.0), sigma, sigma],
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
    years = (np.datetime64(stack.scenes[-1].date) - np.datetime64(stack.scenes[0].date)).astype(
        float
    ) / 365.25
    true_all = (los_n[-1] - los_n[0]) / years
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
    los_r, _ = _read(out / "timeseries" / "los.tif")
    assert np.sqrt(np.nanmean((los_r - los_n) ** 2)) < 0.1
    assert not list((out / "timeseries").glob(".*partial*"))


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
