"""Radar-grid lookup products computed and written tile by tile, in memory set by configuration.

The radar grid of a scene may be far larger than memory (20000 x 20000 pixels: 3.2 GB for
one float64 band). The DEM and its DEM-grid products are small and stay in memory; the
radar-grid rasters of :func:`processing_core.lookup.write_lookup_tables` are computed on 2-D
tiles whose size follows a memory budget and written with
:class:`processing_core.rasters.GeoTiffWriter`:

* :func:`tile_shape` and :func:`tile_windows`: the tiling of a (lines, samples) grid.
* :class:`FacetSplat`: the DEM facets of the simulated intensity, prepared once for the whole
  scene (oversampling factors included), accumulated on any window of the radar grid.
* :func:`write_intensity_tiles`: the simulated intensity in two passes (accumulate to a
  temporary float64 file, then rescale by the exact median of lit pixels) so that it equals
  the whole-array :func:`processing_core.lookup.simulate_intensity`.
* :func:`write_ground_tiles`: the radar -> ground lookup, tiles aligned on its coarse grid.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from processing_core.progress import ProgressCallback, report
from processing_core.rasters import GeoTiffWriter

Window = tuple[int, int, int, int]
"""(line0, line1, sample0, sample1): lines [line0, line1) and samples [sample0, sample1)."""


class GroundTile(Protocol):
    """What :func:`write_ground_tiles` needs of a tile's lookup (as ``lookup.GroundLookup``)."""

    lat_deg: np.ndarray
    lon_deg: np.ndarray
    height_m: np.ndarray
    layover: np.ndarray


INTENSITY_BYTES_PER_PIXEL = 48
"""Peak memory of :func:`write_intensity_tiles` per tile pixel, bytes: the float64 accumulator,
its bincount, the median's bit patterns and the float32 block written (measured: about 34)."""
SUBFACET_BYTES = 128
"""Memory of the splats of one facet per sub-facet column (``factor_b``), bytes: 4 pixels,
each an index and a weight, listed then concatenated for the bincount."""
GROUND_BYTES_PER_PIXEL = 400
"""Peak memory of one tile of :func:`processing_core.lookup.radar_to_ground` per tile pixel,
bytes, with every worker thread busy on its block of lines (measured with ``tracemalloc``:
about 270, of which the outputs, 3 float64 + 1 bool, are 25; the rest is margin)."""
GEOTIFF_BLOCK = 256
"""Block side of the GeoTIFFs written (tiles are multiples of it when they can be)."""


