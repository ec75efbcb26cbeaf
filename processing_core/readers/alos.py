"""ALOS PALSAR-1 and ALOS-2 PALSAR-2 CEOS products: files and leader metadata.

A product is a volume file ``VOL-<stem>``, a leader ``LED-<stem>``, one image file per
polarisation ``IMG-<pol>-<stem>`` and a trailer ``TRL-<stem>``, in a folder or a zip archive
(the stem is e.g. ``ALPSRP046640650-H1.1__A`` for PALSAR-1 or
``ALOS2015976960-140909-FBDR1.5GUA`` for PALSAR-2). The leader carries the data set summary
(times, wavelength, PRF, range sampling, pixel spacings, Doppler centroid), the map
projection (Level 1.5) and the platform position record (state vectors).

Field positions follow the JAXA format descriptions (see :mod:`processing_core.readers.ceos`);
units are converted to the interchange format's (s, m, Hz, ECEF).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np

from processing_core.errors import ProductError
from processing_core.readers.base import ProductFiles
from processing_core.readers.ceos import (
    LEADER_TABLE_TYPES,
    Record,
    file_descriptor_table,
    read_record,
)
from processing_core.scene import StateVector
from processing_core.timeutil import add_seconds

EARTH_ROTATION_RAD_S = 7.2921151467e-5
_CEOS_NAME = re.compile(r"^(VOL|LED|TRL|IMG-(HH|HV|VH|VV))-(.+)$")


@dataclass(frozen=True)
class DatasetSummary:
    """What the reader uses of the data set summary record (leader record 2)."""

    scene_id: str
    """Scene identifier (bytes 21-36)."""
    centre_time: np.datetime64
    """Scene centre time, UTC (bytes 69-100)."""
    centre_lat_deg: float
    """Geodetic latitude of the scene centre, deg."""
    centre_lon_deg: float
    """Longitude of the scene centre, deg."""
    terrain_height_m: float
    """Average terrain height above the ellipsoid, m (0 when blank)."""
    mission: str
    """Sensor platform mission identifier, e.g. ``ALOS`` or ``ALOS2``."""
    sensor_mode: str
    """Sensor ID and mode of operation."""
    clock_angle_deg: float
    """Sensor clock angle: +90 right-looking, -90 left-looking."""
    incidence_deg: float
    """Incidence angle at the scene centre, deg."""
    wavelength_m: float
    """Radar wavelength, m."""
    range_sampling_rate_hz: float
    """Range sampling rate, Hz (the product gives MHz)."""
    pulse_length_s: float
    """Range pulse length, s (the product gives microseconds)."""
    prf_hz: float
    """Pulse repetition frequency, Hz (the product gives mHz)."""
    product_level: str
    """Product level code, e.g. ``1.1`` or ``1.5``."""
    product_type: str
    """Product type descriptor."""
    looks_azimuth: float
    """Nominal number of looks processed in azimuth."""
    looks_range: float
    """Nominal number of looks processed in range."""
    cross_track_doppler: tuple[float, float, float]
    """Cross-track Doppler centroid: constant (Hz), linear, quadratic terms (bytes 1479-1526)."""
    pixel_time_direction: str
    """Time direction along a line (``INCREASE``/``DECREASE``, blank for map products)."""
    line_time_direction: str
    """Time direction along the columns (``ASCEND``/``DESCEND``)."""
    line_spacing_m: float
    """Line spacing, m."""
    pixel_spacing_m: float
    """Pixel spacing, m."""
    doppler_vs_range_km: tuple[float, float] | None
    """PALSAR-2 only: Doppler centre constant (Hz) and linear (Hz/km of slant range) terms."""
    off_nadir_deg: float | None
    """PALSAR-2 only: off-nadir angle, deg."""


def _time_digits(text: str, where: str) -> np.datetime64:
    digits = re.sub(r"\D", "", text)
    if len(digits) < 14:
        raise ProductError(f"{where}: {text!r} is not a time YYYYMMDDhhmmss[fff]")
    iso = f"{digits[0:4]}-{digits[4:6]}-{digits[6:8]}T{digits[8:10]}:{digits[10:12]}:{digits[12:14]}"
    if len(digits) > 14:
        iso += "." + digits[14:23]
    try:
        return np.datetime64(iso, "ns")
    except ValueError:
        raise ProductError(f"{where}: {text!r} is not a valid time") from None


def parse_dataset_summary(rec: Record) -> DatasetSummary:
    """Parse the data set summary record (PALSAR-1 and PALSAR-2 share its layout).

    Raises
    ------
    ProductError
        When the record is short or a field needed for the scene is not a number.
    """
    if rec.length < 1734:
        raise ProductError(
            f"{rec.source}: record {rec.number} ({rec.name}) is {rec.length} bytes, expected 4096"
        )
    mission = rec.text(397, 16)
    alos2 = mission.upper().replace("-", "").startswith("ALOS2")
    doppler_km = (rec.real(1735, 16, default=0.0), rec.real(1751, 16, default=0.0)) if alos2 else None
    off_nadir = rec.real(1839, 16, default=math.nan) if alos2 and rec.length >= 1854 else None
    for start, what in ((501, "radar wavelength"), (711, "range sampling rate"), (935, "PRF")):
        if not rec.real(start, 16) > 0:
            raise ProductError(f"{rec.where(start, 16)}: {what} {rec.text(start, 16)!r} must be > 0")
    return DatasetSummary(
        scene_id=rec.text(21, 16),
        centre_time=_time_digits(rec.text(69, 32), rec.where(69, 32)),
        centre_lat_deg=rec.real(117, 16),
        centre_lon_deg=rec.real(133, 16),
        terrain_height_m=rec.real(309, 16, default=0.0),
        mission=mission,
        sensor_mode=rec.text(413, 32),
        clock_angle_deg=rec.real(477, 8, default=90.0),
        incidence_deg=rec.real(485, 8, default=math.nan),
        wavelength_m=rec.real(501, 16),
        range_sampling_rate_hz=rec.real(711, 16) * 1e6,
        pulse_length_s=rec.real(743, 16, default=0.0) * 1e-6,
        prf_hz=rec.real(935, 16) * 1e-3,
        product_level=rec.text(1095, 16),
        product_type=rec.text(1111, 32),
        looks_azimuth=rec.real(1175, 16, default=1.0),
        looks_range=rec.real(1191, 16, default=1.0),
        cross_track_doppler=(
            rec.real(1479, 16, default=0.0),
            rec.real(1495, 16, default=0.0),
            rec.real(1511, 16, default=0.0),
        ),
        pixel_time_direction=rec.text(1527, 8).upper(),
        line_time_direction=rec.text(1535, 8).upper(),
        line_spacing_m=rec.real(1687, 16, default=math.nan),
        pixel_spacing_m=rec.real(1703, 16, default=math.nan),
        doppler_vs_range_km=doppler_km,
        off_nadir_deg=off_nadir,
    )


@dataclass(frozen=True)
class PlatformPosition:
    """The platform position data record: state vectors, Earth-fixed, SI units."""

    designator: str
    """Orbital elements designator (PALSAR-2: 0 preliminary, 1 decision, 2 high precision)."""
    count: int
    """Number of state vectors."""
    first_time: np.datetime64
    """UTC time of the first state vector."""
    interval_s: float
    """Time between state vectors, s."""
    reference_frame: str
    """Reference coordinate system as written, e.g. ``ECR``."""
    converted_from_inertial: bool
    """True when the vectors were inertial and have been rotated to Earth-fixed."""
    velocity_scale: float
    """Factor applied to the product's velocities to get m/s (1, or 1e-3 for mm/s)."""
    state_vectors: tuple[StateVector, ...]
    """State vectors, ECEF m and m/s."""


