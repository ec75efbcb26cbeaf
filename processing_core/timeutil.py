"""UTC time handling: ISO-8601 strings with a trailing ``Z`` <-> ``numpy.datetime64[ns]``.

Absolute times are ``datetime64[ns]`` (1 ns resolution, enough for sub-microsecond
azimuth timing). Computations use float64 seconds relative to a local epoch, which
keeps ~1e-14 s resolution over an orbit span.
"""

from __future__ import annotations

import re

import numpy as np

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z?$")


def parse_utc(text: str) -> np.datetime64:
    """Parse ``YYYY-MM-DDTHH:MM:SS[.fffffffff][Z]`` as UTC into ``datetime64[ns]``.

    Raises
    ------
    ValueError
        When ``text`` is not of that form (time-zone offsets other than ``Z`` are refused).
    """
    if not isinstance(text, str) or not _ISO.match(text.strip()):
        raise ValueError(f"not an ISO-8601 UTC time: {text!r}")
    return np.datetime64(text.strip().rstrip("Z"), "ns")


def format_utc(value: np.datetime64, *, digits: int = 6) -> str:
    """Format a time as ISO-8601 UTC with ``digits`` fractional digits and a trailing ``Z``."""
    ns = np.datetime64(value, "ns")
    text = np.datetime_as_string(ns, unit="ns")
    head, frac = text.split(".")
    return f"{head}.{frac[:digits]}Z" if digits > 0 else f"{head}Z"


def seconds_since(value: np.datetime64 | np.ndarray, epoch: np.datetime64) -> np.ndarray:
    """Return float64 seconds from ``epoch`` to ``value`` (array or scalar), exact to 1 ns."""
    delta = np.asarray(value, dtype="datetime64[ns]") - np.datetime64(epoch, "ns")
    return delta.astype(np.int64) * 1e-9


def add_seconds(epoch: np.datetime64, seconds: np.ndarray | float) -> np.ndarray:
    """Return ``epoch + seconds`` as ``datetime64[ns]`` (rounded to the nanosecond)."""
    ns = np.round(np.asarray(seconds, dtype=np.float64) * 1e9).astype(np.int64)
    return np.datetime64(epoch, "ns") + ns.astype("timedelta64[ns]")
