"""Project-level facts: the core stays QGIS-free, one version, complete plugin metadata."""

from __future__ import annotations

import configparser
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"

# What the official plugin repository's upload validator requires, plus what this project
# promises (DESIGN.md, issue 2).
REQUIRED_METADATA = (
    "name",
    "qgisMinimumVersion",
    "description",
    "about",
    "version",
    "author",
    "email",
    "repository",
    "tracker",
    "homepage",
    "hasProcessingProvider",
    "tags",
    "icon",
)
PLACEHOLDER = re.compile(
    r"\b(TODO|FIXME|XXX|TBD|lorem|ipsum|example\.(com|org|net)|changeme|your[_ ]name)\b", re.I
)

# Run in a fresh interpreter: make every `qgis` (and Qt binding) import fail, then import the
# whole core and run its --help. Prints the imported module names for the assertions.
BLOCKED_IMPORT_SCRIPT = textwrap.dedent(
    """
    import importlib, importlib.abc, pkgutil, runpy, sys

    BLOCKED = ("qgis", "PyQt5", "PyQt6")

    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"test: importing {name} is forbidden in processing_core")
            return None

    sys.meta_path.insert(0, Blocker())
    import processing_core

    names = ["processing_core"]
    for info in pkgutil.walk_packages(processing_core.__path__, "processing_core."):
        if info.name.rsplit(".", 1)[-1] == "__main__":
            continue  # running it is the --help check below
        importlib.import_module(info.name)
        names.append(info.name)

    sys.argv = ["processing_core", "--help"]
    try:
        runpy.run_module("processing_core", run_name="__main__")
    except SystemExit as exc:
        assert exc.code in (0, None), f"--help exited with {exc.code!r}"
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not leaked, leaked
    print("IMPORTED", " ".join(names))
    """
)


def _metadata() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive (qgisMinimumVersion)
    assert parser.read(REPO_ROOT / "metadata.txt", encoding="utf-8"), "metadata.txt missing"
    return parser["general"]


def test_core_never_imports_qgis() -> None:
    result = subprocess.run(
        [SYSTEM_PYTHON, "-c", BLOCKED_IMPORT_SCRIPT],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    imported = next(line for line in result.stdout.splitlines() if line.startswith("IMPORTED")).split()[1:]
    assert {"processing_core", "processing_core.cli", "processing_core.errors"} <= set(imported)
    assert "usage:" in result.stdout  # --help ran


def test_blocker_really_blocks_qgis() -> None:
    """The check above would be worthless if the blocker let ``import qgis`` through."""
    script = BLOCKED_IMPORT_SCRIPT.split("import processing_core", 1)[0] + "import qgis.core\n"
    result = subprocess.run([SYSTEM_PYTHON, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert (
        "importing qgis.core is forbidden" in result.stderr or "importing qgis is forbidden" in result.stderr
    )


def test_core_source_has_no_qgis_import() -> None:
    pattern = re.compile(r"^\s*(import|from)\s+(qgis|PyQt5|PyQt6)\b", re.M)
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in sorted((REPO_ROOT / "processing_core").rglob("*.py"))
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_version_comes_from_metadata() -> None:
    import processing_core

    version = _metadata()["version"]
    assert processing_core.__version__ == version
    result = subprocess.run(
        [SYSTEM_PYTHON, "-m", "processing_core", "--version"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == version


def test_metadata_has_required_fields() -> None:
    meta = _metadata()
    missing = [key for key in REQUIRED_METADATA if not meta.get(key, "").strip()]
    assert missing == []
    assert meta["qgisMinimumVersion"] == "3.22"
    assert meta["hasProcessingProvider"] == "yes"
    assert re.fullmatch(r"\d+\.\d+\.\d+", meta["version"])
    assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", meta["email"])
    assert "/" not in meta["author"]  # the repository rejects slashes in author
    assert meta.get("experimental", "False") in ("True", "False")
    assert len(meta["about"].split(".")) > 3, "about should be several sentences"


@pytest.mark.parametrize("key", ["repository", "tracker", "homepage"])
def test_metadata_urls(key: str) -> None:
    url = _metadata()[key]
    assert re.fullmatch(r"https://[a-z0-9.-]+\.[a-z]{2,}/\S*", url), url
    if key == "tracker":
        assert url.rstrip("/").endswith("/issues")


def test_metadata_icon_exists_and_is_svg() -> None:
    icon = REPO_ROOT / _metadata()["icon"]
    assert icon.suffix == ".svg"
    assert icon.is_file()
    assert "<svg" in icon.read_text(encoding="utf-8")


def test_metadata_has_no_placeholder_text() -> None:
    text = (REPO_ROOT / "metadata.txt").read_text(encoding="utf-8")
    assert PLACEHOLDER.findall(text) == []


def test_placeholder_pattern_catches_placeholders() -> None:
    for sample in ("TODO: fill", "mail@example.com", "Lorem ipsum", "fixme later"):
        assert PLACEHOLDER.search(sample), sample
