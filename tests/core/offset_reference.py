"""An independent sub-pixel shift estimator for tests: cross-correlation refined by an upsampled DFT.

Guizar-Sicairos, Thurman & Fienup (2008), Opt. Lett. 33(2), doi:10.1364/OL.33.000156, on
mean-removed amplitude chips. Returns the shift of ``moved`` relative to ``ref`` (a feature at
(r, c) in ``ref`` is at (r + dr, c + dc) in ``moved``).
"""

from __future__ import annotations

import numpy as np


def _upsampled_dft(data: np.ndarray, size: int, factor: int, offsets: tuple[float, float]) -> np.ndarray:
    rows, cols = data.shape
    col_kernel = np.exp(
        (-2j * np.pi / (cols * factor))
        * (np.fft.ifftshift(np.arange(cols))[:, None] - np.floor(cols / 2)).dot(
            np.arange(size)[None, :] - offsets[1]
        )
    )
    row_kernel = np.exp(
        (-2j * np.pi / (rows * factor))
        * (np.arange(size)[:, None] - offsets[0]).dot(
            np.fft.ifftshift(np.arange(rows))[None, :] - np.floor(rows / 2)
        )
    )
    return row_kernel.dot(data).dot(col_kernel)


def measure_shift(ref: np.ndarray, moved: np.ndarray, *, factor: int = 50) -> tuple[float, float]:
    """(d_row, d_col) of ``moved`` relative to ``ref``, to 1/factor pixel."""
    a = np.fft.fft2(ref - ref.mean())
    b = np.fft.fft2(moved - moved.mean())
    product = b * a.conj()
    corr = np.fft.ifft2(product)
    peak = np.array(np.unravel_index(np.argmax(np.abs(corr)), corr.shape), dtype=float)
    mid = np.array(corr.shape) // 2
    peak[peak > mid] -= np.array(corr.shape)[peak > mid]
    shift = np.round(peak * factor) / factor
    size = int(np.ceil(factor * 1.5))
    centre = np.fix(size / 2.0)
    fine = _upsampled_dft(product.conj(), size, factor, tuple(centre - shift * factor)).conj()
    sub = np.array(np.unravel_index(np.argmax(np.abs(fine)), fine.shape), dtype=float) - centre
    shift = shift + sub / factor
    # The DFT convention above gives the shift that brings moved onto ref; ours is the opposite.
    return float(shift[0]), float(shift[1])
