"""Continuous piecewise-linear least squares with breaks: the exact dynamic programme and its
local refinement (the algorithms behind :mod:`processing_core.analysis.stages`).

Times are days (float); the model at break days b_1 < ... < b_m is
``y(t) = c0 + c1 t + sum_k d_k (t - b_k)+`` (continuous displacement, one slope per stage), fitted
by unweighted least squares.
"""

from __future__ import annotations

import numpy as np

SIGMA_FLOOR_M = 1e-3
"""Smallest robust noise estimate, m (noise-free data, e.g. simulated truth)."""


# -- noise -----------------------------------------------------------------------------------------
def robust_sigma_m(days: np.ndarray, y: np.ndarray) -> float:
    """Noise std from the residuals of each point from the chord of its two neighbours, m.

    For white noise of std sigma, the residual r_i = y_i - ((1 - l) y_{i-1} + l y_{i+1}),
    l = (t_i - t_{i-1}) / (t_{i+1} - t_{i-1}), has variance sigma^2 (1 + (1 - l)^2 + l^2) on a
    straight stretch; the normalised median absolute value (MAD * 1.4826) ignores the few
    points next to breaks. Floored at 1 mm.
    """
    if len(y) < 3:
        return SIGMA_FLOOR_M
    lam = (days[1:-1] - days[:-2]) / (days[2:] - days[:-2])
    r = y[1:-1] - ((1.0 - lam) * y[:-2] + lam * y[2:])
    z = r / np.sqrt(1.0 + (1.0 - lam) ** 2 + lam**2)
    return max(float(1.4826 * np.median(np.abs(z))), SIGMA_FLOOR_M)


