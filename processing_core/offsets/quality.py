"""Quality of offset estimates: peaks, SNR, predicted precision, window selection, outliers."""

from __future__ import annotations

import numpy as np

from processing_core.offsets.field import DISAGREE, LOW_NCC, LOW_SNR, NO_DATA, SEARCH_EDGE

PATCH_HALF = 4
"""Half side of the NCC patch around the integer peak handed to the sub-pixel step (9 x 9)."""
SNR_EXCLUSION_PX = 3
"""Shifts within this chebyshev distance of the peak are left out of the SNR's background."""


def dezan_sigma(ncc: np.ndarray, window_px: np.ndarray, oversampling: float = 1.0) -> np.ndarray:
    """Predicted standard deviation of an offset (pixels), after De Zan (2014).

    De Zan, F. (2014), "Accuracy of incoherent speckle tracking for circular Gaussian signals",
    IEEE GRSL 11(1), 264-267: for N independent samples and coherence g,
    sigma = sqrt(3 / (10 N)) sqrt(2 + 5 g^2 - 7 g^4) / (pi g^2) resolution cells. Here
    g = sqrt(NCC) (for circular Gaussian speckle the intensity correlation coefficient is g^2,
    and that of amplitude nearly so), N = (window / oversampling)^2 and one cell is
    ``oversampling`` pixels. Where NCC also reflects texture this is a pessimistic guide.
    """
    rho = np.clip(np.asarray(ncc, dtype=np.float64), 1e-6, 1.0 - 1e-9)
    g2 = rho
    n = (np.asarray(window_px, dtype=np.float64) / oversampling) ** 2
    sigma = np.sqrt(3.0 / (10.0 * n)) * np.sqrt((1.0 - g2) * (2.0 + 7.0 * g2)) / (np.pi * g2)
    return (oversampling * sigma).astype(np.float32)


def snr_exclusion_px(smooth_px: float) -> int:
    """Half side of the box around the peak left out of the SNR background, pixels.

    Low-passing both images with a Gaussian of sigma s convolves their correlation with a
    Gaussian of sigma s sqrt(2), which widens the peak: its shoulders, 2 sqrt(2) s further out,
    stay out of the background so that the SNR measures the match and not the filter.
    """
    return SNR_EXCLUSION_PX + int(np.ceil(2.0 * np.sqrt(2.0) * smooth_px))


def analyse(
    surfaces: np.ndarray, radius: np.ndarray, half: int, exclusion_px: int = SNR_EXCLUSION_PX
) -> dict[str, np.ndarray]:
    """Integer peak, peak NCC, SNR, edge flag and sub-pixel patch of NCC surfaces.

    ``surfaces`` (n, 2 half + 1, 2 half + 1) float32, NaN at invalid shifts, centre = the
    search centre; ``radius`` (n,) the search radius of each surface (<= half - PATCH_HALF).
    The peak is searched within the radius; the patch may reach PATCH_HALF beyond it.
    ``exclusion_px``: see :func:`snr_exclusion_px`.
    """
    n, size, _ = surfaces.shape
    a = np.arange(size) - half
    r = radius.astype(np.int64)[:, None]
    in_y = np.abs(a)[None, :] <= r
    finite = np.isfinite(surfaces)
    search = in_y[:, :, None] & in_y[:, None, :] & finite
    values = np.where(search, surfaces, -np.inf).reshape(n, -1)
    flat = np.argmax(values, axis=1)
    py, px = np.divmod(flat, size)
    idx = np.arange(n)
    peak = values[idx, flat]
    ok = np.isfinite(peak)
    py = np.where(ok, py, half)
    px = np.where(ok, px, half)
    ry = np.abs(py - half)
    rx = np.abs(px - half)
    edge = (ry >= radius) | (rx >= radius)
    # Any invalid shift next to the peak: the peak may be cut by a no-data or image edge.
    ny = np.clip(py[:, None] + np.arange(-1, 2)[None, :], 0, size - 1)
    nx = np.clip(px[:, None] + np.arange(-1, 2)[None, :], 0, size - 1)
    edge |= ~finite[idx[:, None, None], ny[:, :, None], nx[:, None, :]].all(axis=(1, 2))
    # SNR: peak^2 over the mean square of the search area beyond the exclusion box.
    excl = np.minimum(exclusion_px, np.maximum(radius - 1, 0))[:, None]
    far_y = np.abs(np.arange(size)[None, :] - py[:, None]) > excl
    far_x = np.abs(np.arange(size)[None, :] - px[:, None]) > excl
    background = search & (far_y[:, :, None] | far_x[:, None, :])
    sq = np.where(background, surfaces, 0.0).astype(np.float64) ** 2
    count = background.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_sq = sq.sum(axis=(1, 2)) / count
        snr = np.where(ok, np.where(mean_sq > 0, peak.astype(np.float64) ** 2 / mean_sq, np.inf), np.nan)
    snr[ok & (count == 0)] = np.nan
    k = np.arange(-PATCH_HALF, PATCH_HALF + 1)
    yy = np.clip(py[:, None] + k[None, :], 0, size - 1)
    xx = np.clip(px[:, None] + k[None, :], 0, size - 1)
    patch = surfaces[idx[:, None, None], yy[:, :, None], xx[:, None, :]]
    patch_ok = ok & np.isfinite(patch).all(axis=(1, 2))
    return {
        "ok": ok,
        "dy": (py - half).astype(np.int64),
        "dx": (px - half).astype(np.int64),
        "peak": np.where(ok, peak, np.nan).astype(np.float32),
        "snr": snr.astype(np.float32),
        "edge": edge & ok,
        "patch": patch,
        "patch_ok": patch_ok,
    }


