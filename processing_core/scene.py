"""The scene model and the ``sar-scene/1`` JSON sidecar (DESIGN.md, **contract**).

A scene is a raster in radar geometry (rows: azimuth lines in increasing time,
columns: range samples in increasing slant range) plus a sidecar with timing,
radar grid and orbit. :func:`read_scene` validates every key and names the file
and key in its errors; :func:`write_scene` writes the same format back, keeping
keys it does not know (readers may add some).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from processing_core.errors import SceneFormatError
from processing_core.timeutil import add_seconds, format_utc, parse_utc, seconds_since

FORMAT = "sar-scene/1"
LOOK_SIDES = ("right", "left")
PASS_DIRECTIONS = ("ascending", "descending")
SPEED_OF_LIGHT_M_S = 299_792_458.0


@dataclass(frozen=True)
class StateVector:
    """One orbit state vector, Earth-fixed (ECEF WGS84, EPSG:4978)."""

    time: np.datetime64
    """UTC time, ``datetime64[ns]``."""
    position_m: tuple[float, float, float]
    """Satellite position, m."""
    velocity_m_s: tuple[float, float, float]
    """Satellite velocity in the Earth-fixed frame, m/s."""


@dataclass(frozen=True)
class RadarGrid:
    """The pixel grid of a scene in radar geometry."""

    first_line_time: np.datetime64
    """UTC azimuth time of line 0 (``datetime64[ns]``)."""
    line_time_interval_s: float
    """Azimuth time between consecutive lines, s (> 0)."""
    slant_range_first_m: float
    """Slant range of sample 0, m."""
    slant_range_spacing_m: float
    """Slant-range distance between consecutive samples, m (> 0)."""
    lines: int
    """Number of azimuth lines (raster rows)."""
    samples: int
    """Number of range samples (raster columns)."""

    def line_of_time(self, seconds_from_first: np.ndarray) -> np.ndarray:
        """Line index (float) of azimuth times given in seconds after ``first_line_time``."""
        return np.asarray(seconds_from_first) / self.line_time_interval_s

    def sample_of_range(self, slant_range_m: np.ndarray) -> np.ndarray:
        """Sample index (float) of slant ranges in metres."""
        return (np.asarray(slant_range_m) - self.slant_range_first_m) / self.slant_range_spacing_m

    def range_of_sample(self, sample: np.ndarray) -> np.ndarray:
        """Slant range in metres of (float) sample indices."""
        return self.slant_range_first_m + np.asarray(sample, dtype=np.float64) * self.slant_range_spacing_m

    @property
    def last_line_time(self) -> np.datetime64:
        """UTC time of the last line."""
        return add_seconds(self.first_line_time, (self.lines - 1) * self.line_time_interval_s)


@dataclass(frozen=True)
class Scene:
    """A SAR scene: metadata of the sidecar plus where its raster lies."""

    id: str
    """Unique scene identifier, e.g. ``PALSAR2_20150727``."""
    platform: str
    """Satellite: ``ALOS`` (PALSAR-1), ``ALOS-2`` (PALSAR-2), ``Sentinel-1A`` ..."""
    sensor: str
    """Instrument, e.g. ``PALSAR-2``."""
    mode: str
    """Acquisition mode, e.g. ``SM3``, ``FBS``, ``IW``."""
    polarization: str
    """Polarisation, e.g. ``HH``."""
    pass_direction: str
    """``ascending`` or ``descending``."""
    look_side: str
    """``right`` or ``left``."""
    wavelength_m: float
    """Radar wavelength, m."""
    radar_grid: RadarGrid
    """Pixel grid in radar geometry."""
    doppler_centroid_hz: tuple[float, ...]
    """Coefficients c0, c1, ... of f(s) = sum c_k s^k, s the range sample index."""
    orbit: tuple[StateVector, ...]
    """State vectors in increasing time."""
    image: str
    """Raster file name, relative to the sidecar."""
    sidecar: Path | None = None
    """Where the sidecar was read from or written to (``None`` for in-memory scenes)."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Keys of the sidecar this model does not interpret (kept on write)."""

    @property
    def image_path(self) -> Path:
        """Absolute path of the raster (relative to the sidecar's folder)."""
        base = self.sidecar.parent if self.sidecar is not None else Path.cwd()
        return (base / self.image).resolve()

    @property
    def date(self) -> np.datetime64:
        """Acquisition date (UTC day of the first line)."""
        return self.radar_grid.first_line_time.astype("datetime64[D]")

    @property
    def is_zero_doppler(self) -> bool:
        """True when every Doppler-centroid coefficient is zero."""
        return not any(self.doppler_centroid_hz)


