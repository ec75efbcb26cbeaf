"""Dense offset tracking: :func:`track` (**contract**) and the tiled, threaded driver behind it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Union

import numpy as np

from processing_core.execution import Executor
from processing_core.offsets import ncc
from processing_core.offsets.field import OUTLIER, OffsetField
from processing_core.offsets.params import OffsetParameters
from processing_core.offsets.quality import PATCH_HALF, outliers
from processing_core.offsets.tile_tasks import opener_of, run_tile, tile_tasks
from processing_core.offsets.tiles import ArraySource, Context, Source, process_tile
from processing_core.progress import ProgressCallback, report, scaled

Prior = Union[None, OffsetField, Sequence[Any]]


def node_grid(shape: tuple[int, int], params: OffsetParameters) -> tuple[np.ndarray, np.ndarray]:
    """Node pixel rows and columns (int64) of an image: multiples of the step whose smallest chip fits.

    Raises ``ValueError`` when the image is smaller than the smallest window.
    """
    w = params.windows_px[0]
    step = params.step_px
    axes = []
    for n, name in zip(shape, ("lines", "samples")):
        first = -(-(w // 2) // step) * step
        last = n - w + w // 2
        if last < first:
            raise ValueError(f"the image has {n} {name}, fewer than the smallest window ({w} px)")
        axes.append(np.arange(first, last + 1, step, dtype=np.int64))
    return axes[0], axes[1]


def _image(name: str, value: Any) -> np.ndarray:
    a = np.asarray(value)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got {a.ndim} dimension(s)")
    if a.dtype.kind == "c":
        raise ValueError(f"{name} must be real amplitude; pass np.abs() of complex data")
    if a.dtype.kind not in "fiu":
        raise ValueError(f"{name} must hold numbers, got dtype {a.dtype}")
    return a


def _node_array(name: str, value: Any, shape: tuple[int, int]) -> np.ndarray:
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(shape, float(a))
    if a.shape != shape:
        raise ValueError(f"{name} must be a number or an array of the grid's shape {shape}, got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite at every node ({np.count_nonzero(~np.isfinite(a))} are not)")
    return a


def _fill_nearest(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    from scipy.ndimage import distance_transform_edt

    if valid.all():
        return values
    index = distance_transform_edt(~valid, return_distances=False, return_indices=True)
    return values[tuple(index)]


def _interp(field: OffsetField, values: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of a node map of ``field`` at (rows, cols), clamped at its border."""
    from scipy.interpolate import RegularGridInterpolator

    axes = []
    for coords in (np.asarray(field.rows, float), np.asarray(field.cols, float)):
        axes.append(coords if coords.size > 1 else np.array([coords[0], coords[0] + 1.0]))
    grid = values
    if field.rows.size == 1:
        grid = np.repeat(grid, 2, axis=0)
    if field.cols.size == 1:
        grid = np.repeat(grid, 2, axis=1)
    interp = RegularGridInterpolator(tuple(axes), grid, method="linear")
    r = np.clip(rows, axes[0][0], axes[0][-1])
    c = np.clip(cols, axes[1][0], axes[1][-1])
    rr, cc = np.meshgrid(r, c, indexing="ij")
    return interp(np.stack([rr.ravel(), cc.ravel()], axis=-1)).reshape(rr.shape)


