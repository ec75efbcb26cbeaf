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
from processing_core.material import material_sbas

gdal.UseExceptions()

COMPONENTS = ("los", "azimuth")
BANDS = {"los": ("range_px", "sigma_range_px"), "azimuth": ("azimuth_px", "sigma_azimuth_px")}
"""Offset band and its standard deviation's band, per component."""
_DAYS_PER_YEAR = 365.25
RATE_METHOD = "least_squares"
"""How the rate maps are computed (:func:`period_rate`); band metadata ``RATE_METHOD``."""
FRAMES = ("material", "eulerian")
"""Frames of the time series: :mod:`processing_core.material`."""


def check_frame(frame: str) -> None:
    """``ValueError`` unless ``frame`` is one of :data:`FRAMES`."""
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {', '.join(FRAMES)}, got {frame!r}")


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
    frame: str = "material"
    """``material`` (the ground that was at a node on the first date) or ``eulerian`` (the
    offsets as measured at the nodes); :data:`FRAMES`."""
    grid_rows: int = 0
    """Rows of the whole grid (the material frame reads a halo of rows around the block)."""
    step_px: float = 1.0
    """Node spacing, pixels."""
    grid_geometry: str = ""
    """The geometry scene of the grid (the final master): the key of its factors."""

    def __post_init__(self) -> None:
        check_frame(self.frame)


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
    iterations: int = 0
    """Material frame: rounds of resampling after the Eulerian solution."""
    last_change_px: float = 0.0
    """Material frame: largest change of a position in the last round, pixels."""


def invert_block(task: BlockTask) -> dict[str, BlockResult]:
    """Read, convert and invert one :class:`BlockTask` (in this process or a worker's).

    Returns
    -------
    dict
        :class:`BlockResult` per component (``los``, ``azimuth``).
    """
    datasets = [gdal.Open(path) for path in task.paths]
    try:
        if task.frame == "material":
            return _invert_material(task, datasets)
        out = {}
        for comp in COMPONENTS:
            value_band, sigma_band = BANDS[comp]
            raw = _read_rows(task, datasets, value_band, task.r0, task.r1)
            factor = _factors(task, comp)
            sig = (
                _read_rows(task, datasets, sigma_band, task.r0, task.r1) * np.abs(factor)
                if task.weighted
                else None
            )
            result = sbas(
                task.dates, task.pairs, raw * factor, std=sig, robust=task.robust, workers=task.workers
            )
            out[comp] = _block_result(result)
        return out
    finally:
        datasets.clear()


def _factors(task: BlockTask, comp: str) -> np.ndarray:
    """Metres per pixel of every pair at the block's nodes: (n_pairs, 1, 1) LOS, (n_pairs, rows, cols) azimuth."""
    if comp == "los":
        return np.array([task.los_factor[g] for g in task.geometries])[:, None, None]
    return np.stack([task.azimuth_factor[g] for g in task.geometries])


def _read_rows(task: BlockTask, datasets: list[Any], band: str, r0: int, r1: int) -> np.ndarray:
    """(n_pairs, r1 - r0, cols) of the band described ``band`` of every pair's offsets, float64."""
    out = np.empty((len(datasets), r1 - r0, task.cols))
    for q, ds in enumerate(datasets):
        if band not in task.bands[q]:
            need = "--weighted needs" if band.startswith("sigma") else "no"
            raise InputError(f"{task.paths[q]}: {need} band described '{band}'")
        out[q] = ds.GetRasterBand(task.bands[q][band]).ReadAsArray(0, r0, task.cols, r1 - r0)
    return out


def _block_result(result: Any, iterations: int = 0, change_px: float = 0.0) -> BlockResult:
    return BlockResult(
        result.displacement,
        result.std,
        result.residual_rms,
        result.n_valid,
        result.rank,
        result.connected,
        iterations,
        change_px,
    )


