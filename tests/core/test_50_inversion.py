"""SBAS inversion: equality with an independent least-squares reference, weights, robust mode,
propagated standard deviations against Monte Carlo."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from processing_core.errors import InputError
from processing_core.inversion import sbas


def _dates(rng: np.random.Generator, n: int) -> list[dt.date]:
    gaps = rng.integers(6, 120, n - 1)
    start = dt.date(2007, 1, 7)
    return [start] + [start + dt.timedelta(days=int(d)) for d in np.cumsum(gaps)]


def _reference(dates, pairs, y, sigma=None):
    """Berardino's minimum-norm velocity solution of one pixel, built from scratch with lstsq."""
    t = np.array([(d - dates[0]).days for d in dates], dtype=float)
    n = len(dates)
    b = np.zeros((len(pairs), n - 1))
    for p, (i, j) in enumerate(pairs):
        for k in range(i, j):
            b[p, k] = t[k + 1] - t[k]
    ok = np.isfinite(y)
    if sigma is not None:
        ok &= np.isfinite(sigma) & (sigma > 0)
    if not ok.any():
        return np.full(n, np.nan), np.nan, 0
    w = np.ones(ok.sum()) if sigma is None else 1.0 / sigma[ok]
    v = np.linalg.lstsq(b[ok] * w[:, None], y[ok] * w, rcond=1e-10)[0]
    disp = np.concatenate([[0.0], np.cumsum(v * np.diff(t))])
    res = y[ok] - b[ok] @ v
    return disp, float(np.sqrt(np.mean(res**2))), int(ok.sum())


def _random_network(rng, n, density, *, split_at=None):
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < density]
    pairs += [(i, i + 1) for i in range(n - 1) if rng.random() < 0.5]
    pairs = sorted(set(pairs))
    if split_at is not None:  # no pair spans the interval (split_at, split_at + 1)
        pairs = [(i, j) for i, j in pairs if j <= split_at or i > split_at]
    return pairs


def _observations(rng, dates, pairs, n_pix, missing):
    t = np.array([(d - dates[0]).days for d in dates], dtype=float)
    motion = np.cumsum(rng.normal(0.0, 1.0, (len(dates), n_pix)), axis=0) + 0.01 * t[:, None]
    obs = np.array([motion[j] - motion[i] for i, j in pairs]) + rng.normal(0, 0.3, (len(pairs), n_pix))
    obs[rng.random(obs.shape) < missing] = np.nan
    # A block of pixels sharing one pattern (the cached pseudo-inverse path), one empty pixel.
    shared = rng.random(len(pairs)) < missing
    obs[:, :40][shared] = np.nan
    obs[:, :40][~shared] = np.where(np.isnan(obs[:, :40][~shared]), 1.0, obs[:, :40][~shared])
    obs[:, 40] = np.nan
    return obs


@pytest.mark.parametrize(
    ("seed", "n", "density", "split_at", "missing"),
    [
        (1, 12, 0.35, None, 0.25),  # connected network, scattered gaps (some pixels split anyway)
        (2, 28, 0.22, None, 0.2),  # the paper's size
        (3, 15, 0.4, 6, 0.15),  # a network split into two subsets
        (4, 20, 0.15, 9, 0.45),  # split, sparse, many gaps: interleaved components
    ],
)
def test_equals_independent_lstsq_reference(seed, n, density, split_at, missing):
    rng = np.random.default_rng(seed)
    dates = _dates(rng, n)
    pairs = _random_network(rng, n, density, split_at=split_at)
    obs = _observations(rng, dates, pairs, 700, missing).reshape(len(pairs), 35, 20)
    result = sbas(dates, pairs, obs, chunk_pixels=256)
    assert result.displacement.shape == (n, 35, 20)
    flat = obs.reshape(len(pairs), -1)
    disp = result.displacement.reshape(n, -1)
    rms = result.residual_rms.ravel()
    for k in range(flat.shape[1]):
        ref, ref_rms, count = _reference(dates, pairs, flat[:, k])
        assert result.n_valid.ravel()[k] == count
        if count == 0:
            assert np.all(np.isnan(disp[:, k]))
            continue
        scale = max(np.max(np.abs(ref)), 1e-12)
        assert np.max(np.abs(disp[:, k] - ref)) <= 1e-9 * scale, k
        assert rms[k] == pytest.approx(ref_rms, rel=1e-7, abs=1e-9 * scale)
    if split_at is not None:
        assert not result.connected.any()
        assert (result.rank[result.n_valid > 0] < n - 1).all()


def test_weighted_equals_weighted_reference_per_pair_and_per_pixel():
    rng = np.random.default_rng(7)
    n = 14
    dates = _dates(rng, n)
    pairs = _random_network(rng, n, 0.3, split_at=None)
    obs = _observations(rng, dates, pairs, 300, 0.2)
    sig_pair = rng.uniform(0.05, 2.0, len(pairs))
    sig_pix = rng.uniform(0.05, 2.0, obs.shape)
    sig_pix[rng.random(obs.shape) < 0.05] = np.nan  # no sigma: treated as missing
    for sigma in (sig_pair, sig_pix):
        result = sbas(dates, pairs, obs, std=sigma, chunk_pixels=128)
        for k in range(obs.shape[1]):
            s = sigma if sigma.ndim == 1 else sigma[:, k]
            ref, _, count = _reference(dates, pairs, obs[:, k], s)
            if count:
                scale = np.max(np.abs(ref))
                assert np.max(np.abs(result.displacement[:, k] - ref)) <= 1e-9 * scale


