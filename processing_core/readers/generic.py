"""Generic input: any GDAL raster in radar geometry plus a hand-written ``sar-scene/1`` sidecar.

The sidecar is validated by :func:`processing_core.scene.read_scene` (every key, the orbit
covering the lines, ...), its ``image`` (relative to the sidecar) must open with GDAL and have
the radar grid's size. Band 1 is taken as amplitude (complex bands: their modulus); the
raster's no-data value and zeros become NaN. The scene is written into the stack as a
float32 GeoTIFF, multilooked when asked (radar grid and Doppler polynomial adjusted).
See the README for an example sidecar.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from osgeo import gdal

from processing_core.errors import ProductError, SarError
from processing_core.progress import ProgressCallback
from processing_core.readers.base import (
    ReadOptions,
    amplitude_by_blocks,
    check_looks,
    doppler_in_samples,
    multilook_grid,
    write_outputs,
)
from processing_core.scene import FORMAT, Scene, read_scene, scene_to_dict

gdal.UseExceptions()


def is_sidecar(path: Path) -> bool:
    """Whether ``path`` is a JSON file whose ``format`` is ``sar-scene/1`` (reads at most 4 MB)."""
    path = Path(path)
    if not (path.is_file() and path.suffix.lower() == ".json") or path.stat().st_size > 4 << 20:
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


class GenericReader:
    """A GDAL-readable raster in radar geometry with its ``sar-scene/1`` sidecar (``*.json``)."""

    name = "sar-scene/1 sidecar"

    def can_read(self, path: Path) -> bool:
        """True for a JSON file declaring ``"format": "sar-scene/1"``."""
        return is_sidecar(path)

    def read(
        self,
        path: Path,
        out_dir: Path,
        *,
        options: ReadOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> Scene:
        """Copy the scene into ``out_dir`` as ``<id>.tif`` (float32 amplitude) and ``<id>.json``."""
        options = options or ReadOptions()
        looks = check_looks(options.multilook)
        try:
            scene = read_scene(path)
        except SarError as exc:
            raise ProductError(str(exc)) from None
        raster = scene.image_path
        if not raster.is_file():
            raise ProductError(f"{path}: its image '{scene.image}' ({raster}) does not exist")
        try:
            ds = gdal.Open(str(raster))
        except RuntimeError as exc:
            raise ProductError(f"{raster}: GDAL cannot open the scene's image ({exc})") from None
        g = scene.radar_grid
        if (ds.RasterYSize, ds.RasterXSize) != (g.lines, g.samples):
            raise ProductError(
                f"{raster}: {ds.RasterYSize} lines x {ds.RasterXSize} samples, but {path} says "
                f"radar_grid.lines {g.lines} x radar_grid.samples {g.samples}"
            )
        if options.polarization and options.polarization.upper() != scene.polarization.upper():
            raise ProductError(f"{path}: polarisation {scene.polarization}, not {options.polarization}")
        band = ds.GetRasterBand(1)
        nodata = band.GetNoDataValue()

        def read_power(row: int, n: int) -> np.ndarray:
            try:
                block = band.ReadAsArray(0, row, g.samples, n)
            except RuntimeError as exc:
                raise ProductError(f"{raster}: cannot read lines {row}-{row + n - 1} ({exc})") from None
            bad = (
                block == nodata
                if nodata is not None and not np.isnan(nodata)
                else np.zeros(block.shape, bool)
            )
            power = np.abs(block.astype(np.complex128 if np.iscomplexobj(block) else np.float64)) ** 2
            power[bad | (power == 0)] = np.nan
            return power

        out = amplitude_by_blocks(read_power, g.lines, g.samples, looks, progress, f"reading {raster.name}")
        rg = looks[1]
        sidecar = scene_to_dict(scene)
        sidecar["radar_grid"] = multilook_grid(sidecar["radar_grid"], looks)
        # Output sample s averages input samples rg*s .. rg*s + rg - 1: centre rg*s + (rg-1)/2.
        sidecar["doppler_centroid_hz"] = doppler_in_samples(scene.doppler_centroid_hz, 0.5 * (rg - 1), rg)
        product = dict(sidecar.get("product") or {})
        product.update(reader=self.name, source=str(Path(path).resolve()), multilook=list(looks))
        sidecar["product"] = product
        return write_outputs(sidecar, out, Path(out_dir), source=str(path))
