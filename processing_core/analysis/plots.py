"""PNG figures of the analyses (matplotlib's object API on an Agg canvas: no pyplot state, no
display, safe inside QGIS). Every function writes atomically and returns the path, or ``None``
when matplotlib is missing."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from processing_core.analysis.correlate import LagCorrelation
from processing_core.analysis.covariates import MonthlySeries
from processing_core.analysis.forecast import Forecast
from processing_core.analysis.series import PointSeries
from processing_core.analysis.stages import StageResult
from processing_core.figure_files import save_png

_KIND_COLOURS = {"primary": "tab:green", "secondary": "tab:blue", "tertiary": "tab:red"}


def _figure(size: tuple[float, float], rows: int = 1) -> tuple[Any, list[Any]] | None:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    fig = Figure(figsize=size, constrained_layout=True)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(rows, 1, k + 1) for k in range(rows)]
    return fig, axes


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    return save_png(fig, path, dpi=90)


def _dates(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[D]").astype("datetime64[s]").astype(object)


def plot_series(path: str | os.PathLike[str], series: Sequence[PointSeries]) -> Path | None:
    """LOS and azimuth displacement against time (error bars: the std columns), one line per point.

    Azimuth is drawn as stored (positive along the flight direction, DESIGN.md)."""
    made = _figure((9, 6.5), rows=2)
    if made is None:
        return None
    fig, (ax_los, ax_az) = made
    for s in series:
        label = (
            s.name
            or f"lon {s.info.get('lon_deg', float('nan')):.5f}, lat {s.info.get('lat_deg', float('nan')):.5f}"
        )
        for ax, values, std in ((ax_los, s.los_m, s.los_std_m), (ax_az, s.azimuth_m, s.azimuth_std_m)):
            ax.errorbar(_dates(s.dates), values, yerr=std, marker="o", ms=3, lw=1, capsize=2, label=label)
    ax_los.set_ylabel("LOS displacement (m)\nnegative = away from the sensor")
    ax_az.set_ylabel("azimuth displacement (m)\npositive = along the flight direction")
    radius = series[0].info.get("radius_m", 0.0) if series else 0.0
    ax_los.set_title(
        "Point time series" + (f" (mean within {radius:g} m)" if radius else " (nearest node)"), fontsize=10
    )
    for ax in (ax_los, ax_az):
        ax.grid(alpha=0.3)
    ax_los.legend(fontsize=8)
    ax_az.set_xlabel("date")
    return _save(fig, path)


def plot_stages(path: str | os.PathLike[str], result: StageResult, *, title: str = "") -> Path | None:
    """Data, the piecewise-linear fit coloured by creep stage, break-date intervals shaded."""
    made = _figure((10, 5.5))
    if made is None:
        return None
    fig, (ax,) = made
    ax.plot(_dates(result.dates), result.displacement_m, "k.", ms=6, label="displacement")
    for k, s in enumerate(result.stages):
        ax.plot(
            _dates(np.array([s.start, s.end])),
            result.vertices_m[k : k + 2],
            color=_KIND_COLOURS[s.kind],
            lw=2,
            label=f"{s.kind}: {s.rate_mm_per_day:.1f} ± {s.rate_std_mm_per_day:.1f} mm/day",
        )
    for b in result.breaks:
        ax.axvspan(
            _dates(np.array([b.date_low]))[0], _dates(np.array([b.date_high]))[0], color="0.8", alpha=0.5
        )
        ax.axvline(_dates(np.array([b.date]))[0], color="0.4", lw=0.8, ls="--")
    if result.onset is not None:
        ax.axvline(
            _dates(np.array([result.onset.date]))[0],
            color="tab:red",
            lw=1.2,
            label=f"acceleration onset {result.onset.date}",
        )
    ax.set_xlabel("date")
    ax.set_ylabel("displacement (m)")
    ax.set_title(
        title or f"Creep stages ({int(100 * result.confidence)} % intervals of the break dates shaded)",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _save(fig, path)


def plot_forecast(path: str | os.PathLike[str], forecast: Forecast, *, title: str = "") -> Path | None:
    """Inverse velocity of each interval, the fitted line, the failure date and its interval."""
    made = _figure((9, 5))
    if made is None:
        return None
    fig, (ax,) = made
    v = forecast.velocity_m_per_day
    ok = v > 0
    y = np.where(ok, np.abs(v) ** (1.0 - forecast.alpha), np.nan)
    ax.plot(_dates(forecast.mid_dates[ok]), y[ok], "ko", ms=5, label="intervals")
    f = forecast.fit
    end = f.failure_day if f.failure_day is not None else float(forecast.mid_dates[-1].astype(np.int64))
    t = np.linspace(f.origin_day, max(end, f.origin_day + 1.0), 50)
    line = f.intercept + f.slope_per_day * (t - f.origin_day)
    ax.plot(_dates(np.round(t).astype("datetime64[D]")), line, color="tab:blue", label="least squares")
    if forecast.failure_date is not None:
        ax.axvline(
            _dates(np.array([forecast.failure_date]))[0],
            color="tab:red",
            label=f"failure {forecast.failure_date}",
        )
    if forecast.ci_low is not None and forecast.ci_high is not None:
        ax.axvspan(
            _dates(np.array([forecast.ci_low]))[0],
            _dates(np.array([forecast.ci_high]))[0],
            color="tab:red",
            alpha=0.15,
            label=f"{int(100 * forecast.confidence)} % interval {forecast.ci_low} .. {forecast.ci_high}",
        )
    if forecast.first_warning_date is not None:
        ax.axvline(
            _dates(np.array([forecast.first_warning_date]))[0],
            color="tab:orange",
            ls="--",
            label=f"first warning {forecast.first_warning_date}",
        )
    unit = "day/m" if forecast.alpha == 2 else f"(day/m)^{forecast.alpha - 1:g}"
    ax.set_ylabel(f"inverse velocity ({unit})")
    ax.set_xlabel("date")
    ax.set_ylim(bottom=0)
    ax.set_title(title or "Inverse-velocity failure forecast (Fukuzono 1985)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_correlation(
    path: str | os.PathLike[str],
    results: Sequence[LagCorrelation],
    *,
    precip: MonthlySeries | None = None,
    backscatter: tuple[np.ndarray, np.ndarray] | None = None,
) -> Path | None:
    """Top: interval speeds with the monthly precipitation and/or the backscatter; bottom: r per
    lag, filled where the permutation p-value is below 0.05."""
    made = _figure((10, 7), rows=2)
    if made is None:
        return None
    fig, (top, bottom) = made
    first = results[0]
    edges = np.concatenate([first.interval_start, first.interval_end[-1:]])
    top.stairs(first.speed_mm_per_day, _dates(edges), color="k", lw=1.5, label="speed (mm/day)")
    top.set_ylabel("speed (mm/day)")
    top.grid(alpha=0.3)
    if precip is not None:
        twin = top.twinx()
        twin.bar(
            _dates(precip.months.astype("datetime64[D]")),
            precip.values,
            width=25,
            color="tab:blue",
            alpha=0.35,
            align="edge",
        )
        twin.set_ylabel("monthly precipitation (mm)", color="tab:blue")
    elif backscatter is not None:
        twin = top.twinx()
        twin.plot(_dates(backscatter[0]), backscatter[1], "s-", color="tab:brown", ms=3)
        twin.set_ylabel("mean backscatter (dB)", color="tab:brown")
    top.set_title("Displacement speed per acquisition interval", fontsize=10)
    markers = {"precipitation": ("o", "tab:blue"), "backscatter": ("s", "tab:brown")}
    for res in results:
        marker, colour = markers.get(res.covariate, ("^", "tab:gray"))
        bottom.plot(res.lags_months, res.r, "-", color=colour, lw=1)
        sig = res.p_value < 0.05
        bottom.scatter(
            res.lags_months[sig],
            res.r[sig],
            marker=marker,
            color=colour,
            zorder=3,
            label=f"{res.covariate} (p < 0.05)",
        )
        bottom.scatter(
            res.lags_months[~sig],
            res.r[~sig],
            marker=marker,
            facecolor="white",
            edgecolor=colour,
            zorder=3,
            label=f"{res.covariate}",
        )
        bottom.annotate(
            f"best {res.best_lag_months} mo, r = {res.best_r:.2f}, p = {res.best_p_value:.3g}",
            (res.best_lag_months, res.best_r),
            textcoords="offset points",
            xytext=(5, 5),
            fontsize=8,
            color=colour,
        )
    bottom.axhline(0, color="0.5", lw=0.8)
    bottom.set_xlabel("lag (months; covariate earlier than the displacement)")
    bottom.set_ylabel("Pearson r")
    bottom.set_ylim(-1.05, 1.05)
    bottom.grid(alpha=0.3)
    bottom.legend(fontsize=8)
    return _save(fig, path)