def _invert_material(task: BlockTask, datasets: list[Any]) -> dict[str, BlockResult]:
    """The block in the material frame (:func:`processing_core.material.material_sbas`), with a
    halo of rows that grows until it holds every position the block's ground is read at."""
    halo = 2
    while True:
        h0, h1 = max(0, task.r0 - halo), min(task.grid_rows, task.r1 + halo)
        read = {band: _read_rows(task, datasets, band, h0, h1) for band in _material_bands(task)}
        result = material_sbas(
            task.dates,
            task.pairs,
            read["range_px"],
            read["azimuth_px"],
            first_row=task.r0 - h0,
            rows=task.r1 - task.r0,
            step_px=task.step_px,
            los_m_per_px=_factors(task, "los")[:, 0, 0],
            azimuth_m_per_px=_factors(task, "azimuth"),
            los_m_per_grid_px=task.los_factor[task.grid_geometry],
            azimuth_m_per_grid_px=task.azimuth_factor[task.grid_geometry],
            sigma_range_px=read.get("sigma_range_px"),
            sigma_azimuth_px=read.get("sigma_azimuth_px"),
            robust=task.robust,
            workers=task.workers,
        )
        above_ok = h0 == 0 or result.reach_rows <= task.r0 - h0
        below_ok = h1 == task.grid_rows or result.reach_rows <= h1 - task.r1
        if above_ok and below_ok:
            break
        halo = result.reach_rows + 1
    return {
        "los": _block_result(result.los, result.iterations, result.last_change_px),
        "azimuth": _block_result(result.azimuth, result.iterations, result.last_change_px),
    }


def _material_bands(task: BlockTask) -> tuple[str, ...]:
    values = (BANDS["los"][0], BANDS["azimuth"][0])
    return values + ((BANDS["los"][1], BANDS["azimuth"][1]) if task.weighted else ())


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
    rates = [period_rate(dates[a : b + 1], result.displacement[a : b + 1]) for _, a, b in periods]
    writers[f"{comp}_rate"].write(r0, np.array(rates))
    writers[f"{comp}_residual"].write(r0, result.residual_rms[None])
    solved = result.n_valid > 0
    count = np.where(solved, result.n_valid, -1)
    rank = np.where(solved, result.rank, -1)
    writers[f"{comp}_count"].write(r0, np.array([count, rank]))


def period_rate(dates: list[dt.date] | tuple[dt.date, ...], displacement: np.ndarray) -> np.ndarray:
    """Mean rate of a period: the least-squares slope of a straight line through its series, m/yr.

    Parameters
    ----------
    dates
        The period's dates, sorted, at least two.
    displacement
        Displacement at those dates, (n_dates, ...pixels), m; NaN propagates to the pixel's rate.

    Returns
    -------
    numpy.ndarray
        (...pixels), m/yr.

    Notes
    -----
    The velocity of InSAR time-series tools (MintPy's ``timeseries2velocity``, Yunjun et al.
    2019, doi:10.1016/j.cageo.2019.104331). Every date weighs in, so a date's own error (each
    scene's speckle, common to all its pairs, stays in the SBAS series) counts ~1/sqrt(n) as much
    as in ``(d[last] - d[first]) / duration``. Where the rate changes within the period it is
    the best-fitting constant rate, not the secant, so compare it with the same fit of a truth.
    """
    if len(dates) < 2 or len(dates) != len(displacement):
        raise ValueError(f"need one displacement per date and at least two dates, got {len(dates)} dates")
    years = np.array([(d - dates[0]).days for d in dates], dtype=np.float64) / _DAYS_PER_YEAR
    t = years - years.mean()
    if not np.any(t):
        raise ValueError("the period's dates are all the same day")
    d = np.asarray(displacement, dtype=np.float64)
    centred = d - d.mean(axis=0)
    return np.tensordot(t, centred, axes=1) / float(t @ t)


__all__ = [
    "BANDS",
    "COMPONENTS",
    "FRAMES",
    "RATE_METHOD",
    "BlockResult",
    "BlockTask",
    "check_frame",
    "invert_block",
    "period_rate",
    "write_block",
]
