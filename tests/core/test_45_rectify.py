"""Layer 4: ortho-rectification of cross-platform stacks (the paper's steps i-iii) vs the traditional chain."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from geometry_helpers import BIGTUJUNGA
from osgeo import gdal

from processing_core.dem import read_dem
from processing_core.geometry import RadarGeometry
from processing_core.lookup import dem_to_radar
from processing_core.offsets import OffsetParameters, track
from processing_core.rectify import RectifyParameters, rectify_stack
from processing_core.rectify.inputs import TerrainMask
from processing_core.rectify.sources import GroundSource, hidden_fraction
from processing_core.rectify.tasks import _geometry
from processing_core.scene import read_scene
from processing_core.simulate import simulate_stack
from processing_core.simulate.platforms import PALSAR1_FBS, PALSAR2_SM3
from processing_core.simulate.scenario import RatePeriod, Scenario
from processing_core.stack import load_stack

# The paper's Figure 1 pair: PALSAR-1 2010-02-25 and PALSAR-2 2015-07-27, ~28 km apart; no motion.
STILL_PAIR = Scenario(
    name="still-pair",
    acquisitions=((PALSAR1_FBS, "2010-02-25"), (PALSAR2_SM3, "2015-07-27")),
    extent_m=(2600.0, 2600.0),
    body_m=(700.0, 380.0),
    history=(RatePeriod("2007-01-01", 0.0),),
)


def _track(reference: np.ndarray, secondary: np.ndarray, window: int = 128):
    """Offsets with permissive quality thresholds, so that large errors are counted, not dropped."""
    return track(
        reference,
        secondary,
        step_px=16,
        windows_px=(window,),
        search_px=16,
        min_snr=3.0,
        min_ncc=0.1,
        outlier_threshold=1e9,
    )


def _offsets(reference: np.ndarray, secondary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    field = _track(reference, secondary)
    good = np.isfinite(field.azimuth_px) & np.isfinite(field.range_px)
    return field.azimuth_px[good], field.range_px[good]


@pytest.fixture(scope="module")
def still(tmp_path_factory):
    root = tmp_path_factory.mktemp("still")
    simulate_stack(STILL_PAIR, BIGTUJUNGA, root, seed=11)
    improved = rectify_stack(root, BIGTUJUNGA)
    rectify_stack(root, BIGTUJUNGA, params=RectifyParameters(method="traditional"))
    return root, improved


def _read(path):
    return gdal.Open(str(path)).ReadAsArray().astype(np.float64)


def test_step_i_recovers_the_master_geometry(still):
    root, stack = still
    master_id = stack.masters["final"]
    refined = RadarGeometry(read_scene(root / "geometry" / "refined" / f"{master_id}.json"))
    true = RadarGeometry(read_scene(root / "truth" / "scenes" / f"{master_id}.json"))
    annotated = RadarGeometry(stack.scene(master_id))
    g = true.grid
    lines, samples = np.meshgrid(
        np.linspace(0, g.lines - 1, 9), np.linspace(0, g.samples - 1, 9), indexing="ij"
    )
    lat, lon, _ = true.rdr2geo(
        true.time_of_line(lines), g.range_of_sample(samples), np.full(lines.shape, 900.0)
    )
    before = annotated.geo2rdr(lat, lon, 900.0)
    after = refined.geo2rdr(lat, lon, 900.0)
    assert np.hypot(before.line - lines, before.sample - samples).max() > 0.5  # real annotation errors
    # Range is pinned by the relief to a few hundredths of a pixel. Azimuth is weakly constrained
    # by a 30 m DEM against 2.8 m lines: on this 2.6 km scene (~20 independent 128 px windows, each
    # ~1-2 px noisy) it is known to ~0.3 px; it improves as 1/sqrt(windows) on full scenes, and a
    # master error of this size moves the slaves' parallax correction by < 0.01 px (B_perp 28 km).
    assert np.abs(after.sample - samples).max() < 0.1
    assert np.abs(after.line - lines).max() < 0.3


def test_cross_platform_pair_is_aligned_after_rectification(still):
    """28 km baseline, no motion: improved RMS < 0.1 px; traditional > 10x worse, following the topography."""
    root, stack = still
    master_id = stack.masters["final"]
    other = next(s.id for s in stack.scenes if s.id != master_id)
    master = _read(root / "rectified" / f"{master_id}.tif")
    az, rg = _offsets(master, _read(root / "rectified" / f"{other}.tif"))
    assert az.size > 100
    rms_az, rms_rg = float(np.sqrt(np.mean(az**2))), float(np.sqrt(np.mean(rg**2)))
    assert rms_az < 0.1
    assert rms_rg < 0.1
    az_t, rg_t = _offsets(master, _read(root / "rectified_traditional" / f"{other}.tif"))
    # The parallax of a 28 km baseline lies in range: that is where the traditional chain fails.
    assert float(np.sqrt(np.mean(rg_t**2))) > 10 * rms_rg
    qc = json.loads((root / "rectified" / f"{other}.json").read_text())
    assert qc["residual_sample_rms_px"] < 0.1
    assert qc["reference"] == master_id
    # Ground the slave sees in layover or shadow (steep slopes of the real DEM) is masked, not smeared.
    assert 0.0 < qc["layover_shadow_fraction"] < 0.3
    # Counted while the raster was written: the same as a pass of its own over the ground table
    # with the slave's refined geometry.
    ground, terrain = _geometry(root / "geometry" / "ground_lut.tif", str(BIGTUJUNGA), "egm96")
    seen = terrain.hidden_in(RadarGeometry(read_scene(root / "geometry" / "refined" / f"{other}.json")))
    assert qc["layover_shadow_fraction"] == hidden_fraction(ground, seen, memory_mb=16.0)
    rectified = _read(root / "rectified" / f"{other}.tif")
    assert np.isnan(rectified).mean() >= qc["layover_shadow_fraction"]


def test_slave_terrain_mask_is_the_whole_dem_one(still):
    """The slave's layover/shadow at the master's pixels: what the whole DEM gives, on a window
    at the master's corner too (a shadow can be cast from outside the master's footprint)."""
    root, stack = still
    other = next(s.id for s in stack.scenes if s.id != stack.masters["final"])
    geometry = RadarGeometry(read_scene(root / "geometry" / "refined" / f"{other}.json"))
    dem = read_dem(BIGTUJUNGA, vertical="egm96")
    whole = dem_to_radar(geometry, dem)
    ground = GroundSource(root / "geometry" / "ground_lut.tif")
    lines, samples = ground.shape
    hidden = TerrainMask(dem).hidden_in(geometry)
    n_hidden = []
    for window in ((0, lines, 0, samples), (0, 40, samples - 40, samples)):
        points = ground.read(*window)
        ok = np.isfinite(points.lat_deg)
        row, col = dem.index_of(points.lat_deg[ok], points.lon_deg[ok])
        row, col = np.rint(row).astype(int), np.rint(col).astype(int)
        # Compared where the slave sees the ground point at all (elsewhere it has no pixel to mask).
        seen = np.isfinite(whole.line[row, col])
        expected = whole.mask[row, col] > 0
        assert seen.mean() > 0.5
        np.testing.assert_array_equal(hidden(points)[ok][seen], expected[seen])
        n_hidden.append(int(expected[seen].sum()))
    assert n_hidden[0] > 100  # the steep real DEM: some of the master's ground is hidden from the slave


def test_traditional_errors_follow_the_topography(still):
    root, stack = still
    master_id = stack.masters["final"]
    other = next(s.id for s in stack.scenes if s.id != master_id)
    master = _read(root / "rectified" / f"{master_id}.tif")
    field = _track(master, _read(root / "rectified_traditional" / f"{other}.tif"))
    height = gdal.Open(str(root / "geometry" / "ground_lut.tif")).ReadAsArray()[2]
    rows, cols = np.meshgrid(np.rint(field.rows).astype(int), np.rint(field.cols).astype(int), indexing="ij")
    h = height[rows, cols]
    ok = np.isfinite(field.range_px) & np.isfinite(h)
    # Parallax ~ B_perp * dh / (R tan(inc)): once the quadratic trend the traditional warp can follow
    # is taken out of both, its range errors follow the height (partial correlation).
    design = np.column_stack(
        [np.ones(ok.sum()), rows[ok], cols[ok], rows[ok] ** 2, rows[ok] * cols[ok], cols[ok] ** 2]
    )

    def detrend(v):
        return v - design @ np.linalg.lstsq(design, v, rcond=None)[0]

    corr = np.corrcoef(detrend(field.range_px[ok].astype(float)), detrend(h[ok]))[0, 1]
    assert abs(corr) > 0.6


def test_rerun_skips_and_parameters_are_saved(still):
    root, _ = still
    stamp = {p.name: p.stat().st_mtime_ns for p in (root / "rectified").glob("*.tif")}
    rectify_stack(root, BIGTUJUNGA)
    assert {p.name: p.stat().st_mtime_ns for p in (root / "rectified").glob("*.tif")} == stamp
    saved = json.loads((root / "rectified" / "parameters.json").read_text())
    assert saved["method"] == "improved"
    assert saved["window_px"] == 128


@pytest.fixture(scope="module")
def moving(tmp_path_factory, small_simulation):
    root = tmp_path_factory.mktemp("moving") / "stack"
    shutil.copytree(small_simulation, root)
    stack = load_stack(root)
    rectify_stack(root, BIGTUJUNGA)
    return root, stack


def test_landslide_offsets_survive_rectification(moving):
    """The refinement ignores moving ground: rectified offsets on the landslide equal the truth."""
    root, stack = moving
    truth = json.loads((root / "truth" / "truth.json").read_text())
    p2 = [s for s in stack.scenes if s.platform == "ALOS-2"]
    first, last = p2[0].id, p2[-1].id
    field = _track(
        _read(root / "rectified" / f"{first}.tif"), _read(root / "rectified" / f"{last}.tif"), window=64
    )
    los = gdal.Open(str(root / "truth" / "los.tif")).ReadAsArray()
    dates = [s.date for s in stack.scenes]
    i, j = dates.index(p2[0].date), dates.index(p2[-1].date)
    master = RadarGeometry(stack.scene(truth["final_master"]))
    spacing = master.grid.slant_range_spacing_m
    p = next(pt for pt in truth["points"] if pt["name"] == "P2")
    node_rows, node_cols = np.rint(field.rows).astype(int), np.rint(field.cols).astype(int)
    r = int(np.argmin(np.abs(node_rows - p["line"])))
    c = int(np.argmin(np.abs(node_cols - p["sample"])))
    expected_px = -(los[j] - los[i])[node_rows[r], node_cols[c]] / spacing
    assert abs(expected_px) > 2.0  # the landslide really moves several pixels between these dates
    assert field.range_px[r, c] == pytest.approx(expected_px, abs=0.3)
    # Away from the landslide (no moving pixel inside a node's 64 px window) the scenes agree.
    from scipy.ndimage import maximum_filter

    moving_px = maximum_filter((np.abs(los[j] - los[i]) > 0).astype(np.uint8), size=65) > 0
    stable = ~moving_px[np.ix_(node_rows, node_cols)]
    good = stable & np.isfinite(field.range_px)
    assert good.sum() > 30
    # Two slaves, each co-registered to the master on ~30 tie points of a 450 x 210 px scene
    # (about five independent 128 px windows, a third of them on the landslide): each is good to
    # ~0.07 px, their difference to ~0.1 px. The cross-platform test above holds 0.1 px per scene.
    assert np.sqrt(np.mean(field.range_px[good] ** 2)) < 0.2
    assert np.sqrt(np.mean(field.azimuth_px[good] ** 2)) < 0.2


def test_robust_fit_ignores_a_large_moving_minority():
    """40 % of the tie points on a landslide moving 2-7 px: the fit keeps the stable 60 %."""
    from processing_core.rectify.correction import fit_correction

    rng = np.random.default_rng(2)
    line = rng.uniform(0, 2000, 1000)
    sample = rng.uniform(0, 800, 1000)
    d_line = 0.7 + rng.normal(0, 0.03, 1000)
    d_sample = -1.2 + rng.normal(0, 0.03, 1000)
    moving = (line > 600) & (line < 1400)
    d_line[moving] += rng.uniform(2, 7, moving.sum())
    d_sample[moving] -= rng.uniform(2, 7, moving.sum())
    c = fit_correction(line, sample, d_line, d_sample)
    assert c.line.c0 == pytest.approx(0.7, abs=0.01)
    assert c.sample.c0 == pytest.approx(-1.2, abs=0.01)
    assert c.line.inliers > 0.9 * (~moving).sum()


@pytest.mark.parametrize(
    ("shape", "memory_mb"),
    [((20000, 20000), 256.0), ((700, 3000), 256.0), ((1000, 20000), 1.0), ((600, 900), 13.0)],
)
def test_block_windows_tile_the_raster_once_within_the_memory(shape, memory_mb):
    """Every pixel in exactly one window; each window's working memory within ``memory_mb``;
    windows narrower than the raster are whole 256 x 256 GeoTIFF blocks (bar the last ones)."""
    from processing_core.rectify.sources import STRIP_BYTES_PER_PIXEL, block_windows

    lines, samples = shape
    cover = np.zeros(shape, dtype=np.uint8)
    windows = list(block_windows(lines, samples, memory_mb))
    for y0, y1, x0, x1 in windows:
        cover[y0:y1, x0:x1] += 1
        assert (y1 - y0) * (x1 - x0) * STRIP_BYTES_PER_PIXEL <= memory_mb * 2**20 or y1 - y0 == 8
        if x1 - x0 < samples:
            assert y0 % 256 == 0
            assert x0 % 256 == 0
            assert y1 - y0 == 256 or y1 == lines
            assert (x1 - x0) % 256 == 0 or x1 == samples
    assert (cover == 1).all()
    if shape == (20000, 20000):  # 256 lines x 5,120 px (a 256 MiB strip would be 67 lines)
        assert windows[0] == (0, 256, 0, 5120)


def test_sources_reopen_in_another_process_as_the_same_windows(still, tmp_path):
    """What a worker gets (tile and window tasks): a rectified slave's opener, pickled and called,
    gives the source's bits; a layover/shadow mask saved and loaded marks the same pixels; the
    offset engine refuses tile tasks of an in-memory array, which no worker can open."""
    import pickle

    from processing_core.execution import SerialExecutor
    from processing_core.offsets.engine import track_sources
    from processing_core.offsets.tile_tasks import RasterOpener, opener_of
    from processing_core.offsets.tiles import ArraySource
    from processing_core.rectify.inputs import SceneMask
    from processing_core.rectify.sources import LayoverOr, RectifiedSource, SceneImage
    from processing_core.rectify.tiles import WindowTask, run_window

    root, stack = still
    other = next(s for s in stack.scenes if s.id != stack.masters["final"])
    scene = read_scene(root / "geometry" / "refined" / f"{other.id}.json")
    ground = GroundSource(root / "geometry" / "ground_lut.tif")
    image = SceneImage(scene)
    source = RectifiedSource(
        image, ground, RadarGeometry(scene), order=3, fill_value=image.mean(), memory_mb=1.0
    )
    window = (40, 140, 30, 170)
    reopened = pickle.loads(pickle.dumps(source.opener()))()
    assert reopened.read(*window).tobytes() == source.read(*window).tobytes()
    # The final slave's test: its DEM-grid mask, saved; a worker counts what it hides.
    dem = read_dem(BIGTUJUNGA)
    mask = TerrainMask(dem).hidden_in(RadarGeometry(scene))
    path = mask.save(tmp_path / ".mask.npz")
    loaded = SceneMask.load(path)
    points = ground.read(0, ground.shape[0], 0, ground.shape[1])
    assert np.array_equal(loaded(points), mask(points))
    assert mask(points).sum() > 100
    masked = RectifiedSource(
        image,
        ground,
        RadarGeometry(scene),
        order=3,
        fill_value=image.mean(),
        hidden=LayoverOr(mask),
        memory_mb=1.0,
    )
    with pytest.raises(ValueError, match="saved mask"):
        masked.opener()
    opener = pickle.loads(pickle.dumps(masked.opener(mask_path=str(path))))
    values, marked, seen = run_window(WindowTask(opener, window))
    expected = source.read(*window)
    hidden = points.layover[40:140, 30:170] | mask(points)[40:140, 30:170]
    expected[hidden] = np.nan
    assert values.tobytes() == expected.tobytes() == masked.read(*window).tobytes()
    assert (marked, seen) == (int(mask(points)[40:140, 30:170].sum()), 100 * 140)
    assert marked > 0  # the window holds hidden pixels: the NaN above are tested
    assert opener_of(ArraySource(np.zeros((4, 4)))) is None
    assert isinstance(opener_of(type("R", (), {"path": Path("x.tif")})()), RasterOpener)
    params = OffsetParameters(step_px=16, windows_px=(32,), search_px=4)
    with pytest.raises(ValueError, match="a worker can open"):
        track_sources(ArraySource(np.ones((64, 64))), source, params, executor=SerialExecutor())


def test_windows_and_strips_equal_the_whole_scene_resampled(still):
    """Memory bounded by configuration: a slave computed window by window (the offset engine's
    tiles) or written in strips equals the whole-scene resampling (geo2rdr of every master pixel,
    one cubic spline over the whole slave) to float32 rounding and geo2rdr's float64 rounding."""
    from processing_core.rectify.sources import GroundSource, RectifiedSource, SceneImage, write_strips
    from processing_core.rectify.transform import resample, slave_coordinates

    root, stack = still
    other = next(s for s in stack.scenes if s.id != stack.masters["final"])
    scene = read_scene(root / "geometry" / "refined" / f"{other.id}.json")
    ground = GroundSource(root / "geometry" / "ground_lut.tif")
    image = SceneImage(scene)
    amplitude = image.read(0, image.shape[0], 0, image.shape[1])
    lines, samples = ground.shape
    line, sample = slave_coordinates(ground.read(0, lines, 0, samples), RadarGeometry(scene))
    whole = resample(amplitude, line, sample, order=3, fill_value=image.mean())
    assert np.isfinite(whole).mean() > 0.9
    source = RectifiedSource(image, ground, RadarGeometry(scene), order=3, fill_value=image.mean())
    tiled = np.full(whole.shape, np.nan, dtype=np.float32)
    for y0 in range(0, lines, 97):
        for x0 in range(0, samples, 131):
            y1, x1 = min(y0 + 97, lines), min(x0 + 131, samples)
            tiled[y0:y1, x0:x1] = source.read(y0, y1, x0, x1)
    # geo2rdr of a window and of the whole grid agree to float64 rounding of ECEF metres (< 1e-8 px;
    # numpy's SIMD loops round an element by its place in the array); through the spline, whose
    # slope is at most a few times the image's largest step between samples, that is the atol.
    steepest = max(np.nanmax(np.abs(np.diff(amplitude, axis=a))) for a in (0, 1))
    atol = 1e-8 * 4.0 * float(steepest)
    np.testing.assert_allclose(tiled, whole, rtol=2e-7, atol=atol, equal_nan=True)
    strips = write_strips(root / "strips.tif", source, memory_mb=0.1, metadata={})  # 8-line strips
    np.testing.assert_allclose(_read(strips), whole, rtol=2e-7, atol=atol, equal_nan=True)
    # 13 MiB: block-row windows of 256 x 256 px (a whole-width strip of 256 lines does not fit).
    assert samples > 256
    assert 13 * 2**20 < 256 * samples * 200
    blocks = write_strips(root / "blocks.tif", source, memory_mb=13, metadata={})
    np.testing.assert_allclose(_read(blocks), whole, rtol=2e-7, atol=atol, equal_nan=True)
    # A window reaching past the grid is NaN there, as the offset engine's tiles expect.
    edge = source.read(lines - 5, lines + 5, -3, 7)
    assert np.isnan(edge[5:]).all()
    assert np.isnan(edge[:, :3]).all()
    np.testing.assert_allclose(edge[:5, 3:], whole[-5:, :7], rtol=2e-7, equal_nan=True)