_REQUIRED = (
    "format",
    "id",
    "platform",
    "sensor",
    "mode",
    "polarization",
    "pass_direction",
    "look_side",
    "wavelength_m",
    "radar_grid",
    "doppler_centroid_hz",
    "orbit",
    "image",
)
_GRID_KEYS = (
    "first_line_time",
    "line_time_interval_s",
    "slant_range_first_m",
    "slant_range_spacing_m",
    "lines",
    "samples",
)


class _Checker:
    """Small helper that raises :class:`SceneFormatError` naming the file and key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> SceneFormatError:
        return SceneFormatError(f"{self.source}: key '{key}' {problem}")

    def get(self, mapping: Mapping[str, Any], key: str, prefix: str = "") -> Any:
        if not isinstance(mapping, Mapping) or key not in mapping:
            return self._raise(prefix + key, "is missing")
        return mapping[key]

    def _raise(self, key: str, problem: str) -> Any:
        raise self.fail(key, problem)

    def number(self, value: Any, key: str, *, positive: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self._raise(key, f"must be a finite number, got {value!r}")
        if positive and value <= 0:
            self._raise(key, f"must be > 0, got {value!r}")
        return float(value)

    def integer(self, value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self._raise(key, f"must be a positive integer, got {value!r}")
        return int(value)

    def text(self, value: Any, key: str, allowed: tuple[str, ...] | None = None) -> str:
        if not isinstance(value, str) or not value.strip():
            self._raise(key, f"must be a non-empty string, got {value!r}")
        if allowed is not None and value not in allowed:
            self._raise(key, f"must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def time(self, value: Any, key: str) -> np.datetime64:
        try:
            return parse_utc(value)
        except ValueError:
            return self._raise(
                key, f"must be an ISO-8601 UTC time like 2015-07-27T05:12:33.123456Z, got {value!r}"
            )

    def vector(self, value: Any, key: str) -> tuple[float, float, float]:
        if not isinstance(value, (list, tuple)) or len(value) != 3:
            self._raise(key, f"must be a list of 3 numbers, got {value!r}")
        return tuple(self.number(v, key) for v in value)  # type: ignore[return-value]


def scene_from_dict(
    data: Mapping[str, Any], *, source: str = "<scene>", sidecar: Path | None = None
) -> Scene:
    """Validate a decoded sidecar and build a :class:`Scene`.

    Raises
    ------
    SceneFormatError
        Naming ``source`` and the offending key when a key is missing or inconsistent.
    """
    c = _Checker(source)
    if not isinstance(data, Mapping):
        raise SceneFormatError(f"{source}: the sidecar must hold a JSON object")
    for key in _REQUIRED:
        c.get(data, key)
    if data["format"] != FORMAT:
        raise c.fail("format", f"must be '{FORMAT}', got {data['format']!r}")
    grid_in = data["radar_grid"]
    for key in _GRID_KEYS:
        c.get(grid_in, key, "radar_grid.")
    grid = RadarGrid(
        first_line_time=c.time(grid_in["first_line_time"], "radar_grid.first_line_time"),
        line_time_interval_s=c.number(
            grid_in["line_time_interval_s"], "radar_grid.line_time_interval_s", positive=True
        ),
        slant_range_first_m=c.number(
            grid_in["slant_range_first_m"], "radar_grid.slant_range_first_m", positive=True
        ),
        slant_range_spacing_m=c.number(
            grid_in["slant_range_spacing_m"], "radar_grid.slant_range_spacing_m", positive=True
        ),
        lines=c.integer(grid_in["lines"], "radar_grid.lines"),
        samples=c.integer(grid_in["samples"], "radar_grid.samples"),
    )
    doppler = data["doppler_centroid_hz"]
    if not isinstance(doppler, (list, tuple)) or not doppler:
        raise c.fail("doppler_centroid_hz", f"must be a non-empty list of coefficients, got {doppler!r}")
    doppler_t = tuple(c.number(v, "doppler_centroid_hz") for v in doppler)
    orbit_in = data["orbit"]
    if not isinstance(orbit_in, (list, tuple)) or len(orbit_in) < 4:
        raise c.fail("orbit", "must hold at least 4 state vectors for orbit interpolation")
    orbit: list[StateVector] = []
    for i, sv in enumerate(orbit_in):
        prefix = f"orbit[{i}]."
        orbit.append(
            StateVector(
                time=c.time(c.get(sv, "time", prefix), prefix + "time"),
                position_m=c.vector(c.get(sv, "position_m", prefix), prefix + "position_m"),
                velocity_m_s=c.vector(c.get(sv, "velocity_m_s", prefix), prefix + "velocity_m_s"),
            )
        )
    times = np.array([sv.time for sv in orbit], dtype="datetime64[ns]")
    if np.any(np.diff(times) <= np.timedelta64(0, "ns")):
        raise c.fail("orbit", "state vector times must strictly increase")
    for i, sv in enumerate(orbit):
        radius = float(np.linalg.norm(sv.position_m))
        if not 6.5e6 < radius < 8.5e6:
            raise c.fail(
                f"orbit[{i}].position_m", f"is {radius / 1e3:.0f} km from the Earth's centre, not an orbit"
            )
    span = seconds_since(np.array([grid.first_line_time, grid.last_line_time]), times[0])
    if span[0] < 0 or span[1] > seconds_since(times[-1], times[0]):
        raise c.fail(
            "orbit",
            f"covers {format_utc(times[0])} to {format_utc(times[-1])}, not the scene's lines "
            f"{format_utc(grid.first_line_time)} to {format_utc(grid.last_line_time)}",
        )
    extra = {k: v for k, v in data.items() if k not in _REQUIRED}
    return Scene(
        id=c.text(data["id"], "id"),
        platform=c.text(data["platform"], "platform"),
        sensor=c.text(data["sensor"], "sensor"),
        mode=c.text(data["mode"], "mode"),
        polarization=c.text(data["polarization"], "polarization"),
        pass_direction=c.text(data["pass_direction"], "pass_direction", PASS_DIRECTIONS),
        look_side=c.text(data["look_side"], "look_side", LOOK_SIDES),
        wavelength_m=c.number(data["wavelength_m"], "wavelength_m", positive=True),
        radar_grid=grid,
        doppler_centroid_hz=doppler_t,
        orbit=tuple(orbit),
        image=c.text(data["image"], "image"),
        sidecar=sidecar,
        extra=extra,
    )


def scene_to_dict(scene: Scene) -> dict[str, Any]:
    """Encode a scene as the ``sar-scene/1`` JSON object (times with 9 fractional digits)."""
    g = scene.radar_grid
    out: dict[str, Any] = {
        "format": FORMAT,
        "id": scene.id,
        "platform": scene.platform,
        "sensor": scene.sensor,
        "mode": scene.mode,
        "polarization": scene.polarization,
        "pass_direction": scene.pass_direction,
        "look_side": scene.look_side,
        "wavelength_m": scene.wavelength_m,
        "radar_grid": {
            "first_line_time": format_utc(g.first_line_time, digits=9),
            "line_time_interval_s": g.line_time_interval_s,
            "slant_range_first_m": g.slant_range_first_m,
            "slant_range_spacing_m": g.slant_range_spacing_m,
            "lines": g.lines,
            "samples": g.samples,
        },
        "doppler_centroid_hz": list(scene.doppler_centroid_hz),
        "orbit": [
            {
                "time": format_utc(sv.time, digits=9),
                "position_m": list(sv.position_m),
                "velocity_m_s": list(sv.velocity_m_s),
            }
            for sv in scene.orbit
        ],
        "image": scene.image,
    }
    out.update({k: v for k, v in scene.extra.items() if k not in out})
    return out


def read_scene(path: str | os.PathLike[str]) -> Scene:
    """Read and validate a sidecar.

    Raises
    ------
    SceneFormatError
        When the file is missing, is not JSON, or a key is missing or inconsistent.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SceneFormatError(f"{p}: scene sidecar not found") from None
    except OSError as exc:
        raise SceneFormatError(f"{p}: cannot read scene sidecar ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SceneFormatError(f"{p}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    return scene_from_dict(data, source=str(p), sidecar=p.resolve())


def write_scene(scene: Scene, path: str | os.PathLike[str]) -> Path:
    """Write ``scene`` as a sidecar at ``path`` atomically; return the path."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(scene_to_dict(scene), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, p)
    return p
