"""The rectification's rasters read, computed and written window by window (memory bounded).

A full PALSAR frame is tens of thousands of pixels a side: its amplitude, the master's ground
lookup table (three float64 bands) and a slave resampled into the master grid do not fit in a
few GB at once. So nothing here holds a whole raster. Each input is a window reader
(:class:`SceneImage`, :class:`GroundSource`), a slave in master geometry is computed for the
window asked for (:class:`RectifiedSource`, a :class:`~processing_core.offsets.tiles.Source`
that the tiled offset engine reads tile by tile), and products are written in strips
(:func:`write_strips`) whose height follows the memory given (:func:`strip_rows`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
from osgeo import gdal

from processing_core.errors import InputError
from processing_core.geometry import RadarGeometry
from processing_core.lookup import GroundLookup
from processing_core.lookup_tiles import GEOTIFF_BLOCK
from processing_core.progress import ProgressCallback, report
from processing_core.rasters import GeoTiffWriter
from processing_core.rectify.transform import resample_from, slave_coordinates
from processing_core.scene import Scene

gdal.UseExceptions()

STRIP_BYTES_PER_PIXEL = 200
"""Working memory per master pixel of a strip, bytes: the ground point (3 float64), its slave
coordinates and geo2rdr's temporaries, the slave patch and its spline coefficients, the output."""


def strip_rows(samples: int, memory_mb: float) -> int:
    """Lines of a strip of ``samples`` pixels that fits ``memory_mb`` MiB (8 at least).

    Strips of 256 lines or more are cut at multiples of 256, the outputs' GeoTIFF block height.
    """
    if not memory_mb > 0:
        raise ValueError(f"memory_mb must be positive, got {memory_mb!r}")
    rows = int(memory_mb * 2**20 / (max(samples, 1) * STRIP_BYTES_PER_PIXEL))
    return rows - rows % 256 if rows >= 256 else max(rows, 8)


def row_strips(y0: int, y1: int, samples: int, memory_mb: float) -> Iterator[tuple[int, int]]:
    """Lines [a, b) of the strips, of :func:`strip_rows` lines each, that cover lines [y0, y1)."""
    step = strip_rows(samples, memory_mb)
    for a in range(y0, y1, step):
        yield a, min(a + step, y1)


def block_windows(lines: int, samples: int, memory_mb: float) -> Iterator[tuple[int, int, int, int]]:
    """Windows (y0, y1, x0, x1) covering a ``lines`` x ``samples`` raster, in reading order, each
    within ``memory_mb`` at :data:`STRIP_BYTES_PER_PIXEL`.

    Whole-width strips when a strip of :data:`GEOTIFF_BLOCK` lines fits; otherwise windows of one
    block row (256 lines) and as many 256-pixel block columns as fit. Strips thinner than a block
    would decompress each tiled input block (256 x 256) once per strip: 4x the reads for a 20k
    pixel wide scene at 256 MiB, where a block row of the ground lookup table (164 MB) is larger
    than GDAL's cache. Below one block's memory (~13 MiB), thinner whole-width strips.
    """
    rows = strip_rows(samples, memory_mb)
    block = GEOTIFF_BLOCK
    cols = int(memory_mb * 2**20 / (block * STRIP_BYTES_PER_PIXEL)) // block * block
    if rows >= block or cols < block:
        for y0, y1 in row_strips(0, lines, samples, memory_mb):
            yield y0, y1, 0, samples
        return
    for y0 in range(0, lines, block):
        for x0 in range(0, samples, cols):
            yield y0, min(y0 + block, lines), x0, min(x0 + cols, samples)


def _read_bands(
    dataset: gdal.Dataset, lock: threading.Lock, bands: tuple[int, ...], window: tuple[int, int, int, int]
) -> tuple[tuple[int, int, int, int], list[np.ndarray]]:
    """Bands of ``dataset`` over the part of ``window`` (y0, y1, x0, x1) inside the raster.

    Returns the clipped window (a0, a1, b0, b1), empty (a0 >= a1) outside, and the arrays.
    """
    y0, y1, x0, x1 = window
    h, w = dataset.RasterYSize, dataset.RasterXSize
    a0, a1, b0, b1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    if a0 >= a1 or b0 >= b1:
        return (a0, a1, b0, b1), []
    with lock:  # one GDAL handle is not safe for concurrent reads
        # All bands in one call: a pixel-interleaved block is then decompressed once, not once per
        # band (4x faster on the 4-band ground lookup table of a 20k x 20k scene).
        block = dataset.ReadAsArray(b0, a0, b1 - b0, a1 - a0, band_list=list(bands))
    data = [block] if block.ndim == 2 else list(block)
    return (a0, a1, b0, b1), data


