"""Layer 7: the whole chain as one job (``run``): products, report, resumability, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from geometry_helpers import BIGTUJUNGA
from osgeo import gdal

from processing_core.chain import STEPS, RunOptions, run_stack
from processing_core.errors import InputError
from processing_core.progress import Cancelled
from processing_core.stack import load_stack

# The small scenario's landslide is 700 m x 380 m (~90 range pixels across): windows of 32-64 px.
OPTIONS = RunOptions(step_px=16, windows_px=(32, 48, 64))


def _bands(path):
    ds = gdal.Open(str(path))
    return ds.ReadAsArray().reshape(ds.RasterCount, ds.RasterYSize, ds.RasterXSize).astype(np.float64), ds


@pytest.fixture(scope="module")
def simulated(small_simulation):
    """A pristine simulated stack, copied by each fixture that runs the chain on it."""
    return small_simulation


@pytest.fixture(scope="module")
def finished(simulated, tmp_path_factory):
    root = tmp_path_factory.mktemp("run") / "stack"
    shutil.copytree(simulated, root)
    messages: dict[str, int] = {}

    def per_step(name):
        def call(fraction, message):
            messages[name] = messages.get(name, 0) + 1

        return call

    overall: list[float] = []
    summary = run_stack(
        root, BIGTUJUNGA, options=OPTIONS, progress=lambda f, m: overall.append(f), step_progress=per_step
    )
    return root, summary, messages, overall


def test_run_writes_every_product_a_log_and_the_report(finished):
    root, summary, messages, overall = finished
    stack = load_stack(root)
    assert list(summary.seconds) == list(STEPS)
    assert set(messages) == set(STEPS)  # every step drove its own progress bar
    assert overall == sorted(overall)
    assert overall[-1] == 1.0
    assert len(stack.pairs) > 0
    for s in stack.scenes:
        assert (root / "rectified" / f"{s.id}.tif").exists()
    for p in stack.pairs:
        assert (root / "offsets" / f"{p['reference']}__{p['secondary']}.tif").exists()
    for name in ("los.tif", "azimuth.tif", "los_rate.tif"):
        assert (root / "timeseries" / name).exists()
        assert (root / "geocoded" / name).exists()
    log = (root / "run.log").read_text()
    for step in STEPS:
        assert f"step {step}: done" in log
    saved = json.loads((root / "run.json").read_text())
    assert saved["options"] == OPTIONS.to_dict()
    page = summary.report.read_text()
    headings = (
        "Pair network",
        "Rectification QC",
        "Mean rate maps",
        "Point time series",
        "Traditional vs improved",
        "Creep stages of",
        "The paper's figures",
    )
    for heading in headings:
        assert heading in page
    for png in ("network.png", "rate_maps.png", "points.png", "figure1.png", "stages.png"):
        assert (root / "report" / png).stat().st_size > 10_000


def test_report_numbers_are_the_products_and_the_truth(finished):
    """The report's table reads the inverted series at P2 and the truth file, nothing else."""
    root, *_ = finished
    results = json.loads((root / "report" / "results.json").read_text())
    truth_p2 = (root / "truth" / "P2.csv").read_text().strip().splitlines()[-1].split(",")
    assert results["truth"]["los_p2_m"] == pytest.approx(float(truth_p2[1]))
    assert results["truth"]["azimuth_p2_m"] == pytest.approx(float(truth_p2[2]))
    p2 = next(
        p for p in json.loads((root / "truth" / "truth.json").read_text())["points"] if p["name"] == "P2"
    )
    los, ds = _bands(root / "timeseries" / "los.tif")
    rank = _bands(root / "timeseries" / "los_count.tif")[0][1]
    meta = ds.GetMetadata()
    step, row0, col0 = float(meta["STEP_PX"]), float(meta["ROW0"]), float(meta["COL0"])
    # Bilinear between the four nodes around P2, over those whose pairs connect every date.
    r, c = (p2["line"] - row0) / step, (p2["sample"] - col0) / step
    r0, c0 = int(np.floor(r)), int(np.floor(c))
    weights = {
        (r0, c0): (1 - (r - r0)) * (1 - (c - c0)),
        (r0, c0 + 1): (1 - (r - r0)) * (c - c0),
        (r0 + 1, c0): (r - r0) * (1 - (c - c0)),
        (r0 + 1, c0 + 1): (r - r0) * (c - c0),
    }
    usable = {k: w for k, w in weights.items() if rank[k] == los.shape[0] - 1 and np.isfinite(los[-1][k])}
    assert usable
    expected = sum(w * los[-1][k] for k, w in usable.items()) / sum(usable.values())
    assert results["run"]["los_p2_m"] == pytest.approx(expected)
    # The landslide is found where the truth has it: most of its LOS, moving away from the sensor.
    assert results["run"]["los_p2_m"] < 0.8 * results["truth"]["los_p2_m"] < 0


