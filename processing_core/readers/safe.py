"""Sentinel-1 SAFE metadata: manifest, product annotation and precise orbit files (``.EOF``).

The annotation XML of one swath and polarisation (``annotation/s1?-<swath>-<type>-<pol>-...xml``)
gives the orbit (Earth-fixed state vectors), the timing (first line time, azimuth time
interval), the range (two-way slant range time of the first pixel, pixel spacing), the
geolocation grid, the ground-range to slant-range polynomials of GRD products
(``coordinateConversion``) and the bursts of TOPS SLC products (``swathTiming``). An
``.EOF`` file (Copernicus POD precise or restituted orbit) holds Earth-fixed state vectors
every 10 s over about a day.

Every failure raises :class:`~processing_core.errors.ProductError` naming the file and the
element, e.g. ``...xml: element 'imageAnnotation/imageInformation/slantRangeTime' is missing``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np

from processing_core.errors import ProductError
from processing_core.scene import SPEED_OF_LIGHT_M_S, StateVector
from processing_core.timeutil import parse_utc


class Xml:
    """An element of a parsed XML file whose accessors raise :class:`ProductError`."""

    def __init__(self, element: ET.Element, source: str, path: str = "") -> None:
        self.element = element
        self.source = source
        self.path = path

    @classmethod
    def parse(cls, data: bytes, source: str) -> Xml:
        """Parse XML bytes; namespaces are dropped from the tags.

        Raises
        ------
        ProductError
            When the bytes are not well-formed XML.
        """
        try:
            root = ET.fromstring(data)
        except ET.ParseError as exc:
            raise ProductError(f"{source}: not well-formed XML ({exc})") from None
        for element in root.iter():
            if isinstance(element.tag, str) and "}" in element.tag:
                element.tag = element.tag.split("}", 1)[1]
        return cls(root, source, root.tag)

    def _where(self, path: str) -> str:
        return f"{self.path}/{path}" if self.path and path else (path or self.path)

    def find(self, path: str) -> Xml | None:
        """The first element at ``path`` (ElementTree syntax), or ``None``."""
        element = self.element.find(path)
        return None if element is None else Xml(element, self.source, self._where(path))

    def get(self, path: str) -> Xml:
        """The element at ``path``; a :class:`ProductError` when it is missing."""
        found = self.find(path)
        if found is None:
            raise ProductError(f"{self.source}: element '{self._where(path)}' is missing")
        return found

    def all(self, path: str) -> list[Xml]:
        """Every element at ``path``."""
        return [Xml(e, self.source, self._where(path)) for e in self.element.findall(path)]

    def text(self, path: str = "") -> str:
        """Stripped text of the element at ``path`` (``""``: this element); must not be empty."""
        node = self.get(path) if path else self
        value = (node.element.text or "").strip()
        if not value:
            raise ProductError(f"{self.source}: element '{node.path}' is empty")
        return value

    def number(self, path: str = "") -> float:
        """Finite float of the element at ``path``."""
        value = self.text(path)
        try:
            number = float(value)
        except ValueError:
            raise ProductError(
                f"{self.source}: element '{self._where(path)}' is {value!r}, not a number"
            ) from None
        if not np.isfinite(number):
            raise ProductError(f"{self.source}: element '{self._where(path)}' is {value!r}, not finite")
        return number

    def integer(self, path: str = "") -> int:
        """Integer of the element at ``path``."""
        value = self.text(path)
        try:
            return int(value)
        except ValueError:
            raise ProductError(
                f"{self.source}: element '{self._where(path)}' is {value!r}, not an integer"
            ) from None

    def numbers(self, path: str = "") -> np.ndarray:
        """Blank-separated floats of the element at ``path``."""
        value = self.text(path)
        try:
            out = np.array([float(v) for v in value.split()])
        except ValueError:
            raise ProductError(
                f"{self.source}: element '{self._where(path)}' is not a list of numbers"
            ) from None
        if not np.isfinite(out).all():
            raise ProductError(f"{self.source}: element '{self._where(path)}' holds non-finite numbers")
        return out

    def time(self, path: str = "") -> np.datetime64:
        """UTC time (``2021-12-23T05:11:22.594441``, optionally ``UTC=`` before it)."""
        value = self.text(path).removeprefix("UTC=")
        try:
            return parse_utc(value)
        except ValueError:
            raise ProductError(
                f"{self.source}: element '{self._where(path)}' is {value!r}, not a UTC time"
            ) from None


def _vector(node: Xml, tag: str) -> tuple[float, float, float]:
    return (node.number(f"{tag}/x"), node.number(f"{tag}/y"), node.number(f"{tag}/z"))


def _state_vectors(vectors: list[tuple[np.datetime64, tuple, tuple]], source: str) -> tuple[StateVector, ...]:
    """State vectors in increasing time, checked to be an Earth orbit's (m, m/s)."""
    vectors.sort(key=lambda v: v[0])
    out = []
    for t, p, v in vectors:
        radius, speed = float(np.linalg.norm(p)), float(np.linalg.norm(v))
        if not (6.5e6 < radius < 8.5e6 and 6.0e3 < speed < 9.0e3):
            raise ProductError(
                f"{source}: state vector at {t} ({radius:.6g} m, {speed:.6g} m/s) is not an orbit's"
            )
        out.append(StateVector(t, p, v))
    if len({sv.time for sv in out}) != len(out):
        raise ProductError(f"{source}: two state vectors share a time")
    return tuple(out)


