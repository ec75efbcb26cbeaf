"""Offset tracking (issue 5): accuracy against De Zan's bound, smooth fields, prior, no-data, API, files, CLI.

Accuracy scenes (see offset_scenes.py): a backscatter texture times circular Gaussian speckle
whose complex coherence between the dates is g, oversampled x2 before detection and moved by a
Fourier phase ramp (rigid) or band-limited interpolation (fields). For that model De Zan (2014)
gives the standard deviation of incoherent (amplitude) tracking, sqrt(3/(10N)) sqrt(2 + 5g^2 -
7g^4) / (pi g^2) cells with N = (64/2)^2 cells in a 64 px chip and 2 px per cell; g is the
coherence we draw the speckle with. A texture adds signal but also weights bright areas, so the
pure-speckle bound is the yardstick, not a guarantee.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from offset_scenes import (
    as_amplitude_texture,
    dezan_bound_px,
    grace_hopper,
    hillshade,
    shifted_pair,
    warped_pair,
)
from osgeo import gdal
from scipy.ndimage import uniform_filter

from processing_core.errors import InputError
from processing_core.offsets import OffsetField, OffsetParameters, read_offsets, track, track_files
from processing_core.offsets.field import NO_DATA, OUTLIER
from processing_core.offsets.ncc import summed_area
from processing_core.progress import Cancelled

FAST = {"outlier_size": 0, "min_snr": 0.0, "min_ncc": 0.0}


def _errors(field: OffsetField, shift: tuple[float, float]) -> np.ndarray:
    v = field.valid
    return np.stack([field.azimuth_px[v] - shift[0], field.range_px[v] - shift[1]])


# --- accuracy against the bound -------------------------------------------------------------------------


@pytest.mark.parametrize("g", [0.5, 0.7, 0.9])
def test_speckle_bias_and_rmse_against_de_zan_bound(g):
    """Pure speckle, De Zan's own model: 64 px chips, independent (non-overlapping) nodes."""
    bound = dezan_bound_px(64, g)
    for k, shift in enumerate([(0.3, -0.7), (0.55, 0.2)]):
        ref, sec = shifted_pair(np.ones((512, 512)), g, shift, np.random.default_rng(10 + k))
        field = track(ref, sec, step_px=64, windows_px=(64,), search_px=4, oversampling=2, **FAST)
        assert field.valid.sum() >= 220
        err = _errors(field, shift)
        rmse = np.sqrt(np.mean(err**2, axis=1))
        assert np.all(np.abs(err.mean(axis=1)) < 0.01), (shift, err.mean(axis=1))
        assert np.all(rmse < 1.5 * bound), (shift, rmse, bound)
        assert np.all(rmse > 0.6 * bound)  # the scene is as noisy as the model says
        # The predicted std (De Zan with g from the measured NCC) is an honest guide.
        predicted = np.median(field.sigma_azimuth_px[field.valid])
        assert 0.67 < predicted / rmse.mean() < 1.5


@pytest.fixture(scope="module")
def simulator_backscatter(tmp_path_factory):
    """Backscatter of a simulated PALSAR-2 scene over the real DEM: its intensity in 5 x 5 looks.

    The simulator's amplitude is already speckled (coherent facet sums); its 25-look intensity
    keeps the terrain's brightness (slopes, layover, shadow) and gets fresh speckle below.
    """
    from geometry_helpers import BIGTUJUNGA

    from processing_core.simulate import get_scenario, simulate_stack

    out = tmp_path_factory.mktemp("sim_texture")
    stack = simulate_stack(get_scenario("small"), BIGTUJUNGA, out, seed=3)
    amplitude = gdal.Open(str(out / "scenes" / f"{stack.scenes[-1].id}.tif")).ReadAsArray().astype(float)
    return uniform_filter(amplitude**2, 5, mode="reflect")


