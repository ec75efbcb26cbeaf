"""Lagged correlation of the displacement rate with precipitation or backscatter.

The rate of each acquisition interval [t_i, t_{i+1}) is the displacement change over it divided
by its length, in mm/day in the direction of the net motion (a speed: positive when the
landslide moves its usual way, so "more rain, faster" is a positive correlation). The covariate
of the same interval, shifted back by a lag of L months (L * 365.25 / 12 days), is

* precipitation: the monthly totals spread evenly over each month's days and summed over the
  shifted window (months partly covered count by their overlap in days), then divided by the
  window's length (``measure="mean"``, mm/day, the default: intervals differ in length, and the
  rate is per day too) or not (``measure="sum"``, mm); a window touching a missing month is left
  out at that lag;
* backscatter: the mean over the shifted window of the backscatter time series, linear between
  acquisition dates (dB); a window outside the dates is left out.

Pearson's r is computed per lag over the intervals valid at that lag. Significance is by
**circular block permutation** of the rate series (the rates are autocorrelated: a trend, and
the negative correlation of differences sharing an acquisition): the series is rotated by a
random offset, cut into blocks of ``block_length`` intervals (default round(n^(1/3))), and the
blocks shuffled; the covariate keeps its own autocorrelation and timing. Per-lag p-values are
two-sided, (1 + #{|r*| >= |r|}) / (1 + permutations); the p-value of the best lag is
family-wise over all lags (the permuted maximum of |r| over lags against the observed one), so
picking the best of several lags is accounted for.

Optional detrending of the rates before correlating: ``linear`` (a straight line in time) or
``stages`` (the piecewise-constant rates of the creep stages of
:func:`processing_core.analysis.stages.detect_stages`), so that correlation measures the
modulation of the rate rather than the long-term acceleration.

Reference: Liu et al. (2020), GRL 47, e2019GL086142, doi:10.1029/2019GL086142, section 5.2
(acceleration lagging the monsoon precipitation by about one to two months).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from processing_core.analysis.covariates import MonthlySeries
from processing_core.analysis.series import day_numbers, iso, to_dates, valid_days_values
from processing_core.analysis.stages import detect_stages
from processing_core.errors import InputError

MEASURES = ("mean", "sum")
"""Precipitation per interval: mean rate (mm/day) or total (mm)."""
DETRENDS = ("none", "linear", "stages")
"""Trend removed from the rates before correlating."""
DAYS_PER_MONTH = 365.25 / 12.0
"""Length of one month of lag, days."""


@dataclass(frozen=True)
class LagCorrelation:
    """Correlation of the interval rates with a covariate at lags of whole months."""

    covariate: str
    """``precipitation`` or ``backscatter``."""
    lags_months: np.ndarray
    """Lags 0, 1, ..., months (the covariate window shifted back in time)."""
    r: np.ndarray
    """Pearson correlation per lag (NaN with fewer than 3 valid intervals)."""
    p_value: np.ndarray
    """Two-sided block-permutation p-value per lag."""
    n: np.ndarray
    """Intervals used per lag."""
    best_lag_months: int
    """Lag of the largest |r|."""
    best_r: float
    """r at the best lag."""
    best_p_value: float
    """Family-wise block-permutation p-value of the best lag (max |r| over lags)."""
    permutations: int
    """Permutations drawn."""
    block_length: int
    """Intervals per permuted block."""
    seed: int
    """Seed of the permutations."""
    detrend: str
    """Trend removed from the rates (one of :data:`DETRENDS`)."""
    units: str
    """Units of the covariate values."""
    interval_start: np.ndarray = field(repr=False)
    """First date of every interval (``datetime64[D]``)."""
    interval_end: np.ndarray = field(repr=False)
    """Last date of every interval."""
    speed_mm_per_day: np.ndarray = field(repr=False)
    """Speed of every interval (after detrending), mm/day."""
    values: np.ndarray = field(repr=False)
    """Covariate per lag and interval, shape (lags, intervals)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report (without the per-interval arrays' covariate at every lag)."""
        return {
            "covariate": self.covariate,
            "units": self.units,
            "lags": [
                {"lag_months": int(lag), "r": r, "p_value": p, "n_intervals": int(n)}
                for lag, r, p, n in zip(self.lags_months, self.r, self.p_value, self.n)
            ],
            "best_lag_months": self.best_lag_months,
            "best_r": self.best_r,
            "best_p_value_familywise": self.best_p_value,
            "permutation": {
                "method": "circular block permutation of the rates",
                "permutations": self.permutations,
                "block_length_intervals": self.block_length,
                "seed": self.seed,
            },
            "detrend": self.detrend,
            "intervals": [
                {"start": iso(a), "end": iso(b), "speed_mm_per_day": v, "covariate_lag0": x}
                for a, b, v, x in zip(
                    self.interval_start, self.interval_end, self.speed_mm_per_day, self.values[0]
                )
            ],
        }


def interval_speeds(
    dates: np.ndarray, displacement_m: np.ndarray, *, detrend: str = "none", sigma_m: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start day, end day, speed mm/day) of every acquisition interval, optionally detrended."""
    if detrend not in DETRENDS:
        raise InputError(f"detrend must be one of {DETRENDS}, got {detrend!r}")
    days, y = valid_days_values(dates, displacement_m)
    if len(days) < 4:
        raise InputError(f"the correlation needs at least 4 valid dates, got {len(days)}")
    direction = 1.0 if y[-1] - y[0] >= 0 else -1.0
    speed = direction * 1000.0 * np.diff(y) / np.diff(days)
    mid = 0.5 * (days[1:] + days[:-1])
    if detrend == "linear":
        speed = speed - np.polyval(np.polyfit(mid - mid[0], speed, 1), mid - mid[0])
    elif detrend == "stages":
        fit = detect_stages(to_dates([np.datetime64(int(d), "D") for d in days]), y, sigma_m=sigma_m)
        speed = speed - direction * 1000.0 * np.diff(fit.fitted_m) / np.diff(days)
    return days[:-1], days[1:], speed


def precipitation_in_windows(
    precip: MonthlySeries, start_day: np.ndarray, end_day: np.ndarray, *, measure: str = "mean"
) -> np.ndarray:
    """Precipitation over windows [start, end) (day numbers): mm/day (``mean``) or mm (``sum``).

    Each month's total is spread evenly over its days; partly covered months count by their
    overlap in days. NaN where the window touches a month that is missing or NaN.
    """
    if measure not in MEASURES:
        raise InputError(f"measure must be one of {MEASURES}, got {measure!r}")
    m0 = precip.months.astype("datetime64[D]").astype(np.int64).astype(np.float64)
    m1 = (precip.months + np.timedelta64(1, "M")).astype("datetime64[D]").astype(np.int64).astype(np.float64)
    start = np.asarray(start_day, dtype=np.float64)
    end = np.asarray(end_day, dtype=np.float64)
    overlap = np.clip(
        np.minimum(end[:, None], m1[None, :]) - np.maximum(start[:, None], m0[None, :]), 0.0, None
    )
    total = (overlap * (precip.values / (m1 - m0))[None, :]).sum(axis=1, where=overlap > 0)
    covered = overlap.sum(axis=1)
    bad = ((overlap > 0) & ~np.isfinite(precip.values)[None, :]).any(axis=1)
    bad |= covered < (end - start) - 1e-9  # part of the window has no month at all
    out = total / (end - start) if measure == "mean" else total
    return np.where(bad, np.nan, out)


def series_in_windows(
    dates: np.ndarray, values: np.ndarray, start_day: np.ndarray, end_day: np.ndarray
) -> np.ndarray:
    """Mean over windows [start, end] of a series linear between its dates; NaN outside them."""
    t = day_numbers(to_dates(dates))
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    t, v = t[ok], v[ok]
    out = np.full(len(start_day), np.nan)
    if len(t) < 2:
        return out
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (v[1:] + v[:-1]) * np.diff(t))])

    def integral(x: np.ndarray) -> np.ndarray:
        j = np.clip(np.searchsorted(t, x, side="right") - 1, 0, len(t) - 2)
        vx = np.interp(x, t, v)
        return cum[j] + 0.5 * (v[j] + vx) * (x - t[j])

    start, end = np.asarray(start_day, dtype=np.float64), np.asarray(end_day, dtype=np.float64)
    inside = (start >= t[0]) & (end <= t[-1]) & (end > start)
    out[inside] = (integral(end[inside]) - integral(start[inside])) / (end[inside] - start[inside])
    return out


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of x (n,) with every row of y (p, n)."""
    xc = x - x.mean()
    yc = y - y.mean(axis=-1, keepdims=True)
    den = np.sqrt((xc @ xc) * np.einsum("pn,pn->p", yc, yc))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (yc @ xc) / den, np.nan)


