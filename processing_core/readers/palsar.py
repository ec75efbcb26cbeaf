"""Reader adapter for ALOS PALSAR-1 / ALOS-2 PALSAR-2 CEOS Level 1.1 and Level 1.5 products.

Level 1.1 (slant-range single-look complex): the amplitude is formed from the complex
pixels, optionally multilooked (power averaged over azimuth x range looks). Lines are put in
increasing time and samples in increasing slant range, whatever order the product stores
them in (the data set summary's time-direction fields). Line times come from the record
prefixes (PALSAR-2 microseconds, PALSAR-1 milliseconds) and the line interval is 1/PRF;
the slant range to the first sample is the prefix's (integer metres). The Doppler centroid
polynomial of the leader is kept and re-expressed in the output's range sample index:
PALSAR-1 gives it in Hz per stored pixel (constant, linear, quadratic cross-track terms),
PALSAR-2 in Hz per km of slant range.

Level 1.5 (map-projected amplitude) is resampled into a zero-Doppler slant-range grid, see
:mod:`processing_core.readers.palsar_l15`.

Pixels are read with this package's own code: GDAL's SAR_CEOS driver (3.6) opens the image
files but places every line 12 bytes late (it counts the prefix without the record header)
and fails on the last line of ALOS records written to the JAXA format.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from processing_core.errors import ProductError
from processing_core.progress import ProgressCallback, report
from processing_core.readers.alos import (
    CeosProduct,
    Leader,
    find_ceos_products,
    is_ceos_name,
    parse_leader,
    volume_file_counts,
)
from processing_core.readers.base import (
    ProductFiles,
    ReadOptions,
    check_looks,
    doppler_in_samples,
    multilook_grid,
    pass_direction_of,
    scene_identifier,
    write_outputs,
)
from processing_core.readers.ceos import (
    DESCRIPTOR_BYTES,
    PIXEL_TYPES,
    ImageDescriptor,
    parse_image_descriptor,
    parse_line_prefix,
    read_record,
)
from processing_core.scene import SPEED_OF_LIGHT_M_S, Scene
from processing_core.timeutil import add_seconds, format_utc

_BLOCK_BYTES = 64 * 1024 * 1024
_POLARISATION_ORDER = ("HH", "VV", "HV", "VH")


def open_product(path: Path) -> CeosProduct:
    """The CEOS product at ``path``: a folder or zip holding one product, or its LED file.

    Raises
    ------
    ProductError
        When no CEOS files are there, or several products share the folder (pass their LED
        files one by one then).
    """
    path = Path(path)
    if path.is_file() and is_ceos_name(path.name):
        files = ProductFiles.of(path.parent, max_depth=0)
        stem = path.name.split("-", 1)[1] if not path.name.startswith("IMG-") else path.name.split("-", 2)[2]
        products = [p for p in find_ceos_products(files) if p.stem == stem]
    else:
        files = ProductFiles.of(path)
        products = find_ceos_products(files)
    if not products:
        raise ProductError(f"{path}: no CEOS product files (VOL-, LED-, IMG-, TRL-) found")
    if len(products) > 1 and not any(re.search(r"-F\d$", p.stem) for p in products):
        stems = ", ".join(p.stem for p in products)
        hint = "unpack it and give" if files.is_zip else "give"
        raise ProductError(
            f"{path}: holds several CEOS products ({stems}); {hint} their LED- files one by one"
        )
    return next((p for p in products if p.leader), products[0])


def check_complete(product: CeosProduct) -> None:
    """Raise a :class:`ProductError` naming the missing file of a partial product."""
    files = product.files
    if any(re.match(r"IMG-[HV]{2}-.+-F\d$", PurePosixPath(n).name) for n in files.names):
        raise ProductError(
            f"{product.label}: PALSAR-2 ScanSAR (one image file per sub-swath, -F1 ...) is not supported"
        )
    if product.leader is None:
        raise ProductError(f"{product.label}: partial product, the leader file LED-{product.stem} is missing")
    if not product.images:
        raise ProductError(f"{product.label}: partial product, no image file IMG-<pol>-{product.stem}")
    if product.volume is not None:
        counts = volume_file_counts(files.read(product.volume), files.label(product.volume))
        listed = counts.get("IMAGERY", 0)
        if listed > len(product.images):
            found = ", ".join(PurePosixPath(n).name for n in product.images.values())
            raise ProductError(
                f"{product.label}: partial product, VOL-{product.stem} lists {listed} image files, "
                f"found {len(product.images)} ({found})"
            )


def choose_polarization(product: CeosProduct, wanted: str | None) -> str:
    """The polarisation to import: ``wanted`` or the first of HH, VV, HV, VH present."""
    if wanted is not None:
        if wanted.upper() not in product.images:
            raise ProductError(
                f"{product.label}: no {wanted} image (has {', '.join(sorted(product.images))})"
            )
        return wanted.upper()
    return next(p for p in _POLARISATION_ORDER if p in product.images)


def read_image_descriptor(files: ProductFiles, name: str) -> ImageDescriptor:
    """The image file's descriptor, checked against the file's size.

    Raises
    ------
    ProductError
        When the file is shorter than its descriptor announces (e.g. cut to the descriptor).
    """
    label = files.label(name)
    desc = parse_image_descriptor(files.read(name, DESCRIPTOR_BYTES), label)
    needed = DESCRIPTOR_BYTES + desc.lines * desc.record_length
    size = files.size(name)
    if size < needed:
        raise ProductError(
            f"{label}: {size} bytes, but its descriptor announces {desc.lines} lines of "
            f"{desc.record_length} bytes ({needed} bytes): the image file is truncated"
        )
    return desc


def read_lines(
    files: ProductFiles,
    name: str,
    desc: ImageDescriptor,
    progress: ProgressCallback | None = None,
    *,
    on_block: Callable[[int, np.ndarray, np.ndarray], None] | None = None,
) -> tuple[np.ndarray | None, np.ndarray]:
    """All pixels (stored order) and line times (s of day) of an image file, read sequentially.

    With ``on_block``, pixels are not kept: ``on_block(first_row, pixels, seconds_of_day)``
    receives each block of lines (about 64 MB) instead, and ``None`` is returned for them.

    Returns
    -------
    pixels : numpy.ndarray or None
        ``(lines, pixels)``: complex64 for complex pixels, else the descriptor's type (native order).
    seconds_of_day : numpy.ndarray
        Acquisition time of each stored line, s of the first line's UTC day (float64).
    """
    label = files.label(name)
    dtype = np.dtype(PIXEL_TYPES[desc.format_code])
    width = desc.pixels * dtype.itemsize
    start = desc.prefix_bytes + desc.left_border * desc.bytes_per_pixel
    out_type = np.complex64 if dtype.kind == "c" else dtype.newbyteorder("=")
    pixels = np.empty((desc.lines, desc.pixels), dtype=out_type) if on_block is None else None
    seconds = np.empty(desc.lines)
    per_block = max(1, _BLOCK_BYTES // desc.record_length)
    first_day: tuple[int, int] | None = None
    with files.open(name) as fh:
        head = fh.read(DESCRIPTOR_BYTES)
        fh.read(read_record(head, 0, label, 1).length - DESCRIPTOR_BYTES)
        for row in range(0, desc.lines, per_block):
            n = min(per_block, desc.lines - row)
            raw = fh.read(n * desc.record_length)
            if len(raw) < n * desc.record_length:
                raise ProductError(
                    f"{label}: the image file ends at line {row + len(raw) // desc.record_length + 1}"
                )
            block = np.frombuffer(raw, dtype=np.uint8).reshape(n, desc.record_length)
            prefix = read_record(raw[: desc.record_length], 0, label, row + 2)
            if prefix.length != desc.record_length:
                raise ProductError(
                    f"{label}: record {row + 2} is {prefix.length} bytes, expected {desc.record_length}"
                )
            line = parse_line_prefix(prefix)
            if first_day is None:
                first_day = (line.year, line.day_of_year)
            ms = block[:, 44:48].copy().view(">u4")[:, 0].astype(np.float64) / 1e3
            us = (
                block[:, 84:92].copy().view(">i8")[:, 0].astype(np.float64) / 1e6
                if desc.prefix_bytes >= 92
                else ms
            )
            use_us = (us > 0) & (np.abs(us - ms) < 1e-3)
            day_shift = 86400.0 * (block[:, 40:44].copy().view(">u4")[:, 0].astype(np.float64) - first_day[1])
            seconds[row : row + n] = np.where(use_us, us, ms) + day_shift
            values = np.ascontiguousarray(block[:, start : start + width]).view(dtype)
            if pixels is None:
                on_block(row, values, seconds[row : row + n])
            else:
                pixels[row : row + n] = values
            report(progress, (row + n) / desc.lines, f"reading {PurePosixPath(name).name}")
    return pixels, seconds


def first_line_prefix(files: ProductFiles, name: str, desc: ImageDescriptor):
    """The parsed prefix of the first data record (:class:`~processing_core.readers.ceos.LinePrefix`)."""
    label = files.label(name)
    head = files.read(name, DESCRIPTOR_BYTES + desc.record_length)
    return parse_line_prefix(read_record(head, DESCRIPTOR_BYTES, label, 2, expected=desc.record_length))


def platform_names(leader: Leader) -> tuple[str, str, str]:
    """(platform, sensor, id prefix): ``ALOS``/``PALSAR``/``PALSAR1`` or the ALOS-2 names."""
    mission = leader.summary.mission.upper().replace("-", "").replace(" ", "")
    if mission.startswith("ALOS2"):
        return "ALOS-2", "PALSAR-2", "PALSAR2"
    if mission.startswith("ALOS"):
        return "ALOS", "PALSAR", "PALSAR1"
    raise ProductError(f"unknown mission {leader.summary.mission!r} in the data set summary")


def mode_of(stem: str, platform: str, polarizations: int) -> str:
    """Observation mode from the product name: ``FBD`` from ``...-FBDR1.1__A`` (PALSAR-2);
    ``FBS``/``FBD``/``PLR``/``WB1`` from the first letter of ``...-H1.1__A`` (PALSAR-1)."""
    product_id = stem.rsplit("-", 1)[-1]
    if platform == "ALOS-2":
        return product_id[:3] or "UNKNOWN"
    letter = product_id[:1].upper()
    if letter == "H":
        return "FBS" if polarizations == 1 else "FBD"
    return {"P": "PLR", "W": "WB1", "D": "DSN"}.get(letter, letter or "UNKNOWN")


def base_sidecar(product: CeosProduct, leader: Leader, pol: str, grid: dict[str, Any]) -> dict[str, Any]:
    """Sidecar keys common to both levels (everything but the Doppler and extras)."""
    platform, sensor, prefix = platform_names(leader)
    first = np.datetime64(grid["first_line_time"].rstrip("Z"), "ns")
    vectors = leader.platform_position.state_vectors
    times = np.array([sv.time for sv in vectors])
    nearest = vectors[int(np.argmin(np.abs(times - first)))]
    return {
        "format": "sar-scene/1",
        "id": scene_identifier(prefix, first),
        "platform": platform,
        "sensor": sensor,
        "mode": mode_of(product.stem, platform, len(product.images)),
        "polarization": pol,
        "pass_direction": pass_direction_of(nearest.velocity_m_s[2]),
        "look_side": "left" if leader.summary.clock_angle_deg < 0 else "right",
        "wavelength_m": leader.summary.wavelength_m,
        "radar_grid": grid,
        "orbit": [
            {
                "time": format_utc(sv.time, digits=9),
                "position_m": list(sv.position_m),
                "velocity_m_s": list(sv.velocity_m_s),
            }
            for sv in vectors
        ],
    }


class _LookSums:
    """Power summed over looks while the lines stream by, in either storage order.

    Lines and samples are grouped in time order: when the product stores them reversed, the
    groups start at the far end, so the incomplete group left over is the latest one either way.
    The storage order of the lines is taken from the times of the first block (the data set
    summary's time direction when the block has one line).
    """

    def __init__(
        self, lines: int, pixels: int, looks: tuple[int, int], flip_columns: bool, reversed_rows: bool
    ) -> None:
        self.lines, self.pixels, self.looks, self.flip_columns = lines, pixels, looks, flip_columns
        self.reversed_rows: bool | None = None
        self._hint = reversed_rows
        self.sums = np.zeros((lines // looks[0], pixels // looks[1]))

    def add(self, row: int, block: np.ndarray, seconds: np.ndarray) -> None:
        """Add the power of stored lines ``row .. row + len(block) - 1``."""
        az, rg = self.looks
        n, m = self.sums.shape
        if self.reversed_rows is None:
            self.reversed_rows = bool(seconds[-1] < seconds[0]) if len(seconds) > 1 else self._hint
        stored = row + np.arange(len(block))
        group = ((self.lines - 1 - stored) if self.reversed_rows else stored) // az
        keep = group < n
        if not keep.any():
            return
        with np.errstate(over="ignore", invalid="ignore"):  # corrupt pixels give inf/NaN, not warnings
            power = np.abs(block[keep].astype(np.complex128)) ** 2
            if self.flip_columns:
                power = power[:, ::-1]
            columns = power[:, : m * rg].reshape(len(power), m, rg).sum(axis=2)
            group = group[keep]  # monotonic: one segment per output line
            starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
            self.sums[group[starts]] += np.add.reduceat(columns, starts, axis=0)

    def amplitude(self) -> np.ndarray:
        """sqrt(mean power) per output pixel, rows in increasing time; NaN where it is 0."""
        with np.errstate(over="ignore", invalid="ignore"):
            amplitude = np.sqrt(self.sums / (self.looks[0] * self.looks[1])).astype(np.float32)
        amplitude[amplitude == 0] = np.nan
        return amplitude


def read_level11(
    product: CeosProduct, leader: Leader, pol: str, looks: tuple[int, int], progress: ProgressCallback | None
) -> tuple[np.ndarray, dict[str, Any], list[float]]:
    """Amplitude, radar grid and Doppler (c_k in output samples) of a Level 1.1 image."""
    files, name = product.files, product.images[pol]
    desc = read_image_descriptor(files, name)
    if desc.format_code != "C*8":
        raise ProductError(
            f"{files.label(name)}: Level 1.1 needs complex pixels (C*8), got {desc.format_code}"
        )
    summary = leader.summary
    prefix = first_line_prefix(files, name, desc)
    flip_columns = summary.pixel_time_direction.startswith("DEC")
    power = _LookSums(
        desc.lines, desc.pixels, looks, flip_columns, summary.line_time_direction.startswith("DESC")
    )
    _, seconds = read_lines(files, name, desc, progress, on_block=power.add)
    dt = 1.0 / summary.prf_hz
    direction = 1.0 if desc.lines < 2 or seconds[-1] >= seconds[0] else -1.0
    index = np.arange(desc.lines)
    start_s = float(np.mean(seconds - direction * index * dt))
    residual = np.abs(seconds - start_s - direction * index * dt).max()
    if residual > 2e-3 + 0.01 * dt * desc.lines:
        raise ProductError(
            f"{files.label(name)}: line times depart {residual * 1e3:.1f} ms from a regular 1/PRF "
            "spacing (missing lines or a PRF change); not supported"
        )
    try:
        day = np.datetime64(f"{prefix.year:04d}-01-01", "ns") + np.timedelta64(prefix.day_of_year - 1, "D")
    except ValueError:
        raise ProductError(f"{files.label(name)}: record 2 has no valid acquisition date") from None
    dr = SPEED_OF_LIGHT_M_S / (2.0 * summary.range_sampling_rate_hz)
    near = prefix.slant_range_m - (desc.pixels - 1) * dr if flip_columns else prefix.slant_range_m
    first_s = start_s if direction > 0 else start_s - (desc.lines - 1) * dt
    grid = {
        "first_line_time": format_utc(add_seconds(day, first_s), digits=9),
        "line_time_interval_s": dt,
        "slant_range_first_m": near,
        "slant_range_spacing_m": dr,
        "lines": desc.lines,
        "samples": desc.pixels,
    }
    if power.reversed_rows != (direction < 0):
        raise ProductError(f"{files.label(name)}: line times run both forwards and backwards")
    amplitude = power.amplitude()
    out_grid = multilook_grid(grid, looks)
    if platform_names(leader)[0] == "ALOS-2":
        c0, c1 = summary.doppler_vs_range_km or (0.0, 0.0)
        doppler = doppler_in_samples(
            (c0, c1), out_grid["slant_range_first_m"] / 1e3, out_grid["slant_range_spacing_m"] / 1e3
        )
    else:
        # Hz per stored pixel p; output sample s covers p = rg*s + (rg-1)/2 (mirrored if flipped).
        rg = looks[1]
        centre = 0.5 * (rg - 1)
        first, step = ((desc.pixels - 1) - centre, -rg) if flip_columns else (centre, rg)
        doppler = doppler_in_samples(summary.cross_track_doppler, first, step)
    return amplitude, out_grid, doppler


class PalsarReader:
    """ALOS PALSAR-1 and ALOS-2 PALSAR-2 CEOS Level 1.1 and 1.5 products (folder, zip or LED file)."""

    name = "ALOS CEOS"

    def can_read(self, path: Path) -> bool:
        """True for a LED-/VOL-/IMG- file or a folder or zip holding CEOS product files."""
        path = Path(path)
        if path.is_file() and is_ceos_name(path.name):
            return True
        if not (path.is_dir() or (path.is_file() and path.suffix.lower() == ".zip")):
            return False
        try:
            return bool(find_ceos_products(ProductFiles.of(path)))
        except ProductError:
            return False

    def read(
        self,
        path: Path,
        out_dir: Path,
        *,
        options: ReadOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> Scene:
        """Write the product's amplitude and sidecar into ``out_dir``."""
        from processing_core.readers.palsar_l15 import read_level15

        options = options or ReadOptions()
        looks = check_looks(options.multilook)
        product = open_product(Path(path))
        check_complete(product)
        files = product.files
        assert product.leader is not None
        leader = parse_leader(files.read(product.leader), files.label(product.leader))
        if leader.summary.product_level.startswith("1.0"):
            raise ProductError(
                f"{product.label}: Level 1.0 (raw signal data) is not supported; use Level 1.1 or 1.5"
            )
        pol = choose_polarization(product, options.polarization)
        desc = parse_image_descriptor(
            files.read(product.images[pol], DESCRIPTOR_BYTES), files.label(product.images[pol])
        )
        level = "1.1" if desc.format_code == "C*8" else "1.5"
        if level == "1.1":
            amplitude, grid, doppler = read_level11(product, leader, pol, looks, progress)
        else:
            amplitude, grid, doppler = read_level15(product, leader, pol, looks, progress)
        sidecar = base_sidecar(product, leader, pol, grid)
        sidecar["doppler_centroid_hz"] = doppler
        pp = leader.platform_position
        sidecar["product"] = {
            "reader": self.name,
            "source": str(Path(path).resolve()),
            "name": product.stem,
            "level": level,
            "product_type": leader.summary.product_type,
            "orbit_designator": pp.designator,
            "orbit_reference_frame": pp.reference_frame or "unspecified (taken as Earth-fixed)",
            "orbit_converted_from_inertial": pp.converted_from_inertial,
            "prf_hz": leader.summary.prf_hz,
            "range_sampling_rate_hz": leader.summary.range_sampling_rate_hz,
            "multilook": list(looks),
        }
        return write_outputs(sidecar, amplitude, Path(out_dir), source=product.label)