@pytest.mark.parametrize("texture", ["grace_hopper", "hillshade", "simulator"])
def test_textured_scenes_bias_and_rmse(texture, simulator_backscatter):
    """Real optical texture (a photograph as backscatter), a real DEM's hillshade, a simulated scene."""
    g = 0.7
    if texture == "grace_hopper":
        backscatter, step, shifts, seeds = grace_hopper() + 1.0, 64, [(0.3, -0.7), (-0.25, 0.45)], [1]
    elif texture == "hillshade":
        backscatter, step, shifts, seeds = hillshade()[:512, :512], 64, [(0.3, -0.7), (-0.25, 0.45)], [1]
    else:
        # 454 x 209 cells: overlapping chips (step 32) and three speckle draws per shift.
        backscatter, step, shifts, seeds = simulator_backscatter, 32, [(0.3, -0.7), (-0.25, 0.45)], [1, 2, 3]
    t = as_amplitude_texture(backscatter)
    bound = dezan_bound_px(64, g)
    for k, shift in enumerate(shifts):
        err = []
        for seed in seeds:
            ref, sec = shifted_pair(t, g, shift, np.random.default_rng(100 * k + seed))
            field = track(ref, sec, step_px=step, windows_px=(64,), search_px=4, oversampling=2, **FAST)
            err.append(_errors(field, shift))
        err = np.concatenate(err, axis=1)
        bias = np.abs(err.mean(axis=1))
        rmse = np.sqrt(np.mean(err**2, axis=1))
        # The simulated scene's layover/shadow contrast makes amplitude detection alias a little
        # (pixel locking up to ~0.015 px along azimuth at x2 oversampling; an upsampled-DFT
        # cross-correlation reference shows twice that); the real textures stay below 0.01.
        assert np.all(bias < (0.02 if texture == "simulator" else 0.01)), (texture, shift, bias)
        assert np.all(rmse < 1.5 * bound), (texture, shift, rmse, bound)


# --- smooth displacement fields ----------------------------------------------------------------------


def _window_mean_truth(field: OffsetField, u: np.ndarray) -> np.ndarray:
    """The imposed displacement averaged over each node's kept chip (what a chip measures)."""
    table = summed_area(u)
    w = np.nan_to_num(field.window_px, nan=64).astype(int)
    r0 = np.rint(field.rows[:, None] - field.parameters.chip_offset).astype(int) - w // 2
    c0 = np.rint(field.cols[None, :] - field.parameters.chip_offset).astype(int) - w // 2
    return (table[r0 + w, c0 + w] - table[r0, c0 + w] - table[r0 + w, c0] + table[r0, c0]) / (w * w)


THETA = np.radians(0.5)
FIELDS = {
    # 800 x 800 px scene centred on (400, 400); displacements in pixels (azimuth, range).
    "shear": (lambda r, c: (0.01 * (c - 400), 0.005 * (r - 400)), "max_snr"),
    "rotation": (
        lambda r, c: (
            (np.cos(THETA) - 1) * (r - 400) - np.sin(THETA) * (c - 400),
            np.sin(THETA) * (r - 400) + (np.cos(THETA) - 1) * (c - 400),
        ),
        "max_snr",
    ),
    # A landslide-like lobe moving 15 px (9 px along azimuth, -12 px in range); its margins
    # strain the ground by 3.6 %, so large chips see a smeared correlation ridge: the
    # ``precision`` rule keeps the 64 px chips there (max_snr keeps 128 px ones, ~0.2 px RMSE).
    "landslide": (
        lambda r, c: (
            9.0 * np.exp(-((r - 400) ** 2 + (c - 400) ** 2) / (2 * 250.0**2)),
            -12.0 * np.exp(-((r - 400) ** 2 + (c - 400) ** 2) / (2 * 250.0**2)),
        ),
        "precision",
    ),
}


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_smooth_fields_recovered(name):
    fn, selection = FIELDS[name]
    ref, sec = warped_pair(np.ones((400, 400)), 0.95, fn, np.random.default_rng(5))
    field = track(ref, sec, step_px=16, search_px=16, oversampling=2, selection=selection)
    rows, cols = np.meshgrid(field.rows, field.cols, indexing="ij")
    inner = (rows > 80) & (rows < 720) & (cols > 80) & (cols < 720)
    assert field.valid[inner].mean() > 0.99
    rr, cc = np.indices(ref.shape, dtype=float)
    for k, estimate in enumerate((field.azimuth_px, field.range_px)):
        truth = _window_mean_truth(field, fn(rr, cc)[k])
        err = (estimate - truth)[inner & field.valid]
        assert np.sqrt(np.mean(err**2)) < 0.05, (name, k, np.sqrt(np.mean(err**2)))
        # The point value at the chip centre differs from the window mean by curvature only.
        point = fn(rows, cols)[k]
        assert np.max(np.abs(point - truth)[inner]) < (0.12 if name == "landslide" else 1e-6)


