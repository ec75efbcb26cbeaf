"""Test helper: copies of the real Sentinel-1 SAFE fixture with a synthetic measurement.

The fixture's measurement is a constant dummy; the copies get DN = GRD pixel index (a ramp
along range, so the slant-range resampling can be checked pixel by pixel) or a constant, and
optionally an edited annotation (e.g. cut to its first lines for speed).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
from osgeo import gdal
from sentinel1_fixture import ANNOTATION, SAFE

TIFF = SAFE / "measurement" / (ANNOTATION.stem + ".tiff")


def copy_safe(dest: Path, annotation_text: str | None = None, ramp: bool = True) -> Path:
    """The fixture SAFE with its (constant) measurement replaced by DN = GRD pixel index."""
    safe = dest / SAFE.name
    (safe / "annotation").mkdir(parents=True)
    (safe / "measurement").mkdir()
    shutil.copy(SAFE / "manifest.safe", safe / "manifest.safe")
    text = annotation_text if annotation_text is not None else ANNOTATION.read_text(encoding="utf-8")
    (safe / "annotation" / ANNOTATION.name).write_text(text, encoding="utf-8")
    lines = int(re.search(r"<numberOfLines>(\d+)</numberOfLines>", text).group(1))
    samples = int(re.search(r"<numberOfSamples>(\d+)</numberOfSamples>", text).group(1))
    name = re.sub(r"-grd-", "-slc-", TIFF.name) if "<productType>SLC" in text else TIFF.name
    ds = gdal.GetDriverByName("GTiff").Create(
        str(safe / "measurement" / name), samples, lines, 1, gdal.GDT_UInt16, ["COMPRESS=ZSTD", "TILED=YES"]
    )
    row = np.arange(samples, dtype=np.uint16) if ramp else np.full(samples, 7, dtype=np.uint16)
    for start in range(0, lines, 2048):
        n = min(2048, lines - start)
        ds.GetRasterBand(1).WriteArray(np.ascontiguousarray(np.broadcast_to(row, (n, samples))), 0, start)
    ds = None
    return safe


def azimuth_cut(lines: int) -> str:
    """The annotation with the image cut to its first ``lines`` lines (smaller measurement)."""
    text = ANNOTATION.read_text(encoding="utf-8")
    dt = float(re.search(r"<azimuthTimeInterval>(.*?)</azimuthTimeInterval>", text).group(1))
    first = np.datetime64(re.search(r"<productFirstLineUtcTime>(.*?)<", text).group(1), "ns")
    last = np.datetime_as_string(first + np.timedelta64(int(round((lines - 1) * dt * 1e9)), "ns"), unit="us")
    text = text.replace("<numberOfLines>16705</numberOfLines>", f"<numberOfLines>{lines}</numberOfLines>")
    return re.sub(r"<productLastLineUtcTime>.*?<", f"<productLastLineUtcTime>{last}<", text)