# -- exact dynamic programme over candidate breaks (CPOP) -----------------------------------------
def envelope(a: np.ndarray, m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Indices of the parabolas a (x - m)^2 + v (a > 0) that are lowest somewhere on the real line.

    Walks the lower envelope from x = -inf, switching at the next crossing; crossings are solved
    in coordinates centred on the current parabola's vertex, which keeps wide parabolas (tiny a,
    far vertex) exact.
    """
    n = len(a)
    if n <= 1:
        return np.arange(n)
    cur = int(np.lexsort((v, m, a))[0])  # the lowest as x -> -inf: widest, then leftmost vertex
    kept = [cur]
    z_prev = -np.inf  # position on the envelope, relative to the current vertex
    for _ in range(2 * n + 2):
        d = m - m[cur]
        # q_i - q_cur in z = x - m_cur: da z^2 + db z + dc
        da = a - a[cur]
        db = -2.0 * a * d
        dc = a * d * d + v - v[cur]
        tiny = 1e-12 * (a + a[cur])
        quad = np.abs(da) > tiny
        disc = db * db - 4.0 * da * dc
        ok = quad & (disc > 0)
        sq = np.sqrt(np.where(ok, disc, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            # Stable roots: q = -(db + sign(db) sq) / 2; roots q / da and dc / q.
            qq = -0.5 * (db + np.where(db >= 0, sq, -sq))
            r1, r2 = qq / da, dc / qq
            lo, hi = np.minimum(r1, r2), np.maximum(r1, r2)
            lin = -dc / db
        # Where q_i - q_cur turns negative: the lower root for a narrower parabola (da > 0), the
        # upper for a wider one, the zero of a falling line.
        root = np.full(n, np.inf)
        root = np.where(ok & (da > 0), lo, root)
        root = np.where(ok & (da < 0), hi, root)
        root = np.where(~quad & (db < 0), lin, root)
        root[cur] = np.inf
        root[~np.isfinite(root)] = np.inf
        limit = z_prev + 1e-12 * (1.0 + abs(z_prev)) if np.isfinite(z_prev) else -np.inf
        root = np.where(root > limit, root, np.inf)
        if not np.isfinite(root).any():
            break
        first = float(np.min(root))
        tied = np.flatnonzero(root <= first + 1e-12 * (1.0 + abs(first)))
        slope_after = 2 * da[tied] * first + db[tied]  # most negative: lowest just after the switch
        nxt = int(tied[np.argmin(slope_after)])
        z_prev = first + m[cur] - m[nxt]  # the same x, relative to the new vertex
        cur = nxt
        kept.append(cur)
    return np.unique(np.array(kept))


def cpop(
    u: np.ndarray,
    y: np.ndarray,
    uc: np.ndarray,
    kc: np.ndarray,
    beta: float,
    min_points: int,
    *,
    prune: bool = True,
) -> list[int]:
    """Candidate indices of the optimal breaks (unit weights, penalty ``beta`` in SSE units).

    ``u``, ``y``: data times (0 to 1) and values; ``uc``: candidate times (first and last = first
    and last data time), ``kc[c]``: number of data with time <= uc[c]. Each segment
    (uc[s], uc[c]] holds at least ``min_points`` data (the first segment counts the first datum
    too) and at least one.

    Every piece is a parabola a (x - m)^2 + v in the value x at its candidate. Extending a piece
    at s by a segment to c is a three-row least-squares problem in (x_c, slope): the piece's
    prior on x_s, and the segment's best line written as its mean and slope in l = (t - t_s) /
    (t_c - t_s); its curvature, vertex and minimum follow from cross products of the rows (no
    subtraction of large sums, so wide parabolas from extrapolated breaks stay exact).

    Inequality pruning (``min_points == 1``): a piece whose best cost at candidate c exceeds the
    best cost there by more than 2 beta is never needed from the next acquisition after c on:
    any continuation through it costs more than the best solution at c followed by breaks at c
    and at that acquisition, which rejoins the same line (Fearnhead et al. 2019, section 3.2).
    """
    n_c = len(uc)
    zeros = np.zeros(1)
    pn = np.concatenate([zeros, np.cumsum(np.ones_like(u))])
    pt = np.concatenate([zeros, np.cumsum(u)])
    ptt = np.concatenate([zeros, np.cumsum(u * u)])
    py = np.concatenate([zeros, np.cumsum(y)])
    pyt = np.concatenate([zeros, np.cumsum(y * u)])
    pyy = np.concatenate([zeros, np.cumsum(y * y)])
    big = np.iinfo(np.int64).max
    buf = {"a": np.empty(256), "m": np.empty(256), "v": np.empty(256)}
    cand_of = np.empty(256, dtype=np.int64)
    parent = np.empty(256, dtype=np.int64)
    dead_from = np.full(256, big)
    data_cand = np.searchsorted(uc, u)  # candidate index of every datum
    buf["a"][0], buf["m"][0], buf["v"][0] = 1.0, y[0], -beta
    cand_of[0], parent[0] = 0, -1
    offsets = [0, 1]  # pieces of candidate c are offsets[c]:offsets[c + 1]
    for c in range(1, n_c):
        count = kc[c] - kc[:c] + (np.arange(c) == 0)
        # Counts fall as s rises, so the eligible previous candidates are a prefix 0..last.
        eligible = np.flatnonzero((count >= min_points) & (kc[c] - kc[:c] >= 1))
        idx = np.arange(offsets[int(eligible[-1]) + 1]) if eligible.size else np.arange(0)
        idx = idx[dead_from[idx] > c]
        if idx.size == 0:
            offsets.append(offsets[-1])
            continue
        s = cand_of[idx]
        k0, k1 = kc[s], kc[c]
        length = uc[c] - uc[s]
        n = pn[k1] - pn[k0]
        st, sy = pt[k1] - pt[k0], py[k1] - py[k0]
        # Centred sums of the segment's data, l = (u - u_s) / length.
        s_ll = np.maximum(ptt[k1] - ptt[k0] - st * st / n, 0.0) / length**2
        s_ly = (pyt[k1] - pyt[k0] - st * sy / n) / length
        s_yy = np.maximum(pyy[k1] - pyy[k0] - sy * sy / n, 0.0)
        l_bar = (st / n - uc[s]) / length
        y_bar = sy / n
        has_slope = s_ll > 1e-14 * n
        q_hat = np.where(has_slope, s_ly / np.where(has_slope, s_ll, 1.0), 0.0)
        s_ll = np.where(has_slope, s_ll, 0.0)
        sse_line = np.where(has_slope, np.maximum(s_yy - q_hat * s_ly, 0.0), s_yy)
        a, m, v = buf["a"][idx], buf["m"][idx], buf["v"][idx]
        norm2 = n * s_ll + a * s_ll + a * n * l_bar**2  # |cross product of the two columns|^2
        na = norm2 / (a + n * (1.0 - l_bar) ** 2 + s_ll)
        nm = (
            a * n * l_bar * (y_bar - (1.0 - l_bar) * m)
            + a * s_ll * (m + q_hat)
            + n * s_ll * (y_bar + q_hat * (1.0 - l_bar))
        ) / norm2
        start_of_line = y_bar - q_hat * l_bar  # the segment's best line at l = 0
        nv = v + beta + sse_line + a * n * s_ll * (m - start_of_line) ** 2 / norm2
        if prune and min_points == 1:
            hopeless = nv > nv.min() + 2 * beta
            nxt = kc[c]  # the first datum after candidate c
            if hopeless.any() and nxt < len(u):
                gone = idx[hopeless]
                dead_from[gone] = np.minimum(dead_from[gone], data_cand[nxt])
        keep = envelope(na, nm, nv)
        top = offsets[-1]
        need = top + keep.size
        if need > cand_of.size:
            grow = max(need, 2 * cand_of.size)
            for key in buf:
                buf[key] = np.resize(buf[key], grow)
            cand_of, parent = np.resize(cand_of, grow), np.resize(parent, grow)
            dead_from = np.concatenate([dead_from, np.full(grow - dead_from.size, big)])
        buf["a"][top:need], buf["m"][top:need], buf["v"][top:need] = na[keep], nm[keep], nv[keep]
        cand_of[top:need], parent[top:need] = c, idx[keep]
        offsets.append(need)
    last = np.arange(offsets[n_c - 1], offsets[n_c])
    if last.size == 0:
        return []
    piece = int(last[np.argmin(buf["v"][last])])
    chain = []
    while piece >= 0:
        chain.append(int(cand_of[piece]))
        piece = int(parent[piece])
    return sorted(set(chain) - {0, n_c - 1})


def candidates(days: np.ndarray, subdivisions: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate break days (acquisitions and evenly inside intervals) and data counts <= each."""
    parts = [days[:1]]
    for a, b in zip(days[:-1], days[1:]):
        parts.append(a + (b - a) * np.arange(1, subdivisions + 1) / subdivisions)
    cand = np.concatenate(parts)
    return cand, np.searchsorted(days, cand, side="right")