# --- prior and search radius -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def large_motion():
    shift = (40.3, -37.6)
    ref, sec = shifted_pair(np.ones((200, 200)), 0.9, shift, np.random.default_rng(7))
    return ref, sec, shift


def test_prior_and_small_search_find_a_40_px_motion(large_motion):
    ref, sec, shift = large_motion
    # Without a prior a +-8 px search cannot see it: the noise peaks it finds are rejected.
    blind = track(ref, sec, step_px=16, windows_px=(64, 96, 128), search_px=8, oversampling=2)
    assert blind.valid.mean() < 0.03
    # A coarse pass (wide search, sparse grid) then a fine pass around it with +-8 px.
    coarse = track(ref, sec, step_px=32, windows_px=(96,), search_px=48, oversampling=2)
    assert coarse.valid.mean() > 0.8
    fine = track(ref, sec, step_px=16, windows_px=(64, 96), search_px=8, prior=coarse, oversampling=2)
    err = _errors(fine, shift)
    assert fine.valid.mean() > 0.5
    assert np.max(np.abs(err)) < 0.1
    # A per-node prior off by up to +-5 px (e.g. from geometry) and a per-node radius.
    rng = np.random.default_rng(1)
    n = fine.shape
    prior = (shift[0] + rng.uniform(-5, 5, n), shift[1] + rng.uniform(-5, 5, n))
    radius = np.full(n, 8, dtype=np.int64)
    radius[::2] = 7
    noisy = track(ref, sec, step_px=16, windows_px=(64, 96), search_px=radius, prior=prior, oversampling=2)
    assert (
        np.max(np.abs(noisy.azimuth_px[fine.valid & noisy.valid] - fine.azimuth_px[fine.valid & noisy.valid]))
        < 0.05
    )
    assert noisy.valid.sum() >= 0.9 * fine.valid.sum()


# --- no data, engines, filters --------------------------------------------------------------------------


def test_no_data_regions_are_masked_not_matched():
    shift = (2.3, -1.6)
    ref, sec = shifted_pair(np.ones((160, 160)), 0.8, shift, np.random.default_rng(3))
    # The same footprint hole in both images (not moved with the ground): zero-filling it would
    # make its edges correlate at zero shift; masked NCC ignores it.
    for image in (ref, sec):
        image[120:200, 100:220] = np.nan
    field = track(ref, sec, step_px=8, windows_px=(64, 96), search_px=6, oversampling=2)
    rows, cols = np.meshgrid(field.rows, field.cols, indexing="ij")
    deep = (rows > 140) & (rows < 180) & (cols > 130) & (cols < 190)
    assert np.all(field.flags[deep] & NO_DATA)
    assert not field.valid[deep].any()
    near = (rows > 80) & (rows < 240) & (cols > 60) & (cols < 260) & ~deep
    assert field.valid[near].mean() > 0.8
    err = _errors(field, shift)
    assert np.max(np.abs(err)) < 0.15
    assert np.all(np.abs(err.mean(axis=1)) < 0.02)
    chips = track(ref, sec, step_px=8, windows_px=(64, 96), search_px=6, oversampling=2, engine="chips")
    both = field.valid & chips.valid
    assert np.array_equal(field.valid, chips.valid)
    assert np.max(np.abs(field.azimuth_px[both] - chips.azimuth_px[both])) < 1e-4


def test_scattered_holes_like_layover_masks(monkeypatch):
    """Rectified scenes carry many small no-data holes (layover/shadow, in the master geometry, so
    at the same place in both images): every chip touches one and the masked NCC runs in the
    blocks engine; it must agree with the per-chip masked NCC and ignore the holes' edges."""
    shift = (0.35, -1.4)
    ref, sec = shifted_pair(np.ones((180, 180)), 0.8, shift, np.random.default_rng(21))
    rng = np.random.default_rng(22)
    for _ in range(60):
        r, c = rng.integers(0, 360, 2)
        h, w = rng.integers(4, 20, 2)
        ref[r : r + h, c : c + w] = np.nan
        sec[r : r + h, c : c + w] = np.nan
    import processing_core.offsets.tiles as tiles

    calls = []
    masked = tiles._masked_blocks
    monkeypatch.setattr(tiles, "_masked_blocks", lambda *a: calls.append(1) or masked(*a))
    kw = {"step_px": 8, "windows_px": (64, 96), "search_px": 8, "oversampling": 2}
    blocks = track(ref, sec, **kw)
    assert calls  # the blocks engine's masked path did the work
    chips = track(ref, sec, engine="chips", **kw)
    assert blocks.valid.mean() > 0.95
    assert np.array_equal(blocks.valid, chips.valid)
    assert np.nanmax(np.abs(blocks.azimuth_px - chips.azimuth_px)) < 1e-4
    assert np.nanmax(np.abs(blocks.range_px - chips.range_px)) < 1e-4
    err = _errors(blocks, shift)
    assert np.all(np.abs(err.mean(axis=1)) < 0.01)
    assert np.max(np.abs(err)) < 0.1