class SceneImage:
    """A scene's amplitude (band 1; modulus of complex data) read by windows as float64, NaN at nodata.

    Raises :class:`~processing_core.errors.InputError` naming the file when it cannot be opened,
    when its size is not the sidecar's, or (on a read) when its blocks are corrupted.
    """

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.path = scene.image_path
        try:
            self.dataset = gdal.Open(str(self.path))
        except RuntimeError as exc:
            raise InputError(
                f"{self.path}: cannot open the image of scene {scene.id} ({str(exc).strip()})"
            ) from None
        self.shape = (self.dataset.RasterYSize, self.dataset.RasterXSize)
        if self.shape != (scene.radar_grid.lines, scene.radar_grid.samples):
            raise InputError(
                f"{self.path}: raster is {self.shape[0]} x {self.shape[1]}, sidecar says "
                f"{scene.radar_grid.lines} x {scene.radar_grid.samples}"
            )
        self.nodata = self.dataset.GetRasterBand(1).GetNoDataValue()
        self._lock = threading.Lock()

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Amplitude of lines [y0, y1) and samples [x0, x1), float64; NaN outside the raster."""
        out = np.full((y1 - y0, x1 - x0), np.nan)
        try:
            (a0, a1, b0, b1), data = _read_bands(self.dataset, self._lock, (1,), (y0, y1, x0, x1))
        except RuntimeError as exc:  # a truncated or corrupted file opens but fails on its blocks
            detail = " ".join(str(exc).replace(f"{self.path}, ", "").split())
            raise InputError(
                f"{self.path}: cannot read the image of scene {self.scene.id} ({detail})"
            ) from None
        if data:
            raw = data[0]
            amplitude = np.abs(raw).astype(np.float64)
            if self.nodata is not None and np.isfinite(self.nodata):
                amplitude[raw == self.nodata] = np.nan
            out[a0 - y0 : a1 - y0, b0 - x0 : b1 - x0] = amplitude
        return out

    def mean(self, *, memory_mb: float = 256.0) -> float:
        """Mean of the valid amplitude, read in strips; an error if there is none or it is constant."""
        count, total, low, high = 0, 0.0, np.inf, -np.inf
        for window in block_windows(*self.shape, memory_mb):
            block = self.read(*window)
            valid = block[np.isfinite(block)]
            if valid.size:
                count += valid.size
                total += float(valid.sum())
                low, high = min(low, float(valid.min())), max(high, float(valid.max()))
        check_texture(self.scene, count, low, high)
        return total / count


def check_texture(scene: Scene, count: int, low: float, high: float) -> None:
    """The error for an image with no valid pixel (``count`` 0) or a constant one (``low == high``)."""
    if count == 0:
        raise InputError(
            f"{scene.image_path}: the image of scene {scene.id} holds no valid pixel (all NaN or nodata)"
        )
    if low == high:
        raise InputError(
            f"{scene.image_path}: the image of scene {scene.id} is constant ({low:g}): no texture to match"
        )


class GroundSource:
    """The final master's ground lookup table (``geometry/ground_lut.tif``) read by windows."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(f"{self.path}: no ground lookup table (rerun rectify)")
        self.dataset = gdal.Open(str(self.path))
        self.shape = (self.dataset.RasterYSize, self.dataset.RasterXSize)
        self._lock = threading.Lock()

    def read(self, y0: int, y1: int, x0: int, x1: int) -> GroundLookup:
        """Latitude, longitude, height and layover of the master pixels of a window (NaN outside)."""
        shape = (y1 - y0, x1 - x0)
        lat, lon, h = (np.full(shape, np.nan) for _ in range(3))
        layover = np.zeros(shape, dtype=bool)
        (a0, a1, b0, b1), data = _read_bands(self.dataset, self._lock, (1, 2, 3, 4), (y0, y1, x0, x1))
        if data:
            inner = (slice(a0 - y0, a1 - y0), slice(b0 - x0, b1 - x0))
            for out, values in zip((lat, lon, h), data):
                out[inner] = values
            layover[inner] = data[3] > 0
        return GroundLookup(lat, lon, h, layover)

    def at(self, rows: np.ndarray, cols: np.ndarray) -> GroundLookup:
        """The ground points of master pixels (``rows``, ``cols``: integer arrays of one shape),
        read one line at a time (a point grid such as the offsets' nodes)."""
        rows, cols = np.asarray(rows, dtype=np.intp), np.asarray(cols, dtype=np.intp)
        flat_r, flat_c = rows.ravel(), cols.ravel()
        lat, lon, h = (np.full(flat_r.shape, np.nan) for _ in range(3))
        layover = np.zeros(flat_r.shape, dtype=bool)
        width = self.shape[1]
        for r in np.unique(flat_r):
            sel = np.flatnonzero(flat_r == r)
            line = self.read(int(r), int(r) + 1, 0, width)
            c = flat_c[sel]
            inside = (c >= 0) & (c < width)
            for out, values in ((lat, line.lat_deg), (lon, line.lon_deg), (h, line.height_m)):
                out[sel[inside]] = values[0, c[inside]]
            layover[sel[inside]] = line.layover[0, c[inside]]
        return GroundLookup(*(a.reshape(rows.shape) for a in (lat, lon, h, layover)))


