"""Offset tracking: dense NCC with variable windows, sub-pixel peaks, quality and selection.

``track(reference, secondary, *, step_px, windows_px, search_px, prior, selection, ...)``
returns an :class:`OffsetField` (**contract**); :func:`track_files` runs it on two rasters by
tiles and writes one multiband GeoTIFF; :func:`track_stack` runs it over a stack's pairs.
Modules: ``engine`` (API, tiling, threads), ``tiles`` (one tile), ``ncc`` (the two NCC
engines), ``subpixel`` (DFT zoom), ``quality`` (SNR, De Zan std, selection, outliers),
``prefilter``, ``params`` (run parameters), ``field`` (the result), ``files`` (rasters, stack).
"""

from processing_core.offsets.engine import node_grid, track
from processing_core.offsets.field import BANDS, OffsetField
from processing_core.offsets.files import read_offsets, track_files, track_stack
from processing_core.offsets.params import PREFILTERS, SELECTIONS, OffsetParameters
from processing_core.offsets.quality import dezan_sigma

__all__ = [
    "BANDS",
    "PREFILTERS",
    "SELECTIONS",
    "OffsetField",
    "OffsetParameters",
    "dezan_sigma",
    "node_grid",
    "read_offsets",
    "track",
    "track_files",
    "track_stack",
]