def test_engines_agree_and_step_not_sharing_window_factors():
    ref, sec = shifted_pair(np.ones((160, 180)), 0.8, (0.4, 0.1), np.random.default_rng(4))
    kw = {"windows_px": (64, 96, 128), "search_px": 6, "oversampling": 2}
    blocks = track(ref, sec, step_px=8, engine="blocks", **kw)
    chips = track(ref, sec, step_px=8, engine="chips", **kw)
    for name in ("azimuth_px", "range_px", "ncc", "window_px"):
        np.testing.assert_allclose(getattr(blocks, name), getattr(chips, name), atol=1e-4, rtol=1e-4)
    odd = track(ref, sec, step_px=7, **{**kw, "windows_px": (64, 96)})  # gcd(7, 64) = 1: chips engine only
    assert odd.valid.mean() > 0.95
    assert np.all(np.abs(_errors(odd, (0.4, 0.1))) < 0.1)
    assert odd.rows[1] - odd.rows[0] == 7
    with pytest.raises(ValueError, match="blocks engine"):
        track(ref, sec, step_px=7, engine="blocks", **kw)


@pytest.mark.parametrize("prefilter", ["none", "sqrt", "log", "db", "wallis", "highpass"])
def test_prefilters(prefilter):
    shift = (0.35, -0.4)
    t = as_amplitude_texture(hillshade()[:100, :100])
    ref, sec = shifted_pair(t, 0.8, shift, np.random.default_rng(8))
    ref *= np.linspace(0.5, 2.0, ref.shape[1])[None, :]  # a brightness ramp (incidence)
    sec *= np.linspace(0.5, 2.0, ref.shape[1])[None, :]
    # min_snr 5: a +-4 px search leaves only the peak's shoulders as SNR background.
    field = track(
        ref, sec, step_px=16, windows_px=(64,), search_px=4, prefilter=prefilter, prefilter_px=16, min_snr=5.0
    )
    err = _errors(field, shift)
    assert field.valid.mean() > 0.95
    # log/dB spread the spectrum of x2-oversampled speckle and add some pixel locking.
    assert np.all(np.abs(err.mean(axis=1)) < (0.05 if prefilter in ("log", "db") else 0.02))


def test_lowpass_is_nan_aware_and_tiles_match_the_whole_image():
    from processing_core.offsets.prefilter import lowpass, lowpass_margin_px

    rng = np.random.default_rng(4)
    flat = np.full((60, 70), 3.0, dtype=np.float32)
    flat[10:20, 30:45] = np.nan  # a shadow: neither spread nor averaged as zeros
    out = lowpass(flat, 1.5)
    assert np.array_equal(np.isnan(out), np.isnan(flat))
    np.testing.assert_allclose(out[np.isfinite(out)], 3.0, rtol=1e-6)
    image = rng.random((200, 180)).astype(np.float32)
    # An independent reference: Gaussian weights summed by hand over the truncated support.
    sigma, (y, x) = 1.0, (100, 90)
    r = lowpass_margin_px(sigma) - 1
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    patch = image[y - r : y + r + 1, x - r : x + r + 1].astype(np.float64)
    assert lowpass(image, sigma)[y, x] == pytest.approx(k @ patch @ k / k.sum() ** 2, rel=1e-5)
    # Tiles (memory_mb=4 cuts the grid into many) give the whole-image result (to float32
    # rounding: each tile removes its own mean, as without the low-pass).
    ref, sec = shifted_pair(as_amplitude_texture(hillshade()[:128, :128]), 0.8, (0.3, 0.2), rng)
    kw = {"step_px": 8, "windows_px": (32,), "search_px": 4, "prefilter": "sqrt", "smooth_px": 1.0}
    whole = track(ref, sec, memory_mb=1024, threads=1, **kw)
    tiled = track(ref, sec, memory_mb=4, threads=1, **kw)
    assert whole.valid.sum() > 100
    for name in ("azimuth_px", "range_px", "ncc"):
        np.testing.assert_allclose(getattr(whole, name), getattr(tiled, name), atol=1e-4)
    with pytest.raises(ValueError, match="smooth_px"):
        track(ref, sec, step_px=8, search_px=4, smooth_px=-1.0)


