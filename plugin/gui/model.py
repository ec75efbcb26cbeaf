"""What the time-series dock plots, independent of QGIS layers and of the plotting library.

A :class:`Series` is one plotted location (a pixel, a point feature or a polygon mean) with its
LOS and azimuth cumulative displacement per date (metres, relative to the first date, DESIGN.md
signs) and their standard deviations where known. A :class:`PlotModel` is everything one plot
shows: the series, the platform periods (from ``stack.json``), the creep stages (computed by
``processing_core.analysis.stages`` when that module is importable) and monthly precipitation.
The plotting backends (:mod:`.plotting`) draw a model; the dock builds it.

No science here: the reference subtraction is a difference of two series, the stages come from
the core.
"""

from __future__ import annotations

import csv
import importlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

COMPONENTS = ("los", "azimuth")
"""Displacement components, in plot order (one axis each)."""

#: matplotlib's "tab10" colours: the plot line and the map marker of series i share colour i
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


@dataclass
class Series:
    """Displacement time series of one plotted location."""

    label: str
    """Legend text (layer and pixel, feature name, "polygon 1", ...)."""
    dates: np.ndarray
    """Dates, ``datetime64[D]``, increasing."""
    values: dict[str, np.ndarray]
    """Component (``los``, ``azimuth``) -> displacement per date, m (NaN where missing)."""
    std: dict[str, np.ndarray] = field(default_factory=dict)
    """Component -> standard deviation per date, m, where known."""
    source: str = ""
    """File the values come from (its ``stack.json`` gives the platform periods)."""
    location: tuple[float, float] | None = None
    """Map point in the canvas CRS (for the marker); ``None`` for a polygon."""
    polygon_wkt: str = ""
    """Polygon in the canvas CRS (WKT) for a polygon mean."""
    info: dict[str, Any] = field(default_factory=dict)
    """Where the values come from: layer, pixel row/col, feature id, pixel count, ..."""


@dataclass(frozen=True)
class Period:
    """The span of one platform's acquisitions."""

    platform: str
    start: np.datetime64
    end: np.datetime64


@dataclass(frozen=True)
class StageLine:
    """Creep stages of one series (from ``processing_core.analysis.stages``)."""

    label: str
    """Label of the series segmented."""
    dates: np.ndarray
    """Dates of the fit, ``datetime64[D]``."""
    fitted_m: np.ndarray
    """Piecewise-linear fit at those dates, m."""
    stages: tuple[tuple[np.datetime64, np.datetime64, float, str], ...]
    """(start, end, rate mm/day, kind) of each stage."""


@dataclass(frozen=True)
class Precipitation:
    """Monthly precipitation."""

    months: np.ndarray
    """First day of each month, ``datetime64[D]``."""
    precip_mm: np.ndarray
    """Precipitation of the month, mm."""


@dataclass
class PlotModel:
    """Everything one plot shows."""

    series: list[Series] = field(default_factory=list)
    colors: list[str] = field(default_factory=list)
    periods: list[Period] = field(default_factory=list)
    stages: list[StageLine] = field(default_factory=list)
    precipitation: Precipitation | None = None
    flip_azimuth: bool = False
    """Draw ``-azimuth`` (positive opposite to the flight direction, as Liu et al. 2020 do)."""
    reference: str = ""
    """Label of the reference series subtracted from every series ("" for none)."""


def color(index: int) -> str:
    """The colour of the series at ``index`` (cycling through :data:`PALETTE`)."""
    return PALETTE[index % len(PALETTE)]


def axis_label(component: str, flip_azimuth: bool = False) -> str:
    """Y-axis label of a component, saying when the azimuth sign is flipped for display."""
    if component == "los":
        return "LOS (m, negative = away from the sensor)"
    if flip_azimuth:
        return "Azimuth (m, sign flipped for display: positive opposite to flight)"
    return "Azimuth (m, positive along flight)"


def subtract_reference(series: Series, reference: Series) -> Series:
    """``series - reference`` on their common dates, per component present in both.

    Standard deviations add in quadrature (independent errors) where both are known; a
    component of ``series`` the reference lacks is dropped.
    """
    dates, i, j = np.intersect1d(series.dates, reference.dates, return_indices=True)
    values = {c: series.values[c][i] - reference.values[c][j] for c in series.values if c in reference.values}
    std = {
        c: np.hypot(series.std[c][i], reference.std[c][j])
        for c in values
        if c in series.std and c in reference.std
    }
    return replace(
        series,
        label=f"{series.label} - ref",
        dates=dates,
        values=values,
        std=std,
        info={**series.info, "reference": reference.label},
    )


