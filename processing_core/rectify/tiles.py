"""One scene's rectification as tile-level tasks (a large scene on every worker of a cluster).

A stack with fewer scenes to rectify at once than the cluster has workers (a two-scene stack,
or the wave of platform masters that the other slaves wait for) would leave workers idle with
one task per scene. So such a scene is driven from this process instead, and its heavy parts
go to the executor tile by tile:

- the tie-point tracking of every refinement pass and the residual offsets, as the offset
  engine's tile tasks (:class:`~processing_core.offsets.tile_tasks.TileTask`), each worker
  computing the rectified slave for its tile from a picklable opener
  (:meth:`RectifiedSource.opener <processing_core.rectify.sources.RectifiedSource.opener>`,
  :func:`open_rectified`);
- the writing of the rectified raster, as one :class:`WindowTask` per window of
  :func:`~processing_core.rectify.sources.block_windows`, each computed by a worker and written
  here in order (:func:`write_windows`); the masked pixels are counted by the workers.

The fits stay here (they are small). Every tile and window is the one the serial run computes,
with the same memory, so the outputs are the same bits.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from processing_core.execution import Executor
from processing_core.geometry import RadarGeometry
from processing_core.progress import ProgressCallback, report, scaled
from processing_core.rasters import GeoTiffWriter
from processing_core.rectify.inputs import SceneMask
from processing_core.rectify.sources import (
    CountedTest,
    GroundSource,
    LayoverOr,
    RectifiedSource,
    SceneImage,
    block_windows,
)
from processing_core.scene import Scene

_MASKS: dict[tuple[str, int, int], SceneMask] = {}
_MASKS_LOCK = threading.Lock()


def _mask(path: str) -> SceneMask:
    """A saved :class:`SceneMask`, kept for this process's next task (keyed by size and time)."""
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)
    with _MASKS_LOCK:
        found = _MASKS.get(key)
        if found is None:
            _MASKS.clear()
            found = _MASKS[key] = SceneMask.load(path)
    return found


def open_rectified(
    scene: Scene,
    ground_path: str,
    *,
    order: int,
    fill_value: float,
    memory_mb: float,
    layover: bool = False,
    mask_path: str = "",
) -> RectifiedSource:
    """A slave rectified into the master grid (:class:`RectifiedSource`), built in any process.

    ``scene``: the slave with its current geometry; ``ground_path``: the master's ground lookup
    table; ``layover``: NaN where the master is in layover; ``mask_path``: also where the slave's
    saved layover/shadow mask (:meth:`SceneMask.save`) marks, counted (``counted``): the final,
    masked slave.
    """
    counted = CountedTest(_mask(mask_path)) if mask_path else None
    source = RectifiedSource(
        SceneImage(scene),
        GroundSource(ground_path),
        RadarGeometry(scene),
        order=order,
        fill_value=fill_value,
        hidden=LayoverOr(counted) if layover or mask_path else None,
        memory_mb=memory_mb,
    )
    source.counted = counted
    return source


@dataclass(frozen=True)
class WindowTask:
    """One window of a computed source to write (picklable: an opener and four integers)."""

    source: Callable[[], Any]
    """Opens the source (e.g. :func:`open_rectified` with its arguments)."""
    window: tuple[int, int, int, int]
    """(y0, y1, x0, x1) in the source's grid."""


def run_window(task: WindowTask) -> tuple[np.ndarray, int, int]:
    """The window's values (float32) and, for a counting source, the pixels its hidden test
    marked and saw (else 0, 0); in this process or a worker's."""
    source = task.source()
    values = source.read(*task.window)
    counted = getattr(source, "counted", None)
    return values, (counted.marked if counted else 0), (counted.seen if counted else 0)


def write_windows(
    executor: Executor,
    path: Path,
    opener: Callable[[], Any],
    shape: tuple[int, int],
    *,
    memory_mb: float,
    metadata: dict[str, str],
    counter: CountedTest | None = None,
    before_commit: Callable[[Path], None] | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write a computed source as a one-band float32 GeoTIFF, its windows computed by ``executor``.

    The windows are :func:`block_windows` of ``memory_mb``, as :func:`write_strips` writes them,
    sent in waves of twice the workers (so that only a wave's results are held here) and written
    in order, atomically (``before_commit``: see :class:`~processing_core.rasters.GeoTiffWriter`).
    ``counter``: given, the workers' counts of hidden pixels are added to it before the commit.
    """
    lines, samples = shape
    windows = list(block_windows(lines, samples, memory_mb))
    wave = 2 * max(1, int(getattr(executor, "workers", 1)))
    writer = GeoTiffWriter(
        path, shape, descriptions=["amplitude"], metadata=metadata, before_commit=before_commit
    )
    with writer as out:
        for k in range(0, len(windows), wave):
            tasks = [WindowTask(opener, w) for w in windows[k : k + wave]]
            results = executor.map(
                run_window,
                tasks,
                progress=scaled(progress, k / len(windows), (k + len(tasks)) / len(windows)),
                describe=lambda t: (
                    f"writing {path.name}: window {t.window[0]}:{t.window[1]} x {t.window[2]}:{t.window[3]}"
                ),
            )
            for task, (values, marked, seen) in zip(tasks, results):
                out.write(1, task.window[0], task.window[2], values)
                if counter is not None:
                    counter.marked += marked
                    counter.seen += seen
        report(progress, 1.0, f"writing {path.name}")
    return path


__all__ = ["WindowTask", "open_rectified", "run_window", "write_windows"]