def test_window_selection_rules():
    ref, sec = shifted_pair(np.ones((160, 160)), 0.9, (0.2, 0.3), np.random.default_rng(9))
    kw = {"step_px": 16, "windows_px": (64, 96, 128), "search_px": 4, "oversampling": 2}
    loose = track(ref, sec, selection="precision", target_sigma_px=1.0, **kw)
    assert np.all(loose.window_px[loose.valid] == 64)  # the smallest window meets a loose target
    strict = track(ref, sec, selection="precision", target_sigma_px=1e-6, **kw)
    fits_128 = (strict.rows[:, None] >= 63.5) & (strict.rows[:, None] <= 255.5)
    fits_128 = fits_128 & (strict.cols[None, :] >= 63.5) & (strict.cols[None, :] <= 255.5)
    assert np.mean(strict.window_px[strict.valid & fits_128] == 128) > 0.9  # else the most precise
    snr = track(ref, sec, selection="max_snr", **kw)
    assert np.mean(snr.window_px[snr.valid & fits_128] == 128) > 0.8  # SNR grows with the window
    # Windows that do not fit near the edges are simply not tried there.
    assert np.all(snr.window_px[snr.valid & ~fits_128] < 128)


def test_outliers_and_thresholds():
    shift = (0.5, -0.5)
    ref, sec = shifted_pair(np.ones((160, 160)), 0.8, shift, np.random.default_rng(11))
    rng = np.random.default_rng(12)
    sec[100:180, 150:230] = rng.rayleigh(1.0, (80, 80))  # decorrelated patch (e.g. a new landslide scar)
    field = track(ref, sec, step_px=8, windows_px=(64,), search_px=8, oversampling=2)
    err = _errors(field, shift)
    assert np.max(np.abs(err)) < 0.5  # no false match survives (chips half in the patch are noisier)
    assert np.mean(np.abs(err) < 0.1) > 0.97
    rows, cols = np.meshgrid(field.rows, field.cols, indexing="ij")
    centre = (rows > 125) & (rows < 155) & (cols > 175) & (cols < 205)
    assert not field.valid[centre].any()
    assert np.all(field.flags[centre] != 0)
    assert np.isnan(field.snr[~field.valid]).all()
    assert np.isnan(field.window_px[~field.valid]).all()
    # The consistency filter alone catches a planted outlier.
    from processing_core.offsets.quality import outliers

    az = np.zeros((9, 9))
    rg = np.zeros((9, 9))
    az[4, 4] = 3.0
    bad = outliers(az, rg, size=5, threshold=3.0, floor_px=0.1)
    assert bad[4, 4]
    assert bad.sum() == 1
    assert OUTLIER == 16


# --- API contract ---------------------------------------------------------------------------------------


def test_offset_field_contract():
    ref, sec = shifted_pair(np.ones((100, 110)), 0.9, (0.25, 0.5), np.random.default_rng(2))
    field = track(ref, sec, step_px=8, windows_px=(64, 96), search_px=4)
    assert isinstance(field, OffsetField)
    n = (field.rows.size, field.cols.size)
    for name in ("azimuth_px", "range_px", "snr", "ncc", "window_px", "sigma_azimuth_px", "sigma_range_px"):
        assert getattr(field, name).shape == n
        assert OffsetField.__dataclass_fields__[name].type  # every field is documented in the class
    assert field.rows[0] == 31.5
    assert np.all(np.diff(field.rows) == 8)
    assert field.metadata() == {"ROW0": "31.5", "COL0": "31.5", "STEP_PX": "8"}
    assert np.all(np.isin(field.window_px[field.valid], (64, 96)))
    assert np.all((field.ncc[field.valid] > 0) & (field.ncc[field.valid] <= 1))
    assert field.parameters == OffsetParameters(step_px=8, search_px=4, windows_px=(64, 96))


