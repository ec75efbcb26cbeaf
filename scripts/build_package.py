#!/usr/bin/python3
"""Build the QGIS plugin zip (``make package``).

The zip holds one top folder, ``sar_offset_tracking/``, with the plugin entry point, the
core, the resources, the README and the LICENSE, as QGIS's "Install from ZIP" and the
official plugin repository expect. Caches, compiled files, hidden files and tests stay out.
Entries are sorted and carry a fixed timestamp, so the same tree gives the same zip.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_DIR_NAME = "sar_offset_tracking"
INCLUDE = ("metadata.txt", "__init__.py", "LICENSE", "README.md", "plugin", "processing_core", "resources")
EXCLUDE_DIRS = ("__pycache__", ".*", "tests", "*.egg-info")
EXCLUDE_FILES = ("*.pyc", "*.pyo", ".*", "*~", "*.orig", "*.rej", "*.swp", "*.aux.xml")
MAX_BYTES = 25_000_000  # the official repository's upload limit
FIXED_DATE = (2020, 1, 1, 0, 0, 0)


def _excluded(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def package_files(root: Path = ROOT) -> list[Path]:
    """Return the files (relative to ``root``) that go into the zip, sorted."""
    files: list[Path] = []
    for item in INCLUDE:
        path = root / item
        if path.is_file():
            files.append(Path(item))
        elif path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not _excluded(d, EXCLUDE_DIRS))
                for name in sorted(filenames):
                    if not _excluded(name, EXCLUDE_FILES):
                        files.append((Path(dirpath) / name).relative_to(root))
        else:
            raise FileNotFoundError(f"{path}: required in the plugin package but missing")
    return sorted(files, key=lambda p: p.as_posix())


def build(out: Path, root: Path = ROOT) -> Path:
    """Write the plugin zip to ``out`` (atomically) and return its path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    files = package_files(root)
    dirs = sorted({parent.as_posix() for f in files for parent in f.parents if parent != Path(".")})
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        top = zipfile.ZipInfo(PLUGIN_DIR_NAME + "/", FIXED_DATE)
        top.external_attr = (0o40755 << 16) | 0x10
        zf.writestr(top, b"")
        for d in dirs:
            info = zipfile.ZipInfo(f"{PLUGIN_DIR_NAME}/{d}/", FIXED_DATE)
            info.external_attr = (0o40755 << 16) | 0x10
            zf.writestr(info, b"")
        for f in files:
            info = zipfile.ZipInfo(f"{PLUGIN_DIR_NAME}/{f.as_posix()}", FIXED_DATE)
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, (root / f).read_bytes())
    size = tmp.stat().st_size
    if size > MAX_BYTES:
        tmp.unlink()
        raise SystemExit(f"error: {out}: {size} bytes, over the repository's {MAX_BYTES}-byte limit")
    os.replace(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "dist" / f"{PLUGIN_DIR_NAME}.zip", help="zip to write"
    )
    args = parser.parse_args(argv)
    try:
        path = build(args.out)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