@dataclass(frozen=True)
class GeolocationGrid:
    """The annotation's geolocation grid (one entry per point)."""

    azimuth_time: np.ndarray
    """Zero-Doppler azimuth time of each point (``datetime64[ns]``)."""
    slant_range_m: np.ndarray
    """Slant range of each point, m (from the two-way slant range time)."""
    line: np.ndarray
    """Image line of the point."""
    pixel: np.ndarray
    """Image pixel (ground-range pixel for GRD) of the point."""
    lat_deg: np.ndarray
    """Geodetic latitude, deg."""
    lon_deg: np.ndarray
    """Longitude, deg."""
    height_m: np.ndarray
    """Ellipsoidal height, m."""


@dataclass(frozen=True)
class GroundRangeConversion:
    """One ``coordinateConversion`` record: slant range <-> ground range at an azimuth time."""

    azimuth_time: np.datetime64
    """UTC time the polynomials hold for."""
    sr0_m: float
    """Slant range origin of ``srgr``, m."""
    srgr: np.ndarray
    """Ground range (m) = sum srgr[k] (slant range - sr0)^k."""
    gr0_m: float
    """Ground range origin of ``grsr``, m."""
    grsr: np.ndarray
    """Slant range (m) = sum grsr[k] (ground range - gr0)^k."""


@dataclass(frozen=True)
class Burst:
    """One burst of a TOPS SLC swath."""

    azimuth_time: np.datetime64
    """Zero-Doppler time of the burst's first line."""
    byte_offset: int
    """Offset of the burst in the measurement file, bytes."""
    first_valid_sample: np.ndarray
    """First valid sample of each line (-1: no valid sample)."""
    last_valid_sample: np.ndarray
    """Last valid sample of each line (-1: no valid sample)."""


@dataclass(frozen=True)
class Annotation:
    """A product annotation (one swath, one polarisation)."""

    source: str
    """File name used in messages."""
    mission: str
    """``S1A``, ``S1B``, ``S1C`` ..."""
    product_type: str
    """``GRD`` or ``SLC``."""
    mode: str
    """``IW``, ``EW``, ``SM`` or ``WV``."""
    swath: str
    """``IW`` (GRD), ``IW1``.. (SLC), ``S1``.. (stripmap)."""
    polarization: str
    """``VV``, ``VH``, ``HH`` or ``HV``."""
    pass_direction: str
    """``ascending`` or ``descending``."""
    wavelength_m: float
    """Radar wavelength, m (c / radar frequency)."""
    range_sampling_rate_hz: float
    """Range sampling rate, Hz."""
    projection: str
    """``Slant Range`` or ``Ground Range``."""
    first_line_time: np.datetime64
    """UTC time of line 0."""
    last_line_time: np.datetime64
    """UTC time of the last line."""
    line_time_interval_s: float
    """Azimuth time interval between lines, s."""
    slant_range_first_m: float
    """Slant range of pixel 0, m (c/2 times the two-way slant range time)."""
    range_pixel_spacing_m: float
    """Pixel spacing in range, m (slant range for SLC, ground range for GRD)."""
    lines: int
    """Number of lines."""
    samples: int
    """Number of samples per line."""
    incidence_mid_deg: float
    """Incidence angle at mid swath, deg."""
    orbit: tuple[StateVector, ...]
    """Annotation state vectors (Earth-fixed)."""
    geolocation: GeolocationGrid
    """Geolocation grid."""
    conversions: tuple[GroundRangeConversion, ...]
    """Ground-range conversions (GRD), in time order."""
    lines_per_burst: int
    """Lines per burst (TOPS SLC), 0 otherwise."""
    bursts: tuple[Burst, ...]
    """Bursts (TOPS SLC), empty otherwise."""