def _ones(shape=(100, 100)):
    return np.ones(shape, dtype=np.float32)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reference": np.ones((10, 10, 2))}, "2-D"),
        ({"secondary": _ones((100, 90))}, "same shape"),
        ({"reference": _ones().astype(np.complex64)}, "real amplitude"),
        ({"step_px": 0}, "step_px"),
        ({"step_px": 2.5}, "step_px"),
        ({"search_px": 0}, "search_px"),
        ({"windows_px": ()}, "windows_px"),
        ({"windows_px": (64, 65)}, "all even or all odd"),
        ({"windows_px": (4,)}, "windows_px"),
        ({"windows_px": (64, 64)}, "repeat"),
        ({"windows_px": (256,)}, "fewer than the smallest window"),
        ({"selection": "best"}, "selection"),
        ({"prefilter": "lee"}, "prefilter"),
        ({"min_ncc": 2.0}, "min_ncc"),
        ({"outlier_size": 4}, "outlier_size"),
        ({"oversampling": 0.5}, "oversampling"),
        ({"min_valid_fraction": 0.0}, "min_valid_fraction"),
        ({"prior": (np.zeros((3, 3)), 0.0)}, "grid's shape"),
        ({"prior": (np.nan, 0.0)}, "finite"),
        ({"prior": "somewhere"}, "prior"),
        ({"search_px": np.full((2, 2), 4)}, "grid's shape"),
        ({"threads": 0}, "threads"),
        ({"engine": "gpu"}, "engine"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    args = {"reference": _ones(), "secondary": _ones(), "step_px": 8, "windows_px": (64,), "search_px": 4}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        track(args.pop("reference"), args.pop("secondary"), **args)


def test_progress_reports_and_cancels():
    ref, sec = shifted_pair(np.ones((200, 200)), 0.9, (0.1, 0.1), np.random.default_rng(6))
    seen = []
    track(ref, sec, step_px=8, search_px=4, memory_mb=16, threads=2, progress=lambda f, m: seen.append(f))
    assert seen[0] == 0.0
    assert seen[-1] == 1.0
    assert len(seen) > 3
    assert all(b >= a for a, b in zip(seen, seen[1:]))
    with pytest.raises(Cancelled):
        track(ref, sec, step_px=8, search_px=4, memory_mb=16, progress=lambda f, m: f < 0.3)


# --- files, stack, command line -------------------------------------------------------------------------


def _write(path, array, nodata=None):
    ds = gdal.GetDriverByName("GTiff").Create(str(path), array.shape[1], array.shape[0], 1, gdal.GDT_Float32)
    band = ds.GetRasterBand(1)
    if nodata is not None:
        band.SetNoDataValue(nodata)
    band.WriteArray(array)
    ds = None


def test_file_driver_round_trip(tmp_path):
    shift = (1.25, -0.5)
    ref, sec = shifted_pair(np.ones((150, 130)), 0.8, shift, np.random.default_rng(13))
    sec[:20, :20] = -9999.0
    _write(tmp_path / "ref.tif", ref)
    _write(tmp_path / "sec.tif", sec, nodata=-9999.0)
    out = tmp_path / "out" / "pair.tif"
    opts = {"step_px": 8, "windows_px": (64, 96), "search_px": 6, "oversampling": 2.0}
    assert track_files(tmp_path / "ref.tif", tmp_path / "sec.tif", out, memory_mb=8, **opts) == out
    ds = gdal.Open(str(out))
    names = [ds.GetRasterBand(i + 1).GetDescription() for i in range(ds.RasterCount)]
    assert names[:7] == [
        "azimuth_px",
        "range_px",
        "snr",
        "ncc",
        "window_px",
        "sigma_azimuth_px",
        "sigma_range_px",
    ]
    meta = ds.GetMetadata()
    assert (meta["ROW0"], meta["COL0"], meta["STEP_PX"]) == ("31.5", "31.5", "8")
    assert np.isnan(ds.GetRasterBand(1).GetNoDataValue())
    expected = track(ref, np.where(sec == -9999.0, np.nan, sec), memory_mb=8, **opts)
    back = read_offsets(out)
    np.testing.assert_allclose(back.azimuth_px, expected.azimuth_px, atol=1e-6)
    np.testing.assert_allclose(back.range_px, expected.range_px, atol=1e-6)
    # Tiles change only rounding (tile means, engine choice): one tile gives the same field.
    whole = track(ref, np.where(sec == -9999.0, np.nan, sec), **opts)
    assert np.array_equal(whole.valid, expected.valid)
    diff = np.abs(whole.azimuth_px - expected.azimuth_px)[whole.valid]
    assert np.max(diff) < 0.005
    assert np.mean(diff < 1e-4) > 0.99
    np.testing.assert_allclose(back.rows, expected.rows)
    assert back.parameters == expected.parameters
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["parameters"]["windows_px"] == [64, 96]
    assert record["statistics"]["kept"] == int(expected.valid.sum())
    # Up to date: skipped; other parameters or a touched input: recomputed.
    stamp = out.stat().st_mtime_ns
    track_files(tmp_path / "ref.tif", tmp_path / "sec.tif", out, **opts)
    assert out.stat().st_mtime_ns == stamp
    track_files(tmp_path / "ref.tif", tmp_path / "sec.tif", out, **{**opts, "search_px": 5})
    assert json.loads(out.with_suffix(".json").read_text())["parameters"]["search_px"] == 5
    with pytest.raises(InputError, match="missing.tif"):
        track_files(tmp_path / "missing.tif", tmp_path / "sec.tif", out, **opts)
    _write(tmp_path / "small.tif", ref[:100])
    with pytest.raises(InputError, match="small.tif"):
        track_files(tmp_path / "ref.tif", tmp_path / "small.tif", out, **opts)


def _tiny_stack(root, shift):
    from processing_core.stack import Stack, StackScene

    ref, sec = shifted_pair(np.ones((80, 70)), 0.8, shift, np.random.default_rng(14))
    (root / "rectified").mkdir(parents=True)
    _write(root / "rectified" / "A.tif", ref)
    _write(root / "rectified" / "B.tif", sec)
    stack = Stack(
        root=root,
        scenes=[
            StackScene("A", "ALOS-2", "2015-07-27", "scenes/A.json"),
            StackScene("B", "ALOS-2", "2016-07-25", "scenes/B.json"),
        ],
        pairs=[{"reference": "A", "secondary": "B", "days": 364, "bperp_m": 100.0}],
    )
    stack.save()


def test_offsets_command_on_a_stack(tmp_path, capsys):
    from processing_core.cli import main
    from processing_core.stack import load_stack

    shift = (0.75, 1.5)
    _tiny_stack(tmp_path, shift)
    args = ["offsets", "--stack", str(tmp_path), "--step-px", "8", "--windows", "64,96", "--search-px", "6"]
    assert main(args) == 0
    out = tmp_path / "offsets" / "A__B.tif"
    field = read_offsets(out)
    assert field.valid.mean() > 0.9
    assert np.max(np.abs(_errors(field, shift))) < 0.15
    stack = load_stack(tmp_path)
    assert stack.parameters["offsets"]["windows_px"] == [64, 96]
    assert stack.provenance[-1]["step"] == "offsets"
    capsys.readouterr()
    assert main(args) == 0  # resumable: the pair is up to date
    assert "1 up to date" in capsys.readouterr().out
    # Missing rectified scene: exit status 2, one line naming the file.
    os.remove(tmp_path / "rectified" / "B.tif")
    assert main([*args, "--force"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error:")
    assert "B.tif" in err[0]
    # Single pair of files, and bad option values.
    single = ["offsets", "--reference", str(tmp_path / "rectified" / "A.tif"), "--secondary"]
    assert main([*single, str(tmp_path / "rectified" / "A.tif"), "--out", str(tmp_path / "aa.tif")]) == 0
    assert np.nanmax(np.abs(read_offsets(tmp_path / "aa.tif").azimuth_px)) < 0.01  # image against itself
    filtered = [*single, str(tmp_path / "rectified" / "A.tif"), "--out", str(tmp_path / "sq.tif")]
    assert main([*filtered, "--prefilter", "sqrt", "--smooth-px", "1", "--min-snr", "5"]) == 0
    assert read_offsets(tmp_path / "sq.tif").parameters.smooth_px == 1.0
    capsys.readouterr()
    assert main([*filtered, "--smooth-px", "-1"]) == 2
    assert "smooth_px" in capsys.readouterr().err
    assert (
        main(["offsets", "--stack", str(tmp_path), "--selection", "precision", "--target-sigma-px", "-1"])
        == 2
    )
    assert "target_sigma_px" in capsys.readouterr().err
    assert main(["offsets", "--stack", str(tmp_path), "--out", "x.tif"]) == 2
    capsys.readouterr()