def prior_offsets(prior: Prior, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prior (azimuth, range) offsets at the nodes, float64 (zeros without a prior).

    ``prior`` is None, an (azimuth, range) pair of numbers or of node arrays of the grid's shape,
    or an :class:`OffsetField` (e.g. a coarser pass) interpolated onto the nodes, its rejected
    nodes filled from the nearest kept ones.
    """
    shape = (rows.size, cols.size)
    if prior is None:
        return np.zeros(shape), np.zeros(shape)
    if isinstance(prior, OffsetField):
        valid = prior.valid
        if not valid.any():
            raise ValueError("the prior offset field has no valid node")
        az = _fill_nearest(np.asarray(prior.azimuth_px, float), valid)
        rg = _fill_nearest(np.asarray(prior.range_px, float), valid)
        return _interp(prior, az, rows, cols), _interp(prior, rg, rows, cols)
    if isinstance(prior, (str, bytes)) or not isinstance(prior, Sequence) or len(prior) != 2:
        raise ValueError("prior must be None, an OffsetField or an (azimuth_px, range_px) pair")
    return _node_array("prior azimuth_px", prior[0], shape), _node_array("prior range_px", prior[1], shape)


def track(
    reference: np.ndarray,
    secondary: np.ndarray,
    *,
    step_px: int,
    windows_px: Sequence[int] = (64, 96, 128),
    search_px: int | np.ndarray,
    prior: Prior = None,
    selection: str = "max_snr",
    target_sigma_px: float = 0.05,
    min_ncc: float = 0.05,
    min_snr: float = 20.0,
    outlier_size: int = 5,
    outlier_threshold: float = 3.0,
    outlier_floor_px: float = 0.1,
    prefilter: str = "none",
    prefilter_px: int = 32,
    smooth_px: float = 0.0,
    oversampling: float = 1.0,
    min_valid_fraction: float = 0.5,
    window_agreement_px: int = 1,
    threads: int | None = None,
    memory_mb: float = 1024.0,
    engine: str = "auto",
    progress: ProgressCallback | None = None,
) -> OffsetField:
    """Offsets of ``secondary`` relative to ``reference`` on a regular grid (**contract**).

    Both images are 2-D real arrays of the same shape (amplitude; NaN = no data). At every node
    the reference chip of each size in ``windows_px`` is matched by normalised cross-correlation
    (NCC) against the secondary within ``search_px`` of the prior; the integer peak is refined to
    sub-pixel precision (DFT zoom to 1/64 px, then a local quadratic); one window is kept per
    node; nodes failing the quality tests or the spatial consistency filter are NaN.

    Parameters
    ----------
    reference, secondary
        Amplitude images (any real dtype), NaN where there is no data.
    step_px
        Node spacing (lines and samples). Nodes sit on multiples of the step where the smallest
        chip fits in the image; a larger window is tried only where its chip fits too.
    windows_px
        Chip sides to try, e.g. the paper's 64 to 128 px; all even or all odd.
    search_px
        Search radius: shifts within [-search_px, search_px] of the prior, per axis; an int or a
        node array (a per-node radius, e.g. wide where the prior is uncertain).
    prior
        None (search around zero), an (azimuth_px, range_px) pair of numbers or node arrays, or
        an :class:`OffsetField` from a coarser pass (interpolated onto this grid), so that large
        motions (tens of pixels) are found with a small search radius.
    selection
        ``max_snr`` (the paper's rule): keep the window with the highest SNR. Best for
        robustness where correlation is weak (long or cross-platform pairs, vegetation, fast
        decorrelating landslide bodies), since SNR grows with the window. ``precision``: keep
        the smallest window whose predicted standard deviation meets ``target_sigma_px`` (else
        the most precise one). Best where the signal is strong and the motion varies over short
        distances (landslide margins, small bodies): small windows keep the resolution and do
        not smear gradients, large ones are used only where they are needed.
    target_sigma_px
        Precision goal of the ``precision`` rule, pixels.
    min_ncc, min_snr
        Rejection thresholds. SNR is the peak NCC squared over the mean squared NCC of the
        search area more than 3 px (chebyshev; fewer for tiny searches) from the integer peak.
        Pure noise reaches SNR 10-25 in a +-8 to +-32 px search (the maximum of many noise
        samples), hence the default 20; matches of x2-oversampled speckle with coherence 0.4
        in 64-128 px chips have SNR 20-300.
    outlier_size, outlier_threshold, outlier_floor_px
        Median/MAD consistency filter over ``outlier_size`` x ``outlier_size`` nodes (0: off):
        a node is rejected when |v - median| > threshold (1.4826 MAD + floor) in either axis.
    prefilter, prefilter_px
        Speckle pre-filter of both images: ``none``, ``sqrt``, ``log``/``db``, ``wallis``,
        ``highpass`` (see :mod:`processing_core.offsets.prefilter`) and its scale in pixels.
    smooth_px
        Sigma of a NaN-aware Gaussian low-pass of both images after the pre-filter, pixels
        (0: none). Where the speckle decorrelates between the dates, ``prefilter="sqrt"`` with
        ``smooth_px=1`` halves the noise of the offsets (see the pre-filter module).
    oversampling
        Pixels per speckle resolution cell, used only for the predicted standard deviations.
    min_valid_fraction
        Chips with no-data: the least valid fraction of a chip, and of the overlap of the two
        chips at a shift (masked NCC); shifts below it are not considered.
    window_agreement_px
        False-match test: a window's integer peak must lie within this distance (chebyshev, px)
        of another window's; nested chips of a real match agree, noise peaks do not (0: off;
        nodes where a single window fits are not checked).
    threads
        Worker threads (default: all cores).
    memory_mb
        Working memory target; the grid is processed in tiles whose block spectra fit it, so
        memory does not grow with the image (measured peak for a 4000 x 4000 file pair: 1.2 GB
        at the default, 0.55 GB at 256; batch buffers add ~100 MB per thread).
    engine
        ``auto`` (default: by a cost model), ``blocks`` or ``chips``: which NCC engine computes
        chips without no-data (see :mod:`processing_core.offsets.ncc`); the results agree to
        rounding, the choice only changes the speed.
    progress
        Callback ``(fraction, message) -> bool | None``; returning False cancels
        (:class:`processing_core.progress.Cancelled`).

    Returns
    -------
    OffsetField
        A feature at (row, col) of the reference is at (row + azimuth_px, col + range_px) in the
        secondary, with rows/cols the chip centres (pixel i at i; half-integers for even windows).

    Raises
    ------
    ValueError
        On arrays of wrong dimension, dtype or shape, and on option values out of range.
    """
    ref = _image("reference", reference)
    sec = _image("secondary", secondary)
    if ref.shape != sec.shape:
        raise ValueError(f"reference {ref.shape} and secondary {sec.shape} must have the same shape")
    radius_map = None
    search_scalar = search_px
    if isinstance(search_px, np.ndarray) and search_px.ndim > 0:
        radius_map = search_px
        if radius_map.size == 0 or radius_map.dtype.kind not in "iu":
            raise ValueError("search_px as an array must hold integers, one per node")
        search_scalar = int(radius_map.max())
    params = OffsetParameters(
        step_px=step_px,
        search_px=search_scalar,
        windows_px=tuple(windows_px) if not isinstance(windows_px, (int, np.integer)) else windows_px,
        selection=selection,
        target_sigma_px=target_sigma_px,
        min_ncc=min_ncc,
        min_snr=min_snr,
        outlier_size=outlier_size,
        outlier_threshold=outlier_threshold,
        outlier_floor_px=outlier_floor_px,
        prefilter=prefilter,
        prefilter_px=prefilter_px,
        smooth_px=smooth_px,
        oversampling=oversampling,
        min_valid_fraction=min_valid_fraction,
        window_agreement_px=window_agreement_px,
    )
    return track_sources(
        ArraySource(ref),
        ArraySource(sec),
        params,
        prior=prior,
        radius=radius_map,
        threads=threads,
        memory_mb=memory_mb,
        engine=engine,
        progress=progress,
    )


def _threads(threads: int | None) -> int:
    if threads is None:
        return max(1, os.cpu_count() or 1)
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    return int(threads)


def _tile_nodes(params: OffsetParameters, block: int, budget: int) -> int:
    """Nodes per tile side so that the block spectra of a tile fit ``budget`` bytes."""
    if not block:
        return 48
    import scipy.fft as sfft

    m = 2 * (params.search_px + PATCH_HALF) + 1
    ly, lx = sfft.next_fast_len(block + m - 1), sfft.next_fast_len(block + m - 1, real=True)
    per_block = ly * (lx // 2 + 1) * 8
    blocks_side = int(np.sqrt(max(budget, 1) / per_block))
    nodes = (blocks_side * block - params.windows_px[-1]) // params.step_px + 1
    return int(np.clip(nodes, 8, 256))


def track_sources(
    reference: Source,
    secondary: Source,
    params: OffsetParameters,
    *,
    prior: Prior = None,
    radius: np.ndarray | None = None,
    threads: int | None = None,
    memory_mb: float = 1024.0,
    engine: str = "auto",
    progress: ProgressCallback | None = None,
    executor: Executor | None = None,
) -> OffsetField:
    """:func:`track` on image sources read tile by tile (arrays or rasters).

    With an ``executor`` (:mod:`processing_core.execution`) every tile is one
    :class:`~processing_core.offsets.tile_tasks.TileTask` (one thread each, the memory per thread
    of ``threads`` here, so the same tiles and the same bits); every worker then opens the
    sources again, so they must be rasters with a ``path``
    (:class:`~processing_core.offsets.files.RasterSource`) or sources with an ``opener()``
    (:func:`~processing_core.offsets.tile_tasks.opener_of`).
    """
    openers = (opener_of(reference), opener_of(secondary)) if executor is not None else (None, None)
    if executor is not None and None in openers:
        raise ValueError(
            "tiles as executor tasks need sources a worker can open: rasters with a path "
            "(RasterSource) or sources with an opener()"
        )
    if reference.shape != secondary.shape:
        raise ValueError(
            f"reference {reference.shape} and secondary {secondary.shape} must have the same shape"
        )
    n_threads = _threads(threads)
    if not (isinstance(memory_mb, (int, float)) and memory_mb > 0):
        raise ValueError(f"memory_mb must be positive, got {memory_mb!r}")
    row_px, col_px = node_grid(reference.shape, params)
    shape = (row_px.size, col_px.size)
    offset = params.chip_offset
    rows, cols = row_px + offset, col_px + offset
    prior_az, prior_rg = prior_offsets(prior, rows, cols)
    if radius is None:
        radius_map = np.full(shape, params.search_px, dtype=np.int64)
    else:
        radius_map = np.asarray(radius)
        if radius_map.shape != shape:
            raise ValueError(
                f"search_px as an array must have the grid's shape {shape}, got {radius_map.shape}"
            )
        if radius_map.min() < 1:
            raise ValueError("search_px must be >= 1 at every node")
        radius_map = radius_map.astype(np.int64)
    block = ncc.block_size(params.step_px, params.windows_px)
    if engine not in ("auto", "blocks", "chips"):
        raise ValueError(f"engine must be auto, blocks or chips, got {engine!r}")
    if engine == "blocks" and block < 2:
        raise ValueError(
            f"the blocks engine needs step_px and the windows to share a factor >= 2 (step {params.step_px})"
        )
    budget = int(memory_mb * 2**20 / n_threads)
    side = _tile_nodes(params, block if block >= 2 else 0, int(0.6 * budget))
    tiles = [
        (ia, min(ia + side, shape[0]), ja, min(ja + side, shape[1]))
        for ia in range(0, shape[0], side)
        for ja in range(0, shape[1], side)
    ]
    parallel = min(n_threads, len(tiles))
    ctx = Context(
        reference=reference,
        secondary=secondary,
        params=params,
        row_px=row_px,
        col_px=col_px,
        centre_y=np.rint(prior_az).astype(np.int64),
        centre_x=np.rint(prior_rg).astype(np.int64),
        radius=radius_map,
        block=block if block >= 2 else 0,
        fft_workers=max(1, n_threads // parallel),
        memory_bytes=budget,
        engine=engine,
    )
    names = ("azimuth_px", "range_px", "snr", "ncc", "window_px", "sigma_azimuth_px", "sigma_range_px")
    out = {name: np.full(shape, np.nan, dtype=np.float32) for name in names}
    flags = np.zeros(shape, dtype=np.uint8)
    report(progress, 0.0, f"offsets: {shape[0]} x {shape[1]} nodes in {len(tiles)} tile(s)")
    if executor is not None:
        tasks = tile_tasks(ctx, tiles, *openers)  # type: ignore[arg-type]
        results = executor.map(
            run_tile,
            tasks,
            progress=scaled(progress, 0.0, 0.95),
            describe=lambda t: f"offsets: tile {t.bounds[0]}:{t.bounds[1]} x {t.bounds[2]}:{t.bounds[3]}",
        )
        for tile, result in zip(tiles, results):
            _put(out, flags, tile, result)
    else:
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            futures = {pool.submit(process_tile, ctx, *tile): tile for tile in tiles}
            try:
                for done, future in enumerate(as_completed(futures), start=1):
                    _put(out, flags, futures[future], future.result())
                    report(progress, 0.95 * done / len(tiles), f"offsets: tile {done}/{len(tiles)}")
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    rejected = flags != 0
    if params.outlier_size:
        az = np.where(rejected, np.nan, out["azimuth_px"])
        rg = np.where(rejected, np.nan, out["range_px"])
        bad = outliers(
            az,
            rg,
            size=params.outlier_size,
            threshold=params.outlier_threshold,
            floor_px=params.outlier_floor_px,
        )
        flags[bad] |= OUTLIER
        rejected |= bad
    for name in names:
        out[name][rejected] = np.nan
    report(progress, 1.0, "offsets: done")
    return OffsetField(
        rows=rows.astype(np.float64), cols=cols.astype(np.float64), flags=flags, parameters=params, **out
    )


def _put(
    out: dict[str, np.ndarray],
    flags: np.ndarray,
    tile: tuple[int, int, int, int],
    result: dict[str, np.ndarray],
) -> None:
    """One tile's result into the pair's arrays."""
    ia, ib, ja, jb = tile
    for name, array in out.items():
        array[ia:ib, ja:jb] = result[name]
    flags[ia:ib, ja:jb] = result["flags"]
