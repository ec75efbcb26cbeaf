"""Readers of SAR products into the interchange format (DESIGN.md, ``sar-scene/1``).

One sensor interface (:class:`~processing_core.readers.base.Reader`), one adapter per
product kind:

- :class:`~processing_core.readers.palsar.PalsarReader`: ALOS PALSAR-1 and ALOS-2 PALSAR-2
  CEOS Level 1.1 (SLC) and Level 1.5 (map-projected amplitude), folder or zip;
- :class:`~processing_core.readers.sentinel1.Sentinel1Reader`: Sentinel-1 SAFE (folder or
  zip), GRD amplitude resampled to slant range, optional precise orbit files (``.EOF``);
- :class:`~processing_core.readers.generic.GenericReader`: an existing GDAL raster with a
  hand-written ``sar-scene/1`` sidecar.

:func:`processing_core.readers.importer.import_products` turns folders of any of these into
a stack folder.
"""

from __future__ import annotations

from pathlib import Path

from processing_core.readers.base import Reader, ReadOptions

__all__ = ["READERS", "ReadOptions", "Reader", "reader_for"]


def _readers() -> tuple[Reader, ...]:
    from processing_core.readers.generic import GenericReader
    from processing_core.readers.palsar import PalsarReader
    from processing_core.readers.sentinel1 import Sentinel1Reader

    return (Sentinel1Reader(), PalsarReader(), GenericReader())


READERS: tuple[Reader, ...] = ()
"""The readers in the order the importer asks them (filled on first use)."""


def reader_for(path: Path) -> Reader | None:
    """The first reader whose ``can_read(path)`` is true, or ``None``."""
    global READERS
    if not READERS:
        READERS = _readers()
    for reader in READERS:
        if reader.can_read(Path(path)):
            return reader
    return None
