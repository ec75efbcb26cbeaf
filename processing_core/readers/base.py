"""The sensor interface shared by the product readers, and what they have in common.

Every reader is an adapter with two calls (:class:`Reader`): ``can_read(path)`` answers
cheaply whether a path (a folder, a ``.zip``, a file) looks like its product kind, and
``read(path, out_dir, ...)`` writes the scene into ``out_dir`` in the interchange format
(DESIGN.md, ``sar-scene/1``): ``<id>.tif`` (band 1 amplitude, float32, rows = azimuth lines
in increasing time, columns = range samples in increasing slant range, NaN no-data) and
``<id>.json``. :data:`READERS` lists the readers in the order the importer asks them.

:class:`ProductFiles` hides whether a product lies in a folder or in a zip archive: files
are addressed by their path relative to the folder or archive root, metadata is read with
:mod:`zipfile` and pixels through GDAL's ``/vsizip/``.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, Protocol

import numpy as np

from processing_core.errors import ProductError, SarError
from processing_core.progress import ProgressCallback, report
from processing_core.rasters import write_geotiff
from processing_core.scene import Scene, scene_from_dict, write_scene
from processing_core.timeutil import add_seconds, format_utc, parse_utc

Looks = tuple[int, int]


@dataclass(frozen=True)
class ReadOptions:
    """Options every reader accepts (readers ignore those that do not apply to them)."""

    multilook: Looks = (1, 1)
    """Looks (azimuth, range): lines and samples averaged (in power) into one output pixel."""
    polarization: str | None = None
    """Polarisation to import (``HH``, ``VV``, ...); ``None``: the first co-polarised one."""
    orbit_files: tuple[Path, ...] = ()
    """External orbit files (Sentinel-1 ``.EOF``); the reader picks those covering the scene."""


class Reader(Protocol):
    """One product kind."""

    name: str
    """Short name used in messages, e.g. ``ALOS CEOS``."""

    def can_read(self, path: Path) -> bool:
        """Whether ``path`` looks like this kind of product (cheap: names and a few bytes)."""

    def read(
        self,
        path: Path,
        out_dir: Path,
        *,
        options: ReadOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> Scene:
        """Write ``<id>.tif`` and ``<id>.json`` into ``out_dir`` and return the scene."""


# -- files of a product --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductFiles:
    """The files of a product in a folder or a zip archive."""

    container: Path
    """The folder or the ``.zip`` file."""
    names: tuple[str, ...]
    """Paths of the files relative to the container root (``/`` separated), sorted."""
    is_zip: bool = False
    """Whether :attr:`container` is a zip archive."""
    _sizes: Mapping[str, int] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, path: Path, *, max_depth: int = 2) -> ProductFiles:
        """List the files of a folder (down to ``max_depth`` sub-folders) or a zip archive.

        Raises
        ------
        ProductError
            When ``path`` is neither a folder nor a readable zip archive.
        """
        path = Path(path)
        if path.is_dir():
            names: list[str] = []
            sizes: dict[str, int] = {}
            base_depth = len(path.parts)
            for root, dirs, files in os.walk(path):
                depth = len(Path(root).parts) - base_depth
                if depth >= max_depth:
                    dirs[:] = []
                dirs.sort()
                for f in sorted(files):
                    rel = Path(root, f).relative_to(path).as_posix()
                    names.append(rel)
                    sizes[rel] = Path(root, f).stat().st_size
            return cls(path, tuple(sorted(names)), False, sizes)
        if zipfile.is_zipfile(path):
            try:
                with zipfile.ZipFile(path) as zf:
                    infos = [i for i in zf.infolist() if not i.is_dir()]
            except (zipfile.BadZipFile, OSError) as exc:
                raise ProductError(f"{path}: not a readable zip archive ({exc})") from None
            sizes = {i.filename: i.file_size for i in infos}
            return cls(path, tuple(sorted(sizes)), True, sizes)
        raise ProductError(f"{path}: neither a folder nor a zip archive")

    def find(self, predicate: Any) -> list[str]:
        """Names whose base name satisfies ``predicate(basename) -> bool``."""
        return [n for n in self.names if predicate(PurePosixPath(n).name)]

    def label(self, name: str) -> str:
        """How messages name a file: ``archive.zip:member`` or the file's path."""
        return f"{self.container}:{name}" if self.is_zip else str(self.container / name)

    def stamp(self, name: str) -> tuple[int, int]:
        """(modification time in ns, size) of a file, or of the archive holding it: a cache key."""
        st = (self.container if self.is_zip else self.container / name).stat()
        return st.st_mtime_ns, st.st_size

    def size(self, name: str) -> int:
        """File size in bytes."""
        return int(self._sizes[name])

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        """Open a file for binary reading (seekable, also inside a zip)."""
        try:
            if self.is_zip:
                with zipfile.ZipFile(self.container) as zf, zf.open(name) as fh:
                    yield fh
            else:
                with open(self.container / name, "rb") as fh:
                    yield fh
        except (zipfile.BadZipFile, KeyError, OSError) as exc:
            if isinstance(exc, SarError):
                raise
            raise ProductError(f"{self.label(name)}: cannot read ({exc})") from None

    def read(self, name: str, size: int | None = None) -> bytes:
        """The first ``size`` bytes of a file (all of it when ``None``)."""
        with self.open(name) as fh:
            return fh.read() if size is None else fh.read(size)

    def gdal_path(self, name: str) -> str:
        """The file's name for GDAL (``/vsizip/...`` inside an archive)."""
        if self.is_zip:
            return f"/vsizip/{self.container.resolve()}/{name}"
        return str((self.container / name).resolve())