_EARTH_FIXED = ("ECR", "EARTH", "ECEF", "GREENWICH", "WGS", "ITRF", "CTS")
_INERTIAL = ("ECI", "INERTIAL", "J2000", "TOD", "TRUE OF DATE", "MEAN OF DATE", "M50")


def _unit_scale(norms: np.ndarray, expected: tuple[float, float], what: str, where: str) -> float:
    """Power of 1000 that brings the median of ``norms`` into ``expected``."""
    median = float(np.median(norms))
    for scale in (1.0, 1e3, 1e-3, 1e6, 1e-6):
        if expected[0] <= median * scale <= expected[1]:
            return scale
    raise ProductError(f"{where}: {what} of {median:.6g} is not an orbit's in any unit")


def parse_platform_position(rec: Record) -> PlatformPosition:
    """Parse the platform position data record (state vectors from byte 387, 132 bytes each).

    Positions and velocities are brought to metres and metres per second by their size
    (PALSAR-2 and PALSAR-1 Level 1.1/1.5 write m and m/s; PALSAR-1 Level 1.0 writes mm/s);
    inertial vectors (a reference frame such as ``ECI``) are rotated to Earth-fixed with the
    Greenwich mean hour angle of the record.

    Raises
    ------
    ProductError
        When the record is short, a value is not a number, the vectors are not an orbit's or
        the reference frame is not recognised.
    """
    count = rec.integer(141, 4)
    if not 4 <= count <= 1000:
        raise ProductError(f"{rec.where(141, 4)}: {count} state vectors (need at least 4)")
    needed = 386 + 132 * count
    if rec.length < needed:
        raise ProductError(
            f"{rec.source}: record {rec.number} ({rec.name}) is {rec.length} bytes, expected "
            f"{needed} for {count} state vectors"
        )
    year, month, day = rec.integer(145, 4), rec.integer(149, 4, default=0), rec.integer(153, 4, default=0)
    day_of_year = rec.integer(157, 4, default=0)
    seconds = rec.real(161, 22)
    interval = rec.real(183, 22)
    if not interval > 0:
        raise ProductError(f"{rec.where(183, 22)}: time interval {interval} s must be > 0")
    try:
        if month and day:
            base = np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "ns")
        else:
            base = np.datetime64(f"{year:04d}-01-01", "ns") + np.timedelta64(day_of_year - 1, "D")
    except ValueError:
        raise ProductError(f"{rec.where(145, 16)}: {year}-{month}-{day} is not a date") from None
    if not 0 <= seconds < 86401:
        raise ProductError(f"{rec.where(161, 22)}: {seconds} is not a second of the day")
    first = add_seconds(base, seconds)
    frame = rec.text(205, 64)
    upper = frame.upper()
    inertial = any(k in upper for k in _INERTIAL) and not any(k in upper for k in _EARTH_FIXED)
    if upper and not inertial and not any(k in upper for k in _EARTH_FIXED):
        raise ProductError(f"{rec.where(205, 64)}: reference frame {frame!r} is not recognised")
    values = np.array(
        [[rec.real(387 + 132 * i + 22 * k, 22) for k in range(6)] for i in range(count)], dtype=np.float64
    )
    where = f"{rec.source}: record {rec.number} ({rec.name})"
    pos_scale = _unit_scale(np.linalg.norm(values[:, :3], axis=1), (6.5e6, 8.5e6), "orbit radius", where)
    vel_scale = _unit_scale(np.linalg.norm(values[:, 3:], axis=1), (6.0e3, 9.0e3), "orbit speed", where)
    pos = values[:, :3] * pos_scale
    vel = values[:, 3:] * vel_scale
    t = np.arange(count) * interval
    if inertial:
        gmha = math.radians(rec.real(269, 22))
        theta = gmha + EARTH_ROTATION_RAD_S * t
        c, s = np.cos(theta), np.sin(theta)
        x, y = c * pos[:, 0] + s * pos[:, 1], -s * pos[:, 0] + c * pos[:, 1]
        vx, vy = c * vel[:, 0] + s * vel[:, 1], -s * vel[:, 0] + c * vel[:, 1]
        pos = np.column_stack([x, y, pos[:, 2]])
        vel = np.column_stack([vx + EARTH_ROTATION_RAD_S * y, vy - EARTH_ROTATION_RAD_S * x, vel[:, 2]])
    times = add_seconds(first, t)
    vectors = tuple(
        StateVector(times[i], tuple(map(float, pos[i])), tuple(map(float, vel[i])))  # type: ignore[arg-type]
        for i in range(count)
    )
    return PlatformPosition(
        designator=rec.text(13, 32),
        count=count,
        first_time=first,
        interval_s=interval,
        reference_frame=frame,
        converted_from_inertial=inertial,
        velocity_scale=vel_scale,
        state_vectors=vectors,
    )


