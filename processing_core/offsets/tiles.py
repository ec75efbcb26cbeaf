"""One tile of nodes: read, pre-filter, integer NCC for every window, select, sub-pixel.

A tile is a rectangle of grid nodes; it reads the reference pixels its chips need and the
secondary pixels its search areas need (plus the pre-filter's context), so memory stays
bounded whatever the image size. See :mod:`processing_core.offsets.ncc` for the engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.fft as sfft

from processing_core.offsets import ncc
from processing_core.offsets.params import OffsetParameters
from processing_core.offsets.prefilter import apply_prefilter, lowpass, lowpass_margin_px, margin_px
from processing_core.offsets.quality import (
    PATCH_HALF,
    analyse,
    dezan_sigma,
    node_flags,
    select_window,
    snr_exclusion_px,
    window_agreement,
)
from processing_core.offsets.subpixel import refine_peaks

BATCH_VALUES = 1_500_000
"""Correlation samples handled at once (bounds the temporaries of one batch)."""


class Source(Protocol):
    """Something that returns a window of an image as float32, NaN outside it and at no-data."""

    shape: tuple[int, int]

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray: ...


class ArraySource:
    """A :class:`Source` over an in-memory 2-D array (no copy of the whole array)."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.shape = (int(array.shape[0]), int(array.shape[1]))

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        out = np.full((y1 - y0, x1 - x0), np.nan, dtype=np.float32)
        h, w = self.shape
        a0, a1, b0, b1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
        if a0 < a1 and b0 < b1:
            out[a0 - y0 : a1 - y0, b0 - x0 : b1 - x0] = self.array[a0:a1, b0:b1]
        return out


@dataclass
class Context:
    """What every tile needs: sources, parameters, grid and per-node search centres and radii."""

    reference: Source
    secondary: Source
    params: OffsetParameters
    row_px: np.ndarray
    """Node pixel rows (chips span r - w//2 ... r - w//2 + w - 1)."""
    col_px: np.ndarray
    centre_y: np.ndarray
    """Integer search centre (rounded prior) per node, (rows, cols) int64."""
    centre_x: np.ndarray
    radius: np.ndarray
    """Search radius per node, (rows, cols) int64."""
    block: int
    """Block side of the blocks engine (0: never use it)."""
    fft_workers: int
    memory_bytes: int
    """Working-memory budget of one tile."""
    engine: str = "auto"
    """``auto`` (by cost), ``blocks`` or ``chips`` (for tests and benchmarks)."""


def read_tile(src: Source, y0: int, y1: int, x0: int, x1: int, params: OffsetParameters) -> np.ndarray:
    """Pre-filtered pixels [y0, y1) x [x0, x1) of a source, NaN outside the image and at no-data."""
    m = margin_px(params.prefilter, params.prefilter_px) + lowpass_margin_px(params.smooth_px)
    raw = src.read(y0 - m, y1 + m, x0 - m, x1 + m)
    out = lowpass(apply_prefilter(raw, params.prefilter, params.prefilter_px), params.smooth_px)
    return out[m : m + y1 - y0, m : m + x1 - x0] if m else out


def _prepare(raw: np.ndarray, y0: int, x0: int, shape: tuple[int, int]):
    """(data with mean removed and 0 at NaN, valid mask, no-data-inside-the-image mask)."""
    valid = np.isfinite(raw)
    h, w = shape
    inside = ((np.arange(raw.shape[0]) + y0 >= 0) & (np.arange(raw.shape[0]) + y0 < h))[:, None] & (
        (np.arange(raw.shape[1]) + x0 >= 0) & (np.arange(raw.shape[1]) + x0 < w)
    )[None, :]
    mean = float(raw[valid].mean(dtype=np.float64)) if valid.any() else 0.0
    data = np.where(valid, raw - np.float32(mean), np.float32(0.0)).astype(np.float32)
    return data, valid, ~valid & inside


