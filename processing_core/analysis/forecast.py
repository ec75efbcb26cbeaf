"""Failure-time forecast from the inverse velocity of the tertiary creep stage.

Fukuzono (1985) found that in accelerating (tertiary) creep before failure the inverse velocity
falls linearly with time and reaches zero at failure. It is the alpha = 2 case of Voight's
(1988) law dv/dt = A v^alpha, whose solution for alpha > 1 is

    v^(1 - alpha) = (alpha - 1) A (t_f - t),

a straight line in time through zero at the failure time t_f. Here:

* the velocity of each acquisition interval is the displacement change over it divided by its
  length (m/day, in the direction of the net motion), placed at the interval's middle; intervals
  that move backwards (v <= 0, noise) cannot enter the inverse and are left out (counted);
* ``y = v^(1 - alpha)`` is fitted by ordinary least squares ``y = a + b t`` over the intervals of
  the tertiary stage, from the acceleration onset found by
  :func:`processing_core.analysis.stages.detect_stages` (or a given start date) to the end;
* ``t_f = -a / b`` (requires b < 0) with the **Fieller** confidence interval of this ratio: the
  times whose predicted mean y is compatible with zero, |a + b t| <= t_{n-2} se(a + b t), a
  quadratic inequality; it is bounded only when the slope is significantly negative
  (|b| / se(b) > t_{n-2}), otherwise the interval is unbounded and reported as ``None``;
* the **first warning date** replays the analysis with the data available at each acquisition
  (the onset re-detected from those data alone, unless a start is given) and returns the first
  acquisition at which the slope is significantly negative and the forecast failure lies on or
  after that date.

References: Fukuzono, T. (1985), A new method for predicting the failure time of a slope,
Proc. 4th Int. Conf. and Field Workshop on Landslides, Tokyo, 145-150; Voight, B. (1988),
Nature 332, 125-130, doi:10.1038/332125a0; Liu et al. (2020), GRL 47, e2019GL086142,
doi:10.1029/2019GL086142 (Baige: sliding stage after 2018-05-28, failure on 2018-10-11).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from processing_core.analysis.series import date_of_day, day_numbers, iso, to_dates, valid_days_values
from processing_core.analysis.stages import detect_stages
from processing_core.errors import InputError

STARTS = ("onset", "first")
"""Named starts of the fitted stage: the acceleration onset, or the first date."""


@dataclass(frozen=True)
class InverseVelocityFit:
    """A straight-line fit of v^(1 - alpha) against time and its zero crossing."""

    failure_day: float | None
    """Day number (days since 1970-01-01) where the line reaches zero; ``None`` if b >= 0."""
    ci_low_day: float | None
    """Lower Fieller bound, day number; ``None`` when the interval is unbounded."""
    ci_high_day: float | None
    """Upper Fieller bound, day number; ``None`` when unbounded."""
    intercept: float
    """a, (day/m)^(alpha - 1), at day 0 of :attr:`origin_day`."""
    slope_per_day: float
    """b, (day/m)^(alpha - 1) per day."""
    slope_std_per_day: float
    """Least-squares std of b."""
    origin_day: float
    """Day number of t = 0 in the fit."""
    r2: float
    """Coefficient of determination."""
    n: int
    """Intervals used."""

    @property
    def significant(self) -> bool:
        """True when the Fieller interval is bounded (slope significantly negative)."""
        return self.ci_low_day is not None and self.slope_per_day < 0


@dataclass(frozen=True)
class Forecast:
    """Inverse-velocity failure forecast of one displacement series."""

    failure_date: np.datetime64 | None
    """Forecast failure date (``datetime64[D]``); ``None`` if the inverse velocity does not fall."""
    ci_low: np.datetime64 | None
    """Start of the confidence interval of the failure date; ``None`` when unbounded."""
    ci_high: np.datetime64 | None
    """End of the confidence interval; ``None`` when unbounded."""
    first_warning_date: np.datetime64 | None
    """First acquisition whose data alone gave a significant forecast in the future."""
    first_warning_forecast: tuple[np.datetime64 | None, np.datetime64 | None, np.datetime64 | None]
    """(failure date, ci low, ci high) as forecast on :attr:`first_warning_date`."""
    start_date: np.datetime64
    """First acquisition of the fitted stage."""
    start_source: str
    """``onset`` (detected), ``first`` (whole series) or ``given``."""
    alpha: float
    """Voight's exponent (2: Fukuzono's inverse velocity)."""
    confidence: float
    """Confidence level of the interval."""
    fit: InverseVelocityFit
    """The straight-line fit on all the data."""
    mid_dates: np.ndarray
    """Middle of every interval of the stage (``datetime64[D]``)."""
    velocity_m_per_day: np.ndarray
    """Velocity of every interval in the direction of motion, m/day (<= 0: left out)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report."""
        f = self.fit
        return {
            "failure_date": iso(self.failure_date),
            "ci_low": iso(self.ci_low),
            "ci_high": iso(self.ci_high),
            "confidence": self.confidence,
            "first_warning_date": iso(self.first_warning_date),
            "first_warning_forecast": {
                "failure_date": iso(self.first_warning_forecast[0]),
                "ci_low": iso(self.first_warning_forecast[1]),
                "ci_high": iso(self.first_warning_forecast[2]),
            },
            "start_date": iso(self.start_date),
            "start_source": self.start_source,
            "alpha": self.alpha,
            "fit": {
                "intercept": f.intercept,
                "slope_per_day": f.slope_per_day,
                "slope_std_per_day": f.slope_std_per_day,
                "origin_date": iso(date_of_day(f.origin_day)),
                "r2": f.r2,
                "n_intervals": f.n,
                "units": f"(day/m)^{self.alpha - 1:g}",
            },
            "intervals": [
                {"mid_date": iso(d), "velocity_m_per_day": v}
                for d, v in zip(self.mid_dates, self.velocity_m_per_day)
            ],
            "intervals_left_out_not_moving": int(np.sum(~(self.velocity_m_per_day > 0))),
        }


def interval_velocities(days: np.ndarray, y: np.ndarray, direction: float) -> tuple[np.ndarray, np.ndarray]:
    """(middle day, velocity m/day in the direction of motion) of each acquisition interval."""
    return 0.5 * (days[1:] + days[:-1]), direction * np.diff(y) / np.diff(days)


def fit_inverse_velocity(
    mid_days: np.ndarray, velocity_m_per_day: np.ndarray, *, alpha: float = 2.0, confidence: float = 0.95
) -> InverseVelocityFit:
    """Fit v^(1 - alpha) = a + b t and return the zero crossing with its Fieller interval.

    Parameters
    ----------
    mid_days
        Interval middles, day numbers.
    velocity_m_per_day
        Velocities, m/day; values <= 0 or NaN are left out.
    alpha
        Voight's exponent, > 1 (2 = Fukuzono).
    confidence
        Level of the interval.

    Raises
    ------
    InputError
        Fewer than three usable intervals.
    """
    ok = np.isfinite(velocity_m_per_day) & (velocity_m_per_day > 0)
    t_all, v = np.asarray(mid_days, dtype=np.float64)[ok], velocity_m_per_day[ok]
    n = len(v)
    if n < 3:
        raise InputError(f"the inverse-velocity fit needs at least 3 moving intervals, got {n}")
    origin = float(t_all[0])
    t = t_all - origin
    y = v ** (1.0 - alpha)
    x = np.column_stack([np.ones(n), t])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    a, b = float(coef[0]), float(coef[1])
    resid = y - x @ coef
    s2 = float(resid @ resid) / (n - 2)
    cov = s2 * np.linalg.inv(x.T @ x)
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(resid @ resid) / total if total > 0 else 1.0
    failure = lo = hi = None
    if b < 0:
        failure = origin - a / b
        tc = float(stats.t.ppf(0.5 + confidence / 2, n - 2))
        qa = b * b - tc * tc * cov[1, 1]
        qb = 2.0 * (a * b - tc * tc * cov[0, 1])
        qc = a * a - tc * tc * cov[0, 0]
        if qa > 0:
            disc = max(qb * qb - 4 * qa * qc, 0.0)
            roots = sorted(((-qb - math.sqrt(disc)) / (2 * qa), (-qb + math.sqrt(disc)) / (2 * qa)))
            lo, hi = origin + roots[0], origin + roots[1]
    return InverseVelocityFit(failure, lo, hi, a, b, float(math.sqrt(max(cov[1, 1], 0.0))), origin, r2, n)


def _start_index(days, y, start, sigma_m) -> int | None:
    """Index of the first acquisition of the fitted stage (None: no onset in these data)."""
    if isinstance(start, str):
        if start == "first":
            return 0
        result = detect_stages(to_dates([date_of_day(d) for d in days]), y, sigma_m=sigma_m)
        if result.onset is None:
            return None
        return int(np.searchsorted(days, day_numbers(np.array([result.onset.date]))[0], side="left"))
    return int(np.searchsorted(days, day_numbers(to_dates([start]))[0], side="left"))


def forecast_failure(
    dates: np.ndarray,
    displacement_m: np.ndarray,
    *,
    start: str | np.datetime64 = "onset",
    alpha: float = 2.0,
    confidence: float = 0.95,
    min_intervals: int = 3,
    sigma_m: float | None = None,
    warning: bool = True,
) -> Forecast:
    """Inverse-velocity failure forecast of a displacement series.

    Parameters
    ----------
    dates, displacement_m
        The series (NaN values dropped), m.
    start
        ``"onset"`` (the acceleration onset of :func:`detect_stages`), ``"first"`` (the whole
        series) or a date: the fit uses the intervals from the first acquisition on or after it.
    alpha
        Voight's exponent, > 1; 2 is Fukuzono's inverse velocity.
    confidence
        Level of the Fieller interval and of the warning test (0-1).
    min_intervals
        Fewest moving intervals for a fit (>= 3).
    sigma_m
        Noise std for the stage detection (``None``: estimated).
    warning
        Also replay the forecast date by date for the first warning date.

    Raises
    ------
    InputError
        Bad options, no acceleration onset (with ``start="onset"``), too few intervals.
    """
    days, y = valid_days_values(dates, displacement_m)
    if not (isinstance(alpha, (int, float)) and alpha > 1):
        raise InputError(f"alpha must be > 1, got {alpha!r}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be in (0, 1), got {confidence}")
    if not (isinstance(min_intervals, (int, np.integer)) and min_intervals >= 3):
        raise InputError(f"min_intervals must be an integer >= 3, got {min_intervals!r}")
    if isinstance(start, str) and start not in STARTS:
        raise InputError(f"start must be one of {STARTS} or a date, got {start!r}")
    if len(days) < min_intervals + 1:
        raise InputError(f"the forecast needs at least {min_intervals + 1} valid dates, got {len(days)}")
    i0 = _start_index(days, y, start, sigma_m)
    if i0 is None:
        raise InputError("no acceleration onset (tertiary stage) in the series; give a start date")
    if len(days) - 1 - i0 < min_intervals:
        raise InputError(
            f"only {len(days) - 1 - i0} intervals after the start {date_of_day(days[min(i0, len(days) - 1)])}; "
            f"need {min_intervals}"
        )
    direction = 1.0 if y[-1] - y[i0] >= 0 else -1.0
    mid, vel = interval_velocities(days[i0:], y[i0:], direction)
    fit = fit_inverse_velocity(mid, vel, alpha=alpha, confidence=confidence)
    first: tuple[Any, ...] = (None, None, None, None)
    if warning:
        first = _first_warning(days, y, start, alpha, confidence, min_intervals, sigma_m)

    def day(value: float | None) -> np.datetime64 | None:
        return None if value is None else date_of_day(value)

    return Forecast(
        failure_date=day(fit.failure_day),
        ci_low=day(fit.ci_low_day),
        ci_high=day(fit.ci_high_day),
        first_warning_date=first[0],
        first_warning_forecast=(first[1], first[2], first[3]),
        start_date=date_of_day(days[i0]),
        start_source="given" if not isinstance(start, str) else start,
        alpha=float(alpha),
        confidence=confidence,
        fit=fit,
        mid_dates=to_dates([date_of_day(d) for d in mid]),
        velocity_m_per_day=vel,
    )


def _first_warning(days, y, start, alpha, confidence, min_intervals, sigma_m) -> tuple[Any, ...]:
    """(date, failure, ci low, ci high) at the first acquisition that allowed a warning."""
    for j in range(min_intervals, len(days)):
        try:
            i0 = _start_index(days[: j + 1], y[: j + 1], start, sigma_m)
        except InputError:
            continue
        if i0 is None or j - i0 < min_intervals:
            continue
        direction = 1.0 if y[j] - y[i0] >= 0 else -1.0
        mid, vel = interval_velocities(days[i0 : j + 1], y[i0 : j + 1], direction)
        try:
            fit = fit_inverse_velocity(mid, vel, alpha=alpha, confidence=confidence)
        except InputError:
            continue
        if fit.significant and fit.failure_day is not None and fit.failure_day >= days[j]:
            return (
                date_of_day(days[j]),
                date_of_day(fit.failure_day),
                date_of_day(fit.ci_low_day),  # type: ignore[arg-type]
                date_of_day(fit.ci_high_day),  # type: ignore[arg-type]
            )
    return (None, None, None, None)