def window_agreement(ok: np.ndarray, dy: np.ndarray, dx: np.ndarray, tolerance_px: int) -> np.ndarray:
    """(n, windows) True where another evaluated window's integer peak is within the tolerance.

    The chips of one node are nested, so a real match puts every window's peak at nearly the
    same shift while noise peaks land anywhere in the search area. Nodes with a single
    evaluated window cannot be checked and count as agreeing; ``tolerance_px`` 0 disables it.
    """
    if tolerance_px <= 0 or ok.shape[1] < 2:
        return np.ones(ok.shape, dtype=bool)
    near = (np.abs(dy[:, :, None] - dy[:, None, :]) <= tolerance_px) & (
        np.abs(dx[:, :, None] - dx[:, None, :]) <= tolerance_px
    )
    near &= ok[:, :, None] & ok[:, None, :]
    m = ok.shape[1]
    near[:, np.arange(m), np.arange(m)] = False
    single = ok.sum(axis=1, keepdims=True) < 2
    return near.any(axis=2) | single


def select_window(
    windows: tuple[int, ...],
    ok: np.ndarray,
    peak: np.ndarray,
    snr: np.ndarray,
    edge: np.ndarray,
    patch_ok: np.ndarray,
    agree: np.ndarray,
    *,
    selection: str,
    min_ncc: float,
    min_snr: float,
    target_sigma_px: float,
    oversampling: float,
) -> np.ndarray:
    """Index of the kept window per node (arrays (n, windows)); -1 where no window was evaluated.

    Windows passing every test (peak found away from the search edge, NCC >= min_ncc, SNR >=
    min_snr, peak confirmed by another window, see :func:`window_agreement`) are preferred; among them ``max_snr`` keeps the highest SNR and ``precision`` the
    smallest window whose predicted std meets ``target_sigma_px`` (else the most precise one).
    Where none passes, the rule is applied to the evaluated windows (the node is then rejected,
    its flags telling why).
    """
    w = np.asarray(windows, dtype=np.float64)[None, :]
    passing = ok & patch_ok & agree & ~edge & (peak >= min_ncc) & (peak > 0) & (snr >= min_snr)
    pool = np.where(passing.any(axis=1, keepdims=True), passing, ok)
    if selection == "max_snr":
        score = np.where(pool, np.nan_to_num(snr, nan=-1.0, posinf=np.finfo(np.float32).max), -np.inf)
        choice = np.argmax(score, axis=1)
    else:
        sigma = dezan_sigma(np.where(peak > 0, peak, 1e-6), np.broadcast_to(w, peak.shape), oversampling)
        meets = pool & (sigma <= target_sigma_px)
        first = np.argmax(meets, axis=1)  # windows are ascending: the first that meets the target
        best = np.argmin(np.where(pool, sigma, np.inf), axis=1)
        choice = np.where(meets.any(axis=1), first, best)
    return np.where(ok.any(axis=1), choice, -1)