class _ComputedSource:
    """A source whose windows are computed (in subclasses' ``_window``) strip by strip: whatever
    window the offset engine asks for (its tiles may span thousands of pixels), the temporaries
    of a computed window stay within ``memory_mb``; only the float32 result has its size."""

    shape: tuple[int, int]
    memory_mb: float = 64.0
    counted: CountedTest | None = None
    """The source's hidden test when it counts what it marks (a worker's copy of a slave, whose
    counts go back to the driver: :func:`processing_core.rectify.tiles.run_window`)."""

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        parts = list(row_strips(y0, y1, x1 - x0, self.memory_mb))
        if len(parts) == 1:
            return self._window(y0, y1, x0, x1)
        out = np.empty((y1 - y0, x1 - x0), dtype=np.float32)
        for a, b in parts:
            out[a - y0 : b - y0] = self._window(a, b, x0, x1)
        return out

    def _window(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        raise NotImplementedError


HiddenTest = Callable[[GroundLookup], np.ndarray]
"""Given a window's ground points, True where the pixel is not to be used (layover, shadow)."""


class RectifiedSource(_ComputedSource):
    """A slave resampled into the master grid, computed for the window asked for.

    A :class:`~processing_core.offsets.tiles.Source` (float32, NaN without data): the tiled
    offset engine reads it tile by tile, and :func:`write_strips` writes it in strips, so the
    rectified slave never exists whole in memory. Each window's ground points are projected into
    the slave (geo2rdr with ``geometry``) and the slave is read around them only
    (:func:`~processing_core.rectify.transform.resample_from`).

    Parameters
    ----------
    image
        The slave's amplitude.
    ground
        The master's ground lookup table; its shape is this source's.
    geometry
        The slave's (refined) geometry.
    order
        Spline order of the resampling (1 or 3).
    fill_value
        Value put into the slave's no-data before the spline (its mean amplitude).
    hidden
        Optional: pixels it marks are NaN (layover in the master, layover or shadow in the slave).
    """

    def __init__(
        self,
        image: SceneImage,
        ground: GroundSource,
        geometry: RadarGeometry,
        *,
        order: int,
        fill_value: float,
        hidden: HiddenTest | None = None,
        memory_mb: float = 64.0,
    ) -> None:
        self.image, self.ground, self.geometry = image, ground, geometry
        self.order, self.fill_value, self.hidden = order, fill_value, hidden
        self.memory_mb = memory_mb
        self.shape = ground.shape

    def opener(self, *, mask_path: str = "") -> Callable[[], RectifiedSource]:
        """A picklable callable that builds this source again in any process (the tile and window
        tasks of :mod:`processing_core.rectify.tiles`).

        A source with a hidden test opens elsewhere only when that test is a :class:`LayoverOr`:
        of nothing, or of a layover/shadow mask saved at ``mask_path``
        (:meth:`~processing_core.rectify.inputs.SceneMask.save`); the reopened source's test
        then counts what it marks.
        """
        from processing_core.rectify.tiles import open_rectified

        hidden = self.hidden
        if hidden is not None and not isinstance(hidden, LayoverOr):
            raise ValueError("only a LayoverOr hidden test opens in another process")
        if isinstance(hidden, LayoverOr) and hidden.test is not None and not mask_path:
            raise ValueError(
                "a rectified source with a layover/shadow mask opens elsewhere from the saved mask"
            )
        return partial(
            open_rectified,
            self.geometry.scene,
            str(self.ground.path),
            order=self.order,
            fill_value=self.fill_value,
            memory_mb=self.memory_mb,
            layover=hidden is not None,
            mask_path=mask_path if isinstance(hidden, LayoverOr) and hidden.test is not None else "",
        )

    def _window(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        ground = self.ground.read(y0, y1, x0, x1)
        line, sample = slave_coordinates(ground, self.geometry)
        out = resample_from(self.image, line, sample, order=self.order, fill_value=self.fill_value)
        if self.hidden is not None:
            out[self.hidden(ground)] = np.nan
        return out


class IntensitySource(_ComputedSource):
    """Squared values of another source (amplitude -> intensity), float32."""

    def __init__(self, source) -> None:
        self.source = source
        self.shape = source.shape

    def _window(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        values = np.asarray(self.source.read(y0, y1, x0, x1), dtype=np.float64)
        return (values * values).astype(np.float32)


class MaskedSource(_ComputedSource):
    """A source in the master grid with the pixels ``hidden`` marks set to NaN (the final master)."""

    def __init__(self, source, ground: GroundSource, hidden: HiddenTest, *, memory_mb: float = 64.0) -> None:
        self.source, self.ground, self.hidden = source, ground, hidden
        self.memory_mb = memory_mb
        self.shape = ground.shape

    def _window(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        out = np.asarray(self.source.read(y0, y1, x0, x1), dtype=np.float32)
        out[self.hidden(self.ground.read(y0, y1, x0, x1))] = np.nan
        return out


class LayoverOr:
    """A hidden test: the master's layover (the ground table's flag) or what ``test`` marks."""

    def __init__(self, test: HiddenTest | None) -> None:
        self.test = test

    def __call__(self, ground: GroundLookup) -> np.ndarray:
        return ground.layover if self.test is None else ground.layover | self.test(ground)


class CountedTest:
    """A hidden test that counts the pixels it is asked about and those it marks, so that a
    write in strips gives the hidden fraction without a pass of its own."""

    def __init__(self, test: HiddenTest) -> None:
        self.test = test
        self.marked = 0
        self.seen = 0

    def __call__(self, ground: GroundLookup) -> np.ndarray:
        out = self.test(ground)
        self.marked += int(np.count_nonzero(out))
        self.seen += int(out.size)
        return out

    @property
    def fraction(self) -> float:
        """Marked / seen pixels so far (0 before any)."""
        return self.marked / self.seen if self.seen else 0.0


def hidden_fraction(ground: GroundSource, hidden: HiddenTest, *, memory_mb: float) -> float:
    """Fraction of the master grid that ``hidden`` marks, counted by :func:`block_windows`."""
    lines, samples = ground.shape
    count = 0
    for window in block_windows(lines, samples, memory_mb):
        count += int(np.count_nonzero(hidden(ground.read(*window))))
    return count / (lines * samples)


def write_strips(
    path: Path,
    source,
    *,
    memory_mb: float,
    metadata: dict[str, str],
    progress: ProgressCallback | None = None,
    before_commit: Callable[[Path], None] | None = None,
) -> Path:
    """Write ``source`` (float32, NaN nodata) as a one-band GeoTIFF by :func:`block_windows`,
    atomically (``before_commit``: see :class:`~processing_core.rasters.GeoTiffWriter`)."""
    lines, samples = source.shape
    writer = GeoTiffWriter(
        path, source.shape, descriptions=["amplitude"], metadata=metadata, before_commit=before_commit
    )
    with writer as out:
        for y0, y1, x0, x1 in block_windows(lines, samples, memory_mb):
            out.write(1, y0, x0, source.read(y0, y1, x0, x1))
            report(progress, (y0 * samples + (y1 - y0) * x1) / (lines * samples), f"writing {path.name}")
    return path


__all__ = [
    "CountedTest",
    "GroundSource",
    "IntensitySource",
    "LayoverOr",
    "MaskedSource",
    "RectifiedSource",
    "SceneImage",
    "block_windows",
    "check_texture",
    "hidden_fraction",
    "row_strips",
    "strip_rows",
    "write_strips",
]
