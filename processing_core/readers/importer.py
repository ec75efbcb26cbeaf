"""Import SAR products of any supported kind into a stack folder (DESIGN.md, stack contract).

``import_products`` expands its inputs (products, folders holding products, ``.EOF`` orbit
files), recognises each product with the first reader whose ``can_read`` accepts it, writes
``STACK/scenes/<id>.json`` + ``<id>.tif`` and registers the scenes in ``STACK/stack.json``
(sorted by date). It resumes: a product already imported with the same options, unchanged
since, is skipped. Scene ids are ``<SENSOR>_<YYYYMMDD>``; a second scene of the same day from
another product gets ``_<hhmmss>`` of its first line appended.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from processing_core.errors import ProductError
from processing_core.progress import ProgressCallback, report, scaled
from processing_core.readers import reader_for
from processing_core.readers.alos import find_ceos_products, is_ceos_name
from processing_core.readers.base import ProductFiles, ReadOptions, check_looks
from processing_core.scene import Scene, scene_from_dict, scene_to_dict, write_scene
from processing_core.stack import Stack, load_stack

_MAX_DEPTH = 3


def _is_orbit_file(path: Path) -> bool:
    return path.is_file() and path.suffix.upper() == ".EOF"


def _ceos_members(folder: Path) -> list[Path]:
    """One file per CEOS product lying directly in ``folder`` (its LED file, else any of its files)."""
    products = find_ceos_products(ProductFiles.of(folder, max_depth=0))
    out = []
    for p in products:
        name = p.leader or p.volume or next(iter(p.images.values()), None) or p.trailer
        out.append(folder / str(name))
    return out


def expand_inputs(inputs: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], list[Path], list[Path]]:
    """Products, orbit files and skipped files found in ``inputs``.

    A ``*.SAFE`` folder is one product; CEOS files lying in a folder make one product per file
    stem; folders are searched down to three levels for these, zips of them, ``.EOF`` files and
    ``sar-scene/1`` sidecars; other files in them are skipped.

    Raises
    ------
    ProductError
        When an input does not exist, an input file is of no known kind, or a folder holds no
        product at all.
    """
    products: list[Path] = []
    orbits: list[Path] = []
    skipped: list[Path] = []

    def visit(path: Path, depth: int, explicit: bool) -> int:
        if _is_orbit_file(path):
            orbits.append(path)
            return 0
        if path.is_dir() and not (path / "manifest.safe").is_file() and path.suffix.upper() != ".SAFE":
            members = _ceos_members(path)
            products.extend(members)
            found = len(members)
            if depth < _MAX_DEPTH:
                others = [c for c in sorted(path.iterdir()) if not (members and is_ceos_name(c.name))]
                found += sum(visit(child, depth + 1, False) for child in others)
            if explicit and found == 0 and not orbits:
                raise ProductError(
                    f"{path}: no SAR product found (CEOS VOL-/LED-/IMG- files, *.SAFE, zips of them, "
                    "or sar-scene/1 *.json sidecars)"
                )
            return found
        if reader_for(path) is not None:
            products.append(path)
            return 1
        if explicit:
            raise ProductError(
                f"{path}: unknown product kind (not ALOS CEOS, Sentinel-1 SAFE, an .EOF orbit file "
                "or a sar-scene/1 sidecar)"
            )
        skipped.append(path)
        return 0

    for item in inputs:
        path = Path(item)
        if not path.exists():
            raise ProductError(f"{path}: no such file or folder")
        visit(path, 0, True)
    unique = list(dict.fromkeys(p.resolve() for p in products))
    return unique, list(dict.fromkeys(p.resolve() for p in orbits)), skipped


def _signature(path: Path, options: ReadOptions) -> dict[str, Any]:
    """What makes an import of ``path`` up to date: its identity, change time and the options."""
    st = path.stat()
    return {
        "source": str(path),
        "mtime_ns": st.st_mtime_ns,
        "size": st.st_size,
        "multilook": list(options.multilook),
        "polarization": options.polarization,
        "orbit_files": sorted(p.name for p in options.orbit_files),
    }


def _recorded_imports(stack: Stack) -> dict[str, dict[str, Any]]:
    """The import signature each stack scene's sidecar records, by scene id (when its raster exists)."""
    out = {}
    for entry in stack.scenes:
        sidecar = stack.root / entry.sidecar
        try:
            data = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(data, dict) and isinstance(data.get("import"), dict):
            if (sidecar.parent / str(data.get("image", ""))).is_file():
                out[entry.id] = data["import"]
    return out