def block_permutations(n: int, block_length: int, permutations: int, rng: np.random.Generator) -> np.ndarray:
    """Index arrays (permutations, n) of circular block permutations of 0..n-1."""
    n_blocks = -(-n // block_length)
    out = np.empty((permutations, n), dtype=np.int64)
    base = np.arange(n)
    for k in range(permutations):
        rotated = np.roll(base, -int(rng.integers(n)))
        blocks = [rotated[i * block_length : (i + 1) * block_length] for i in range(n_blocks)]
        out[k] = np.concatenate([blocks[j] for j in rng.permutation(n_blocks)])
    return out


def lagged_correlation(
    values: np.ndarray,
    speed: np.ndarray,
    *,
    permutations: int = 2000,
    seed: int = 0,
    block_length: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, float]:
    """r, p-value and count per lag (rows of ``values``) with ``speed``, and the best lag's index
    and family-wise p-value (module notes)."""
    if not (isinstance(permutations, (int, np.integer)) and permutations >= 1):
        raise InputError(f"permutations must be an integer >= 1, got {permutations!r}")
    n = len(speed)
    if block_length is None:
        block_length = max(1, int(round(n ** (1.0 / 3.0))))
    if not (isinstance(block_length, (int, np.integer)) and 1 <= block_length <= n):
        raise InputError(f"block length must be an integer in 1..{n}, got {block_length!r}")
    idx = block_permutations(n, int(block_length), int(permutations), np.random.default_rng(seed))
    shuffled = speed[idx]
    lags = values.shape[0]
    r = np.full(lags, np.nan)
    count = np.zeros(lags, dtype=int)
    r_perm = np.full((lags, permutations), np.nan)
    for k in range(lags):
        ok = np.isfinite(values[k]) & np.isfinite(speed)
        count[k] = int(ok.sum())
        if count[k] < 3:
            continue
        r[k] = _pearson_rows(values[k][ok], speed[ok][None, :])[0]
        ok_perm = np.isfinite(values[k])
        r_perm[k] = _pearson_rows(values[k][ok_perm], shuffled[:, ok_perm])
    if not np.isfinite(r).any():
        raise InputError("no lag has 3 intervals with both a rate and a covariate value")
    with np.errstate(invalid="ignore"):
        p = (1.0 + np.sum(np.abs(r_perm) >= np.abs(r)[:, None], axis=1)) / (1.0 + permutations)
    p = np.where(np.isfinite(r), p, np.nan)
    best = int(np.nanargmax(np.abs(r)))
    max_perm = np.nanmax(np.where(np.isfinite(r)[:, None], np.abs(r_perm), np.nan), axis=0)
    p_best = float((1.0 + np.sum(max_perm >= abs(r[best]))) / (1.0 + permutations))
    return r, p, count, best, p_best


def _correlate(name, units, values, start, end, speed, detrend, permutations, seed, block_length):
    r, p, count, best, p_best = lagged_correlation(
        values, speed, permutations=permutations, seed=seed, block_length=block_length
    )
    n = len(speed)
    return LagCorrelation(
        covariate=name,
        lags_months=np.arange(values.shape[0]),
        r=r,
        p_value=p,
        n=count,
        best_lag_months=best,
        best_r=float(r[best]),
        best_p_value=p_best,
        permutations=int(permutations),
        block_length=int(block_length or max(1, int(round(n ** (1.0 / 3.0))))),
        seed=int(seed),
        detrend=detrend,
        units=units,
        interval_start=to_dates([np.datetime64(int(d), "D") for d in start]),
        interval_end=to_dates([np.datetime64(int(d), "D") for d in end]),
        speed_mm_per_day=speed,
        values=values,
    )


def _check_lag(max_lag_months: int) -> None:
    if not (isinstance(max_lag_months, (int, np.integer)) and 0 <= max_lag_months <= 24):
        raise InputError(f"max lag must be an integer 0..24 months, got {max_lag_months!r}")


def correlate_precipitation(
    dates: np.ndarray,
    displacement_m: np.ndarray,
    precip: MonthlySeries,
    *,
    max_lag_months: int = 6,
    measure: str = "mean",
    detrend: str = "none",
    permutations: int = 2000,
    seed: int = 0,
    block_length: int | None = None,
    sigma_m: float | None = None,
) -> LagCorrelation:
    """Correlation of the interval speeds with precipitation lagged 0..``max_lag_months`` months.

    Parameters
    ----------
    dates, displacement_m
        The displacement series (m).
    precip
        Monthly totals (:func:`covariates.read_precip_csv`, :func:`covariates.read_imerg`).
    max_lag_months
        Largest lag, months (0-24).
    measure
        One of :data:`MEASURES`.
    detrend
        One of :data:`DETRENDS`.
    permutations, seed, block_length
        Block-permutation test (module notes).
    sigma_m
        Noise std for ``detrend="stages"`` (``None``: estimated).

    Raises
    ------
    InputError
        Bad options, fewer than 4 dates, no lag with 3 covered intervals.
    """
    _check_lag(max_lag_months)
    start, end, speed = interval_speeds(dates, displacement_m, detrend=detrend, sigma_m=sigma_m)
    values = np.array(
        [
            precipitation_in_windows(
                precip, start - lag * DAYS_PER_MONTH, end - lag * DAYS_PER_MONTH, measure=measure
            )
            for lag in range(max_lag_months + 1)
        ]
    )
    units = "mm/day" if measure == "mean" else "mm"
    return _correlate(
        "precipitation", units, values, start, end, speed, detrend, permutations, seed, block_length
    )


def correlate_backscatter(
    dates: np.ndarray,
    displacement_m: np.ndarray,
    backscatter_dates: np.ndarray,
    backscatter_db: np.ndarray,
    *,
    max_lag_months: int = 6,
    detrend: str = "none",
    permutations: int = 2000,
    seed: int = 0,
    block_length: int | None = None,
    sigma_m: float | None = None,
) -> LagCorrelation:
    """Correlation of the interval speeds with the mean backscatter (dB) over each interval,
    shifted back 0..``max_lag_months`` months (options as :func:`correlate_precipitation`)."""
    _check_lag(max_lag_months)
    start, end, speed = interval_speeds(dates, displacement_m, detrend=detrend, sigma_m=sigma_m)
    values = np.array(
        [
            series_in_windows(
                backscatter_dates, backscatter_db, start - lag * DAYS_PER_MONTH, end - lag * DAYS_PER_MONTH
            )
            for lag in range(max_lag_months + 1)
        ]
    )
    return _correlate(
        "backscatter", "dB", values, start, end, speed, detrend, permutations, seed, block_length
    )
