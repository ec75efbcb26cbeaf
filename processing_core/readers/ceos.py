"""CEOS SAR records: headers, fixed-width ASCII fields and binary prefixes.

A CEOS file is a sequence of records; each starts with a 12-byte big-endian header
(sequence number, first subtype, record type, second and third subtype, record length in
bytes, header included). Inside a record, ASCII fields sit at fixed byte positions and
binary fields are big-endian integers. Positions here are **1-based bytes within the
record**, as in the JAXA format descriptions (ALOS PALSAR Level 1.1/1.5, NEB-070062;
ALOS-2 PALSAR-2 Level 1.1/1.5/2.1/3.1 CEOS SAR Product Format Description), so a field can
be looked up in those tables directly.

Every parsing failure raises :class:`~processing_core.errors.ProductError` with one line
naming the file, the record and the field, e.g.
``LED-ALOS2...: record 4 (platform position) is 1200 bytes, expected 4680``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from processing_core.errors import ProductError

HEADER_BYTES = 12
DESCRIPTOR_BYTES = 720
"""Length of the file descriptor record that opens leader, image and trailer files."""

#: Record type codes (byte 6 of the header) of the records this package reads.
RECORD_NAMES: Mapping[int, str] = {
    10: "data set summary",
    20: "map projection",
    30: "platform position",
    40: "attitude",
    50: "radiometric",
    51: "radiometric compensation",
    60: "data quality summary",
    70: "data histogram",
    80: "range spectra",
    90: "DEM descriptor",
    100: "radar parameter update",
    110: "annotation",
    120: "detailed processing",
    130: "calibration",
    140: "GCP",
    192: "file descriptor",
    200: "facility related",
}


@dataclass(frozen=True)
class Record:
    """One CEOS record and typed access to its fields."""

    source: str
    """File name used in messages."""
    number: int
    """1-based position of the record in its file."""
    offset: int
    """Byte offset of the record in its file."""
    type_code: int
    """Record type code (header byte 6)."""
    subtypes: tuple[int, int, int]
    """First, second and third record subtype (header bytes 5, 7, 8)."""
    data: bytes
    """The whole record, header included."""

    @property
    def name(self) -> str:
        """What the record is, e.g. ``platform position``."""
        return RECORD_NAMES.get(self.type_code, f"type {self.type_code}")

    @property
    def length(self) -> int:
        """Record length in bytes (header included)."""
        return len(self.data)

    def where(self, start: int, width: int) -> str:
        return f"{self.source}: record {self.number} ({self.name}) bytes {start}-{start + width - 1}"

    def _slice(self, start: int, width: int) -> bytes:
        if start < 1 or start - 1 + width > len(self.data):
            raise ProductError(
                f"{self.source}: record {self.number} ({self.name}) is {len(self.data)} bytes, "
                f"too short for bytes {start}-{start + width - 1}"
            )
        return self.data[start - 1 : start - 1 + width]

    def text(self, start: int, width: int) -> str:
        """ASCII field at 1-based byte ``start``, stripped of blanks."""
        raw = self._slice(start, width)
        try:
            return raw.decode("ascii").strip()
        except UnicodeDecodeError:
            raise ProductError(f"{self.where(start, width)}: not ASCII text ({raw[:16]!r})") from None

    def integer(self, start: int, width: int, *, default: int | None = None) -> int:
        """ASCII integer field (``I`` format); blank gives ``default`` when one is set."""
        value = self.text(start, width)
        if not value and default is not None:
            return default
        try:
            return int(value)
        except ValueError:
            raise ProductError(f"{self.where(start, width)}: {value!r} is not an integer") from None

    def real(self, start: int, width: int, *, default: float | None = None) -> float:
        """ASCII real field (``F``/``E``/``D`` formats); blank or NaN give ``default`` when set."""
        value = self.text(start, width)
        if (not value or value.upper() == "NAN") and default is not None:
            return default
        try:
            number = float(value.replace("D", "E").replace("d", "e"))
        except ValueError:
            raise ProductError(f"{self.where(start, width)}: {value!r} is not a number") from None
        if not math.isfinite(number):
            if default is not None:
                return default
            raise ProductError(f"{self.where(start, width)}: {value!r} is not a finite number")
        return number

    def binary(self, start: int, width: int = 4, *, signed: bool = True) -> int:
        """Big-endian binary integer of ``width`` (1, 2, 4 or 8) bytes."""
        raw = self._slice(start, width)
        return int.from_bytes(raw, "big", signed=signed)


def parse_header(data: bytes, offset: int, source: str, number: int) -> tuple[int, tuple[int, int, int], int]:
    """Type code, subtypes and length of the record header at ``offset``.

    Raises
    ------
    ProductError
        When the file ends inside the header or the length is below 12 bytes.
    """
    head = data[offset : offset + HEADER_BYTES]
    if len(head) < HEADER_BYTES:
        raise ProductError(
            f"{source}: file ends inside the header of record {number} (byte {offset}, "
            f"{len(head)} of {HEADER_BYTES} bytes)"
        )
    _seq, sub1, code, sub2, sub3, length = struct.unpack(">IBBBBI", head)
    if length < HEADER_BYTES:
        raise ProductError(
            f"{source}: record {number} at byte {offset} declares {length} bytes, less than its header"
        )
    return code, (sub1, sub2, sub3), length


def read_record(data: bytes, offset: int, source: str, number: int, *, expected: int | None = None) -> Record:
    """The record starting at ``offset``; ``expected`` checks its length.

    Raises
    ------
    ProductError
        When the record is cut short by the end of the file or has an unexpected length.
    """
    code, subtypes, length = parse_header(data, offset, source, number)
    name = RECORD_NAMES.get(code, f"type {code}")
    if expected is not None and length != expected:
        raise ProductError(f"{source}: record {number} ({name}) is {length} bytes, expected {expected}")
    available = len(data) - offset
    if available < length:
        raise ProductError(
            f"{source}: record {number} ({name}) is {available} bytes, expected {length} "
            "(the file is truncated)"
        )
    return Record(source, number, offset, code, subtypes, bytes(data[offset : offset + length]))


def read_records(data: bytes, source: str, *, max_records: int = 10_000) -> list[Record]:
    """Every record of a file held in memory, in order.

    Raises
    ------
    ProductError
        When the file is empty, a record is truncated or there are more than ``max_records``.
    """
    if not data:
        raise ProductError(f"{source}: the file is empty")
    records: list[Record] = []
    offset = 0
    while offset < len(data):
        if len(records) >= max_records:
            raise ProductError(f"{source}: more than {max_records} records, not a CEOS leader or trailer")
        record = read_record(data, offset, source, len(records) + 1)
        records.append(record)
        offset += record.length
    return records


@dataclass(frozen=True)
class ImageDescriptor:
    """The file descriptor record of a CEOS image (IMG) file."""

    records: int
    """Number of SAR data records (lines), the descriptor excluded."""
    record_length: int
    """Length of one SAR data record, bytes."""
    bits_per_sample: int
    """Bits per sample (a complex pixel has two samples)."""
    bytes_per_pixel: int
    """Bytes per data group (one pixel)."""
    lines: int
    """Number of lines per data set."""
    pixels: int
    """Number of pixels per line (per SAR channel)."""
    left_border: int
    """Left border pixels per line."""
    right_border: int
    """Right border pixels per line."""
    prefix_bytes: int
    """Bytes of prefix data (line header) per record, header included."""
    data_bytes: int
    """Bytes of SAR data per record."""
    suffix_bytes: int
    """Bytes of suffix data per record."""
    format_code: str
    """SAR data format type code: ``C*8`` (complex float32 I,Q), ``IU2`` (uint16), ..."""


#: numpy dtypes (big-endian) of the SAR data format codes this package reads.
PIXEL_TYPES: Mapping[str, str] = {"C*8": ">c8", "IU2": ">u2", "IU1": "u1", "R*4": ">f4"}


def parse_image_descriptor(data: bytes, source: str) -> ImageDescriptor:
    """Parse the 720-byte file descriptor that opens an image file.

    Raises
    ------
    ProductError
        When the descriptor is short or inconsistent (record length versus prefix, data and
        suffix bytes; data bytes versus pixels).
    """
    rec = read_record(data, 0, source, 1)
    if rec.length < DESCRIPTOR_BYTES:
        raise ProductError(f"{source}: record 1 (file descriptor) is {rec.length} bytes, expected 720")
    d = ImageDescriptor(
        records=rec.integer(181, 6),
        record_length=rec.integer(187, 6),
        bits_per_sample=rec.integer(217, 4),
        bytes_per_pixel=rec.integer(225, 4),
        lines=rec.integer(237, 8),
        left_border=rec.integer(245, 4, default=0),
        pixels=rec.integer(249, 8),
        right_border=rec.integer(257, 4, default=0),
        prefix_bytes=rec.integer(277, 4),
        data_bytes=rec.integer(281, 8),
        suffix_bytes=rec.integer(289, 4, default=0),
        format_code=rec.text(429, 4),
    )
    if d.lines < 1 or d.pixels < 1 or d.bytes_per_pixel < 1:
        raise ProductError(
            f"{source}: image descriptor says {d.lines} lines of {d.pixels} pixels of "
            f"{d.bytes_per_pixel} bytes; not an image"
        )
    if d.prefix_bytes < HEADER_BYTES or d.prefix_bytes + d.data_bytes + d.suffix_bytes != d.record_length:
        raise ProductError(
            f"{source}: image descriptor: prefix {d.prefix_bytes} + data {d.data_bytes} + suffix "
            f"{d.suffix_bytes} bytes do not make the record length {d.record_length}"
        )
    if d.data_bytes < d.pixels * d.bytes_per_pixel:
        raise ProductError(
            f"{source}: image descriptor: {d.data_bytes} data bytes per record cannot hold "
            f"{d.pixels} pixels of {d.bytes_per_pixel} bytes"
        )
    if d.format_code not in PIXEL_TYPES:
        raise ProductError(
            f"{source}: SAR data format {d.format_code!r} is not supported "
            f"(supported: {', '.join(PIXEL_TYPES)})"
        )
    return d


@dataclass(frozen=True)
class LinePrefix:
    """What the reader uses from the prefix of a processed (or signal) data record."""

    line_number: int
    """Image line number (1-based) written by the processor."""
    left_fill: int
    """Actual count of left-fill pixels."""
    data_pixels: int
    """Actual count of data pixels."""
    year: int
    """Acquisition year of the line."""
    day_of_year: int
    """Acquisition day of year (1 = 1 January)."""
    seconds_of_day: float
    """Acquisition time of the line, seconds of day (UTC); microseconds where given."""
    transmit_polarization: int
    """0 = H, 1 = V."""
    receive_polarization: int
    """0 = H, 1 = V."""
    prf_hz: float
    """Pulse repetition frequency, Hz."""
    slant_range_m: float
    """Slant range to the first data sample, m (integer metres in the product)."""


def parse_line_prefix(record: Record) -> LinePrefix:
    """Parse the line prefix common to PALSAR-1 and PALSAR-2 data records.

    Bytes 37-48 hold year, day of year and milliseconds of day; PALSAR-2 adds microseconds of
    day (8 bytes at 85), used when consistent with the milliseconds; 117-120 the slant range
    to the first sample (m).
    """
    ms = record.binary(45, 4)
    seconds = ms / 1000.0
    if record.length >= 92:
        us = record.binary(85, 8)
        if us > 0 and abs(us / 1000.0 - ms) < 1.0:
            seconds = us / 1e6
    return LinePrefix(
        line_number=record.binary(13, 4),
        left_fill=record.binary(21, 4),
        data_pixels=record.binary(25, 4),
        year=record.binary(37, 4),
        day_of_year=record.binary(41, 4),
        seconds_of_day=seconds,
        transmit_polarization=record.binary(53, 2),
        receive_polarization=record.binary(55, 2),
        prf_hz=record.binary(57, 4) / 1000.0,
        slant_range_m=float(record.binary(117, 4)),
    )


def file_descriptor_table(record: Record, first: int = 181, count: int = 15) -> list[tuple[int, int]]:
    """(number of records, record length) pairs of a leader or trailer file descriptor.

    Entries are I6 + I6 from byte ``first``: data set summary, map projection, platform
    position, attitude, radiometric, radiometric compensation, data quality summary,
    histogram, range spectra, DEM descriptor, radar parameter update, annotation, detailed
    processing, calibration, GCP.
    """
    return [
        (record.integer(first + 12 * i, 6, default=0), record.integer(first + 12 * i + 6, 6, default=0))
        for i in range(count)
    ]


LEADER_TABLE_TYPES = (10, 20, 30, 40, 50, 51, 60, 70, 80, 90, 100, 110, 120, 130, 140)
"""Record type codes of the leader file descriptor's table entries, in order."""