def _unique_id(scene: Scene, taken: set[str]) -> str:
    if scene.id not in taken:
        return scene.id
    clock = np.datetime_as_string(scene.radar_grid.first_line_time, unit="s")[11:].replace(":", "")
    candidate = f"{scene.id}_{clock}"
    k = 2
    while candidate in taken:
        candidate, k = f"{scene.id}_{clock}_{k}", k + 1
    return candidate


def _install(scene: Scene, scenes_dir: Path, scene_id: str, signature: dict[str, Any]) -> Scene:
    """Move a scene read into a temporary folder to ``scenes_dir/<scene_id>.*`` with its signature."""
    data = scene_to_dict(scene)
    data.update(id=scene_id, image=f"{scene_id}.tif", **{"import": signature})
    os.replace(scene.image_path, scenes_dir / f"{scene_id}.tif")
    sidecar = scenes_dir / f"{scene_id}.json"
    installed = scene_from_dict(data, source=str(sidecar), sidecar=sidecar.resolve())
    write_scene(installed, sidecar)
    return installed


def import_products(
    inputs: Sequence[str | os.PathLike[str]],
    stack_dir: str | os.PathLike[str],
    *,
    multilook: Sequence[int] | None = None,
    polarization: str | None = None,
    orbit_files: Sequence[str | os.PathLike[str]] = (),
    progress: ProgressCallback | None = None,
) -> Stack:
    """Import SAR products into a stack folder.

    Parameters
    ----------
    inputs
        Products (ALOS CEOS folders, zips or LED files; Sentinel-1 ``*.SAFE`` folders or zips;
        ``sar-scene/1`` sidecars), folders holding any of them, and ``.EOF`` orbit files.
    stack_dir
        The stack folder; created if needed, added to if it holds a ``stack.json``.
    multilook
        Looks (azimuth, range) averaged into each output pixel; ``None``: (1, 1).
    polarization
        Polarisation to import from every product; ``None``: each product's first co-pol.
    orbit_files
        More ``.EOF`` files (Sentinel-1), besides those among ``inputs``.
    progress
        ``progress(fraction, message)``; returning ``False`` cancels.

    Returns
    -------
    Stack
        The saved stack, its scenes sorted by date.

    Raises
    ------
    ProductError
        Naming the product or file when an input is unknown, partial or corrupt (the scenes
        imported before it stay in the stack).
    """
    looks = check_looks(multilook if multilook is not None else (1, 1))
    products, orbits, skipped = expand_inputs(inputs)
    if not products:
        raise ProductError(f"no SAR product among {', '.join(str(i) for i in inputs)}")
    orbits = list(dict.fromkeys([*orbits, *(Path(p).resolve() for p in orbit_files)]))
    options = ReadOptions(multilook=looks, polarization=polarization, orbit_files=tuple(orbits))
    root = Path(stack_dir)
    stack = load_stack(root) if (root / "stack.json").is_file() else Stack(root=root)
    scenes_dir = root / "scenes"
    scenes_dir.mkdir(parents=True, exist_ok=True)
    recorded = _recorded_imports(stack)
    done = {json.dumps(sig, sort_keys=True): scene_id for scene_id, sig in recorded.items()}
    imported, unchanged = [], []
    for k, path in enumerate(products):
        signature = _signature(path, options)
        key = json.dumps(signature, sort_keys=True)
        sub = scaled(progress, k / len(products), (k + 1) / len(products))
        if key in done:
            unchanged.append(done[key])
            report(sub, 1.0, f"{path.name}: up to date")
            continue
        reader = reader_for(path)
        if reader is None:  # pragma: no cover - expand_inputs only returns readable products
            raise ProductError(f"{path}: unknown product kind")
        tmp = scenes_dir / f".partial-{os.getpid()}-{k}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            scene = reader.read(path, tmp, options=options, progress=sub)
            # Ids held by other products (a re-import of this product replaces its scene).
            taken = {
                s.id for s in stack.scenes if recorded.get(s.id, {}).get("source") != signature["source"]
            }
            taken |= set(imported)
            scene_id = _unique_id(scene, taken)
            installed = _install(scene, scenes_dir, scene_id, signature)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        stack.add_scene(installed, installed.sidecar)
        imported.append(scene_id)
        stack.save()
    stack.record(
        "import",
        {
            "inputs": [str(i) for i in inputs],
            "multilook": list(looks),
            "polarization": polarization,
            "orbit_files": [str(p) for p in orbits],
            "imported": imported,
            "unchanged": unchanged,
            "skipped": [str(p) for p in skipped],
        },
    )
    stack.save()
    return stack