@dataclass(frozen=True)
class MapProjection:
    """The map projection data record of a Level 1.5 product."""

    descriptor: str
    """Map projection descriptor, e.g. ``GEOCODED``."""
    pixels: int
    """Pixels per line of the image."""
    lines: int
    """Lines of the image."""
    pixel_spacing_m: float
    """Inter-pixel distance, m."""
    line_spacing_m: float
    """Inter-line distance, m."""
    projection: str
    """Map projection general description, e.g. ``UTM-PROJECTION``."""
    utm_zone: int | None
    """UTM zone number (UTM products)."""
    false_northing_m: float
    """False northing, m (10 000 km in the southern hemisphere)."""
    corners_map_m: np.ndarray
    """Easting, northing (m) of the first/last pixels: (4, 2) for TL, TR, BR, BL."""
    corners_lat_lon_deg: np.ndarray
    """Latitude, longitude (deg) of the same corners, (4, 2)."""


def parse_map_projection(rec: Record) -> MapProjection:
    """Parse the map projection data record (corners in km of map coordinates, bytes 945-1072).

    Raises
    ------
    ProductError
        When the record is short or a field is not a number.
    """
    projection = rec.text(413, 32)
    zone_text = rec.text(477, 4)
    corners_km = np.array([[rec.real(945 + 32 * i + 16 * k, 16) for k in range(2)] for i in range(4)])
    geo = np.array([[rec.real(1073 + 32 * i + 16 * k, 16) for k in range(2)] for i in range(4)])
    return MapProjection(
        descriptor=rec.text(29, 32),
        pixels=rec.integer(61, 16),
        lines=rec.integer(77, 16),
        pixel_spacing_m=rec.real(93, 16),
        line_spacing_m=rec.real(109, 16),
        projection=projection,
        utm_zone=int(zone_text) if zone_text.isdigit() else None,
        false_northing_m=rec.real(497, 16, default=0.0),
        corners_map_m=corners_km[:, ::-1] * 1e3,
        corners_lat_lon_deg=geo,
    )