def test_report_rate_accuracy_against_the_truth(finished):
    """results.json's rate accuracy, recomputed here from the truth and the rate raster."""
    root, *_ = finished
    accuracy = json.loads((root / "report" / "results.json").read_text())["rate_accuracy"]["los"]
    truth, truth_ds = _bands(root / "truth" / "los.tif")
    rate, rate_ds = _bands(root / "timeseries" / "los_rate.tif")
    rank = _bands(root / "timeseries" / "los_count.tif")[0][1]
    meta = rate_ds.GetMetadata()
    step, row0, col0 = float(meta["STEP_PX"]), float(meta["ROW0"]), float(meta["COL0"])
    dates = [truth_ds.GetRasterBand(k + 1).GetMetadataItem("DATE") for k in range(truth_ds.RasterCount)]
    whole = [
        k
        for k in range(rate_ds.RasterCount)
        if rate_ds.GetRasterBand(k + 1).GetMetadataItem("PERIOD") == "all"
    ]
    assert whole
    assert dates[0] == meta["REFERENCE_DATE"]
    years = np.array([(np.datetime64(d) - np.datetime64(dates[0])).astype(int) for d in dates]) / 365.25
    errors = []
    for i in range(rate.shape[1]):
        for j in range(rate.shape[2]):
            true_rate = np.polyfit(years, truth[:, int(row0 + i * step), int(col0 + j * step)], 1)[0]
            errors.append((true_rate, rate[whole[0]][i, j], rank[i, j] == len(dates) - 1))
    peak = max(abs(t) for t, _, _ in errors if np.isfinite(t))
    rel = [abs(e - t) / abs(t) for t, e, full in errors if full and np.isfinite(e) and abs(t) > peak / 2]
    assert accuracy["all"]["nodes"] == len(rel) > 0
    assert accuracy["all"]["median_relative_error"] == pytest.approx(float(np.median(rel)), rel=1e-5)
    assert accuracy["all"]["within_10_percent"] == pytest.approx(float(np.mean(np.array(rel) <= 0.1)))


def test_traditional_pair_shows_the_topographic_errors(finished):
    """The paper's Figure 1 as a number: ~28 km baseline, traditional range errors >> improved."""
    root, *_ = finished
    run = json.loads((root / "report" / "results.json").read_text())["run"]
    improved, traditional = run["figure1_improved_range_rms_px"], run["figure1_traditional_range_rms_px"]
    assert improved < 0.2
    assert traditional > 5 * improved


def test_rerun_skips_every_step_and_changes_nothing(finished):
    root, *_ = finished
    products = [
        *(root / "rectified").glob("*.tif"),
        *(root / "offsets").glob("*.tif"),
        root / "timeseries" / "los.tif",
    ]
    stamp = {p: p.stat().st_mtime_ns for p in products}
    before = _bands(root / "timeseries" / "los.tif")[0]
    summary = run_stack(root, BIGTUJUNGA, options=OPTIONS, steps=("pairs", "rectify", "offsets", "invert"))
    assert {p: p.stat().st_mtime_ns for p in products} == stamp
    np.testing.assert_array_equal(_bands(root / "timeseries" / "los.tif")[0], before)
    assert summary.report is None


def test_interrupted_run_resumes_to_identical_results(simulated, finished, tmp_path):
    root = tmp_path / "stack"
    shutil.copytree(simulated, root)

    def per_step(name):
        def call(fraction, message):
            return not (name == "offsets" and fraction >= 0.5)

        return call

    with pytest.raises(Cancelled):
        run_stack(root, BIGTUJUNGA, options=OPTIONS, step_progress=per_step)
    assert "stopped: cancelled" in (root / "run.log").read_text()
    assert not (root / "timeseries" / "los.tif").exists()
    done = sorted((root / "offsets").glob("*.tif"))
    assert 0 < len(done) < len(load_stack(root).pairs)
    for path in done:  # what is there is finished: readable, with its parameters beside it
        assert gdal.Open(str(path)).RasterCount >= 2
        assert path.with_suffix(".json").exists()
    run_stack(root, BIGTUJUNGA, options=OPTIONS, steps=("pairs", "rectify", "offsets", "invert"))
    reference_root = finished[0]
    for name in ("los.tif", "azimuth.tif"):
        np.testing.assert_array_equal(
            _bands(root / "timeseries" / name)[0], _bands(reference_root / "timeseries" / name)[0]
        )


