"""The SBAS inversion of a stack, one block of grid rows at a time, as independent tasks.

A :class:`BlockTask` holds the offset files' paths and band numbers, the pair network and the
conversion factors of its rows (plain values, and arrays no larger than the block), so that it
pickles and any worker process can run it (:func:`invert_block`): it reads its rows of every
pair's offsets, converts them to metres, inverts LOS and azimuth
(:func:`processing_core.inversion.sbas`) and returns the block's results; the driver
(:func:`processing_core.timeseries.invert_stack`) writes them in row order. The serial path runs
the same function here, block after block, so both write the same bits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from osgeo import gdal

from processing_core.errors import InputError
from processing_core.inversion import sbas

gdal.UseExceptions()

COMPONENTS = ("los", "azimuth")
BANDS = {"los": ("range_px", "sigma_range_px"), "azimuth": ("azimuth_px", "sigma_azimuth_px")}
"""Offset band and its standard deviation's band, per component."""
_DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class BlockTask:
    """Rows ``r0:r1`` of the offsets grid, both components (picklable)."""

    r0: int
    """First grid row."""
    r1: int
    """One past the last grid row."""
    cols: int
    """Grid columns."""
    dates: tuple[dt.date, ...]
    """The stack's dates, sorted."""
    pairs: tuple[tuple[int, int], ...]
    """(i, j) date indices of the pairs, in the order of ``paths``."""
    paths: tuple[str, ...]
    """Each pair's offsets GeoTIFF."""
    bands: tuple[dict[str, int], ...]
    """Each file's band numbers by description."""
    geometries: tuple[str, ...]
    """Each pair's geometry scene (the key of the factors)."""
    los_factor: dict[str, float]
    """Metres of LOS per range pixel, per geometry scene."""
    azimuth_factor: dict[str, np.ndarray]
    """Metres per azimuth pixel at the block's nodes ((r1 - r0, cols)), per geometry scene."""
    weighted: bool = False
    """Weight by the offsets' predicted standard deviations."""
    robust: bool = False
    """Iteratively reweighted L1 inversion."""
    workers: int | None = None
    """Threads of the inversion (None: all cores)."""


@dataclass(frozen=True)
class BlockResult:
    """One component's results on a block of rows (the arrays :func:`sbas` returns, less velocity)."""

    displacement: np.ndarray
    """(n_dates, rows, cols), observation units (m)."""
    std: np.ndarray
    """(n_dates, rows, cols), m."""
    residual_rms: np.ndarray
    """(rows, cols), m."""
    n_valid: np.ndarray
    """(rows, cols), valid pairs."""
    rank: np.ndarray
    """(rows, cols), rank of the node's system."""
    connected: np.ndarray
    """(rows, cols), True where the valid pairs connect every date."""


def invert_block(task: BlockTask) -> dict[str, BlockResult]:
    """Read, convert and invert one :class:`BlockTask` (in this process or a worker's).

    Returns
    -------
    dict
        :class:`BlockResult` per component (``los``, ``azimuth``).
    """
    rows = task.r1 - task.r0
    datasets = [gdal.Open(path) for path in task.paths]
    try:
        out = {}
        for comp in COMPONENTS:
            value_band, sigma_band = BANDS[comp]
            obs = np.empty((len(task.paths), rows, task.cols))
            sig = np.empty_like(obs) if task.weighted else None
            for q, ds in enumerate(datasets):
                bands, geometry = task.bands[q], task.geometries[q]
                raw = ds.GetRasterBand(bands[value_band]).ReadAsArray(0, task.r0, task.cols, rows)
                factor = task.los_factor[geometry] if comp == "los" else task.azimuth_factor[geometry]
                obs[q] = raw * factor
                if sig is not None:
                    if sigma_band not in bands:
                        raise InputError(f"{task.paths[q]}: --weighted needs a band described '{sigma_band}'")
                    s = ds.GetRasterBand(bands[sigma_band]).ReadAsArray(0, task.r0, task.cols, rows)
                    sig[q] = s * np.abs(factor)
            result = sbas(task.dates, task.pairs, obs, std=sig, robust=task.robust, workers=task.workers)
            out[comp] = BlockResult(
                result.displacement,
                result.std,
                result.residual_rms,
                result.n_valid,
                result.rank,
                result.connected,
            )
        return out
    finally:
        datasets.clear()


def write_block(
    writers: dict[str, Any],
    comp: str,
    r0: int,
    result: BlockResult,
    periods: list[tuple[str, int, int]],
    dates: list[dt.date],
) -> None:
    """Write one component's block results at grid row ``r0`` (``writers``: the
    :class:`~processing_core.timeseries.BlockWriter` of each output raster)."""
    writers[comp].write(r0, result.displacement)
    writers[f"{comp}_std"].write(r0, result.std)
    rates = []
    for _, a, b in periods:
        years = (dates[b] - dates[a]).days / _DAYS_PER_YEAR
        rates.append((result.displacement[b] - result.displacement[a]) / years)
    writers[f"{comp}_rate"].write(r0, np.array(rates))
    writers[f"{comp}_residual"].write(r0, result.residual_rms[None])
    solved = result.n_valid > 0
    count = np.where(solved, result.n_valid, -1)
    rank = np.where(solved, result.rank, -1)
    writers[f"{comp}_count"].write(r0, np.array([count, rank]))


__all__ = ["BANDS", "COMPONENTS", "BlockResult", "BlockTask", "invert_block", "write_block"]