# -- least squares at fixed breaks ------------------------------------------------------------------
def design(days: np.ndarray, breaks: np.ndarray, span: float) -> np.ndarray:
    """Columns 1, t, (t - break_k)+ in units of the span; shape (..., n, 2 + m) for breaks (..., m)."""
    t = (days - days[0]) / span
    kb = (np.asarray(breaks, dtype=np.float64) - days[0]) / span
    hinge = np.maximum(t[:, None] - kb[..., None, :], 0.0)
    shape = hinge.shape[:-1]
    ones = np.broadcast_to(np.ones(len(t))[:, None], shape + (1,))
    tt = np.broadcast_to(t[:, None], shape + (1,))
    return np.concatenate([ones, tt, hinge], axis=-1)


def fit_sse(days: np.ndarray, y: np.ndarray, breaks: np.ndarray, span: float) -> float:
    """SSE of the least-squares fit with the given breaks."""
    x = design(days, breaks, span)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    r = y - x @ coef
    return float(r @ r)


def _allowed(
    days: np.ndarray, grid: np.ndarray, lo: float, hi: float, min_points: int, first: bool
) -> np.ndarray:
    """Candidate days in (lo, hi) leaving >= min_points data in (lo, d] and (d, hi]."""
    left = np.searchsorted(days, grid, side="right") - np.searchsorted(days, lo, side="right") + first
    right = np.searchsorted(days, hi, side="right") - np.searchsorted(days, grid, side="right")
    return (grid > lo) & (grid < hi) & (left >= min_points) & (right >= min_points) & (left >= 1)


