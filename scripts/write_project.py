"""Write ``STACK/project.qgz`` (the styled results of a processed stack) with headless QGIS.

Usage: ``/usr/bin/python3 scripts/write_project.py STACK [--dem DEM.tif]``. ``make demo`` runs it
after the chain; open the project in QGIS with *Project > Open*. Exit status 2 with a one-line
message when the stack has no geocoded results.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="stack folder processed by `run` (geocoded/ present)")
    parser.add_argument("--dem", default=None, help="DEM for the hillshade (default: the one of run.json)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(REPO_ROOT))
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    try:
        from plugin.project import write_project

        path = write_project(args.stack, dem=args.dem)
    except (FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        app.exitQgis()
    print(f"QGIS project: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