def parse_annotation(data: bytes, source: str) -> Annotation:
    """Parse a Sentinel-1 product annotation file.

    Raises
    ------
    ProductError
        When the file is not XML or an element the reader needs is missing or malformed.
    """
    root = Xml.parse(data, source)
    if root.element.tag != "product":
        raise ProductError(
            f"{source}: not a Sentinel-1 product annotation (root element '{root.element.tag}')"
        )
    head = root.get("adsHeader")
    info = root.get("generalAnnotation/productInformation")
    image = root.get("imageAnnotation/imageInformation")
    vectors = []
    for o in root.all("generalAnnotation/orbitList/orbit"):
        frame = (o.find("frame").element.text or "") if o.find("frame") is not None else "Earth Fixed"
        if "earth fixed" not in frame.lower():
            raise ProductError(f"{source}: orbit frame {frame!r} is not Earth Fixed")
        vectors.append((o.time("time"), _vector(o, "position"), _vector(o, "velocity")))
    if len(vectors) < 4:
        raise ProductError(f"{source}: {len(vectors)} orbit state vectors, need at least 4")
    points = root.all("geolocationGrid/geolocationGridPointList/geolocationGridPoint")

    def column(tag: str) -> np.ndarray:
        return np.array([p.number(tag) for p in points])

    grid = GeolocationGrid(
        azimuth_time=np.array([p.time("azimuthTime") for p in points], dtype="datetime64[ns]"),
        slant_range_m=column("slantRangeTime") * SPEED_OF_LIGHT_M_S / 2,
        line=column("line"),
        pixel=column("pixel"),
        lat_deg=column("latitude"),
        lon_deg=column("longitude"),
        height_m=column("height"),
    )
    conversions = tuple(
        sorted(
            (
                GroundRangeConversion(
                    azimuth_time=c.time("azimuthTime"),
                    sr0_m=c.number("sr0"),
                    srgr=c.numbers("srgrCoefficients"),
                    gr0_m=c.number("gr0"),
                    grsr=c.numbers("grsrCoefficients"),
                )
                for c in root.all("coordinateConversion/coordinateConversionList/coordinateConversion")
            ),
            key=lambda c: c.azimuth_time,
        )
    )
    timing = root.find("swathTiming")
    lines_per_burst = timing.integer("linesPerBurst") if timing is not None else 0
    bursts = tuple(
        Burst(
            azimuth_time=b.time("azimuthTime"),
            byte_offset=b.integer("byteOffset"),
            first_valid_sample=b.numbers("firstValidSample").astype(int),
            last_valid_sample=b.numbers("lastValidSample").astype(int),
        )
        for b in (timing.all("burstList/burst") if timing is not None else [])
    )
    pass_text = info.text("pass").lower()
    if pass_text not in ("ascending", "descending"):
        raise ProductError(f"{source}: element 'pass' is {pass_text!r}")
    lines, samples = image.integer("numberOfLines"), image.integer("numberOfSamples")
    dt, spacing = image.number("azimuthTimeInterval"), image.number("rangePixelSpacing")
    if lines < 1 or samples < 1 or not dt > 0 or not spacing > 0:
        raise ProductError(f"{source}: image of {lines} x {samples} pixels, {dt} s, {spacing} m is not valid")
    return Annotation(
        source=source,
        mission=head.text("missionId"),
        product_type=head.text("productType"),
        mode=head.text("mode"),
        swath=head.text("swath"),
        polarization=head.text("polarisation"),
        pass_direction=pass_text,
        wavelength_m=SPEED_OF_LIGHT_M_S / info.number("radarFrequency"),
        range_sampling_rate_hz=info.number("rangeSamplingRate"),
        projection=info.text("projection"),
        first_line_time=image.time("productFirstLineUtcTime"),
        last_line_time=image.time("productLastLineUtcTime"),
        line_time_interval_s=dt,
        slant_range_first_m=image.number("slantRangeTime") * SPEED_OF_LIGHT_M_S / 2,
        range_pixel_spacing_m=spacing,
        lines=lines,
        samples=samples,
        incidence_mid_deg=image.number("incidenceAngleMidSwath"),
        orbit=_state_vectors(vectors, source),
        geolocation=grid,
        conversions=conversions,
        lines_per_burst=lines_per_burst,
        bursts=bursts,
    )