def test_threads_and_chunks_do_not_change_the_result():
    rng = np.random.default_rng(11)
    dates = _dates(rng, 16)
    pairs = _random_network(rng, 16, 0.3)
    obs = _observations(rng, dates, pairs, 2000, 0.2)
    a = sbas(dates, pairs, obs, workers=1, chunk_pixels=2000)
    b = sbas(dates, pairs, obs, workers=2, chunk_pixels=97)
    np.testing.assert_allclose(a.displacement, b.displacement, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(a.std, b.std, rtol=1e-8, atol=1e-12)
    np.testing.assert_array_equal(a.n_valid, b.n_valid)


def test_robust_mode_resists_outlier_pairs():
    rng = np.random.default_rng(5)
    n = 12
    dates = _dates(rng, n)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, min(n, i + 5))]  # redundant network
    t = np.array([(d - dates[0]).days for d in dates], dtype=float)
    n_pix = 200
    truth = 0.05 * t[:, None] + np.cumsum(rng.normal(0, 1.0, (n, n_pix)), axis=0)
    truth -= truth[0]
    obs = np.array([truth[j] - truth[i] for i, j in pairs]) + rng.normal(0, 0.01, (len(pairs), n_pix))
    bad = rng.choice(len(pairs), 3, replace=False)
    obs[bad] += rng.choice([-1, 1], (3, n_pix)) * rng.uniform(20, 50, (3, n_pix))  # blunders of metres
    plain = sbas(dates, pairs, obs)
    robust = sbas(dates, pairs, obs, robust=True)
    err_plain = np.abs(plain.displacement - truth).max()
    err_robust = np.abs(robust.displacement - truth).max()
    assert err_plain > 5.0
    assert err_robust < 0.1
    assert np.isfinite(robust.std).all()


def test_std_propagation_matches_monte_carlo():
    rng = np.random.default_rng(9)
    n = 10
    dates = _dates(rng, n)
    pairs = _random_network(rng, n, 0.45)
    truth = np.zeros(n)
    sigma = rng.uniform(0.2, 1.0, len(pairs))
    trials = 4000
    clean = np.array([truth[j] - truth[i] for i, j in pairs])
    noise = rng.normal(0.0, 1.0, (len(pairs), trials)) * sigma[:, None]
    obs = clean[:, None] + noise
    obs[3, :] = np.nan  # the same pair missing everywhere
    weighted = sbas(dates, pairs, obs, std=sigma)
    spread = weighted.displacement.std(axis=1)
    predicted = weighted.std[:, 0]
    np.testing.assert_allclose(weighted.std, predicted[:, None] * np.ones((1, trials)), rtol=1e-9)
    assert predicted[0] == 0.0
    np.testing.assert_allclose(spread[1:], predicted[1:], rtol=0.06)
    # Unweighted, equal noise: the a-posteriori std averages to the Monte Carlo spread.
    obs_eq = clean[:, None] + 0.5 * rng.normal(0.0, 1.0, (len(pairs), trials))
    plain = sbas(dates, pairs, obs_eq)
    spread_eq = plain.displacement.std(axis=1)
    rms_std = np.sqrt(np.mean(plain.std**2, axis=1))
    np.testing.assert_allclose(rms_std[1:], spread_eq[1:], rtol=0.06)


def test_pixels_with_a_split_network_take_the_minimum_norm_velocity():
    dates = [dt.date(2010, 1, 1) + dt.timedelta(days=d) for d in (0, 10, 30, 60, 100)]
    pairs = [(0, 1), (2, 3), (3, 4), (2, 4)]
    obs = np.array([1.0, 2.0, 3.0, 5.0])[:, None]
    result = sbas(dates, pairs, obs)
    assert int(result.rank[0]) == 3
    assert not result.connected[0]
    ref, _, _ = _reference(dates, pairs, obs[:, 0])
    np.testing.assert_allclose(result.displacement[:, 0], ref, atol=1e-12)
    # Within each subset the pair differences are honoured.
    d = result.displacement[:, 0]
    assert d[1] - d[0] == pytest.approx(1.0)
    assert d[4] - d[2] == pytest.approx(5.0)


def test_bad_input_is_refused_clearly():
    dates = [dt.date(2010, 1, 1), dt.date(2010, 2, 1), dt.date(2010, 3, 1)]
    with pytest.raises(InputError, match="sorted"):
        sbas(dates[::-1], [(0, 1)], np.zeros((1, 4)))
    with pytest.raises(InputError, match="pairs must be"):
        sbas(dates, [(1, 0)], np.zeros((1, 4)))
    with pytest.raises(InputError, match="observations must have shape"):
        sbas(dates, [(0, 1), (1, 2)], np.zeros((3, 4)))
    with pytest.raises(InputError, match="std must have shape"):
        sbas(dates, [(0, 1)], np.zeros((1, 4)), std=np.ones(3))


def test_robust_mode_on_split_networks_keeps_the_minimum_norm_solution():
    rng = np.random.default_rng(3)
    dates = _dates(rng, 15)
    pairs = _random_network(rng, 15, 0.4, split_at=6)
    truth = np.cumsum(rng.normal(size=(15, 300)), axis=0)
    obs = np.array([truth[j] - truth[i] for i, j in pairs])
    obs[rng.random(obs.shape) < 0.2] = np.nan
    plain = sbas(dates, pairs, obs)
    robust = sbas(dates, pairs, obs, robust=True)
    assert not plain.connected.any()
    np.testing.assert_allclose(robust.displacement, plain.displacement, atol=1e-9)
