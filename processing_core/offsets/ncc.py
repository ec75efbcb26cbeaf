"""Integer-shift NCC surfaces of many chips at once: the two engines of :func:`track`.

Notation (one tile of nodes): the reference tile ``R`` and the secondary tile ``S`` are float32
arrays with the tile mean removed and no-data set to 0. Node ``(i, j)`` has its chip of side
``w`` at tile rows ``y_i - w//2 ... + w`` (``y_i = i * step + w_max//2``); a shift index ``k``
in ``[0, M)`` stands for the offset ``lo + k`` and puts the secondary window at tile rows
``y_i - w//2 + k`` of ``S`` (``S`` starts ``lo`` rows after ``R``). NCC at a shift is

    (sum R S' - sum R sum S' / n) / sqrt((sum R^2 - (sum R)^2 / n) (sum S'^2 - (sum S')^2 / n))

over the ``n = w^2`` chip pixels, S' the shifted secondary window.

* **Blocks engine** (clean chips, nodes sharing one shift range): the tile is cut into ``B x B``
  blocks, ``B`` dividing the step and every window's extent, so that each chip is a union of
  whole blocks. The cross-power spectrum of every block with its secondary search region is
  computed once; the spectrum of a chip is the sum of its blocks' spectra (correlation is
  linear), formed for all nodes and all windows by running sums over the block grid, and one
  inverse FFT per node and window gives its correlation surface. Forward FFTs are shared by
  every window and by the overlapping chips of neighbouring nodes; the local sums of S and
  S^2 come from one summed-area table. For step 8, windows 64/96/128 and search +-32 this is a
  few small (80 x 80) FFTs per node instead of nine large ones.
* **Chips engine**: per node and window, FFT correlation of the chip with its own search region;
  with no-data pixels the masked NCC of Padfield (2012, IEEE TIP 21(5)) restricts every sum to
  the pixels valid in both chips at each shift. Used for chips touching no-data, and when the
  block size would be too small to pay (a step sharing no factor with the windows).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft as sfft
from numpy.lib.stride_tricks import as_strided


def summed_area(a: np.ndarray) -> np.ndarray:
    """Summed-area table over the last two axes, float64, with a leading row and column of zeros."""
    a = np.asarray(a)
    out = np.zeros(a.shape[:-2] + (a.shape[-2] + 1, a.shape[-1] + 1), dtype=np.float64)
    np.cumsum(a, axis=-2, dtype=np.float64, out=out[..., 1:, 1:])
    np.cumsum(out[..., 1:, 1:], axis=-1, out=out[..., 1:, 1:])
    return out


def box_grid(
    table: np.ndarray, y0: int, x0: int, size: int, step: int, n_r: int, n_c: int, m_y: int, m_x: int
):
    """Sums of ``size x size`` boxes with top-left (y0 + i step + a, x0 + j step + b): (n_r, n_c, m_y, m_x)."""
    s0, s1 = table.strides
    shape = (n_r, n_c, m_y, m_x)
    strides = (step * s0, step * s1, s0, s1)

    def view(dy: int, dx: int) -> np.ndarray:
        base = table[y0 + dy :, x0 + dx :]
        return as_strided(base, shape=shape, strides=strides, writeable=False)

    return view(size, size) - view(0, size) - view(size, 0) + view(0, 0)


def box_at(table: np.ndarray, y: np.ndarray, x: np.ndarray, h: int, w: int) -> np.ndarray:
    """Sums of ``h x w`` boxes with top-left corners at integer arrays (y, x) of any shape."""
    return table[y + h, x + w] - table[y, x + w] - table[y + h, x] + table[y, x]


def block_size(step: int, windows: tuple[int, ...]) -> int:
    """Largest block side that tiles every chip of every node exactly (see the module notes)."""
    w_max = windows[-1]
    return math.gcd(step, *windows, *(w_max // 2 - w // 2 for w in windows))


def fft_cost(ly: int, lx: int) -> float:
    """Relative cost of one real 2-D FFT of ``ly x lx``."""
    return ly * lx * math.log2(max(ly * lx, 2))


def block_tables(
    refs: list[np.ndarray],
    secs: list[np.ndarray],
    pairs: list[tuple[int, int]],
    b: int,
    p: int,
    q: int,
    ly: int,
    lx: int,
    workers: int,
) -> list[np.ndarray]:
    """Summed-area tables of block cross-power spectra conj(F(ref block)) F(sec search region).

    For every (i, j) of ``pairs``, the cross-power spectra of the ``p x q`` blocks of side ``b``
    of ``refs[i]`` (each at least (p b, q b)) with their search regions in ``secs[j]`` (each at
    least ((p-1) b + ly, (q-1) b + lx)), complex64 (p + 1, q + 1, ly, lx//2 + 1): entry (i, j)
    is the sum over the blocks above and left of block (i, j), so the spectrum of blocks
    [i0, i1) x [j0, j1) is t[i1, j1] - t[i0, j1] - t[i1, j0] + t[i0, j0].
    """
    tables = [np.zeros((p + 1, q + 1, ly, lx // 2 + 1), dtype=np.complex64) for _ in pairs]
    blocks = [a[: p * b, : q * b].reshape(p, b, q, b).transpose(0, 2, 1, 3) for a in refs]
    secs = [np.ascontiguousarray(a) for a in secs]
    chunk = max(1, int(2_000_000 // max(1, q * ly * lx)))
    for start in range(0, p, chunk):
        stop = min(p, start + chunk)
        fr = []
        for blk in blocks:
            # Zero-padded blocks: transform the b non-zero rows along x, then the columns along y.
            f = sfft.rfft(blk[start:stop], n=lx, axis=-1, workers=workers)
            fr.append(np.conj(sfft.fft(f, n=ly, axis=-2, workers=workers, overwrite_x=True)))
        fs = []
        for sec in secs:
            s0, s1 = sec.strides
            regions = as_strided(
                sec[start * b :],
                shape=(stop - start, q, ly, lx),
                strides=(b * s0, b * s1, s0, s1),
                writeable=False,
            )
            fs.append(sfft.rfft2(regions, workers=workers))
        for table, (i, j) in zip(tables, pairs):
            np.multiply(fr[i], fs[j], out=table[start + 1 : stop + 1, 1:])
    for table in tables:
        np.cumsum(table, axis=0, out=table)
        np.cumsum(table, axis=1, out=table)
    return tables


MASKED_PAIRS = [(0, 0), (0, 2), (1, 2), (2, 0), (2, 1), (2, 2)]
"""(reference, secondary) factors of the masked NCC's six correlations, from (R, R^2, M1) and
(S, S^2, M2): sum R S', sum R M2', sum R^2 M2', sum M1 S', sum M1 S'^2, sum M1 M2'."""


def masked_ncc(
    rs: np.ndarray,
    sum_r: np.ndarray,
    sum_r2: np.ndarray,
    sum_s: np.ndarray,
    sum_s2: np.ndarray,
    count: np.ndarray,
    min_count: float,
) -> np.ndarray:
    """Masked NCC (Padfield 2012) from the six correlations over the valid overlap; float32, NaN
    where fewer than ``min_count`` pixels overlap or a chip is flat there."""
    rs, sum_r, sum_r2, sum_s, sum_s2 = (
        np.asarray(a, dtype=np.float64) for a in (rs, sum_r, sum_r2, sum_s, sum_s2)
    )
    count = np.rint(count)
    ok = count >= max(min_count, 2.0)
    cnt = np.where(ok, count, 1.0)
    var_r = sum_r2 - sum_r * sum_r / cnt
    var_s = sum_s2 - sum_s * sum_s / cnt
    den = var_r * var_s
    ok &= den > 1e-10 * np.maximum(np.abs(sum_r2 * sum_s2), 1e-30)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        out = (rs - sum_r * sum_s / cnt) / np.sqrt(np.where(ok, den, 1.0))
    out[~ok] = np.nan
    return out.astype(np.float32)


def window_spectra(
    table: np.ndarray, p0: int, q0: int, stride: int, rows: int, cols: int, k: int
) -> np.ndarray:
    """Spectra of the ``k x k``-block chips starting at blocks (p0 + i stride, q0 + j stride)."""

    def at(dp: int, dq: int) -> np.ndarray:
        return table[p0 + dp : p0 + dp + stride * rows : stride, q0 + dq : q0 + dq + stride * cols : stride]

    out = at(k, k) - at(0, k)
    out -= at(k, 0)
    out += at(0, 0)
    return out


def normalise(
    corr: np.ndarray,
    sum_r: np.ndarray,
    sum_r2: np.ndarray,
    sum_s: np.ndarray,
    sum_s2: np.ndarray,
    n: float | np.ndarray,
) -> np.ndarray:
    """NCC from raw correlation sums (all broadcastable to ``corr``); NaN where a chip is flat. float32."""
    var_r = sum_r2 - sum_r * sum_r / n
    var_s = sum_s2 - sum_s * sum_s / n
    den = var_r * var_s
    scale = np.maximum(np.abs(sum_r2), 1e-300) * np.maximum(np.abs(sum_s2), 1e-300)
    good = den > 1e-10 * scale
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (corr - sum_r * sum_s / n) / np.sqrt(np.where(good, den, 1.0))
    out[~good] = np.nan
    return out.astype(np.float32)


def window_stats(table: np.ndarray, table2: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and 1 / sqrt(sum of squared deviations) of every ``w x w`` window (by top-left pixel).

    float32 maps of shape (rows - w + 1, cols - w + 1) from the summed-area tables of the data
    and of its square; NaN where a window is flat.
    """
    s = table[w:, w:] - table[:-w, w:] - table[w:, :-w] + table[:-w, :-w]
    s2 = table2[w:, w:] - table2[:-w, w:] - table2[w:, :-w] + table2[:-w, :-w]
    n = float(w * w)
    var = s2 - s * s / n
    with np.errstate(invalid="ignore", divide="ignore"):
        inv = np.where(var > 1e-10 * np.abs(s2) + 1e-300, 1.0 / np.sqrt(var), np.nan)
    return (s / n).astype(np.float32), inv.astype(np.float32)


def grid_view(
    a: np.ndarray, y0: int, x0: int, step: int, n_r: int, n_c: int, m_y: int, m_x: int
) -> np.ndarray:
    """Read-only view (n_r, n_c, m_y, m_x) of ``a[y0 + i step + k, x0 + j step + l]``."""
    s0, s1 = a.strides
    if y0 + (n_r - 1) * step + m_y > a.shape[0] or x0 + (n_c - 1) * step + m_x > a.shape[1]:
        raise IndexError("grid view out of bounds")
    return as_strided(
        a[y0:, x0:], shape=(n_r, n_c, m_y, m_x), strides=(step * s0, step * s1, s0, s1), writeable=False
    )


def correlation_to_ncc(
    corr: np.ndarray, sum_r: np.ndarray, inv_r: np.ndarray, mean_s: np.ndarray, inv_s: np.ndarray
) -> np.ndarray:
    """NCC (float32, in place over ``corr`` when possible) = (corr - sum_r mean_s) inv_r inv_s.

    ``corr`` (n_r, n_c, m_y, m_x) raw sums of R S'; ``sum_r``, ``inv_r`` (n_r, n_c) of the
    reference chips; ``mean_s``, ``inv_s`` (n_r, n_c, m_y, m_x) of the shifted secondary windows.
    """
    out = np.ascontiguousarray(corr, dtype=np.float32)
    out -= sum_r[:, :, None, None] * mean_s
    out *= inv_s
    out *= inv_r[:, :, None, None]
    return out


def overlap(start: np.ndarray, first_shift: np.ndarray, count: int, w: int, limit: int):
    """Rows of a chip whose shifted secondary rows lie in the image, per node and shift.

    ``start`` (n,) image row of each chip, ``first_shift`` (n,) the first shift of ``count``
    consecutive ones; returns (lo, hi) (n, count): chip rows [lo, hi) stay inside [0, limit).
    """
    first = (start + first_shift)[:, None] + np.arange(count)[None, :]
    return np.clip(-first, 0, w), np.clip(limit - first, 0, w)


def chip_ncc(
    ref: np.ndarray,
    ref_valid: np.ndarray | None,
    sec: np.ndarray,
    sec_valid: np.ndarray | None,
    m_y: int,
    m_x: int,
    min_count: float,
    workers: int,
) -> np.ndarray:
    """NCC surfaces of chips (n, w, w) over their regions (n, w + m_y - 1, w + m_x - 1): (n, m_y, m_x).

    Without masks (``None``) the plain NCC; with boolean masks the masked NCC, NaN at shifts
    where fewer than ``min_count`` pixels are valid in both. Data must be 0 where invalid.
    """
    n, w, _ = ref.shape
    ly = sfft.next_fast_len(sec.shape[1])
    lx = sfft.next_fast_len(sec.shape[2], real=True)
    shape = (ly, lx)

    def fwd(a: np.ndarray) -> np.ndarray:
        return sfft.rfft2(a, s=shape, workers=workers)

    def corr(fa: np.ndarray, fb: np.ndarray) -> np.ndarray:
        return sfft.irfft2(np.conj(fa) * fb, s=shape, workers=workers)[:, :m_y, :m_x]

    r = ref.astype(np.float64)
    s = sec.astype(np.float64)
    fr, fs = fwd(r), fwd(s)
    rs = corr(fr, fs)
    if ref_valid is None:
        table = summed_area(s)
        table2 = summed_area(s * s)
        y = np.arange(m_y)[None, :, None]
        x = np.arange(m_x)[None, None, :]
        idx = np.arange(n)[:, None, None]
        sum_s = table[idx, y + w, x + w] - table[idx, y, x + w] - table[idx, y + w, x] + table[idx, y, x]
        sum_s2 = table2[idx, y + w, x + w] - table2[idx, y, x + w] - table2[idx, y + w, x] + table2[idx, y, x]
        sum_r = r.sum(axis=(1, 2))[:, None, None]
        return normalise(rs, sum_r, (r * r).sum(axis=(1, 2))[:, None, None], sum_s, sum_s2, float(w * w))
    mr = ref_valid.astype(np.float64)
    ms = sec_valid.astype(np.float64)
    fmr, fms = fwd(mr), fwd(ms)
    return masked_ncc(
        rs,
        corr(fr, fms),
        corr(fwd(r * r), fms),
        corr(fmr, fs),
        corr(fmr, fwd(s * s)),
        corr(fmr, fms),
        min_count,
    )