def tile_shape(
    lines: int, samples: int, memory_mb: float, bytes_per_pixel: float, *, multiple: int = 1
) -> tuple[int, int]:
    """Tile (lines, samples) of at most ``memory_mb`` MiB at ``bytes_per_pixel``.

    Tiles are about square, their sides multiples of ``multiple`` (and of
    :data:`GEOTIFF_BLOCK` when they are that large) unless they span the whole grid; a
    narrow grid gets tiles as wide as itself and correspondingly taller.

    Parameters
    ----------
    lines, samples
        Shape of the grid, pixels.
    memory_mb
        Budget, MiB (> 0).
    bytes_per_pixel
        Memory used per tile pixel, bytes.
    multiple
        Tile sides (but the last tile of a row or column) are multiples of this.

    Returns
    -------
    tuple of int
        (tile_lines, tile_samples), each >= 1 and at most the grid's.
    """
    if not memory_mb > 0:
        raise ValueError(f"memory_mb must be positive, got {memory_mb}")
    pixels = max(1.0, memory_mb * 2**20 / bytes_per_pixel)

    def fit(side: float, limit: int) -> int:
        step = multiple * GEOTIFF_BLOCK // np.gcd(multiple, GEOTIFF_BLOCK)
        step = step if side >= step else multiple
        return min(limit, max(multiple, int(side // step) * step))

    tile_samples = fit(np.sqrt(pixels), samples)
    tile_lines = fit(pixels / tile_samples, lines)
    return tile_lines, tile_samples


def tile_windows(lines: int, samples: int, tile_lines: int, tile_samples: int) -> list[Window]:
    """Windows (line0, line1, sample0, sample1) covering a grid row of tiles by row of tiles."""
    return [
        (l0, min(l0 + tile_lines, lines), s0, min(s0 + tile_samples, samples))
        for l0 in range(0, lines, tile_lines)
        for s0 in range(0, samples, tile_samples)
    ]


@dataclass(frozen=True)
class FacetSplat:
    """DEM facets splatted into the radar grid: the core of the simulated intensity.

    Each facet (four solved DEM cells) carries a weight; it is cut into
    ``factor_a * factor_b`` sub-facets (bilinear positions between its corners) whose
    weights are splatted bilinearly onto the four nearest radar pixels. All arrays have
    one entry per facet, shape (n,).
    """

    line4: tuple[np.ndarray, ...]
    """Fractional radar lines of the four corners (r, c), (r, c+1), (r+1, c), (r+1, c+1)."""
    sample4: tuple[np.ndarray, ...]
    """Fractional radar samples of the four corners."""
    weight: np.ndarray
    """Weight of each sub-facet (the facet's weight over ``factor_a * factor_b``)."""
    factor_a: int
    """Sub-facets along DEM rows."""
    factor_b: int
    """Sub-facets along DEM columns."""

    @classmethod
    def from_grid(
        cls, line: np.ndarray, sample: np.ndarray, weight: np.ndarray, *, max_oversample: int = 16
    ) -> FacetSplat:
        """Facets of a DEM grid whose four corners have finite radar positions.

        Parameters
        ----------
        line, sample
            Fractional radar line and sample of every DEM cell, shape (rows, cols); NaN unsolved.
        weight
            Scattered power of every DEM cell (finite), shape (rows, cols); a facet scatters
            the mean of its four corners'.
        max_oversample
            Largest number of sub-facets along either DEM axis.
        """
        quad = np.isfinite(line[:-1, :-1]) & np.isfinite(line[:-1, 1:]) & np.isfinite(line[1:, :-1])
        quad &= np.isfinite(line[1:, 1:])
        corners = [(slice(None, -1), slice(None, -1)), (slice(None, -1), slice(1, None))]
        corners += [(slice(1, None), slice(None, -1)), (slice(1, None), slice(1, None))]
        lq4 = tuple(line[c][quad] for c in corners)
        sq4 = tuple(sample[c][quad] for c in corners)
        w = (0.25 * (weight[:-1, :-1] + weight[:-1, 1:] + weight[1:, :-1] + weight[1:, 1:]))[quad]
        # Sub-facets at most half a pixel apart, counted separately along DEM rows and columns.
        factor_a = factor_b = 1
        if w.size:
            along_rows = np.concatenate([np.abs(lq4[2] - lq4[0]), np.abs(sq4[2] - sq4[0])])
            along_cols = np.concatenate([np.abs(lq4[1] - lq4[0]), np.abs(sq4[1] - sq4[0])])
            # Robust extents: the few facets stretched by layover need no finer pieces than the rest.
            factor_a = int(min(max_oversample, max(1, np.ceil(2.0 * np.percentile(along_rows, 99.5)))))
            factor_b = int(min(max_oversample, max(1, np.ceil(2.0 * np.percentile(along_cols, 99.5)))))
        return cls(lq4, sq4, w / (factor_a * factor_b), factor_a, factor_b)

    def reaching(self, window: Window) -> np.ndarray:
        """Indices (increasing) of the facets whose splats can reach pixels of ``window``.

        A sub-facet lies inside its facet's corner bounding box and splats onto pixels
        floor(x) and floor(x) + 1 along each axis.
        """
        line0, line1, sample0, sample1 = window
        lmin = np.minimum(np.minimum(self.line4[0], self.line4[1]), np.minimum(self.line4[2], self.line4[3]))
        keep = lmin < line1
        del lmin
        lmax = np.maximum(np.maximum(self.line4[0], self.line4[1]), np.maximum(self.line4[2], self.line4[3]))
        keep &= lmax >= line0 - 1
        del lmax
        s4 = self.sample4
        keep &= np.minimum(np.minimum(s4[0], s4[1]), np.minimum(s4[2], s4[3])) < sample1
        keep &= np.maximum(np.maximum(s4[0], s4[1]), np.maximum(s4[2], s4[3])) >= sample0 - 1
        return np.flatnonzero(keep)

    def accumulate(
        self,
        window: Window,
        index: np.ndarray | None = None,
        *,
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        """Sum of the splatted weights on the pixels of ``window``.

        Parameters
        ----------
        window
            (line0, line1, sample0, sample1) of the radar grid.
        index
            Facets to splat (increasing indices, e.g. :meth:`reaching`); all when None. Facets
            left out must not reach the window: the sums are then those of all facets, bit for
            bit (each pixel adds the same weights in the same order).

        Returns
        -------
        numpy.ndarray
            float64, shape (line1 - line0, sample1 - sample0).
        """
        line0, line1, sample0, sample1 = window
        n_lines, n_samples = line1 - line0, sample1 - sample0
        pick = (lambda a: a) if index is None else (lambda a: a[index])
        lq4 = [pick(q) for q in self.line4]
        sq4 = [pick(q) for q in self.sample4]
        w = pick(self.weight)
        acc = np.zeros(n_lines * n_samples)
        for i, a in enumerate((np.arange(self.factor_a) + 0.5) / self.factor_a):
            report(progress, i / self.factor_a, "simulating intensity")
            # One bincount per row of sub-facets: bincount's cost is dominated by the output size.
            pixel, weights = [], []
            for b in (np.arange(self.factor_b) + 0.5) / self.factor_b:
                wts = ((1 - a) * (1 - b), (1 - a) * b, a * (1 - b), a * b)
                lq = sum(wt * q for wt, q in zip(wts, lq4))
                sq = sum(wt * q for wt, q in zip(wts, sq4))
                # Bilinear splatting onto the four nearest pixels keeps flat ground free of aliasing.
                l0 = np.floor(lq).astype(np.intp)
                s0 = np.floor(sq).astype(np.intp)
                fl = lq - l0
                fs = sq - s0
                for dl, ds, share in (
                    (0, 0, (1 - fl) * (1 - fs)),
                    (0, 1, (1 - fl) * fs),
                    (1, 0, fl * (1 - fs)),
                    (1, 1, fl * fs),
                ):
                    li, si = l0 + dl, s0 + ds
                    keep = (li >= line0) & (li < line1) & (si >= sample0) & (si < sample1)
                    pixel.append((li[keep] - line0) * n_samples + (si[keep] - sample0))
                    weights.append((w * share)[keep])
            acc += np.bincount(
                np.concatenate(pixel), weights=np.concatenate(weights), minlength=n_lines * n_samples
            )
        return acc.reshape(n_lines, n_samples)


class _PositiveMedian:
    """Exact median of the positive float64 values of blocks seen one at a time.

    Positive IEEE doubles sort as their bit patterns (uint64). :meth:`add` counts the values
    and histograms their top 16 bits; :meth:`median` finds the middle ranks' next 16 bits in
    each of three more passes over the blocks, so memory is that of one block plus 2 x 65536
    counts, and the result is the value ``numpy.median`` gives on all of them at once.
    """

    def __init__(self) -> None:
        self.count = 0
        self.top = np.zeros(1 << 16, dtype=np.int64)

    @staticmethod
    def _bits(block: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(block[block > 0], dtype=np.float64).view(np.uint64)

    def add(self, block: np.ndarray) -> None:
        """Count the positive values of ``block`` (any shape, float64)."""
        bits = self._bits(block)
        self.count += bits.size
        self.top += np.bincount((bits >> np.uint64(48)).astype(np.intp), minlength=1 << 16)

    def median(self, blocks: Callable[[], Iterable[np.ndarray]]) -> float | None:
        """The median of the positive values (None when there are none).

        Parameters
        ----------
        blocks
            Returns an iterable of the same blocks as were given to :meth:`add`, anew at each call.
        """
        n = self.count
        if n == 0:
            return None
        ranks = sorted({(n - 1) // 2, n // 2})  # 0-based; one rank when n is odd
        state = {}  # rank -> [prefix bits, rank among values sharing the prefix]
        for k in ranks:
            cum = np.cumsum(self.top)
            digit = int(np.searchsorted(cum, k, side="right"))
            state[k] = [digit, k - (int(cum[digit - 1]) if digit else 0)]
        for shift in (32, 16, 0):
            hist = {k: np.zeros(1 << 16, dtype=np.int64) for k in ranks}
            for block in blocks():
                bits = self._bits(block)
                high = bits >> np.uint64(shift + 16)
                for k in ranks:
                    sel = bits[high == np.uint64(state[k][0])]
                    digits = ((sel >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.intp)
                    hist[k] += np.bincount(digits, minlength=1 << 16)
            for k in ranks:
                cum = np.cumsum(hist[k])
                digit = int(np.searchsorted(cum, state[k][1], side="right"))
                state[k] = [(state[k][0] << 16) | digit, state[k][1] - (int(cum[digit - 1]) if digit else 0)]
        values = np.array([state[k][0] for k in ranks], dtype=np.uint64).view(np.float64)
        return float(np.mean(values[[0, -1]]))  # as numpy.median: the mean of the two middle values


def _accumulate_bounded(splat: FacetSplat, window: Window, budget_bytes: float) -> np.ndarray:
    """:meth:`FacetSplat.accumulate` on ``window``, halved until its facets' splats fit the budget.

    Layover (or a DEM finer than the radar pixels) can crowd many facets into a tile; the
    halves' sums are those of the whole window bit for bit (the same facets reach each pixel
    in the same order). Returns float64 of the window's shape.
    """
    line0, line1, sample0, sample1 = window
    index = splat.reaching(window)
    need = (line1 - line0) * (sample1 - sample0) * INTENSITY_BYTES_PER_PIXEL
    need += index.size * (splat.factor_b * SUBFACET_BYTES + 160)  # + per-facet temporaries
    if need <= budget_bytes or (line1 - line0 == 1 and sample1 - sample0 == 1):
        return splat.accumulate(window, index)
    del index
    acc = np.empty((line1 - line0, sample1 - sample0))
    if line1 - line0 >= sample1 - sample0:
        mid = (line0 + line1) // 2
        acc[: mid - line0] = _accumulate_bounded(splat, (line0, mid, sample0, sample1), budget_bytes)
        acc[mid - line0 :] = _accumulate_bounded(splat, (mid, line1, sample0, sample1), budget_bytes)
    else:
        mid = (sample0 + sample1) // 2
        acc[:, : mid - sample0] = _accumulate_bounded(splat, (line0, line1, sample0, mid), budget_bytes)
        acc[:, mid - sample0 :] = _accumulate_bounded(splat, (line0, line1, mid, sample1), budget_bytes)
    return acc


def write_intensity_tiles(
    path: str | os.PathLike[str],
    splat: FacetSplat,
    lines: int,
    samples: int,
    *,
    memory_mb: float,
    metadata: Mapping[str, str] | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write the simulated intensity, normalised to a median of 1 over lit pixels, tile by tile.

    Pass 1 accumulates each tile's facets (:meth:`FacetSplat.reaching`; a tile crowded with
    facets in smaller pieces, :func:`_accumulate_bounded`) and stores the float64
    sums in a temporary file beside ``path``; the exact median of the positive sums follows
    (:class:`_PositiveMedian`, three more reads of that file); pass 2 rescales each tile and
    writes it. The raster equals ``simulate_intensity``'s array bit for bit.

    Parameters
    ----------
    path
        The GeoTIFF (one float32 band ``simulated_intensity``, radar geometry, NaN nodata).
    splat
        The scene's facets.
    lines, samples
        Shape of the radar grid.
    memory_mb
        Budget of the tiles, MiB (the facets and the DEM come on top).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    tile = tile_shape(lines, samples, memory_mb, INTENSITY_BYTES_PER_PIXEL)
    windows = tile_windows(lines, samples, *tile)
    median = _PositiveMedian()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=out.parent, prefix=".simulated_intensity.", suffix=".f64") as store:

        def stored() -> Iterator[np.ndarray]:
            store.seek(0)
            for l0, l1, s0, s1 in windows:
                yield np.fromfile(store, dtype=np.float64, count=(l1 - l0) * (s1 - s0))

        for i, window in enumerate(windows):
            report(progress, 0.8 * i / len(windows), "simulating intensity")
            acc = _accumulate_bounded(splat, window, memory_mb * 2**20)
            median.add(acc)
            acc.tofile(store)
        store.flush()
        report(progress, 0.8, "median of the simulated intensity")
        scale = median.median(stored)
        with GeoTiffWriter(
            out, (lines, samples), descriptions=["simulated_intensity"], metadata=metadata
        ) as w:
            for (l0, l1, s0, s1), acc in zip(windows, stored()):
                if scale is not None:
                    acc /= scale
                w.write(1, l0, s0, acc.reshape(l1 - l0, s1 - s0).astype(np.float32))
    report(progress, 1.0, "simulated intensity done")
    return out


def write_ground_tiles(
    path: str | os.PathLike[str],
    lines: int,
    samples: int,
    solve: Callable[[Window, int, int], GroundTile],
    *,
    memory_mb: float,
    coarse_step: int = 8,
    metadata: Mapping[str, str] | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write the radar -> ground lookup table tile by tile.

    Tiles start on multiples of ``coarse_step`` and span multiples of it (but at the grid's
    end), so each tile's coarse grid of range-Doppler curves is made of nodes of the whole
    grid's and the interpolation between them is the same. Each tile is solved in blocks of
    lines, one per worker thread, so its working memory does not grow with the CPU count.

    Parameters
    ----------
    path
        The GeoTIFF: float64 bands ``lat_deg``, ``lon_deg``, ``height_m``, ``layover`` (0/1),
        shape (lines, samples), radar geometry, NaN nodata.
    lines, samples
        Shape of the radar grid.
    solve
        ``solve(window, coarse_step, block_lines)``: the lookup of one window, e.g.
        :func:`processing_core.lookup.radar_to_ground` with those arguments.
    memory_mb
        Budget of one tile, MiB (the DEM comes on top).
    coarse_step
        Spacing of the coarse grid of curves, pixels.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    tile = tile_shape(lines, samples, memory_mb, GROUND_BYTES_PER_PIXEL, multiple=coarse_step)
    windows = tile_windows(lines, samples, *tile)
    block_lines = -(-tile[0] // (os.cpu_count() or 1))
    descriptions = ["lat_deg", "lon_deg", "height_m", "layover"]
    with GeoTiffWriter(
        path, (lines, samples), descriptions=descriptions, dtype=np.float64, metadata=metadata
    ) as w:
        for i, window in enumerate(windows):
            g = solve(window, coarse_step, block_lines)
            for band, values in enumerate((g.lat_deg, g.lon_deg, g.height_m, g.layover), start=1):
                w.write(band, window[0], window[2], values.astype(np.float64, copy=False))
            del g
            report(progress, (i + 1) / len(windows), "radar->ground")
    return Path(path)