def scan(days, y, breaks, k, lo, hi, span, min_points, last_end) -> tuple[np.ndarray, np.ndarray]:
    """SSE for break k moved to every whole day in (lo, hi), the others fixed.

    With the other columns' orthonormal basis Q, SSE(d) = |r|^2 - (h_d . r)^2 / |h_d|^2 where r
    and h_d are the data and the hinge column (t - d)+ with Q projected out: one pass for all d.
    """
    grid = np.arange(np.floor(lo) + 1.0, np.ceil(hi))
    lo_n = breaks[k - 1] if k > 0 else days[0]
    hi_n = breaks[k + 1] if k + 1 < len(breaks) else last_end
    grid = grid[_allowed(days, grid, lo_n, hi_n, min_points, k == 0)]
    if grid.size == 0:
        return grid, grid
    x0 = design(days, np.delete(breaks, k), span)
    u, sv, _ = np.linalg.svd(x0, full_matrices=False)
    q = u[:, sv > sv.max() * 1e-10]
    ry = y - q @ (q.T @ y)
    t = (days - days[0]) / span
    h = np.maximum(t[:, None] - (grid[None, :] - days[0]) / span, 0.0)
    rh = h - q @ (q.T @ h)
    hh = np.einsum("ng,ng->g", rh, rh)
    hy = rh.T @ ry
    usable = hh > 1e-12 * max(float(np.max(hh)), 1e-300)
    gain = np.where(usable, hy**2 / np.where(usable, hh, 1.0), 0.0)
    return grid, float(ry @ ry) - gain


def _earliest_min(grid: np.ndarray, sse: np.ndarray, scale: float) -> tuple[float, float]:
    """The earliest day whose SSE equals the minimum within rounding (flat profiles: a break
    before a single last acquisition fits equally anywhere in that interval)."""
    tol = 1e-12 * scale + 1e-15
    j = int(np.flatnonzero(sse <= sse.min() + tol)[0])
    return float(grid[j]), float(sse[j])


def _neighbourhood(days: np.ndarray, d: float) -> tuple[float, float]:
    """One acquisition interval either side of the interval holding day d."""
    j = int(np.searchsorted(days, d, side="right")) - 1
    return float(days[max(j - 1, 0)]), float(days[min(j + 2, len(days) - 1)])


def refine(days, y, breaks, span, min_points, sweeps: int = 6) -> np.ndarray:
    """Move each break to its best day within one acquisition interval (coordinate descent)."""
    breaks = np.array(breaks, dtype=np.float64)
    scale = float(np.sum((y - y.mean()) ** 2))
    for _ in range(sweeps):
        moved = False
        for k in range(len(breaks)):
            lo, hi = _neighbourhood(days, breaks[k])
            grid, sse = scan(days, y, breaks, k, lo, hi, span, min_points, days[-1])
            if not grid.size:
                continue
            best, best_sse = _earliest_min(grid, sse, scale)
            if best != breaks[k] and best_sse <= fit_sse(days, y, breaks, span) + 1e-12 * scale:
                breaks[k] = best
                moved = True
        if not moved:
            break
    return breaks


def eliminate(days, y, breaks, span, min_points, beta_sse) -> np.ndarray:
    """Drop breaks while removing one (and re-refining the rest) lowers SSE + beta * m."""
    while len(breaks):
        cost = fit_sse(days, y, breaks, span) + beta_sse * len(breaks)
        trials = []
        for k in range(len(breaks)):
            rest = refine(days, y, np.delete(breaks, k), span, min_points)
            trials.append((fit_sse(days, y, rest, span) + beta_sse * len(rest), rest))
        best_cost, best = min(trials, key=lambda item: item[0])
        if best_cost >= cost:
            break
        breaks = best
    return breaks
