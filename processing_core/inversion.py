"""SBAS time-series inversion of pair displacements (Berardino et al. 2002), per pixel.

Unknowns are the mean velocities between consecutive dates, v_k on [t_k, t_k+1]; a pair (i, j)
observes sum_{i <= k < j} v_k (t_k+1 - t_k) = d_j - d_i. The system of the pairs valid at a
pixel is solved by least squares; where the valid pairs do not connect every date (the network
splits into subsets), the minimum-norm velocity solution is taken, as by SVD in the paper
(Liu et al. 2020, GRL; Berardino et al. 2002, IEEE TGRS 40(11), doi:10.1109/TGRS.2002.803792).
Displacements are the integrated velocities, relative to the first date.

Speed. A stack's pixels differ only in which pairs are valid (and, if weighted, in the
weights). Three solvers share the work, all vectorised over pixels:

* pixels whose valid-pair pattern is shared by many pixels (patterns are bit-packed into byte
  keys and grouped with ``np.unique``) are solved as one matrix product with that pattern's
  pseudo-inverse, computed once by SVD and cached across chunks;
* the other pixels whose valid pairs connect every date (the system has full rank and the
  solution is unique) are solved together from their normal equations in the well-conditioned
  basis of displacement increments: one matrix product builds every pixel's normal matrix from
  its weights (zero for a missing pair), then batched inversion and one refinement step;
* pixels whose pattern leaves the network split use an orthonormal basis of their design's row
  space (SVD once per pattern), which gives the weighted minimum-norm solution exactly.

Pixels are processed in chunks on a thread pool (numpy's linear algebra releases the GIL).

Uncertainties. With ``std`` (the observations' standard deviations), observations are weighted
by 1/std^2 and ``SbasResult.std`` is the linear propagation of ``std`` to each date's
displacement. Without it, the observations are equally weighted and ``std`` is the a-posteriori
propagation with the unit-weight variance from the residuals, RSS / (n_valid - rank) (NaN
without redundancy). In ``robust`` mode (iteratively reweighted least squares towards the L1
norm, which discounts outlier pairs), ``std`` is the sandwich propagation through the final
weights.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from processing_core.blas_threads import single_threaded_blas
from processing_core.errors import InputError
from processing_core.progress import ProgressCallback, report

_GROUP_MIN = 16
"""Pixels sharing a valid-pair pattern from which the cached pseudo-inverse path pays off."""

_CHUNK = 4096
"""Pixels per chunk (bounded memory: about 20 kB per pixel at 28 dates and 83 pairs)."""


@dataclass(frozen=True)
class SbasResult:
    """Result of :func:`sbas`; pixel arrays have the shape of ``observations[0]``."""

    dates: tuple[dt.date, ...]
    """The dates, sorted."""
    pairs: tuple[tuple[int, int], ...]
    """The pairs as (i, j) date indices."""
    displacement: np.ndarray
    """(n_dates, ...pixels): displacement relative to ``dates[0]`` (observation units); NaN
    where a pixel has no valid observation."""
    velocity: np.ndarray
    """(n_dates - 1, ...pixels): mean velocity between consecutive dates, units per day."""
    residual_rms: np.ndarray
    """(...pixels): root mean square of the residuals of the valid pairs."""
    n_valid: np.ndarray
    """(...pixels): number of valid pairs (int32)."""
    std: np.ndarray
    """(n_dates, ...pixels): propagated standard deviation of each date's displacement (0 at the
    first date; NaN where it cannot be estimated)."""
    rank: np.ndarray
    """(...pixels): rank of the pixel's system (int16); ``n_dates - 1`` where the valid pairs
    connect every date, less where the network splits (minimum-norm solution)."""

    @property
    def connected(self) -> np.ndarray:
        """True where the valid pairs connect every date (the solution is unique)."""
        return self.rank == len(self.dates) - 1


def sbas(
    dates: Sequence[dt.date],
    pairs: Sequence[tuple[int, int]],
    observations: np.ndarray,
    *,
    std: np.ndarray | None = None,
    robust: bool = False,
    rcond: float = 1e-9,
    max_iter: int = 60,
    workers: int | None = None,
    chunk_pixels: int = _CHUNK,
    progress: ProgressCallback | None = None,
) -> SbasResult:
    """Invert pair displacements into a displacement time series per pixel (SBAS).

    Parameters
    ----------
    dates
        Sorted ``datetime.date`` (or ``numpy.datetime64``) values, all different.
    pairs
        (i, j) indices into ``dates`` with i < j, one per observation.
    observations
        Array (n_pairs, ...pixels): displacement from date i to date j; NaN = missing.
    std
        Optional standard deviations of the observations, shape (n_pairs,) or the shape of
        ``observations``; observations are then weighted by 1/std^2, and a NaN or non-positive
        std marks the observation missing.
    robust
        Iteratively reweighted least squares towards the L1 norm (resists outlier pairs).
    rcond
        Relative cut-off of singular values for the minimum-norm solutions.
    max_iter
        Iterations of the robust mode at most.
    workers
        Threads (default: all cores).
    chunk_pixels
        Pixels solved together.
    progress
        Progress callback (fraction, message) -> False to cancel.

    Raises
    ------
    InputError
        For unsorted dates, bad pair indices, or arrays of mismatched shapes.
    """
    days = _days(dates)
    net = _Network(days, pairs, rcond)
    obs = np.asarray(observations)
    if obs.ndim < 1 or obs.shape[0] != net.m:
        raise InputError(f"observations must have shape (n_pairs={net.m}, ...), got {obs.shape}")
    pix_shape = obs.shape[1:]
    flat = obs.reshape(net.m, -1)
    n_pix = flat.shape[1]
    sig_pair: np.ndarray | None = None
    sig_pix: np.ndarray | None = None
    if std is not None:
        s = np.asarray(std, dtype=np.float64)
        if s.shape == (net.m,):
            sig_pair = s
        elif s.shape == obs.shape:
            sig_pix = s.reshape(net.m, -1)
        else:
            raise InputError(f"std must have shape ({net.m},) or {obs.shape}, got {s.shape}")
    out = _Outputs(net.n, n_pix)
    bounds = [(a, min(a + chunk_pixels, n_pix)) for a in range(0, n_pix, chunk_pixels)]

    def work(b: tuple[int, int]) -> None:
        y = np.ascontiguousarray(flat[:, b[0] : b[1]].T, dtype=np.float64)
        s = None if sig_pix is None else np.ascontiguousarray(sig_pix[:, b[0] : b[1]].T)
        _solve_chunk(net, y, sig_pair, s, robust, max_iter, out, b[0])

    n_workers = max(1, min(workers or os.cpu_count() or 1, len(bounds)))
    with single_threaded_blas():
        _run_chunks(work, bounds, n_workers, progress)
    return SbasResult(
        dates=tuple(_as_date(d) for d in dates),
        pairs=tuple((int(i), int(j)) for i, j in pairs),
        displacement=out.disp.reshape((net.n,) + pix_shape),
        velocity=out.vel.reshape((net.n - 1,) + pix_shape),
        residual_rms=out.rms.reshape(pix_shape),
        n_valid=out.n_valid.reshape(pix_shape),
        std=out.std.reshape((net.n,) + pix_shape),
        rank=out.rank.reshape(pix_shape),
    )


def _run_chunks(
    work: Callable[[tuple[int, int]], None],
    bounds: list[tuple[int, int]],
    n_workers: int,
    progress: ProgressCallback | None,
) -> None:
    if n_workers == 1:
        for k, b in enumerate(bounds, start=1):
            work(b)
            report(progress, k / len(bounds), "SBAS inversion")
        return
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        futures = [pool.submit(work, b) for b in bounds]
        try:
            for k, f in enumerate(futures, start=1):
                f.result()
                report(progress, k / len(bounds), "SBAS inversion")
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def design_matrix(dates: Sequence[dt.date], pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """The SBAS design matrix B (n_pairs, n_dates - 1): B[p, k] = t_k+1 - t_k (days) for i <= k < j."""
    net = _Network(_days(dates), pairs, 1e-9)
    return net.b.copy()


# --- internals -----------------------------------------------------------------------------------


def _as_date(d: object) -> dt.date:
    if isinstance(d, dt.datetime):
        return d.date()
    if isinstance(d, dt.date):
        return d
    if isinstance(d, np.datetime64):
        return dt.date.fromisoformat(str(np.datetime64(d, "D")))
    if isinstance(d, str):
        return dt.date.fromisoformat(d[:10])
    raise InputError(f"not a date: {d!r}")


def _days(dates: Sequence[dt.date]) -> np.ndarray:
    if len(dates) < 2:
        raise InputError(f"at least two dates are needed, got {len(dates)}")
    ordinal = np.array([_as_date(d).toordinal() for d in dates], dtype=np.float64)
    if np.any(np.diff(ordinal) <= 0):
        raise InputError("dates must be sorted and all different")
    return ordinal - ordinal[0]


class _Network:
    """Design matrices of a pair network, and caches per valid-pair pattern."""

    def __init__(self, days: np.ndarray, pairs: Sequence[tuple[int, int]], rcond: float) -> None:
        self.n = len(days)
        self.dt = np.diff(days)
        idx = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        if idx.size == 0:
            raise InputError("no pairs")
        if np.any(idx[:, 0] >= idx[:, 1]) or idx.min() < 0 or idx.max() >= self.n:
            raise InputError(f"pairs must be (i, j) with 0 <= i < j < {self.n}")
        self.pairs = idx
        self.m = len(idx)
        r = self.n - 1
        k = np.arange(r)
        inc = ((k[None, :] >= idx[:, :1]) & (k[None, :] < idx[:, 1:])).astype(np.float64)
        self.b = inc * self.dt[None, :]
        """The Berardino design in velocities (pairs x intervals)."""
        self.cum = np.tril(np.ones((self.n, r)), -1)
        """Displacement of each date from the increments."""
        dsg = np.zeros((self.m, r))
        rows = np.arange(self.m)
        dsg[rows, idx[:, 1] - 1] = 1.0
        first = idx[:, 0] > 0
        dsg[rows[first], idx[first, 0] - 1] = -1.0
        self.dsg = dsg
        """The design in displacements d_1 .. d_n-1 (d_0 = 0): d_j - d_i."""
        iu = np.triu_indices(r)
        self.d_outer = dsg[:, iu[0]] * dsg[:, iu[1]]
        """Upper triangles of the row outer products of ``dsg``: normal matrices as one product."""
        full = np.zeros((r, r), dtype=np.intp)
        full[iu] = np.arange(len(iu[0]))
        full[iu[1], iu[0]] = np.arange(len(iu[0]))
        self.sym_index = full.ravel()
        """Where each entry of a full r x r matrix lies in the upper-triangle vector."""
        e = np.eye(r) - np.eye(r, k=-1)
        self.omega = e.T @ (e / self.dt[:, None] ** 2)
        """Squared velocity norm in displacement coordinates: |v|^2 = d' omega d."""
        self.rcond = rcond
        self.patterns: dict[tuple[bytes, bool], _Pattern] = {}

    def normal(self, w: np.ndarray) -> np.ndarray:
        """Normal matrices (p, r, r) in displacements for weights w (p, pairs)."""
        upper = w @ self.d_outer
        return np.take(upper, self.sym_index, axis=1).reshape(len(w), self.n - 1, self.n - 1)

    def pattern(self, key: bytes, valid: np.ndarray, sig_pair: np.ndarray | None) -> _Pattern:
        """Cached solver data of one valid-pair pattern (computed once, shared by threads)."""
        cache_key = (key, sig_pair is not None)
        found = self.patterns.get(cache_key)
        if found is None:
            found = _Pattern(self, np.flatnonzero(valid), sig_pair)
            self.patterns[cache_key] = found
        return found