@dataclass(frozen=True)
class Leader:
    """The leader file: its records and what the reader parsed of them."""

    summary: DatasetSummary
    """Data set summary."""
    platform_position: PlatformPosition
    """State vectors."""
    map_projection: MapProjection | None
    """Map projection (Level 1.5 products only)."""
    records: tuple[Record, ...]
    """Every record of the file, in order."""


def parse_leader(data: bytes, source: str) -> Leader:
    """Parse a leader file: check its records against its file descriptor, then decode them.

    Raises
    ------
    ProductError
        Naming the file and record when one is missing, short or corrupt, e.g.
        ``LED-...: record 4 (platform position) is 1200 bytes, expected 4680``.
    """
    descriptor = read_record(data, 0, source, 1)
    table = file_descriptor_table(descriptor)
    if sum(max(n, 0) for n, _ in table) > 100:
        raise ProductError(
            f"{source}: the file descriptor announces {sum(n for n, _ in table)} records, not a leader"
        )
    expected: list[tuple[int, int]] = [
        (code, length) for code, (n, length) in zip(LEADER_TABLE_TYPES, table) for _ in range(max(n, 0))
    ]
    records = [descriptor]
    offset = descriptor.length
    for code, length in expected:
        record = read_record(data, offset, source, len(records) + 1)
        if record.type_code == code and record.length != length:
            raise ProductError(
                f"{source}: record {record.number} ({record.name}) is {record.length} bytes, expected {length}"
            )
        records.append(record)
        offset += record.length
    while offset < len(data) and len(records) < 10_000:
        record = read_record(data, offset, source, len(records) + 1)
        records.append(record)
        offset += record.length
    by_code = {r.type_code: r for r in reversed(records[1:])}
    for code in (10, 30):
        if code not in by_code:
            name = "data set summary" if code == 10 else "platform position"
            raise ProductError(f"{source}: no {name} record in the leader")
    return Leader(
        summary=parse_dataset_summary(by_code[10]),
        platform_position=parse_platform_position(by_code[30]),
        map_projection=parse_map_projection(by_code[20]) if 20 in by_code else None,
        records=tuple(records),
    )


