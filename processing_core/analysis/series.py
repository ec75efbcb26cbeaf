"""Point time series: the in-memory model and the CSV **contract** (DESIGN.md).

CSV columns ``date,los_m,azimuth_m`` (ISO dates, metres in the final master's geometry, relative
to the first date; ``los_m`` negative = away from the sensor, ``azimuth_m`` positive along the
flight direction), plus optional ``los_std_m,azimuth_std_m`` and, for several points in one file,
a leading ``name`` column. Empty fields are missing values (NaN).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from processing_core import atomic
from processing_core.errors import InputError
from processing_core.pointsio import read_csv_table

COMPONENTS = ("los", "azimuth")
"""Displacement components of a series."""


@dataclass
class PointSeries:
    """Displacement time series of one point (or the mean over a small disc)."""

    dates: np.ndarray
    """Acquisition dates, ``datetime64[D]``, increasing."""
    los_m: np.ndarray
    """LOS displacement, m, relative to the first date (negative = away from the sensor)."""
    azimuth_m: np.ndarray
    """Azimuth displacement, m, positive along the flight direction."""
    los_std_m: np.ndarray | None = None
    """Standard deviation of ``los_m``, m: the SBAS propagated std at a single node, or the spread
    (sample std) of the node values inside the radius for a disc mean; ``None`` when unknown."""
    azimuth_std_m: np.ndarray | None = None
    """Standard deviation of ``azimuth_m``, m (as ``los_std_m``)."""
    name: str = ""
    """Point name (from a points file), empty for a single point."""
    info: dict[str, Any] = field(default_factory=dict)
    """Where the series comes from: lon/lat, height, master line/sample, nodes used, ..."""

    def component(self, name: str) -> np.ndarray:
        """``los_m`` or ``azimuth_m`` for ``name`` in :data:`COMPONENTS`."""
        if name not in COMPONENTS:
            raise ValueError(f"component must be one of {COMPONENTS}, got {name!r}")
        return self.los_m if name == "los" else self.azimuth_m

    def valid(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(dates, values) of a component where the value is finite."""
        values = self.component(name)
        ok = np.isfinite(values)
        return self.dates[ok], values[ok]


