"""Figures of the run report (matplotlib, Agg): rate maps, point series, Figure-1 comparison."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from processing_core.figure_files import save_png
from processing_core.report.compare import PairComparison


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, dst: Path) -> Path:
    out = save_png(fig, dst, dpi=80)
    _pyplot().close(fig)
    return out


def _limit(*arrays: np.ndarray) -> float:
    values = np.concatenate([np.abs(a[np.isfinite(a)]).ravel() for a in arrays])
    return float(np.percentile(values, 99.5)) if values.size else 1.0


def rate_maps(
    rates: dict[str, tuple[list[str], np.ndarray]], extent: tuple[float, float, float, float], dst: Path
) -> Path:
    """One row per component (LOS, azimuth), one column per period: mean rate, m/yr.

    ``rates`` maps a component to (period names, array (periods, rows, cols)); ``extent`` is
    (first sample, last sample, last line, first line) of the offset grid in master pixels.
    """
    plt = _pyplot()
    comps = list(rates)
    n = max(len(names) for names, _ in rates.values())
    fig, axes = plt.subplots(len(comps), n, figsize=(3.2 * n, 5.2 * len(comps)), squeeze=False)
    for r, comp in enumerate(comps):
        names, data = rates[comp]
        limit = _limit(data) or 1.0
        for c in range(n):
            ax = axes[r][c]
            if c >= len(names):
                ax.axis("off")
                continue
            im = ax.imshow(data[c], cmap="RdBu", vmin=-limit, vmax=limit, extent=extent, aspect="auto")
            ax.set_title(f"{comp} {names[c]}", fontsize=8)
            ax.set_xlabel("range sample", fontsize=7)
            ax.tick_params(labelsize=6)
        axes[r][0].set_ylabel("azimuth line", fontsize=7)
        fig.colorbar(im, ax=list(axes[r]), shrink=0.8, label=f"{comp} rate (m/yr)")
    return _save(fig, dst)


def point_series(
    dates: Sequence[np.datetime64],
    series: dict[str, dict[str, np.ndarray]],
    truth: dict[str, dict[str, np.ndarray]],
    dst: Path,
) -> Path:
    """LOS and azimuth time series of named points (like the paper's Figure 3), truth dashed."""
    plt = _pyplot()
    names = list(series)
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 2.6 * len(names)), squeeze=False, sharex=True)
    t = np.asarray(dates, dtype="datetime64[D]")
    for ax, name in zip(axes[:, 0], names):
        for comp, colour in (("los", "tab:blue"), ("azimuth", "tab:red")):
            values = series[name][comp]
            std = series[name].get(f"{comp}_std")
            ax.errorbar(t, values, yerr=std, fmt="o-", ms=3, lw=1, color=colour, label=f"{comp} (run)")
            if name in truth:
                ax.plot(t, truth[name][comp], "--", color=colour, lw=1, label=f"{comp} (truth)")
        ax.set_ylabel(f"{name} (m)")
        ax.grid(alpha=0.3)
        ax.axhline(0, color="k", lw=0.5)
    axes[0, 0].legend(fontsize=7, ncol=4, loc="lower left")
    axes[-1, 0].set_xlabel("date")
    fig.suptitle("Cumulative displacement (LOS: negative = away from the sensor; azimuth: + along flight)")
    fig.tight_layout()
    return _save(fig, dst)


def figure1(comparison: PairComparison, dst: Path) -> Path:
    """Traditional (top) and improved (bottom) LOS and azimuth deformation of the pair (paper, Figure 1)."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(8, 9), squeeze=False)
    rows = (
        ("traditional", comparison.traditional),
        ("improved", comparison.improved),
    )
    los = [f.range_px * comparison.los_per_px for _, f in rows]
    az = [f.azimuth_px * comparison.azimuth_per_px for _, f in rows]
    lim_los, lim_az = _limit(los[1]), _limit(az[1])
    f = comparison.improved
    extent = (f.cols[0], f.cols[-1], f.rows[-1], f.rows[0])
    for r, (label, _) in enumerate(rows):
        for c, (data, lim, comp) in enumerate(((los[r], lim_los, "LOS"), (az[r], lim_az, "azimuth"))):
            ax = axes[r][c]
            im = ax.imshow(data, cmap="RdBu", vmin=-lim, vmax=lim, extent=extent, aspect="auto")
            ax.set_title(f"{comp}, {label}", fontsize=9)
            ax.tick_params(labelsize=6)
            fig.colorbar(im, ax=ax, shrink=0.8, label="m")
    fig.suptitle(
        f"Deformation {comparison.earlier} -> {comparison.later} ({comparison.days} days)", fontsize=10
    )
    fig.tight_layout()
    return _save(fig, dst)