def node_flags(
    chosen: np.ndarray,
    ncc: np.ndarray,
    snr: np.ndarray,
    edge: np.ndarray,
    agree: np.ndarray,
    *,
    min_ncc: float,
    min_snr: float,
) -> np.ndarray:
    """Rejection flags of the kept windows (see :mod:`processing_core.offsets.field`)."""
    flags = np.zeros(chosen.shape, dtype=np.uint8)
    flags[chosen < 0] |= NO_DATA
    have = chosen >= 0
    with np.errstate(invalid="ignore"):
        flags[have & ~((ncc >= min_ncc) & (ncc > 0))] |= LOW_NCC
        flags[have & ~(snr >= min_snr)] |= LOW_SNR
    flags[have & edge] |= SEARCH_EDGE
    flags[have & ~agree] |= DISAGREE
    return flags


def _nan_median(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median over axis 0 ignoring NaN (and the count of values), without numpy's warnings."""
    count = np.isfinite(stack).sum(axis=0)
    ordered = np.sort(stack, axis=0)  # NaN sorts last
    lo = np.clip((count - 1) // 2, 0, None)
    hi = np.clip(count // 2, 0, None)
    a = np.take_along_axis(ordered, lo[None], axis=0)[0]
    b = np.take_along_axis(ordered, hi[None], axis=0)[0]
    med = 0.5 * (a + b)
    med[count == 0] = np.nan
    return med, count


def outliers(
    azimuth: np.ndarray, range_: np.ndarray, *, size: int, threshold: float, floor_px: float
) -> np.ndarray:
    """Median/MAD consistency test: True where a node deviates from its neighbours.

    For each valid node, over the valid nodes of its ``size x size`` neighbourhood (itself
    excluded): median m and MAD; the node is an outlier when, in azimuth or in range,
    |v - m| > threshold (1.4826 MAD + floor_px) (the normalised median test of Westerweel &
    Scarano 2005, Exp. Fluids 39, with a robust spread), or when fewer than 3 neighbours are
    valid (an isolated estimate cannot be checked and is usually a false match).
    """
    h = size // 2
    rows, cols = azimuth.shape
    out = np.zeros((rows, cols), dtype=bool)
    valid = np.isfinite(azimuth) & np.isfinite(range_)
    offsets = [(dy, dx) for dy in range(-h, h + 1) for dx in range(-h, h + 1) if (dy, dx) != (0, 0)]
    strip = max(1, 2_000_000 // max(1, cols * len(offsets)))
    padded = []
    for values in (azimuth, range_):
        p = np.full((rows + 2 * h, cols + 2 * h), np.nan, dtype=np.float64)
        p[h : h + rows, h : h + cols] = np.where(valid, values, np.nan)
        padded.append(p)
    for r0 in range(0, rows, strip):
        r1 = min(rows, r0 + strip)
        bad = np.zeros((r1 - r0, cols), dtype=bool)
        few = np.zeros((r1 - r0, cols), dtype=bool)
        for p in padded:
            stack = np.stack([p[h + r0 + dy : h + r1 + dy, h + dx : h + dx + cols] for dy, dx in offsets])
            med, count = _nan_median(stack)
            mad, _ = _nan_median(np.abs(stack - med[None]))
            centre = p[h + r0 : h + r1, h : h + cols]
            with np.errstate(invalid="ignore"):
                bad |= np.abs(centre - med) > threshold * (1.4826 * mad + floor_px)
            few |= count < 3
        out[r0:r1] = valid[r0:r1] & (bad | few)
    return out