# -- radar grids and multilooking ------------------------------------------------------------------


def check_looks(looks: Sequence[int]) -> Looks:
    """Validate ``(azimuth, range)`` looks.

    Raises
    ------
    ProductError
        When the looks are not two positive integers.
    """
    try:
        az, rg = (int(v) for v in looks)
    except (TypeError, ValueError):
        raise ProductError(
            f"multilook must be two positive integers (azimuth, range), got {looks!r}"
        ) from None
    if az < 1 or rg < 1 or az != looks[0] or rg != looks[1]:
        raise ProductError(f"multilook must be two positive integers (azimuth, range), got {looks!r}")
    return az, rg


def multilook_grid(grid: Mapping[str, Any], looks: Looks) -> dict[str, Any]:
    """The ``radar_grid`` of a multilooked image.

    Output pixel (i, j) averages input lines ``az*i .. az*i+az-1`` and samples
    ``rg*j .. rg*j+rg-1``, so its time and range are those of the centre of that block;
    incomplete blocks at the end are dropped.
    """
    az, rg = looks
    lines, samples = int(grid["lines"]) // az, int(grid["samples"]) // rg
    if lines < 1 or samples < 1:
        raise ProductError(
            f"multilook {az}x{rg} leaves no pixel of a {grid['lines']} x {grid['samples']} image"
        )
    dt = float(grid["line_time_interval_s"])
    dr = float(grid["slant_range_spacing_m"])
    first = parse_utc(grid["first_line_time"])
    return {
        "first_line_time": format_utc(add_seconds(first, 0.5 * (az - 1) * dt), digits=9),
        "line_time_interval_s": az * dt,
        "slant_range_first_m": float(grid["slant_range_first_m"]) + 0.5 * (rg - 1) * dr,
        "slant_range_spacing_m": rg * dr,
        "lines": lines,
        "samples": samples,
    }


def multilook_power(power: np.ndarray, looks: Looks) -> np.ndarray:
    """Average ``power`` over blocks of ``looks`` (azimuth, range); drops incomplete blocks."""
    az, rg = looks
    n, m = power.shape[0] // az, power.shape[1] // rg
    block = power[: n * az, : m * rg]
    if az == 1 and rg == 1:
        return block
    return block.reshape(n, az, m, rg).mean(axis=(1, 3))