class _Pattern:
    """Pseudo-inverse operators of the pairs ``rows`` (weighted by ``sig_pair`` if given)."""

    def __init__(self, net: _Network, rows: np.ndarray, sig_pair: np.ndarray | None) -> None:
        self.rows = rows
        bv = net.b[rows]
        w = np.ones(len(rows)) if sig_pair is None else 1.0 / sig_pair[rows]
        u, s, vt = np.linalg.svd(bv * w[:, None], full_matrices=False)
        keep = s > net.rcond * s[0]
        self.rank = int(keep.sum())
        # Velocities v = H y (minimum-norm weighted least squares), displacements = Hd y.
        h = (vt[keep].T / s[keep]) @ (u[:, keep].T * w[None, :])
        self.h_vel = h
        self.h_disp = net.cum @ (net.dt[:, None] * h)
        self.bv = bv
        self.gsq = (self.h_disp**2) @ (np.ones(len(rows)) if sig_pair is None else sig_pair[rows] ** 2)
        """sum_p Hd[k, p]^2 (x sigma_p^2 when weighted): the shape of the displacement variances."""
        self.dof = len(rows) - self.rank


class _Outputs:
    def __init__(self, n: int, n_pix: int) -> None:
        self.disp = np.full((n, n_pix), np.nan)
        self.vel = np.full((n - 1, n_pix), np.nan)
        self.std = np.full((n, n_pix), np.nan)
        self.rms = np.full(n_pix, np.nan)
        self.n_valid = np.zeros(n_pix, dtype=np.int32)
        self.rank = np.zeros(n_pix, dtype=np.int16)

    def put(
        self,
        start: int,
        idx: np.ndarray,
        disp: np.ndarray,
        vel: np.ndarray,
        std: np.ndarray,
        rms: np.ndarray,
        rank: np.ndarray | int,
    ) -> None:
        cols = start + idx
        self.disp[:, cols] = disp.T
        self.vel[:, cols] = vel.T
        self.std[:, cols] = std.T
        self.rms[cols] = rms
        self.rank[cols] = rank


