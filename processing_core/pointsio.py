"""CSV front ends of geo2rdr and rdr2geo (DESIGN.md command-line **contract**).

``geo2rdr``: input columns ``lat,lon,height`` (deg, deg, ellipsoidal m); output adds
``azimuth_time`` (ISO UTC), ``slant_range_m``, ``line``, ``sample``.
``rdr2geo``: input columns ``line,sample,height``; output adds ``lat,lon``.
Other input columns are passed through. Points without a solution (outside the
orbit span) get empty output fields.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from processing_core.errors import InputError
from processing_core.geometry import RadarGeometry
from processing_core.progress import ProgressCallback, report
from processing_core.scene import read_scene
from processing_core.timeutil import add_seconds, format_utc


def read_csv_table(
    path: str | os.PathLike[str], *, what: str = "points"
) -> tuple[list[dict[str, str]], list[str]]:
    """Rows (dicts keyed by the stripped header) and header of a CSV file (UTF-8, BOM allowed).

    Raises
    ------
    InputError
        Naming the file (``what`` says which kind) when it is missing or unreadable.
    """
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            reader.fieldnames = header
            return list(reader), header
    except FileNotFoundError:
        raise InputError(f"{p}: {what} file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{p}: cannot read {what} CSV ({exc})") from None


def read_points(
    path: str | os.PathLike[str], columns: tuple[str, ...]
) -> tuple[list[dict[str, str]], list[str], dict[str, np.ndarray]]:
    """Read a CSV and return its rows, header and the named columns as float arrays.

    Raises
    ------
    InputError
        Naming the file: unreadable, a column missing, or a value that is not a number.
    """
    p = Path(path)
    rows, header = read_csv_table(p)
    missing = [c for c in columns if c not in header]
    if missing:
        raise InputError(f"{p}: missing column(s) {', '.join(missing)}; found {', '.join(header) or 'none'}")
    values: dict[str, np.ndarray] = {}
    for c in columns:
        out = np.empty(len(rows))
        for i, row in enumerate(rows):
            try:
                out[i] = float(row[c])
            except (TypeError, ValueError):
                raise InputError(f"{p}: row {i + 2}, column {c}: {row[c]!r} is not a number") from None
        values[c] = out
    return rows, header, values


def write_csv(
    path: str | os.PathLike[str],
    header: Sequence[str],
    rows: Iterable[Sequence[object] | Mapping[str, object]],
    *,
    lineterminator: str = "\r\n",
) -> Path:
    """Write a CSV atomically: ``header``, then ``rows`` (sequences, or mappings read by the header's
    names, missing ones empty); return the path.

    The lines go to ``.<name>.partial`` beside ``path``, renamed over it once complete, so a
    reader never sees half a file and a failure while writing (the exception propagates) leaves
    ``path`` as it was and no temporary behind.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.partial")
    names = list(header)
    try:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator=lineterminator)
            writer.writerow(names)
            for row in rows:
                writer.writerow([row.get(c, "") for c in names] if isinstance(row, Mapping) else row)
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p


def _fmt(value: float, digits: int) -> str:
    return f"{value:.{digits}f}" if np.isfinite(value) else ""


def geo2rdr_csv(
    scene_path: str | os.PathLike[str],
    points_csv: str | os.PathLike[str],
    out_csv: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None = None,
) -> int:
    """Radar coordinates of the CSV's ``lat,lon,height`` points; returns the number of rows written."""
    geometry = RadarGeometry(read_scene(scene_path))
    rows, header, v = read_points(points_csv, ("lat", "lon", "height"))
    report(progress, 0.1, "geo2rdr")
    rc = geometry.geo2rdr(v["lat"], v["lon"], v["height"])
    times = add_seconds(geometry.epoch, np.nan_to_num(rc.azimuth_time_s))
    for i, row in enumerate(rows):
        ok = np.isfinite(rc.azimuth_time_s[i])
        row["azimuth_time"] = format_utc(times[i], digits=9) if ok else ""
        row["slant_range_m"] = _fmt(rc.slant_range_m[i], 4)
        row["line"] = _fmt(rc.line[i], 6)
        row["sample"] = _fmt(rc.sample[i], 6)
    write_csv(
        out_csv,
        header + [c for c in ("azimuth_time", "slant_range_m", "line", "sample") if c not in header],
        rows,
    )
    report(progress, 1.0, "geo2rdr done")
    return len(rows)


def rdr2geo_csv(
    scene_path: str | os.PathLike[str],
    points_csv: str | os.PathLike[str],
    out_csv: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None = None,
) -> int:
    """Geodetic coordinates of the CSV's ``line,sample,height`` points; returns the rows written.

    Raises
    ------
    OrbitRangeError
        When a line lies outside the span of the scene's state vectors.
    """
    geometry = RadarGeometry(read_scene(scene_path))
    rows, header, v = read_points(points_csv, ("line", "sample", "height"))
    report(progress, 0.1, "rdr2geo")
    t = geometry.time_of_line(v["line"])
    r = geometry.grid.range_of_sample(v["sample"])
    lat, lon, _ = geometry.rdr2geo(t, r, v["height"])
    for i, row in enumerate(rows):
        row["lat"] = _fmt(lat[i], 10)
        row["lon"] = _fmt(lon[i], 10)
    write_csv(out_csv, header + [c for c in ("lat", "lon") if c not in header], rows)
    report(progress, 1.0, "rdr2geo done")
    return len(rows)