def amplitude_by_blocks(
    read_power: Callable[[int, int], np.ndarray],
    lines: int,
    samples: int,
    looks: Looks,
    progress: ProgressCallback | None = None,
    message: str = "reading",
    rows_per_block: int = 1024,
) -> np.ndarray:
    """Multilooked amplitude ``sqrt(mean power)`` of an image read ``rows_per_block`` lines at a time.

    ``read_power(row, n)`` returns the power (NaN at no-data) of lines ``row .. row+n-1``, shape
    (n, samples); blocks hold whole azimuth looks. Returns float32 (lines // az, samples // rg).
    """
    az, rg = looks
    lines_out = lines // az
    out = np.empty((lines_out, samples // rg), dtype=np.float32)
    step = max(1, rows_per_block // az) * az
    for row in range(0, lines_out * az, step):
        n = min(step, lines_out * az - row)
        with np.errstate(over="ignore", invalid="ignore"):  # corrupt pixels give inf/NaN, not warnings
            out[row // az : (row + n) // az] = np.sqrt(multilook_power(read_power(row, n), looks))
        report(progress, (row + n) / (lines_out * az), message)
    return out


def doppler_in_samples(coefficients: Sequence[float], range_first: float, range_step: float) -> list[float]:
    """Re-express a Doppler polynomial in the output grid's range sample index.

    Parameters
    ----------
    coefficients
        d0, d1, ... of f(x) = sum d_k x^k (Hz), with x any linear function of slant range.
    range_first, range_step
        x at output sample 0 and its increment per output sample (the units of x).

    Returns
    -------
    list of float
        c0, c1, ... of f(s) = sum c_k s^k with s the output sample index (DESIGN.md).
    """
    poly = np.polynomial.Polynomial(np.asarray(coefficients, dtype=np.float64))
    composed = poly(np.polynomial.Polynomial([range_first, range_step]))
    out = [float(c) for c in composed.coef]
    return out if any(out) else [0.0]


# -- outputs --------------------------------------------------------------------------------------


def write_outputs(sidecar: dict[str, Any], amplitude: np.ndarray, out_dir: Path, *, source: str) -> Scene:
    """Validate a reader's sidecar, then write ``<id>.tif`` and ``<id>.json`` atomically.

    The sidecar is validated (:func:`processing_core.scene.scene_from_dict`) before anything is
    written, so a reader's inconsistency surfaces as a :class:`ProductError` naming ``source``.
    """
    out_dir = Path(out_dir)
    scene_id = str(sidecar["id"])
    sidecar = dict(sidecar, image=f"{scene_id}.tif")
    grid = sidecar["radar_grid"]
    if amplitude.shape != (grid["lines"], grid["samples"]):
        raise ProductError(
            f"{source}: amplitude is {amplitude.shape[0]} x {amplitude.shape[1]} pixels, "
            f"the radar grid {grid['lines']} x {grid['samples']}"
        )
    try:
        scene = scene_from_dict(sidecar, source=source)
    except SarError as exc:
        raise ProductError(str(exc)) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    write_geotiff(
        out_dir / f"{scene_id}.tif",
        [amplitude.astype(np.float32, copy=False)],
        descriptions=["amplitude"],
        metadata={"SCENE_ID": scene_id, "PLATFORM": scene.platform, "POLARIZATION": scene.polarization},
    )
    path = write_scene(scene, out_dir / f"{scene_id}.json")
    return scene_from_dict(sidecar, source=str(path), sidecar=path.resolve())


def scene_identifier(sensor: str, first_line_time: np.datetime64) -> str:
    """``<SENSOR>_<YYYYMMDD>`` (e.g. ``PALSAR2_20150727``), the design's scene naming."""
    day = np.datetime_as_string(np.datetime64(first_line_time, "D")).replace("-", "")
    return f"{sensor.replace('-', '')}_{day}"


def pass_direction_of(velocity_z_m_s: float) -> str:
    """``ascending`` when the satellite moves north (ECEF z velocity > 0), else ``descending``."""
    return "ascending" if velocity_z_m_s > 0 else "descending"