def find_stack_json(path: str | Path) -> Path | None:
    """``stack.json`` two levels above a product (``STACK/timeseries/los.tif``), if there."""
    text = str(path).split("|")[0]
    if not text:
        return None
    candidate = Path(text).resolve().parent.parent / "stack.json"
    return candidate if candidate.is_file() else None


def platform_periods(path: str | Path) -> list[Period]:
    """Each platform's first-to-last scene date, from the ``stack.json`` of a product.

    Empty when there is no readable ``stack.json``; sorted by start date.
    """
    stack = find_stack_json(path)
    if stack is None:
        return []
    try:
        scenes = json.loads(stack.read_text(encoding="utf-8")).get("scenes", [])
        spans: dict[str, list[np.datetime64]] = {}
        for scene in scenes:
            date = np.datetime64(str(scene["date"])[:10], "D")
            spans.setdefault(str(scene.get("platform", "")), []).append(date)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []
    periods = [Period(p, min(d), max(d)) for p, d in spans.items()]
    return sorted(periods, key=lambda p: (p.start, p.platform))


def read_precipitation(path: str | Path) -> Precipitation:
    """A ``month,precip_mm`` CSV (month ``YYYY-MM`` or any date in the month).

    Raises
    ------
    ValueError
        Naming the file and the row, when a column is missing or a value is not readable.
    """
    months: list[np.datetime64] = []
    values: list[float] = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = {"month", "precip_mm"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(
                f"{path}: needs the columns month,precip_mm (missing {', '.join(sorted(missing))})"
            )
        for row_number, row in enumerate(reader, start=2):
            try:
                month = np.datetime64(str(row["month"]).strip()[:7], "M")
                value = float(row["precip_mm"]) if str(row["precip_mm"]).strip() else math.nan
            except ValueError as exc:
                raise ValueError(f"{path}, row {row_number}: {exc}") from None
            months.append(month.astype("datetime64[D]"))
            values.append(value)
    order = np.argsort(np.asarray(months, dtype="datetime64[D]"))
    return Precipitation(
        np.asarray(months, dtype="datetime64[D]")[order], np.asarray(values, dtype=float)[order]
    )


def stages_available() -> bool:
    """Whether ``processing_core.analysis.stages`` (the creep-stage segmentation) is importable."""
    from .. import ensure_core_importable

    try:
        ensure_core_importable()
        importlib.import_module("processing_core.analysis.stages")
    except ImportError:
        return False
    return True


def creep_stages(series: Series) -> StageLine | None:
    """The LOS creep stages of ``series`` from the core, ``None`` when not available or not possible.

    Calls ``processing_core.analysis.stages.detect_stages`` (continuous piecewise-linear
    segmentation with a BIC penalty); a series with fewer than three valid dates, or a core
    without that module, gives ``None``.
    """
    if "los" not in series.values or not stages_available():
        return None
    try:
        from processing_core.analysis.stages import detect_stages
    except ImportError:
        return None
    try:
        result = detect_stages(series.dates, series.values["los"])
    except (ValueError, np.linalg.LinAlgError):  # the core's InputError is a ValueError
        return None
    stages = tuple((s.start, s.end, float(s.rate_mm_per_day), str(s.kind)) for s in result.stages)
    return StageLine(series.label, np.asarray(result.dates), np.asarray(result.fitted_m), stages)


def write_csv(path: str | Path, series: Sequence[Series]) -> Path:
    """The plotted series as one CSV: ``name,date,los_m,azimuth_m,los_std_m,azimuth_std_m``.

    The point time-series contract (DESIGN.md) with its leading ``name`` column for several
    points; values in metres with the contract's signs (never flipped for display); empty
    fields are missing values.
    """
    out = Path(path)
    columns = [*(f"{c}_m" for c in COMPONENTS), *(f"{c}_std_m" for c in COMPONENTS)]
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["name", "date", *columns])
        for s in series:
            n = len(s.dates)
            fields = [s.values.get(c) for c in COMPONENTS] + [s.std.get(c) for c in COMPONENTS]
            for k in range(n):
                cells = ["" if a is None or not np.isfinite(a[k]) else repr(float(a[k])) for a in fields]
                writer.writerow([s.label, str(s.dates[k]), *cells])
    return out