def _mask_shifts(ctx: Context, surfaces: np.ndarray, ii, jj, cy, cx, half: int, w: int) -> None:
    """Set NaN where the secondary window overlaps the image by less than min_valid_fraction.

    Partly outside windows are scored on their overlap with the image (every engine sums over
    the overlap only: exact border sums in the blocks engine, masks in the masked NCC).
    """
    size = 2 * half + 1
    h, w_img = ctx.reference.shape
    lo_y, hi_y = ncc.overlap(ctx.row_px[ii] - w // 2, cy - half, size, w, h)
    lo_x, hi_x = ncc.overlap(ctx.col_px[jj] - w // 2, cx - half, size, w, w_img)
    part = ((lo_y > 0) | (hi_y < w)).any(axis=1) | ((lo_x > 0) | (hi_x < w)).any(axis=1)
    if not part.any():
        return
    k = np.nonzero(part)[0]
    area = (hi_y - lo_y)[k, :, None] * (hi_x - lo_x)[k, None, :]
    sub = surfaces[k]
    sub[area < ctx.params.min_valid_fraction * w * w] = np.nan
    surfaces[k] = sub


def process_tile(ctx: Context, ia: int, ib: int, ja: int, jb: int) -> dict[str, np.ndarray]:
    """Offsets of nodes [ia, ib) x [ja, jb): a dict of (ib - ia, jb - ja) arrays."""
    p = ctx.params
    windows = p.windows_px
    w_max = windows[-1]
    step = p.step_px
    n_r, n_c = ib - ia, jb - ja
    rpx, cpx = ctx.row_px[ia:ib], ctx.col_px[ja:jb]
    cy, cx = ctx.centre_y[ia:ib, ja:jb], ctx.centre_x[ia:ib, ja:jb]
    rad = ctx.radius[ia:ib, ja:jb]
    half = int(rad.max()) + PATCH_HALF
    size = 2 * half + 1
    lo_y, lo_x = int(cy.min()) - half, int(cx.min()) - half
    m_y, m_x = int(cy.max()) - int(cy.min()) + size, int(cx.max()) - int(cx.min()) + size
    oy, ox = cy - half - lo_y, cx - half - lo_x  # each node's own range inside the common one
    h_img, w_img = ctx.reference.shape

    # Engine choice by a rough FFT cost model (and the memory of the block spectra).
    b = ctx.block
    use_blocks = False
    if b:
        ly, lx = sfft.next_fast_len(b + m_y - 1), sfft.next_fast_len(b + m_x - 1, real=True)
        pb = -(-((n_r - 1) * step + w_max) // b)
        qb = -(-((n_c - 1) * step + w_max) // b)
        cost_blocks = pb * qb * 1.6 * ncc.fft_cost(ly, lx) + n_r * n_c * len(windows) * ncc.fft_cost(ly, lx)
        cost_chips = 0.0
        for w in windows:
            side = w + size - 1
            cost_chips += (
                n_r * n_c * 3.2 * ncc.fft_cost(sfft.next_fast_len(side), sfft.next_fast_len(side, True))
            )
        spectra_bytes = (pb + 1) * (qb + 1) * ly * (lx // 2 + 1) * 8
        use_blocks = cost_blocks < cost_chips and spectra_bytes <= 1.5 * ctx.memory_bytes
        use_blocks = {"auto": use_blocks, "blocks": True, "chips": False}[ctx.engine]
    ref_h = (n_r - 1) * step + w_max
    ref_w = (n_c - 1) * step + w_max
    if use_blocks:
        ref_h, ref_w = pb * b, qb * b
        sec_h, sec_w = (pb - 1) * b + ly, (qb - 1) * b + lx
    else:
        sec_h, sec_w = ref_h + m_y - 1, ref_w + m_x - 1
    y0, x0 = int(rpx[0]) - w_max // 2, int(cpx[0]) - w_max // 2
    ref, ref_valid, ref_nodata = _prepare(
        read_tile(ctx.reference, y0, y0 + ref_h, x0, x0 + ref_w, p), y0, x0, (h_img, w_img)
    )
    sec, sec_valid, sec_nodata = _prepare(
        read_tile(ctx.secondary, y0 + lo_y, y0 + lo_y + sec_h, x0 + lo_x, x0 + lo_x + sec_w, p),
        y0 + lo_y,
        x0 + lo_x,
        (h_img, w_img),
    )
    nd_ref_table = ncc.summed_area(ref_nodata)
    nd_sec_table = ncc.summed_area(sec_nodata)

    n_win = len(windows)
    shape3 = (n_r, n_c, n_win)
    res = {
        "ok": np.zeros(shape3, bool),
        "dy": np.zeros(shape3, np.int64),
        "dx": np.zeros(shape3, np.int64),
        "peak": np.full(shape3, np.nan, np.float32),
        "snr": np.full(shape3, np.nan, np.float32),
        "edge": np.zeros(shape3, bool),
        "patch_ok": np.zeros(shape3, bool),
        "patch": np.zeros(shape3 + (2 * PATCH_HALF + 1,) * 2, np.float32),
    }
    ii_all, jj_all = np.meshgrid(np.arange(n_r), np.arange(n_c), indexing="ij")

    def store(wi: int, ii: np.ndarray, jj: np.ndarray, surfaces: np.ndarray, w: int) -> None:
        _mask_shifts(ctx, surfaces, ia + ii, ja + jj, cy[ii, jj], cx[ii, jj], half, w)
        out = analyse(surfaces, rad[ii, jj], half, snr_exclusion_px(ctx.params.smooth_px))
        for key, value in out.items():
            res[key][ii, jj, wi] = value

    avail_list, dirty_list = [], []
    for w in windows:
        off = w_max // 2 - w // 2
        avail = ((rpx - w // 2 >= 0) & (rpx - w // 2 + w <= h_img))[:, None] & (
            (cpx - w // 2 >= 0) & (cpx - w // 2 + w <= w_img)
        )[None, :]
        top_y = ii_all * step + off
        top_x = jj_all * step + off
        nd_ref = ncc.box_at(nd_ref_table, top_y, top_x, w, w)
        nd_sec = ncc.box_at(nd_sec_table, top_y + oy, top_x + ox, w + size - 1, w + size - 1)
        dirty = avail & ((nd_ref > 0) | (nd_sec > 0))
        # Chips with too little valid data are not evaluated at all.
        avail &= nd_ref <= (1.0 - p.min_valid_fraction) * w * w
        avail_list.append(avail)
        dirty_list.append(dirty & avail)
    n_dirty = sum(int(d.sum()) for d in dirty_list)
    n_avail = sum(int(a.sum()) for a in avail_list)
    # Many chips touching no-data (layover/shadow holes): masked NCC in the blocks engine for all.
    masked_blocks = use_blocks and n_dirty > 0.2 * max(n_avail, 1)
    geometry = (b, ly, lx, m_y, m_x, oy, ox, size, pb, qb, (ia, ja, lo_y, lo_x)) if use_blocks else None
    if masked_blocks:
        _masked_blocks(ctx, (ref, ref_valid, sec, sec_valid), geometry, avail_list, store)
    elif use_blocks:
        spectra = ncc.block_tables([ref], [sec], [(0, 0)], b, pb, qb, ly, lx, ctx.fft_workers)[0]
        tables = [ncc.summed_area(a) for a in (ref, ref * ref, sec, sec * sec)]
        for wi, w in enumerate(windows):
            off = w_max // 2 - w // 2
            _blocks_window(
                ctx, spectra, tables, wi, w, off, geometry, avail_list[wi] & ~dirty_list[wi], store
            )
        del spectra
    for wi, w in enumerate(windows):
        if masked_blocks:
            continue
        off = w_max // 2 - w // 2
        dirty = dirty_list[wi]
        chip_nodes = dirty if use_blocks else avail_list[wi]
        if not use_blocks:
            # Search regions leaving the image: the masked NCC sums over the overlap exactly.
            ry0 = (rpx - w // 2)[:, None] + cy - half
            rx0 = (cpx - w // 2)[None, :] + cx - half
            region = w + size - 1
            dirty = dirty | (ry0 < 0) | (ry0 + region > h_img) | (rx0 < 0) | (rx0 + region > w_img)
        ii, jj = np.nonzero(chip_nodes)
        region = w + size - 1
        batch = max(1, BATCH_VALUES // (region * region * 4))
        for start in range(0, ii.size, batch):
            bi, bj = ii[start : start + batch], jj[start : start + batch]
            masked = dirty[bi, bj]
            for flag in (False, True):
                sel = masked == flag
                if not sel.any():
                    continue
                si, sj = bi[sel], bj[sel]
                ry = (si * step + off)[:, None, None]
                rx = (sj * step + off)[:, None, None]
                k_w = np.arange(w)
                k_r = np.arange(region)
                chips = ref[ry + k_w[None, :, None], rx + k_w[None, None, :]]
                sy = (si * step + off + oy[si, sj])[:, None, None]
                sx = (sj * step + off + ox[si, sj])[:, None, None]
                regions = sec[sy + k_r[None, :, None], sx + k_r[None, None, :]]
                if flag:
                    masks = (
                        ref_valid[ry + k_w[None, :, None], rx + k_w[None, None, :]],
                        sec_valid[sy + k_r[None, :, None], sx + k_r[None, None, :]],
                    )
                else:
                    masks = (None, None)
                surfaces = ncc.chip_ncc(
                    chips,
                    masks[0],
                    regions,
                    masks[1],
                    size,
                    size,
                    p.min_valid_fraction * w * w,
                    ctx.fft_workers,
                )
                store(wi, si, sj, surfaces, w)
    return _finish(ctx, res, cy, cx)


def _extract(values, wanted_b, uniform: bool, oy, ox, i0: int, size: int):
    """The wanted nodes' own (size x size) surfaces from a batch of common-range NCC surfaces."""
    rows, n_c = wanted_b.shape
    if uniform and wanted_b.all():
        ii, jj = (a.ravel() for a in np.meshgrid(np.arange(rows), np.arange(n_c), indexing="ij"))
        return ii, jj, values.reshape(-1, size, size)
    ii, jj = np.nonzero(wanted_b)
    if uniform:
        return ii, jj, values[ii, jj]
    ky = oy[i0 + ii, jj][:, None] + np.arange(size)[None, :]
    kx = ox[i0 + ii, jj][:, None] + np.arange(size)[None, :]
    return ii, jj, values[ii[:, None, None], jj[:, None, None], ky[:, :, None], kx[:, None, :]]


def _masked_blocks(ctx: Context, data, geometry, wanted_list, store) -> None:
    """Masked NCC surfaces of every wanted node and window from the six block tables, in bands of
    node rows whose tables fit the memory budget."""
    ref, ref_valid, sec, sec_valid = data
    b, ly, lx, m_y, m_x, oy, ox, size, pb, qb, _ = geometry
    p = ctx.params
    step, w_max = p.step_px, p.windows_px[-1]
    stride = step // b
    n_r, n_c = wanted_list[0].shape
    refs = [ref, ref * ref, ref_valid.astype(np.float32)]
    secs = [sec, sec * sec, sec_valid.astype(np.float32)]
    per_block_row = len(ncc.MASKED_PAIRS) * (qb + 1) * ly * (lx // 2 + 1) * 8
    k_max = w_max // b
    band_blocks = max(k_max + stride, int(ctx.memory_bytes // per_block_row))
    band = max(1, (band_blocks - k_max) // stride + 1)
    wanted_rows = np.any([w.any(axis=1) for w in wanted_list], axis=0)
    uniform = m_y == size and m_x == size
    nb = max(1, BATCH_VALUES // (4 * n_c * m_y * m_x))
    for i0 in range(0, n_r, band):
        i1 = min(n_r, i0 + band)
        if not wanted_rows[i0:i1].any():
            continue
        blocks = -(-((i1 - 1 - i0) * step + w_max) // b)
        r0 = i0 * step
        tables = ncc.block_tables(
            [a[r0 : r0 + blocks * b] for a in refs],
            [a[r0 : r0 + (blocks - 1) * b + ly] for a in secs],
            ncc.MASKED_PAIRS,
            b,
            blocks,
            qb,
            ly,
            lx,
            ctx.fft_workers,
        )
        for wi, w in enumerate(p.windows_px):
            off, k = w_max // 2 - w // 2, w // b
            for j0 in range(i0, i1, nb):
                j1 = min(i1, j0 + nb)
                wanted_b = wanted_list[wi][j0:j1]
                if not wanted_b.any():
                    continue
                p0 = ((j0 - i0) * step + off) // b
                sums = [
                    sfft.irfft2(
                        ncc.window_spectra(t, p0, off // b, stride, j1 - j0, n_c, k),
                        s=(ly, lx),
                        workers=ctx.fft_workers,
                    )[..., :m_y, :m_x]
                    for t in tables
                ]
                values = ncc.masked_ncc(*sums, p.min_valid_fraction * w * w)
                ii, jj, surfaces = _extract(values, wanted_b, uniform, oy, ox, j0, size)
                store(wi, ii + j0, jj, surfaces, w)
        del tables


def _blocks_window(ctx, spectra, tables, wi, w, off, geometry, wanted, store) -> None:
    """Surfaces of window ``w`` for the ``wanted`` nodes of a tile from cumulated block spectra."""
    b, ly, lx, m_y, m_x, oy, ox, size, _, _, (ia, ja, lo_sy, lo_sx) = geometry
    h_img, w_img = ctx.reference.shape
    step = ctx.params.step_px
    n_r, n_c = wanted.shape
    k = w // b
    stride = step // b
    rows_needed = np.nonzero(wanted.any(axis=1))[0]
    if rows_needed.size == 0:
        return
    t_r, t_r2, t_s, t_s2 = tables
    # Per-pixel mean and inverse deviation of every w x w secondary window, shared by all nodes.
    mean_s, inv_s = ncc.window_stats(t_s, t_s2, w)
    nb = max(1, ncc_batch_rows(n_c, m_y, m_x))
    uniform = m_y == size and m_x == size
    for i0 in range(int(rows_needed[0]), int(rows_needed[-1]) + 1, nb):
        i1 = min(n_r, i0 + nb)
        if not wanted[i0:i1].any():
            continue
        spec = ncc.window_spectra(spectra, (i0 * step + off) // b, off // b, stride, i1 - i0, n_c, k)
        corr = sfft.irfft2(spec, s=(ly, lx), workers=ctx.fft_workers)[..., :m_y, :m_x]
        rows = i1 - i0
        y_top = i0 * step + off
        sum_r = ncc.box_grid(t_r, y_top, off, w, step, rows, n_c, 1, 1)[..., 0, 0]
        sum_r2 = ncc.box_grid(t_r2, y_top, off, w, step, rows, n_c, 1, 1)[..., 0, 0]
        var_r = sum_r2 - sum_r * sum_r / (w * w)
        with np.errstate(invalid="ignore", divide="ignore"):
            inv_r = np.where(var_r > 1e-10 * np.abs(sum_r2), 1.0 / np.sqrt(var_r), np.nan).astype(np.float32)
        # Shifts whose secondary window leaves the image: exact sums over the overlap (S is 0
        # outside), recomputed for those shifts of the nodes near the image border only.
        lo_y, hi_y = ncc.overlap(ctx.row_px[ia + i0 : ia + i1] - w // 2, np.full(rows, lo_sy), m_y, w, h_img)
        lo_x, hi_x = ncc.overlap(ctx.col_px[ja : ja + n_c] - w // 2, np.full(n_c, lo_sx), m_x, w, w_img)
        view = (y_top, off, step, rows, n_c, m_y, m_x)
        mean_v, inv_v = ncc.grid_view(mean_s, *view), ncc.grid_view(inv_s, *view)
        stats = (t_r, t_r2, mean_v, inv_v)
        fixes = _border_sums(corr, wanted[i0:i1], (lo_y, hi_y, lo_x, hi_x), stats, y_top, off, step, w)
        values = ncc.correlation_to_ncc(corr, sum_r.astype(np.float32), inv_r, mean_v, inv_v)
        for index, value in fixes:
            values[index] = value
        ii, jj, surfaces = _extract(values, wanted[i0:i1], uniform, oy, ox, i0, size)
        store(wi, ii + i0, jj, surfaces, w)


def _border_sums(corr, wanted, bounds, sats, y_top: int, off: int, step: int, w: int) -> list:
    """Exact NCC at the shifts of a batch whose secondary window is cut by the image border.

    ``sats`` = (summed-area tables of R and R^2, views of the secondary's window-mean and
    inverse-deviation maps, whose sums are exact there because S is 0 outside the image).

    ``bounds`` = (lo_y, hi_y) (node rows, shifts) and (lo_x, hi_x) (node columns, shifts): the
    chip rows/columns that stay in the image at each shift. Returns (index, values) pairs to
    assign into the batch's NCC array once it is normalised.
    """
    lo_y, hi_y, lo_x, hi_x = bounds
    t_r, t_r2, mean_v, inv_v = sats
    n_full = float(w * w)
    cut_y = (lo_y > 0) | (hi_y < w)
    cut_x = (lo_x > 0) | (hi_x < w)
    fixes = []

    def exact(ii: np.ndarray, jj: np.ndarray, ky: np.ndarray, kx: np.ndarray):
        ty = (ii * step + y_top)[:, None, None]
        tx = (jj * step + off)[:, None, None]
        ya, yb = ty + lo_y[ii][:, ky][:, :, None], ty + hi_y[ii][:, ky][:, :, None]
        xa, xb = tx + lo_x[jj][:, kx][:, None, :], tx + hi_x[jj][:, kx][:, None, :]
        n_pix = np.maximum((yb - ya) * (xb - xa), 1).astype(np.float64)
        s_r = t_r[yb, xb] - t_r[ya, xb] - t_r[yb, xa] + t_r[ya, xa]
        s_r2 = t_r2[yb, xb] - t_r2[ya, xb] - t_r2[yb, xa] + t_r2[ya, xa]
        index = (ii[:, None, None], jj[:, None, None], ky[None, :, None], kx[None, None, :])
        raw = corr[index].astype(np.float64)
        # The secondary's window sums are exact already (0 outside): undo the maps' scaling.
        s_s = mean_v[index].astype(np.float64) * n_full
        with np.errstate(divide="ignore", invalid="ignore"):
            s_s2 = 1.0 / inv_v[index].astype(np.float64) ** 2 + s_s * s_s / n_full
        value = ncc.normalise(raw, s_r, s_r2, s_s, s_s2, n_pix)
        fixes.append((index, value))

    for j in np.nonzero(cut_x.any(axis=1))[0]:
        ii = np.nonzero(wanted[:, j])[0]
        if ii.size:
            exact(ii, np.full(ii.size, j), np.arange(lo_y.shape[1]), np.nonzero(cut_x[j])[0])
    for i in np.nonzero(cut_y.any(axis=1))[0]:
        jj = np.nonzero(wanted[i])[0]
        if jj.size:
            exact(np.full(jj.size, i), jj, np.nonzero(cut_y[i])[0], np.arange(lo_x.shape[1]))
    return fixes


def ncc_batch_rows(n_c: int, m_y: int, m_x: int) -> int:
    """Node rows per batch of the blocks engine's inverse FFTs."""
    return BATCH_VALUES // max(1, n_c * m_y * m_x)


def _finish(
    ctx: Context, res: dict[str, np.ndarray], cy: np.ndarray, cx: np.ndarray
) -> dict[str, np.ndarray]:
    """Window selection, sub-pixel refinement and per-node outputs of a tile."""
    p = ctx.params
    n_r, n_c, n_win = res["ok"].shape
    flat = {k: v.reshape((n_r * n_c, n_win) + v.shape[3:]) for k, v in res.items()}
    agree = window_agreement(flat["ok"], flat["dy"], flat["dx"], p.window_agreement_px)
    chosen = select_window(
        p.windows_px,
        flat["ok"],
        flat["peak"],
        flat["snr"],
        flat["edge"],
        flat["patch_ok"],
        agree,
        selection=p.selection,
        min_ncc=p.min_ncc,
        min_snr=p.min_snr,
        target_sigma_px=p.target_sigma_px,
        oversampling=p.oversampling,
    )
    n = n_r * n_c
    idx = np.arange(n)
    pick = np.maximum(chosen, 0)
    have = chosen >= 0

    def take(key: str) -> np.ndarray:
        return flat[key][idx, pick]

    patch_ok = take("patch_ok") & have
    frac_y = np.zeros(n)
    frac_x = np.zeros(n)
    value = take("peak").astype(np.float64)
    fy, fx, fv = refine_peaks(take("patch")[patch_ok])
    frac_y[patch_ok], frac_x[patch_ok] = fy, fx
    value[patch_ok] = np.minimum(fv, 1.0)
    azimuth = cy.ravel() + take("dy") + frac_y
    range_ = cx.ravel() + take("dx") + frac_x
    snr = take("snr")
    window = np.asarray(p.windows_px, dtype=np.float32)[pick]
    sigma = dezan_sigma(np.where(value > 0, value, np.nan), window, p.oversampling)
    flags = node_flags(
        chosen,
        value,
        snr,
        take("edge") | (have & ~patch_ok),
        agree[idx, pick],
        min_ncc=p.min_ncc,
        min_snr=p.min_snr,
    )
    out = {
        "azimuth_px": azimuth,
        "range_px": range_,
        "snr": snr,
        "ncc": value,
        "window_px": window,
        "sigma_azimuth_px": sigma,
        "sigma_range_px": sigma,
    }
    result = {k: np.where(have, v, np.nan).astype(np.float32).reshape(n_r, n_c) for k, v in out.items()}
    result["flags"] = flags.reshape(n_r, n_c)
    return result