@dataclass(frozen=True)
class CeosProduct:
    """The files of one CEOS product (one stem) in a folder or an archive."""

    files: ProductFiles
    """Where the files are."""
    stem: str
    """File name stem shared by VOL, LED, IMG and TRL files."""
    leader: str | None
    """``LED-<stem>`` (relative name), ``None`` when missing."""
    images: dict[str, str]
    """``IMG-<pol>-<stem>`` by polarisation."""
    volume: str | None
    """``VOL-<stem>``, ``None`` when missing."""
    trailer: str | None
    """``TRL-<stem>``, ``None`` when missing."""

    @property
    def label(self) -> str:
        """How messages name the product."""
        return f"{self.files.container} ({self.stem})"


def is_ceos_name(name: str) -> bool:
    """Whether a base name is a CEOS product file name (``VOL-``, ``LED-``, ``TRL-``, ``IMG-pp-``)."""
    return bool(_CEOS_NAME.match(name)) and not name.lower().endswith((".jpg", ".kml", ".xml", ".txt"))


def find_ceos_products(files: ProductFiles) -> list[CeosProduct]:
    """Group the CEOS files of a folder or archive by stem."""
    groups: dict[str, dict[str, object]] = {}
    for name in files.names:
        base = PurePosixPath(name).name
        m = _CEOS_NAME.match(base)
        if not m or not is_ceos_name(base):
            continue
        entry = groups.setdefault(m.group(3), {"images": {}})
        kind = m.group(1)
        if kind.startswith("IMG"):
            entry["images"][m.group(2)] = name  # type: ignore[index]
        else:
            entry[kind] = name
    return [
        CeosProduct(
            files=files,
            stem=stem,
            leader=entry.get("LED"),  # type: ignore[arg-type]
            images=dict(entry["images"]),  # type: ignore[call-overload]
            volume=entry.get("VOL"),  # type: ignore[arg-type]
            trailer=entry.get("TRL"),  # type: ignore[arg-type]
        )
        for stem, entry in sorted(groups.items())
    ]


def volume_file_counts(data: bytes, source: str) -> dict[str, int]:
    """Files a volume directory lists: counts by class (``LEADER``, ``IMAGERY``, ``TRAILER``).

    Raises
    ------
    ProductError
        When the volume descriptor is short or is not a CEOS volume.
    """
    first = read_record(data, 0, source, 1)
    if first.length < 360 or "CEOS" not in first.text(17, 12).upper():
        raise ProductError(f"{source}: not a CEOS volume directory (no 'CEOS-SAR' in record 1)")
    counts: dict[str, int] = {}
    offset, number = first.length, 2
    while offset < len(data):
        rec = read_record(data, offset, source, number)
        offset += rec.length
        number += 1
        if rec.type_code == 192 and rec.subtypes[0] == 219 and rec.length >= 100:
            text = rec.text(37, 28).upper()
            for kind in ("LEADER", "IMAGERY", "TRAILER"):
                if kind in text:
                    counts[kind] = counts.get(kind, 0) + 1
    return counts