def test_bad_input_is_refused_before_work(simulated, tmp_path):
    with pytest.raises(InputError, match="no stack.json"):
        run_stack(tmp_path, BIGTUJUNGA)
    with pytest.raises(InputError, match="nowhere.tif: DEM not found"):
        run_stack(simulated, tmp_path / "nowhere.tif")
    with pytest.raises(InputError, match="unknown step"):
        run_stack(simulated, BIGTUJUNGA, steps=("pairs", "colour"))
    with pytest.raises(ValueError, match="step_px"):
        RunOptions(step_px=0)
    with pytest.raises(ValueError, match="min_days"):
        RunOptions(min_days={"ALOS": -3})
    with pytest.raises(ValueError, match="frame must be one of material, eulerian"):
        RunOptions(frame="lagrange")
    assert not (simulated / "run.json").exists()  # nothing was written by the refused runs


def test_run_command_passes_the_speckle_options(monkeypatch, tmp_path):
    """``run --prefilter/--smooth-px/--min-snr`` reach the chain's offset parameters."""
    import processing_core.chain
    from processing_core.cli import main

    seen = []

    def fake_run_stack(stack, dem, *, options, **kwargs):
        seen.append(options.offset_parameters())
        return processing_core.chain.RunSummary(Path(stack), seconds={}, outputs={}, report=None)

    monkeypatch.setattr(processing_core.chain, "run_stack", fake_run_stack)
    args = ["run", "--stack", str(tmp_path), "--dem", str(BIGTUJUNGA)]
    assert main([*args, "--prefilter", "sqrt", "--smooth-px", "1", "--min-snr", "10"]) == 0
    assert (seen[-1].prefilter, seen[-1].smooth_px, seen[-1].min_snr) == ("sqrt", 1.0, 10.0)
    assert main([*args, "--smooth-px", "-1"]) == 2


@pytest.mark.parametrize("source", ["truth", "timeseries"])
def test_figure1_stable_nodes_equal_a_dilated_full_resolution_mask(tmp_path, source):
    """The comparison's stable nodes, found on the series' coarse sub-grid, are those of the
    straightforward way: the moving mask at full resolution (each pixel its nearest sub-grid
    cell), dilated by half a window, sampled at the nodes."""
    from scipy.ndimage import maximum_filter

    from processing_core.rasters import write_geotiff
    from processing_core.report.compare import WINDOW_PX, _near_motion

    rng = np.random.default_rng(4)
    shape, row0, col0, step = (300, 260), 5, 9, 16
    sub = (int((shape[0] - row0 - 1) // step) + 1, int((shape[1] - col0 - 1) // step) + 1)
    first = rng.normal(0, 0.01, sub)
    second = first + np.where(rng.random(sub) < 0.08, 2.0, 0.0)
    second[3, 4] = np.nan
    (tmp_path / source).mkdir()
    write_geotiff(
        tmp_path / source / "los.tif",
        [first, second],
        descriptions=["D20100101", "D20150101"],
        metadata={"ROW0": str(row0), "COL0": str(col0), "STEP_PX": str(step)},
        band_metadata=[{"DATE": "2010-01-01"}, {"DATE": "2015-01-01"}],
    )
    rows, cols = np.arange(32, shape[0] - 32, 16), np.arange(32, shape[1] - 32, 16)
    near = _near_motion(tmp_path, {"A": "2010-01-01", "B": "2015-01-01"}, "A", "B", shape, rows, cols)
    change = np.abs(second - first)
    threshold = (
        0.05
        if source == "truth"
        else max(0.3, 5 * 1.4826 * np.nanmedian(np.abs(change - np.nanmedian(change))))
    )
    lines = np.clip(np.rint((np.arange(shape[0]) - row0) / step), 0, sub[0] - 1).astype(int)
    samples = np.clip(np.rint((np.arange(shape[1]) - col0) / step), 0, sub[1] - 1).astype(int)
    moving = np.nan_to_num(change[np.ix_(lines, samples)], nan=0.0) > threshold
    expected = (maximum_filter(moving.astype(np.uint8), size=WINDOW_PX + 1) > 0)[np.ix_(rows, cols)]
    np.testing.assert_array_equal(near, expected)
    assert 0 < near.sum() < near.size
    assert _near_motion(tmp_path, {"A": "2011-01-01", "B": "2015-01-01"}, "A", "B", shape, rows, cols) is None
