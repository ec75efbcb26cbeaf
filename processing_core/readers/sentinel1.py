"""Reader adapter for Sentinel-1 SAFE products (folder ``*.SAFE`` or its ``.zip``).

- **GRD** (IW, EW, SM): the ground-range amplitude is resampled into slant range, line by line,
  with the annotation's ``coordinateConversion`` polynomials (the record nearest in azimuth
  time, as ESA's geolocation grid uses them): output sample ``j`` at slant range ``R_j`` takes the GRD pixel
  ``srgr(R_j - sr0) / pixel spacing`` (linear interpolation in power). The slant-range spacing
  is the GRD pixel spacing times d(slant)/d(ground) at mid swath, so the sample count stays
  close to the GRD's. Lines are kept (zero-Doppler, increasing time). The polynomials go to the
  sidecar (key ``ground_range``) for traceability.
- **SLC** stripmap (SM): amplitude of the complex pixels. TOPS SLC (IW, EW) bursts are parsed
  (:attr:`~processing_core.readers.safe.Annotation.bursts`) but not debursted: importing one
  is a clear error.
- Orbit: the annotation's state vectors, or those of a matching precise/restituted orbit file
  (``.EOF``, same satellite, covering the scene) when given; precise (POEORB) wins.

Pixels are read with GDAL (``/vsizip/`` inside archives), metadata with ElementTree.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from osgeo import gdal

from processing_core.errors import ProductError
from processing_core.progress import ProgressCallback, report
from processing_core.readers.base import (
    ProductFiles,
    ReadOptions,
    amplitude_by_blocks,
    check_looks,
    multilook_grid,
    multilook_power,
    scene_identifier,
    write_outputs,
)
from processing_core.readers.safe import (
    Annotation,
    Manifest,
    OrbitFile,
    annotation_names,
    parse_annotation,
    parse_manifest,
    parse_orbit_file,
)
from processing_core.scene import Scene, StateVector
from processing_core.timeutil import format_utc, seconds_since

gdal.UseExceptions()

_POLARISATION_ORDER = ("VV", "HH", "VH", "HV")
_ROWS_PER_BLOCK = 256


@lru_cache(maxsize=16)
def _orbit_file(path: str, stamp: tuple[int, int]) -> OrbitFile:
    return parse_orbit_file(Path(path).read_bytes(), path)


def read_orbit_file(path: Path) -> OrbitFile:
    """Parse an ``.EOF`` file (cached by path, modification time and size)."""
    try:
        st = Path(path).stat()
        return _orbit_file(str(path), (st.st_mtime_ns, st.st_size))
    except OSError as exc:
        raise ProductError(f"{path}: cannot read orbit file ({exc.strerror})") from None


def safe_root(files: ProductFiles) -> str | None:
    """The folder of ``manifest.safe`` inside ``files`` (``""`` at the top), or ``None``."""
    for name in files.names:
        path = PurePosixPath(name)
        if path.name == "manifest.safe" and len(path.parts) <= 2:
            return "" if len(path.parts) == 1 else path.parts[0]
    return None


@lru_cache(maxsize=8)
def _annotation(container: str, name: str, stamp: tuple[int, int]) -> Annotation:
    files = ProductFiles.of(Path(container))
    return parse_annotation(files.read(name), files.label(name))


def read_metadata(
    path: Path, polarization: str | None = None
) -> tuple[ProductFiles, Manifest, Annotation, str]:
    """Manifest, annotation and measurement file name of one polarisation of a SAFE product.

    Raises
    ------
    ProductError
        When ``manifest.safe``, the annotation or the measurement file is missing, or the
        polarisation is not in the product.
    """
    files = ProductFiles.of(Path(path))
    root = safe_root(files)
    if root is None:
        raise ProductError(f"{path}: partial SAFE product, manifest.safe is missing")
    prefix = f"{root}/" if root else ""
    manifest = parse_manifest(files.read(prefix + "manifest.safe"), files.label(prefix + "manifest.safe"))
    annotations = annotation_names(files.names, root)
    if not annotations:
        raise ProductError(f"{path}: partial SAFE product, no annotation/s1*.xml product annotation")
    pols = sorted(
        {pol for _, pol in annotations},
        key=lambda p: _POLARISATION_ORDER.index(p) if p in _POLARISATION_ORDER else 9,
    )
    pol = (polarization or pols[0]).upper()
    chosen = sorted(name for (swath, p), name in annotations.items() if p == pol)
    if not chosen:
        raise ProductError(f"{path}: no {pol} annotation (has {', '.join(pols)})")
    name = chosen[0]
    annotation = _annotation(str(files.container), name, files.stamp(name))
    measurement = f"{prefix}measurement/{PurePosixPath(name).stem}.tiff"
    if measurement not in files.names:
        raise ProductError(f"{path}: partial SAFE product, measurement file {measurement} is missing")
    return files, manifest, annotation, measurement


def choose_orbit(
    annotation: Annotation, platform: str, orbit_files: tuple[Path, ...]
) -> tuple[tuple[StateVector, ...], str]:
    """State vectors for the scene and where they come from (an ``.EOF`` name or ``annotation``)."""
    candidates = []
    for path in orbit_files:
        eof = read_orbit_file(path)
        if eof.mission.replace(" ", "").upper() != platform.replace(" ", "").upper():
            continue
        vectors = eof.covering(annotation.first_line_time, annotation.last_line_time)
        if (
            len(vectors) < 8
            or vectors[0].time > annotation.first_line_time
            or vectors[-1].time < annotation.last_line_time
        ):
            continue
        candidates.append((0 if "POEORB" in Path(path).name.upper() else 1, Path(path).name, vectors))
    if not candidates:
        return annotation.orbit, "annotation"
    _, name, vectors = min(candidates, key=lambda c: (c[0], c[1]))
    return vectors, name


def _grd_geometry(ann: Annotation) -> tuple[float, float, int]:
    """First slant range (m), slant-range spacing (m) and samples of the slant-range grid."""
    if not ann.conversions:
        raise ProductError(f"{ann.source}: GRD annotation without coordinateConversion polynomials")
    gr_last = (ann.samples - 1) * ann.range_pixel_spacing_m
    pv = np.polynomial.polynomial.polyval
    near = min(pv(0.0 - c.gr0_m, c.grsr) for c in ann.conversions)
    far = max(pv(gr_last - c.gr0_m, c.grsr) for c in ann.conversions)
    mid = ann.conversions[len(ann.conversions) // 2]
    slope = pv(0.5 * gr_last - mid.gr0_m, np.polynomial.polynomial.polyder(mid.grsr))
    if not (far > near > 0 and 0.2 < slope < 1.0):
        raise ProductError(f"{ann.source}: coordinateConversion polynomials do not map ground to slant range")
    spacing = ann.range_pixel_spacing_m * slope
    samples = int((far - near) / spacing) + 1
    if samples > 4 * ann.samples:
        raise ProductError(
            f"{ann.source}: coordinateConversion polynomials give {samples} slant-range samples"
        )
    return float(near), float(spacing), samples


class GroundPixels:
    """GRD pixel (float) of slant ranges at azimuth times, from the annotation's polynomials.

    Each line takes the ``coordinateConversion`` record nearest in azimuth time: that is how
    ESA's geolocation grid relates slant range and pixel (to the millimetre on the real
    annotation), whereas interpolating between records departs from it by up to half a pixel
    where the terrain height of consecutive records differs.
    """

    def __init__(self, ann: Annotation, slant_range_m: np.ndarray) -> None:
        self.spacing = ann.range_pixel_spacing_m
        self.times = seconds_since(np.array([c.azimuth_time for c in ann.conversions]), ann.first_line_time)
        self.ground = np.array(
            [np.polynomial.polynomial.polyval(slant_range_m - c.sr0_m, c.srgr) for c in ann.conversions]
        )

    def __call__(self, seconds: np.ndarray) -> np.ndarray:
        """(m, n) pixels for times ``seconds`` (m,) after the first line."""
        seconds = np.asarray(seconds, dtype=np.float64)
        k = np.abs(seconds[:, None] - self.times[None, :]).argmin(axis=1)
        return self.ground[k] / self.spacing


def _read_rows(band: gdal.Band, row: int, n: int, label: str, buf_type: int | None = None) -> np.ndarray:
    try:
        return band.ReadAsArray(0, row, band.XSize, n, buf_type=buf_type)
    except RuntimeError as exc:
        raise ProductError(f"{label}: cannot read lines {row}-{row + n - 1} ({exc})") from None


def _open_measurement(files: ProductFiles, name: str, ann: Annotation) -> gdal.Dataset:
    try:
        ds = gdal.Open(files.gdal_path(name))
    except RuntimeError as exc:
        raise ProductError(f"{files.label(name)}: GDAL cannot open the measurement ({exc})") from None
    if (ds.RasterYSize, ds.RasterXSize) != (ann.lines, ann.samples):
        raise ProductError(
            f"{files.label(name)}: {ds.RasterYSize} x {ds.RasterXSize} pixels, the annotation says "
            f"{ann.lines} x {ann.samples}"
        )
    return ds


def read_grd(
    files: ProductFiles, name: str, ann: Annotation, looks: tuple[int, int], progress: ProgressCallback | None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Slant-range amplitude and radar grid of a GRD measurement."""
    ds = _open_measurement(files, name, ann)
    band = ds.GetRasterBand(1)
    near, spacing, samples = _grd_geometry(ann)
    az, rg = looks
    pixels_of = GroundPixels(ann, near + spacing * np.arange(samples))
    lines_out = ann.lines // az
    out = np.empty((lines_out, samples // rg), dtype=np.float32)
    step = max(1, _ROWS_PER_BLOCK // az) * az
    for row in range(0, lines_out * az, step):
        n = min(step, lines_out * az - row)
        with np.errstate(over="ignore", invalid="ignore"):  # corrupt pixels: inf/NaN, no warnings
            dn = _read_rows(band, row, n, files.label(name), gdal.GDT_Float32)
            power = dn * dn
            power[power == 0] = np.nan
            power = power.reshape(n // az, az, ann.samples).mean(axis=1)
            centre = (row + az * np.arange(n // az) + 0.5 * (az - 1)) * ann.line_time_interval_s
            pixel = pixels_of(centre)
            inside = (pixel >= 0) & (pixel <= ann.samples - 1)
            i0 = np.clip(np.floor(pixel).astype(np.intp), 0, ann.samples - 2)
            frac = np.clip(pixel - i0, 0.0, 1.0)
            left = np.take_along_axis(power, i0, axis=1)
            right = np.take_along_axis(power, i0 + 1, axis=1)
            slant = np.where(inside, left * (1 - frac) + right * frac, np.nan)
            out[row // az : (row + n) // az] = np.sqrt(multilook_power(slant, (1, rg)))
        report(progress, (row + n) / (lines_out * az), "GRD to slant range")
    grid = {
        "first_line_time": format_utc(ann.first_line_time, digits=9),
        "line_time_interval_s": ann.line_time_interval_s,
        "slant_range_first_m": near,
        "slant_range_spacing_m": spacing,
        "lines": ann.lines,
        "samples": samples,
    }
    return out, multilook_grid(grid, looks)


def read_slc(
    files: ProductFiles, name: str, ann: Annotation, looks: tuple[int, int], progress: ProgressCallback | None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Amplitude and radar grid of a stripmap SLC measurement."""
    if ann.bursts:
        raise ProductError(
            f"{ann.source}: Sentinel-1 {ann.mode} SLC is TOPS ({len(ann.bursts)} bursts in {ann.swath}); "
            "bursts are read as metadata only, debursting is not supported: import the GRD product"
        )
    ds = _open_measurement(files, name, ann)
    band = ds.GetRasterBand(1)

    def read_power(row: int, n: int) -> np.ndarray:
        power = np.abs(_read_rows(band, row, n, files.label(name), gdal.GDT_CFloat32)) ** 2
        power[power == 0] = np.nan
        return power

    out = amplitude_by_blocks(
        read_power, ann.lines, ann.samples, looks, progress, "SLC amplitude", _ROWS_PER_BLOCK
    )
    grid = {
        "first_line_time": format_utc(ann.first_line_time, digits=9),
        "line_time_interval_s": ann.line_time_interval_s,
        "slant_range_first_m": ann.slant_range_first_m,
        "slant_range_spacing_m": ann.range_pixel_spacing_m,
        "lines": ann.lines,
        "samples": ann.samples,
    }
    return out, multilook_grid(grid, looks)


class Sentinel1Reader:
    """Sentinel-1 SAFE products: a ``*.SAFE`` folder, a folder holding ``manifest.safe``, or a zip."""

    name = "Sentinel-1 SAFE"

    def can_read(self, path: Path) -> bool:
        """True for a folder or zip with ``manifest.safe`` at its top or one folder down."""
        path = Path(path)
        if path.is_dir():
            return (path / "manifest.safe").is_file() or path.suffix.upper() == ".SAFE"
        if path.is_file() and path.suffix.lower() == ".zip":
            try:
                return safe_root(ProductFiles.of(path, max_depth=1)) is not None
            except ProductError:
                return False
        return False

    def read(
        self,
        path: Path,
        out_dir: Path,
        *,
        options: ReadOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> Scene:
        """Write the product's slant-range amplitude and sidecar into ``out_dir``."""
        options = options or ReadOptions()
        looks = check_looks(options.multilook)
        files, manifest, ann, measurement = read_metadata(Path(path), options.polarization)
        orbit, orbit_source = choose_orbit(ann, manifest.platform, tuple(options.orbit_files))
        if ann.product_type.upper() == "GRD":
            amplitude, grid = read_grd(files, measurement, ann, looks, progress)
        elif ann.product_type.upper() == "SLC":
            amplitude, grid = read_slc(files, measurement, ann, looks, progress)
        else:
            raise ProductError(f"{ann.source}: product type {ann.product_type!r} is not supported (GRD, SLC)")
        sidecar: dict[str, Any] = {
            "format": "sar-scene/1",
            "id": scene_identifier(ann.mission, ann.first_line_time),
            "platform": manifest.platform,
            "sensor": "C-SAR",
            "mode": ann.mode,
            "polarization": ann.polarization,
            "pass_direction": ann.pass_direction,
            "look_side": "right",
            "wavelength_m": ann.wavelength_m,
            "radar_grid": grid,
            "doppler_centroid_hz": [0.0],
            "orbit": [
                {
                    "time": format_utc(sv.time, digits=9),
                    "position_m": list(sv.position_m),
                    "velocity_m_s": list(sv.velocity_m_s),
                }
                for sv in orbit
            ],
            "product": {
                "reader": self.name,
                "source": str(Path(path).resolve()),
                "name": Path(path).name,
                "product_type": ann.product_type,
                "swath": ann.swath,
                "orbit_source": orbit_source,
                "multilook": list(looks),
            },
        }
        if ann.product_type.upper() == "GRD":
            sidecar["ground_range"] = {
                "pixel_spacing_m": ann.range_pixel_spacing_m,
                "conversions": [
                    {
                        "azimuth_time": format_utc(c.azimuth_time, digits=6),
                        "sr0_m": c.sr0_m,
                        "srgr": c.srgr.tolist(),
                        "gr0_m": c.gr0_m,
                        "grsr": c.grsr.tolist(),
                    }
                    for c in ann.conversions
                ],
            }
        return write_outputs(sidecar, amplitude, Path(out_dir), source=ann.source)
