"""The tiles of ONE pair's offsets as independent tasks (a large pair on every worker of a cluster).

A :class:`TileTask` holds how to open the two images (:func:`opener_of`: a raster's path, or a
computed source's own description, such as a slave rectified on the fly), the parameters and its
own nodes' slices of the grid (pixel rows and columns, search centres and radii: arrays of the
tile's size, never of the image); :func:`run_tile` opens the images in the worker and runs
:func:`processing_core.offsets.tiles.process_tile` on them. A tile's result depends only on its
nodes and on the memory budget (which the driver sets as in its serial run), so the field
assembled from the tasks equals the serial one bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from processing_core.offsets.params import OffsetParameters
from processing_core.offsets.tiles import Context, Source, process_tile

Opener = Callable[[], Source]
"""A picklable callable that opens an image source in the process that calls it."""


@dataclass(frozen=True)
class RasterOpener:
    """Opens band 1 of a raster as a :class:`~processing_core.offsets.files.RasterSource`."""

    path: str
    """The raster, at a path every worker sees."""

    def __call__(self) -> Source:
        from processing_core.offsets.files import RasterSource

        return RasterSource(self.path)


def opener_of(source: Any) -> Opener | None:
    """How a worker opens ``source`` again: its own ``opener()`` if it has one (a computed source
    that can describe itself), a :class:`RasterOpener` for a raster with a ``path``; else None
    (an in-memory array, or a computed source that cannot be rebuilt elsewhere)."""
    own = getattr(source, "opener", None)
    if own is not None:
        return own()
    if getattr(source, "path", None) is not None:
        return RasterOpener(str(source.path))
    return None


@dataclass(frozen=True)
class TileTask:
    """Nodes ``[ia, ib) x [ja, jb)`` of one pair (picklable: openers, plain values, tile-sized arrays)."""

    reference: Opener
    """Opens the reference image (:func:`opener_of`)."""
    secondary: Opener
    """Opens the secondary image."""
    parameters: dict[str, Any]
    """:meth:`OffsetParameters.to_dict`."""
    bounds: tuple[int, int, int, int]
    """``(ia, ib, ja, jb)`` in the pair's node grid."""
    nodes: dict[str, np.ndarray]
    """The tile's slices of the driver's node arrays (:class:`~processing_core.offsets.tiles.Context`
    fields ``row_px``, ``col_px``, ``centre_y``, ``centre_x``, ``radius``)."""
    settings: dict[str, Any]
    """The driver's ``block``, ``memory_bytes`` (the serial run's per thread) and ``engine``."""


def run_tile(task: TileTask) -> dict[str, np.ndarray]:
    """Offsets of one :class:`TileTask` (in this process or a worker's), one thread."""
    reference, secondary = task.reference(), task.secondary()
    try:
        ctx = Context(
            reference=reference,
            secondary=secondary,
            params=OffsetParameters.from_dict(task.parameters),
            fft_workers=1,
            **task.nodes,
            **task.settings,
        )
        # The tile's own slices: its nodes are 0.. here (a tile depends only on its nodes).
        return process_tile(ctx, 0, ctx.row_px.size, 0, ctx.col_px.size)
    finally:
        for source in (reference, secondary):
            close = getattr(source, "close", None)
            if close is not None:
                close()


def tile_tasks(
    ctx: Context, tiles: list[tuple[int, int, int, int]], reference: Opener, secondary: Opener
) -> list[TileTask]:
    """The :class:`TileTask` of every tile of a driver's context."""
    settings = {"block": ctx.block, "memory_bytes": ctx.memory_bytes, "engine": ctx.engine}
    tasks = []
    for ia, ib, ja, jb in tiles:
        nodes = {"row_px": ctx.row_px[ia:ib].copy(), "col_px": ctx.col_px[ja:jb].copy()}
        for name in ("centre_y", "centre_x", "radius"):
            nodes[name] = getattr(ctx, name)[ia:ib, ja:jb].copy()
        tasks.append(TileTask(reference, secondary, ctx.params.to_dict(), (ia, ib, ja, jb), nodes, settings))
    return tasks


__all__ = ["Opener", "RasterOpener", "TileTask", "opener_of", "run_tile", "tile_tasks"]
