"""The stack folder and its ``stack.json`` (DESIGN.md, **contract** for the parts named).

``STACK/stack.json`` lists the scenes (id, platform, date, sidecar path), the masters,
the pairs, the run parameters and the provenance of every step that wrote to the stack.

Folder layout (paths relative to the stack folder; every raster a tiled, compressed
GeoTIFF with nodata and band descriptions, written atomically)::

    stack.json                  this file's model (:class:`Stack`)
    scenes/<id>.json, <id>.tif  imported or simulated scenes (sar-scene/1 sidecar + raster)
    geometry/                   final master's step-i products: dem_lut.tif, ground_lut.tif,
                                layover_shadow.tif, simulated_intensity.tif (see lookup.py)
    rectified/<id>.tif          each scene's amplitude resampled into the final master's grid
                                (float32, NaN outside coverage), <id>.json its QC report
    offsets/<ref>__<sec>.tif    one offset field per pair on the offset grid (bands
                                azimuth_px, range_px, snr, ncc, window_px, ...; metadata
                                ROW0, COL0, STEP_PX give the master pixel of each grid node)
    timeseries/los.tif,         SBAS displacement, one band per date (DYYYYMMDD, DATE=...),
    timeseries/azimuth.tif      metres relative to the first date (DESIGN.md contract)
    geocoded/*.tif              products in a map CRS
    truth/                      ground truth (simulated stacks only)

``pairs`` entries are objects with at least ``reference`` and ``secondary`` scene ids
(reference earlier than secondary) plus ``days`` and ``bperp_m``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from processing_core import __version__
from processing_core.atomic import write_json
from processing_core.errors import InputError
from processing_core.scene import Scene, read_scene

FORMAT = "sar-stack/1"


@dataclass
class StackScene:
    """One scene entry of ``stack.json``."""

    id: str
    """Scene identifier (unique in the stack)."""
    platform: str
    """Satellite, as in the sidecar."""
    date: str
    """Acquisition date ``YYYY-MM-DD`` (UTC)."""
    sidecar: str
    """Sidecar path relative to the stack folder."""


@dataclass
class Stack:
    """In-memory ``stack.json`` of a stack folder."""

    root: Path
    """The stack folder."""
    scenes: list[StackScene] = field(default_factory=list)
    """Scenes sorted by date."""
    masters: dict[str, Any] = field(default_factory=dict)
    """``{"per_platform": {platform: id}, "final": id}``."""
    pairs: list[dict[str, Any]] = field(default_factory=list)
    """Offset pairs (filled by pair selection)."""
    parameters: dict[str, Any] = field(default_factory=dict)
    """Parameters of the steps run on the stack, by step name."""
    provenance: list[dict[str, Any]] = field(default_factory=list)
    """One entry per step run: step, version, UTC time, arguments."""

    @property
    def path(self) -> Path:
        """``STACK/stack.json``."""
        return self.root / "stack.json"

    def scene(self, scene_id: str) -> Scene:
        """Read the sidecar of one scene."""
        for entry in self.scenes:
            if entry.id == scene_id:
                return read_scene(self.root / entry.sidecar)
        raise InputError(f"{self.path}: no scene '{scene_id}' in the stack")

    def add_scene(self, scene: Scene, sidecar: Path) -> None:
        """Register a scene whose sidecar lies in the stack folder (keeps date order)."""
        rel = os.path.relpath(sidecar, self.root)
        self.scenes = [s for s in self.scenes if s.id != scene.id]
        self.scenes.append(StackScene(scene.id, scene.platform, str(scene.date), rel))
        self.scenes.sort(key=lambda s: (s.date, s.id))

    def record(self, step: str, arguments: dict[str, Any]) -> None:
        """Append a provenance entry for a step."""
        self.provenance.append(
            {
                "step": step,
                "version": __version__,
                "time": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "arguments": arguments,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written to ``stack.json``."""
        return {
            "format": FORMAT,
            "scenes": [vars(s) for s in self.scenes],
            "masters": self.masters,
            "pairs": self.pairs,
            "parameters": self.parameters,
            "provenance": self.provenance,
        }

    def save(self) -> Path:
        """Write ``stack.json`` atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        return write_json(self.path, self.to_dict())


def load_stack(root: str | os.PathLike[str]) -> Stack:
    """Read ``STACK/stack.json``.

    Raises
    ------
    InputError
        When the file is missing, not JSON, or lacks the scene list.
    """
    folder = Path(root)
    path = folder / "stack.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: not a stack folder (no stack.json)") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if data.get("format") != FORMAT or not isinstance(data.get("scenes"), list):
        raise InputError(f"{path}: key 'format' must be '{FORMAT}' with a 'scenes' list")
    scenes = []
    for i, s in enumerate(data["scenes"]):
        try:
            scenes.append(StackScene(str(s["id"]), str(s["platform"]), str(s["date"]), str(s["sidecar"])))
        except (KeyError, TypeError):
            raise InputError(f"{path}: scenes[{i}] needs id, platform, date and sidecar") from None
    return Stack(
        root=folder,
        scenes=scenes,
        masters=dict(data.get("masters") or {}),
        pairs=list(data.get("pairs") or []),
        parameters=dict(data.get("parameters") or {}),
        provenance=list(data.get("provenance") or []),
    )