def _components(valid: np.ndarray, pairs: np.ndarray, n: int) -> np.ndarray:
    """Connected components of the dates under each row's valid pairs: (rows, n) labels.

    A date's label is the first date of its component, so every date of a row whose pairs
    connect all dates is labelled 0. Minimum-label propagation along the pairs until stable.
    """
    label = np.repeat(np.arange(n, dtype=np.int16)[:, None], valid.shape[0], axis=1)
    vt = np.ascontiguousarray(valid.T)
    for _ in range(n):
        changed = False
        for p, (i, j) in enumerate(pairs):
            low = np.where(vt[p], np.minimum(label[i], label[j]), label[j])
            if np.any(low != label[j]):
                label[j] = low
                changed = True
            low = np.where(vt[p], np.minimum(label[i], low), label[i])
            if np.any(low != label[i]):
                label[i] = low
                changed = True
        if not changed:
            break
    return np.ascontiguousarray(label.T)


def _pattern_keys(valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique valid-pair patterns (bit-packed keys): (first row of each, inverse index, counts)."""
    packed = np.ascontiguousarray(np.packbits(valid, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
    return first, inverse.ravel(), counts


def _solve_chunk(
    net: _Network,
    y: np.ndarray,
    sig_pair: np.ndarray | None,
    sig_pix: np.ndarray | None,
    robust: bool,
    max_iter: int,
    out: _Outputs,
    start: int,
) -> None:
    """Solve the pixels of one chunk; ``y`` is (pixels, pairs)."""
    valid = np.isfinite(y)
    if sig_pix is not None:
        valid &= np.isfinite(sig_pix) & (sig_pix > 0)
    elif sig_pair is not None:
        valid &= (np.isfinite(sig_pair) & (sig_pair > 0))[None, :]
    out.n_valid[start : start + len(y)] = valid.sum(axis=1)
    first, inverse, counts = _pattern_keys(valid)
    patterns = valid[first]
    has_obs = patterns.any(axis=1)
    shared = sig_pix is None and not robust
    by_pattern = has_obs & (counts >= _GROUP_MIN) if shared else np.zeros(len(first), dtype=bool)
    if by_pattern.any():
        order = np.argsort(inverse, kind="stable")
        offsets = np.concatenate([[0], np.cumsum(counts)])
        for u in np.flatnonzero(by_pattern):
            pat = net.pattern(np.packbits(patterns[u]).tobytes(), patterns[u], sig_pair)
            _solve_pattern_group(net, pat, y, sig_pair, order[offsets[u] : offsets[u + 1]], out, start)
    rest = has_obs & ~by_pattern
    if rest.any():
        labels = _components(patterns[rest], net.pairs, net.n)
        label_of = np.zeros((len(first), net.n), dtype=np.int16)
        label_of[rest] = labels
        idx = np.flatnonzero(rest[inverse])
        sp = None if sig_pix is None else sig_pix[idx]
        _solve_batched(
            net,
            y[idx],
            valid[idx],
            _weights(valid[idx], sig_pair, sp),
            _variances(valid[idx], sig_pair, sp),
            label_of[inverse[idx]],
            robust,
            max_iter,
            out,
            start,
            idx,
        )


def _weights(valid: np.ndarray, sig_pair: np.ndarray | None, sig_pix: np.ndarray | None) -> np.ndarray:
    """A-priori weights 1/sigma^2 (1 without sigmas), 0 for missing observations."""
    if sig_pix is not None:
        return np.where(valid, 1.0 / np.where(valid, sig_pix, 1.0) ** 2, 0.0)
    if sig_pair is not None:
        ok = np.isfinite(sig_pair) & (sig_pair > 0)
        w = np.zeros(len(sig_pair))
        w[ok] = 1.0 / sig_pair[ok] ** 2
        return valid * w[None, :]
    return valid.astype(np.float64)


def _variances(
    valid: np.ndarray, sig_pair: np.ndarray | None, sig_pix: np.ndarray | None
) -> np.ndarray | None:
    """A-priori variances of the observations (None: to be estimated from the residuals)."""
    if sig_pix is not None:
        return np.where(valid, sig_pix, 0.0) ** 2
    if sig_pair is not None:
        return np.where(valid, np.nan_to_num(sig_pair)[None, :], 0.0) ** 2
    return None


def _solve_pattern_group(
    net: _Network,
    pat: _Pattern,
    y: np.ndarray,
    sig_pair: np.ndarray | None,
    idx: np.ndarray,
    out: _Outputs,
    start: int,
) -> None:
    """Pixels sharing one pattern and shared weights: products with the cached pseudo-inverse."""
    yv = y[np.ix_(idx, pat.rows)]
    vel = yv @ pat.h_vel.T
    disp = yv @ pat.h_disp.T
    res = yv - vel @ pat.bv.T
    rss = np.einsum("ij,ij->i", res, res)
    rms = np.sqrt(rss / len(pat.rows))
    if sig_pair is not None:
        std = np.repeat(np.sqrt(pat.gsq)[None, :], len(idx), axis=0)
    else:
        s0 = rss / pat.dof if pat.dof > 0 else np.full(len(idx), np.nan)
        std = np.sqrt(s0[:, None] * pat.gsq[None, :])
    std[:, 0] = 0.0
    out.put(start, idx, disp, vel, std, rms, pat.rank)


def _spd_inverse(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverses of symmetric positive definite matrices k (p, s, s), and a mask of those that
    were numerically singular (their inverse is NaN)."""
    try:
        return np.linalg.inv(k), np.zeros(len(k), dtype=bool)
    except np.linalg.LinAlgError:
        ev = np.linalg.eigvalsh(k)
        bad = ~(ev[:, 0] > 1e-13 * np.abs(ev[:, -1]))
        k = k.copy()
        k[bad] = np.eye(k.shape[1])
        kinv = np.linalg.inv(k)
        kinv[bad] = np.nan
        return kinv, bad


def _matvec(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Row-wise a[p] @ x[p] for a (p, s, s), x (p, s)."""
    return np.einsum("pij,pj->pi", a, x)


def _solve_batched(
    net: _Network,
    y: np.ndarray,
    valid: np.ndarray,
    w0: np.ndarray,
    s2: np.ndarray | None,
    labels: np.ndarray,
    robust: bool,
    max_iter: int,
    out: _Outputs,
    start: int,
    idx: np.ndarray,
) -> None:
    """Per-pixel weighted least squares from batched normal equations in displacements.

    Where a pixel's valid pairs split the dates into several components (``labels``), the
    normal matrix is made regular by adding the outer products of the components' shift
    vectors (its null space); the solution then is a least-squares one, projected onto the
    minimum velocity norm (the Berardino solution) along that null space.
    """
    p, r = len(y), net.n - 1
    y0 = np.where(valid, y, 0.0)
    n_valid = valid.sum(axis=1)
    roots = labels == np.arange(net.n, dtype=np.int16)[None, :]
    rank = net.n - roots.sum(axis=1)
    split = np.flatnonzero(rank < r)
    same = None
    if split.size:
        lab = labels[split, 1:]
        same = ((lab[:, :, None] == lab[:, None, :]) & (lab[:, :, None] != 0)).astype(np.float64)

    if robust:
        w, x, kinv, normal, bad = _irls(net, y0, valid, w0, split, same, max_iter)
    else:
        w = w0
        normal = net.normal(w)
        k = normal
        if split.size:
            k = normal.copy()
            scale = np.trace(normal[split], axis1=1, axis2=2) / r
            k[split] += np.maximum(scale, 1e-300)[:, None, None] * same
        rhs = (w * y0) @ net.dsg
        kinv, bad = _spd_inverse(k)
        x = _matvec(kinv, rhs)
    res = np.where(valid, y0 - x @ net.dsg.T, 0.0)
    rss = np.einsum("ij,ij->i", res, res)
    rms = np.sqrt(rss / n_valid)
    with np.errstate(divide="ignore", invalid="ignore"):
        s0 = np.where(n_valid > rank, rss / (n_valid - rank), np.nan)
    if robust:
        if s2 is None:
            wsum = np.sum(w, axis=1)
            s0 = np.sum(w * res**2, axis=1) / wsum * n_valid / np.maximum(n_valid - rank, 1)
            s0[n_valid <= rank] = np.nan
            var_obs = valid * s0[:, None]
        else:
            var_obs = s2
        middle = net.normal(w * w * var_obs)
        cov = np.matmul(np.matmul(kinv, middle), kinv)
        if split.size:
            proj = _min_velocity_projection(net, labels[split])
            x[split] = _matvec(proj, x[split])
            cov[split] = np.matmul(np.matmul(proj, cov[split]), proj.transpose(0, 2, 1))
        var = np.diagonal(cov, axis1=1, axis2=2).copy()
    else:
        # W = inverse covariance (or identity, then scaled by s0): cov = K^-1 where connected.
        var = np.diagonal(kinv, axis1=1, axis2=2).copy()
        if split.size:
            ks = kinv[split]
            cov = np.matmul(np.matmul(ks, normal[split]), ks)
            proj = _min_velocity_projection(net, labels[split])
            x[split] = _matvec(proj, x[split])
            cov = np.matmul(np.matmul(proj, cov), proj.transpose(0, 2, 1))
            var[split] = np.diagonal(cov, axis1=1, axis2=2)
        if s2 is None:
            var *= s0[:, None]
    disp = np.zeros((p, net.n))
    disp[:, 1:] = x
    vel = np.diff(disp, axis=1) / net.dt[None, :]
    std = np.zeros((p, net.n))
    std[:, 1:] = np.sqrt(np.maximum(var, 0.0))
    std[bad] = np.nan
    out.put(start, idx, disp, vel, std, rms, rank)


def _min_velocity_projection(net: _Network, labels: np.ndarray) -> np.ndarray:
    """Projections (p, r, r) of displacements onto the minimum velocity norm along the shifts
    of each component not holding the first date (the system's null space)."""
    lab = labels[:, 1:]
    g = (lab[:, :, None] == np.arange(net.n, dtype=np.int16)[None, None, :]).astype(np.float64)
    g[:, :, 0] = 0.0
    empty = ~g.any(axis=1)
    go = np.einsum("pka,kl->pal", g, net.omega)
    gog = np.matmul(go, g)
    gog[:, np.arange(net.n), np.arange(net.n)] += empty
    gog_inv, _ = _spd_inverse(gog)
    return np.eye(net.n - 1)[None] - g @ (gog_inv @ go)


def _irls(
    net: _Network,
    y0: np.ndarray,
    valid: np.ndarray,
    w0: np.ndarray,
    split: np.ndarray,
    same: np.ndarray | None,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Iteratively reweighted least squares towards min sum |r_p| / sigma_p (L1)."""
    p, r = y0.shape[0], net.n - 1
    sig = np.sqrt(1.0 / np.where(w0 > 0, w0, 1.0))
    aug = np.zeros((p, r, r))
    if same is not None:
        aug[split] = same

    def solve(rows: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        normal = net.normal(w)
        scale = np.trace(normal, axis1=1, axis2=2) / r
        k = normal + np.maximum(scale, 1e-300)[:, None, None] * aug[rows]
        rhs = (w * y0[rows]) @ net.dsg
        kinv, bad = _spd_inverse(k)
        return _matvec(kinv, rhs), kinv, normal, bad

    rows = np.arange(p)
    x, kinv, normal, bad = solve(rows, w0)
    u = np.abs(np.where(valid, y0 - x @ net.dsg.T, 0.0)) / sig
    scale = _median_valid(u, valid)
    top = np.max(np.abs(y0) / sig, axis=1)
    delta = np.maximum(1e-3 * scale, 1e-9 * np.maximum(top, 1e-300))[:, None]
    w = w0.copy()
    active = np.ones(p, dtype=bool)
    for _ in range(max_iter):
        act = np.flatnonzero(active)
        if not act.size:
            break
        w_act = w0[act] / np.maximum(u[act], delta[act])
        x_new, kinv_new, normal_new, bad_new = solve(act, w_act)
        change = np.nanmax(np.abs(x_new - x[act]), axis=1)
        size = np.maximum(np.nanmax(np.abs(x_new), axis=1), 1e-300)
        x[act], normal[act], bad[act], w[act] = x_new, normal_new, bad_new, w_act
        kinv[act] = kinv_new
        u[act] = np.abs(np.where(valid[act], y0[act] - x_new @ net.dsg.T, 0.0)) / sig[act]
        active[act] = ~(change <= 1e-12 * size)
    x[bad] = np.nan
    return w, x, kinv, normal, bad


def _median_valid(u: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Median of each row's valid entries (rows have at least one)."""
    masked = np.where(valid, u, np.nan)
    return np.nan_to_num(np.nanmedian(masked, axis=1))
