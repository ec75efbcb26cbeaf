"""Creep stages of a displacement time series: continuous piecewise-linear segmentation.

Model: the displacement is continuous and piecewise linear in time, with K - 1 break dates
(slope changes) and one constant rate per stage; the noise is white with one standard deviation
sigma (given, or estimated robustly from the residuals of each point from the chord of its
neighbours). The number of stages minimises the penalised least-squares cost
``SSE / sigma^2 + beta * (K - 1)`` with the BIC penalty ``beta = 2 ln n`` (each break adds a date
and a slope change).

1. **Exact dynamic programme** over candidate break dates: every acquisition date and
   ``subdivisions - 1`` dates evenly inside each acquisition interval (a break between two
   acquisitions is where the two stages' lines meet, not at an acquisition). Continuity couples
   neighbouring segments through the value at the break, so the cost of the best segmentation
   ending at a candidate is a piecewise quadratic function of that value; the recursion keeps
   the quadratics that are minimal for some value (functional pruning), as in CPOP (Fearnhead,
   Maidstone & Letchford 2019, J. Comput. Graph. Stat. 28, doi:10.1080/10618600.2018.1512868).
   The optimum over the candidate grid is exact.
2. **Refinement** of each break to the day (coordinate descent, each break within one acquisition
   interval of its grid position) and backward elimination of breaks that no longer pay their
   penalty.
3. **Uncertainty**: each break date gets a profile-likelihood interval (the dates whose best fit,
   with the other breaks fixed, raises the SSE by at most ``F(1, n - p; confidence) s^2``, or
   ``chi2(1; confidence) sigma^2`` with a given sigma); a break between two acquisitions is never
   located better than the data allow, and a break before a single last acquisition spans that
   whole interval. Stage rates carry the least-squares std at fixed breaks and a range that also
   moves the breaks across their intervals.

Creep stages (Saito 1969; the creep curve of Liu et al. 2020, section 5.1 and their Figure S7):
the longest stage is the steady (**secondary**) creep; stages before it are **primary** (initial
deformation; Saito's primary creep decelerates into the steady stage, Liu et al. also call their
slower initial 6 mm/day stage so); a stage after it whose speed exceeds the secondary speed
beyond its uncertainty is **tertiary** (accelerating) creep, otherwise it stays secondary. The
**acceleration onset** is the first break after the secondary stage that starts a tertiary stage.
Each stage also says how its speed changed from the previous stage (``increase``, ``decrease``,
``none`` within uncertainty). Speed is the rate in the direction of the net motion (for a
landslide moving away from the radar, LOS rates are negative and speeds positive).

References: Saito, M. (1969), Forecasting time of slope failure by tertiary creep, Proc. 7th
ICSMFE 2, 677-683; Liu et al. (2020), GRL 47, e2019GL086142, doi:10.1029/2019GL086142.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from processing_core.analysis.segmentation import (
    SIGMA_FLOOR_M,
    candidates,
    cpop,
    design,
    eliminate,
    refine,
    robust_sigma_m,
    scan,
)
from processing_core.analysis.series import date_of_day, iso, to_dates, valid_days_values
from processing_core.errors import InputError

KINDS = ("primary", "secondary", "tertiary")
"""Creep stage kinds."""
CHANGES = ("first", "increase", "decrease", "none")
"""Speed change of a stage from the previous one."""


@dataclass(frozen=True)
class Break:
    """A change of rate between two stages."""

    date: np.datetime64
    """Least-squares break date (``datetime64[D]``)."""
    date_low: np.datetime64
    """Start of the profile-likelihood confidence interval of the date."""
    date_high: np.datetime64
    """End of the confidence interval of the date."""
    acquisition_before: np.datetime64
    """Last acquisition on or before :attr:`date`."""
    acquisition_after: np.datetime64
    """First acquisition after :attr:`date`."""
    rate_change_mm_per_day: float
    """Rate after minus rate before, mm/day (signed like the series)."""
    rate_change_std_mm_per_day: float
    """Least-squares std of the rate change (break dates fixed), mm/day."""


@dataclass(frozen=True)
class Stage:
    """A stage of constant rate."""

    start: np.datetime64
    """First day (the series' first date or the previous break)."""
    end: np.datetime64
    """Last day (the next break or the series' last date)."""
    rate_mm_per_day: float
    """Displacement rate, mm/day (signed like the series)."""
    rate_std_mm_per_day: float
    """Least-squares std of the rate with the break dates fixed, mm/day."""
    rate_low_mm_per_day: float
    """Lower end of the rate range: rate - z std, also with the bounding breaks moved to the ends
    of their date intervals, mm/day."""
    rate_high_mm_per_day: float
    """Upper end of that range, mm/day (large when a single acquisition follows the break)."""
    n_acquisitions: int
    """Acquisitions with start <= date <= end."""
    kind: str
    """Creep stage, one of :data:`KINDS`."""
    change: str
    """Speed change from the previous stage, one of :data:`CHANGES`."""


@dataclass(frozen=True)
class StageResult:
    """Segmentation of one displacement series."""

    stages: tuple[Stage, ...]
    """Stages in time order."""
    breaks: tuple[Break, ...]
    """Breaks between consecutive stages (one fewer than stages)."""
    onset: Break | None
    """Acceleration onset: the break that starts the first tertiary stage; ``None`` if none."""
    dates: np.ndarray
    """Acquisition dates used (``datetime64[D]``)."""
    displacement_m: np.ndarray
    """Displacements used, m."""
    fitted_m: np.ndarray
    """Piecewise-linear fit at the acquisition dates, m."""
    vertices_m: np.ndarray
    """The fit at the first date, at every break and at the last date, m (the polyline)."""
    sigma_m: float
    """Noise std that scales the penalty, m."""
    sigma_source: str
    """``given`` or ``estimated`` (robust, from point-to-chord residuals)."""
    residual_rms_m: float
    """Root mean square of the fit residuals, m."""
    penalty: float
    """Penalty per break in units of sigma^2 (BIC: 2 ln n)."""
    confidence: float
    """Confidence level of the intervals and of the significance tests."""
    direction: float
    """+1 or -1: the sign of the net motion; speed = direction * rate."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report (dates ISO, rates mm/day)."""

        def brk(b: Break) -> dict[str, Any]:
            return {
                "date": iso(b.date),
                "date_low": iso(b.date_low),
                "date_high": iso(b.date_high),
                "acquisition_before": iso(b.acquisition_before),
                "acquisition_after": iso(b.acquisition_after),
                "rate_change_mm_per_day": b.rate_change_mm_per_day,
                "rate_change_std_mm_per_day": b.rate_change_std_mm_per_day,
            }

        return {
            "stages": [
                {
                    "start": iso(s.start),
                    "end": iso(s.end),
                    "rate_mm_per_day": s.rate_mm_per_day,
                    "rate_std_mm_per_day": s.rate_std_mm_per_day,
                    "rate_low_mm_per_day": s.rate_low_mm_per_day,
                    "rate_high_mm_per_day": s.rate_high_mm_per_day,
                    "n_acquisitions": s.n_acquisitions,
                    "kind": s.kind,
                    "change": s.change,
                }
                for s in self.stages
            ],
            "breaks": [brk(b) for b in self.breaks],
            "onset": None if self.onset is None else brk(self.onset),
            "sigma_m": self.sigma_m,
            "sigma_source": self.sigma_source,
            "residual_rms_m": self.residual_rms_m,
            "penalty_per_break_sigma2": self.penalty,
            "confidence": self.confidence,
            "n_acquisitions": len(self.dates),
            "fit": [
                {"date": iso(d), "displacement_m": y, "fitted_m": f}
                for d, y, f in zip(self.dates, self.displacement_m, self.fitted_m)
            ],
        }


# -- the public function ---------------------------------------------------------------------------
def detect_stages(
    dates: np.ndarray,
    displacement_m: np.ndarray,
    *,
    sigma_m: float | None = None,
    penalty: float | str = "bic",
    min_points: int = 1,
    subdivisions: int = 2,
    confidence: float = 0.95,
) -> StageResult:
    """Segment a displacement series into stages of constant rate and classify them.

    Parameters
    ----------
    dates
        Acquisition dates (anything :func:`numpy.datetime64` reads), strictly increasing.
    displacement_m
        Displacement at each date, m; NaN values are dropped.
    sigma_m
        Noise std, m; ``None`` estimates it robustly (:func:`robust_sigma_m`).
    penalty
        ``"bic"`` (2 ln n per break) or a number: the penalty per break in units of sigma^2.
    min_points
        Fewest acquisitions in a stage (after its start break; >= 1). 1 lets a final
        acceleration seen at the last acquisition only be its own stage.
    subdivisions
        Candidate break dates per acquisition interval in the exact programme (>= 1; breaks are
        then refined to the day).
    confidence
        Level of the break-date intervals, the rate ranges and the significance tests (0-1).

    Returns
    -------
    StageResult

    Raises
    ------
    ValueError
        Fewer than three valid dates, dates not increasing, bad option values.
    """
    days, y = valid_days_values(dates, displacement_m)
    if len(days) < 3:
        raise InputError(f"stages need at least 3 valid dates, got {len(days)}")
    if np.any(np.diff(days) <= 0):
        raise InputError("dates must increase strictly")
    if not (isinstance(min_points, (int, np.integer)) and min_points >= 1):
        raise InputError(f"min_points must be an integer >= 1, got {min_points!r}")
    if not (isinstance(subdivisions, (int, np.integer)) and subdivisions >= 1):
        raise InputError(f"subdivisions must be an integer >= 1, got {subdivisions!r}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be in (0, 1), got {confidence}")
    n = len(y)
    if penalty == "bic":
        pen = 2.0 * np.log(n)
    elif isinstance(penalty, (int, float)) and not isinstance(penalty, bool) and penalty >= 0:
        pen = float(penalty)
    else:
        raise InputError(f"penalty must be 'bic' or a number >= 0, got {penalty!r}")
    if sigma_m is not None and not (np.isfinite(sigma_m) and sigma_m > 0):
        raise InputError(f"sigma must be > 0 m, got {sigma_m}")
    sigma = float(sigma_m) if sigma_m is not None else robust_sigma_m(days, y)
    span = float(days[-1] - days[0])
    beta_sse = pen * sigma**2
    cand, counts = candidates(days, subdivisions)
    # Removing a straight line changes no break and no SSE, and keeps the numbers small.
    y_detrended = y - np.polyval(np.polyfit(days - days[0], y, 1), days - days[0])
    chosen = cpop((days - days[0]) / span, y_detrended, (cand - days[0]) / span, counts, beta_sse, min_points)
    breaks = np.round(cand[chosen])
    breaks = refine(days, y, breaks, span, min_points)
    breaks = eliminate(days, y, breaks, span, min_points, beta_sse)
    return _summarise(days, y, breaks, span, sigma, sigma_m is not None, pen, confidence, min_points)


def _summarise(days, y, breaks, span, sigma, given, pen, confidence, min_points) -> StageResult:
    n, m = len(y), len(breaks)
    p = 2 + 2 * m
    x = design(days, breaks, span)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    fitted = x @ coef
    sse = float(np.sum((y - fitted) ** 2))
    if given:
        scale2, crit = sigma**2, stats.chi2.ppf(confidence, 1) * sigma**2
    else:
        scale2 = sse / (n - p) if n > p else sigma**2
        scale2 = max(scale2, SIGMA_FLOOR_M**2)
        crit = stats.f.ppf(confidence, 1, max(n - p, 1)) * scale2
    cov = scale2 * np.linalg.pinv(x.T @ x)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    to_mm_day = 1000.0 / span
    grads = [np.concatenate([[0.0, 1.0], (np.arange(m) < k).astype(float)]) for k in range(m + 1)]
    rates = np.array([g @ coef for g in grads]) * to_mm_day
    rate_std = np.array([np.sqrt(max(g @ cov @ g, 0.0)) for g in grads]) * to_mm_day
    # Break-date intervals (profile likelihood, others fixed) and rate ranges.
    intervals = []
    low, high = rates - z * rate_std, rates + z * rate_std
    for k in range(m):
        lo_n = breaks[k - 1] if k > 0 else days[0]
        hi_n = breaks[k + 1] if k + 1 < m else days[-1]
        grid, prof = scan(days, y, breaks, k, lo_n, hi_n, span, min_points, days[-1])
        accepted = grid[prof <= sse + crit] if grid.size else np.array([breaks[k]])
        if accepted.size == 0:
            accepted = np.array([breaks[k]])
        lo_d, hi_d = float(min(accepted.min(), breaks[k])), float(max(accepted.max(), breaks[k]))
        intervals.append((lo_d, hi_d))
        for moved in (lo_d, hi_d):
            trial = breaks.copy()
            trial[k] = moved
            xt = design(days, trial, span)
            ct, *_ = np.linalg.lstsq(xt, y, rcond=None)
            ctov = scale2 * np.linalg.pinv(xt.T @ xt)
            r_t = np.array([g @ ct for g in grads]) * to_mm_day
            s_t = np.array([np.sqrt(max(g @ ctov @ g, 0.0)) for g in grads]) * to_mm_day
            low, high = np.minimum(low, r_t - z * s_t), np.maximum(high, r_t + z * s_t)
    direction = 1.0 if y[-1] - y[0] >= 0 else -1.0
    bounds = np.concatenate([[days[0]], breaks, [days[-1]]])
    durations = np.diff(bounds)
    steady = int(np.argmax(durations))
    kinds, changes = [], []
    for k in range(m + 1):
        if k == 0:
            changes.append("first")
        else:
            dz = direction * coef[1 + k] / max(np.sqrt(cov[1 + k, 1 + k]), 1e-300)
            changes.append("increase" if dz > z else "decrease" if dz < -z else "none")
        if k < steady:
            kinds.append("primary")
        elif k == steady:
            kinds.append("secondary")
        else:
            g = grads[k] - grads[steady]
            dz = direction * (g @ coef) / max(np.sqrt(max(g @ cov @ g, 0.0)), 1e-300)
            kinds.append("tertiary" if dz > z else "secondary")
    stage_list = []
    for k in range(m + 1):
        a, b = bounds[k], bounds[k + 1]
        inside = int(np.sum((days >= a) & (days <= b)))
        stage_list.append(
            Stage(
                date_of_day(a),
                date_of_day(b),
                float(rates[k]),
                float(rate_std[k]),
                float(low[k]),
                float(high[k]),
                inside,
                kinds[k],
                changes[k],
            )
        )
    break_list = []
    for k in range(m):
        j = int(np.searchsorted(days, breaks[k], side="right")) - 1
        break_list.append(
            Break(
                date_of_day(breaks[k]),
                date_of_day(intervals[k][0]),
                date_of_day(intervals[k][1]),
                date_of_day(days[j]),
                date_of_day(days[min(j + 1, n - 1)]),
                float(coef[2 + k] * to_mm_day),
                float(np.sqrt(max(cov[2 + k, 2 + k], 0.0)) * to_mm_day),
            )
        )
    onset = next((break_list[k - 1] for k in range(steady + 1, m + 1) if kinds[k] == "tertiary"), None)
    return StageResult(
        stages=tuple(stage_list),
        breaks=tuple(break_list),
        onset=onset,
        dates=to_dates([date_of_day(d) for d in days]),
        displacement_m=y,
        fitted_m=fitted,
        vertices_m=design(bounds, breaks, span) @ coef,
        sigma_m=sigma,
        sigma_source="given" if given else "estimated",
        residual_rms_m=float(np.sqrt(sse / n)),
        penalty=float(pen),
        confidence=confidence,
        direction=direction,
    )