@dataclass(frozen=True)
class Manifest:
    """What the reader uses of ``manifest.safe``."""

    platform: str
    """``Sentinel-1A``, ``Sentinel-1B`` ..."""
    mode: str
    """Instrument mode, e.g. ``IW``."""
    product_type: str
    """``GRD``, ``SLC`` ..."""
    polarizations: tuple[str, ...]
    """Polarisations of the product, e.g. ``('VV', 'VH')``."""


def parse_manifest(data: bytes, source: str) -> Manifest:
    """Parse ``manifest.safe``.

    Raises
    ------
    ProductError
        When it is not XML or does not name a Sentinel-1 platform.
    """
    root = Xml.parse(data, source)
    family = root.find(".//platform/familyName")
    number = root.find(".//platform/number")
    if family is None or number is None or "SENTINEL-1" not in family.text().upper():
        raise ProductError(f"{source}: not a Sentinel-1 manifest (no SENTINEL-1 platform)")
    mode = root.find(".//instrumentMode/mode")
    product_type = root.find(".//standAloneProductInformation/productType")
    pols = tuple(
        p.text() for p in root.all(".//standAloneProductInformation/transmitterReceiverPolarisation")
    )
    return Manifest(
        platform=f"Sentinel-1{number.text().upper()}",
        mode=mode.text() if mode is not None else "",
        product_type=product_type.text() if product_type is not None else "",
        polarizations=pols,
    )


@dataclass(frozen=True)
class OrbitFile:
    """A Sentinel-1 orbit file (``.EOF``)."""

    source: str
    """File name used in messages."""
    mission: str
    """``Sentinel-1A`` ... as in its header."""
    validity_start: np.datetime64
    """Start of the validity period (UTC)."""
    validity_stop: np.datetime64
    """End of the validity period (UTC)."""
    state_vectors: tuple[StateVector, ...]
    """State vectors, Earth-fixed, in increasing time."""

    def covering(
        self, start: np.datetime64, stop: np.datetime64, margin_s: float = 60.0
    ) -> tuple[StateVector, ...]:
        """The vectors from ``margin_s`` before ``start`` to ``margin_s`` after ``stop``."""
        margin = np.timedelta64(int(margin_s * 1e9), "ns")
        return tuple(sv for sv in self.state_vectors if start - margin <= sv.time <= stop + margin)


def parse_orbit_file(data: bytes, source: str) -> OrbitFile:
    """Parse an Earth Explorer orbit file (``.EOF``: ``List_of_OSVs/OSV`` with UTC, X..VZ).

    Raises
    ------
    ProductError
        When it is not an orbit file or a state vector is malformed.
    """
    root = Xml.parse(data, source)
    header = root.find("Earth_Explorer_Header/Fixed_Header")
    osvs = root.all("Data_Block/List_of_OSVs/OSV")
    if header is None or not osvs:
        raise ProductError(f"{source}: not an orbit file (no Fixed_Header or no OSV)")
    vectors = []
    for o in osvs:
        pos = (o.number("X"), o.number("Y"), o.number("Z"))
        vel = (o.number("VX"), o.number("VY"), o.number("VZ"))
        vectors.append((o.time("UTC"), pos, vel))
    return OrbitFile(
        source=source,
        mission=header.text("Mission"),
        validity_start=header.time("Validity_Period/Validity_Start"),
        validity_stop=header.time("Validity_Period/Validity_Stop"),
        state_vectors=_state_vectors(vectors, source),
    )


def annotation_names(names: tuple[str, ...], root: str) -> dict[tuple[str, str], str]:
    """Product annotation files under ``root/annotation/`` by (swath, polarisation)."""
    out = {}
    for name in names:
        path = PurePosixPath(name)
        if str(path.parent) != f"{root}/annotation".lstrip("/") or not path.name.endswith(".xml"):
            continue
        parts = path.name.split("-")
        if len(parts) >= 4 and parts[0].startswith("s1"):
            out[(parts[1].upper(), parts[3].upper())] = name
    return out
