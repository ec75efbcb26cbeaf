"""Accuracy of a simulated stack's rate maps against its truth (``truth/<component>.tif``).

The truth rasters hold the displacement of every master pixel at every date, metres relative
to the first date; the time series are on the offset node grid. The mean rate of a period from
the truth is the same least-squares line through the truth's series at the period's dates
(:func:`~processing_core.timeseries_tasks.period_rate`), at the pixel under each node, compared
with the ``<component>_rate.tif`` band of that period where the pairs connect every date (rank
``n_dates - 1``) and inside the landslide: nodes whose true rate magnitude exceeds half the
period's peak. Issue 7 asks for rate maps within 10 % of the truth there.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
from osgeo import gdal

from processing_core.radar_grids import SubGrid
from processing_core.timeseries_tasks import period_rate

gdal.UseExceptions()


def rate_accuracy(root: str | Path, component: str = "los") -> dict[str, dict[str, float | int | str]]:
    """Per rate band: nodes compared, median relative error and the fraction within 10 %.

    Returns ``{}`` when the stack has no truth or no time series of ``component``. Keys are the
    bands' ``PERIOD`` names; values ``{"start", "end", "nodes", "median_relative_error",
    "within_10_percent", "landslide_mean_m_per_yr", "truth_mean_m_per_yr"}``.
    """
    root = Path(root)
    truth_path = root / "truth" / f"{component}.tif"
    rate_path = root / "timeseries" / f"{component}_rate.tif"
    count_path = root / "timeseries" / f"{component}_count.tif"
    if not (truth_path.exists() and rate_path.exists() and count_path.exists()):
        return {}
    truth_ds = gdal.Open(str(truth_path))
    band_dates = [
        dt.date.fromisoformat(truth_ds.GetRasterBand(k + 1).GetMetadataItem("DATE"))
        for k in range(truth_ds.RasterCount)
    ]
    rate_ds = gdal.Open(str(rate_path))
    grid = SubGrid.from_metadata(
        rate_ds.GetMetadata(), (rate_ds.RasterYSize, rate_ds.RasterXSize), where=str(rate_path)
    )
    rows = np.clip(np.floor(grid.lines()).astype(int), 0, truth_ds.RasterYSize - 1)
    cols = np.clip(np.floor(grid.samples()).astype(int), 0, truth_ds.RasterXSize - 1)
    from processing_core.report import full_rank  # here: the report package imports this module

    full = full_rank(root, component, truth_ds.RasterCount)
    # The truth at the pixel under each node, every date, read once for all the periods.
    at_nodes = np.array(
        [
            truth_ds.GetRasterBand(b + 1).ReadAsArray().astype(np.float64)[np.ix_(rows, cols)]
            for b in range(truth_ds.RasterCount)
        ]
    )
    out: dict[str, dict[str, float | int | str]] = {}
    for k in range(rate_ds.RasterCount):
        band = rate_ds.GetRasterBand(k + 1)
        meta = band.GetMetadata()
        start, end = dt.date.fromisoformat(meta["START"]), dt.date.fromisoformat(meta["END"])
        if start not in band_dates or end not in band_dates:
            continue
        period = [b for b, d in enumerate(band_dates) if start <= d <= end]
        truth = period_rate([band_dates[b] for b in period], at_nodes[period])
        estimate = band.ReadAsArray().astype(np.float64)
        peak = float(np.nanmax(np.abs(truth))) if np.isfinite(truth).any() else 0.0
        inside = full & np.isfinite(estimate) & np.isfinite(truth) & (np.abs(truth) > 0.5 * peak) & (peak > 0)
        if not inside.any():
            continue
        relative = np.abs(estimate[inside] - truth[inside]) / np.abs(truth[inside])
        out[str(meta.get("PERIOD", band.GetDescription()))] = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "nodes": int(inside.sum()),
            "median_relative_error": float(np.median(relative)),
            "within_10_percent": float(np.mean(relative <= 0.1)),
            "landslide_mean_m_per_yr": float(estimate[inside].mean()),
            "truth_mean_m_per_yr": float(truth[inside].mean()),
        }
    return out