def to_dates(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Dates (ISO strings, ``datetime.date`` or ``datetime64``) as ``datetime64[D]``."""
    return np.asarray([np.datetime64(str(v)[:10], "D") for v in values], dtype="datetime64[D]")


def day_numbers(dates: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 as float64 (for arithmetic on dates)."""
    return np.asarray(dates, dtype="datetime64[D]").astype(np.int64).astype(np.float64)


def date_of_day(day: float) -> np.datetime64:
    """The date of a (fractional) day number, rounded to the nearest day."""
    return np.datetime64(int(math.floor(day + 0.5)), "D")


def valid_days_values(dates: Sequence[Any] | np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(day numbers, values) where the value is finite, for the array functions of the analyses.

    Raises
    ------
    InputError
        When dates and values differ in length.
    """
    days = day_numbers(to_dates(dates))
    y = np.asarray(values, dtype=np.float64)
    if days.shape != y.shape:
        raise InputError(f"{len(days)} dates for {len(y)} displacements")
    ok = np.isfinite(y)
    return days[ok], y[ok]


def iso(value: np.datetime64 | None) -> str | None:
    """ISO date string (``None`` stays ``None``)."""
    return None if value is None else str(np.datetime64(value, "D"))


def _number(text: str | None, path: Path, row: int, column: str) -> float:
    if text is None or text.strip() == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{path}: row {row}, column {column}: {text!r} is not a number") from None


def read_series_csv(path: str | os.PathLike[str], *, name: str | None = None) -> PointSeries:
    """Read a point time-series CSV (``date`` and at least one of ``los_m``, ``azimuth_m``).

    Parameters
    ----------
    path
        The CSV file (other columns, such as a simulated stack's ``truth/P2.csv`` east/north/up
        columns, are ignored).
    name
        For a file with a ``name`` column holding several points: the point to read.

    Raises
    ------
    InputError
        Naming the file: unreadable, no ``date`` or displacement column, bad numbers or dates,
        dates not increasing, or several points without ``name``.
    """
    p = Path(path)
    rows, header = read_csv_table(p, what="time-series")
    if "date" not in header or not ({"los_m", "azimuth_m"} & set(header)):
        raise InputError(
            f"{p}: needs columns date and los_m and/or azimuth_m; found {', '.join(header) or 'none'}"
        )
    numbered = list(enumerate(rows, start=2))
    if "name" in header:
        names = sorted({r["name"] for r in rows})
        if name is None and len(names) > 1:
            raise InputError(f"{p}: holds points {', '.join(names)}; choose one (--name)")
        if name is not None:
            numbered = [(i, r) for i, r in numbered if r["name"] == name]
            if not numbered:
                raise InputError(f"{p}: no point named {name!r} (points: {', '.join(names)})")
    elif name is not None:
        raise InputError(f"{p}: no name column, cannot select point {name!r}")
    if len(numbered) < 2:
        raise InputError(f"{p}: needs at least two dates, found {len(numbered)}")
    try:
        dates = to_dates([r["date"] for _, r in numbered])
    except ValueError:
        bad = next(r["date"] for _, r in numbered if not _is_date(r["date"]))
        raise InputError(f"{p}: date {bad!r} is not YYYY-MM-DD") from None
    if np.any(np.diff(dates.astype(np.int64)) <= 0):
        raise InputError(f"{p}: dates must increase strictly (one row per acquisition date)")

    def column(key: str) -> np.ndarray | None:
        if key not in header:
            return None
        return np.array([_number(r.get(key), p, i, key) for i, r in numbered])

    nan = np.full(len(numbered), np.nan)
    los, az = column("los_m"), column("azimuth_m")
    return PointSeries(
        dates=dates,
        los_m=los if los is not None else nan,
        azimuth_m=az if az is not None else nan.copy(),
        los_std_m=column("los_std_m"),
        azimuth_std_m=column("azimuth_std_m"),
        name=name or (numbered[0][1].get("name", "") if "name" in header else ""),
        info={"source": str(p)},
    )


def _is_date(text: str) -> bool:
    try:
        np.datetime64(str(text)[:10], "D")
    except ValueError:
        return False
    return True


def _fmt(value: float) -> str:
    return f"{value:.6f}" if np.isfinite(value) else ""


def write_series_csv(path: str | os.PathLike[str], series: Sequence[PointSeries]) -> Path:
    """Write one or several series as the contract CSV, atomically; a ``name`` column leads when
    there are several points. Std columns are written when any series has them."""
    if not series:
        raise ValueError("no series to write")
    several = len(series) > 1
    with_std = any(s.los_std_m is not None or s.azimuth_std_m is not None for s in series)
    header = (["name"] if several else []) + ["date", "los_m", "azimuth_m"]
    if with_std:
        header += ["los_std_m", "azimuth_std_m"]
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for s in series:
            nan = np.full(len(s.dates), np.nan)
            ls = s.los_std_m if s.los_std_m is not None else nan
            az = s.azimuth_std_m if s.azimuth_std_m is not None else nan
            for k, d in enumerate(s.dates):
                row = ([s.name] if several else []) + [str(d), _fmt(s.los_m[k]), _fmt(s.azimuth_m[k])]
                if with_std:
                    row += [_fmt(ls[k]), _fmt(az[k])]
                writer.writerow(row)
    os.replace(tmp, out)
    return out


def write_json(path: str | os.PathLike[str], data: dict[str, Any]) -> Path:
    """Write a JSON report atomically (temporary name, then rename); NaN becomes ``null``."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic.write_json(out, _clean(data))


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in (list(value) if value.dtype.kind == "M" else value.tolist())]
    if isinstance(value, np.datetime64):
        return iso(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
