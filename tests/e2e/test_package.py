"""``make package`` builds a zip that QGIS installs and the official repository accepts.

The checks follow the repository's upload validator: size limit, no path tricks, no
``.pyc``/``__pycache__``/``.git``/``__MACOSX``, a single top folder with a valid name holding
``__init__.py``, ``metadata.txt`` with the required keys and ``LICENSE``.
"""

from __future__ import annotations

import configparser
import io
import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
TOP = "sar_offset_tracking"
MAX_BYTES = 25_000_000
REQUIRED_METADATA = (
    "name",
    "description",
    "version",
    "qgisMinimumVersion",
    "author",
    "email",
    "about",
    "tracker",
    "repository",
    "homepage",
    "hasProcessingProvider",
    "tags",
    "icon",
)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        ["make", "--no-print-directory", "package", f"DIST_DIR={dist}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    zip_path = dist / f"{TOP}.zip"
    assert zip_path.is_file()
    return zip_path


@pytest.fixture(scope="module")
def names(package: Path) -> list[str]:
    with zipfile.ZipFile(package) as zf:
        assert zf.testzip() is None
        return zf.namelist()


@pytest.fixture(scope="module")
def unpacked(package: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("unzipped")
    result = subprocess.run(["unzip", "-q", str(package), "-d", str(target)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return target / TOP


def test_size_under_limit(package: Path) -> None:
    assert package.stat().st_size < MAX_BYTES


def test_single_valid_top_folder(names: list[str]) -> None:
    assert {name.split("/")[0] for name in names} == {TOP}
    assert names[0] == f"{TOP}/"  # the validator takes the package name from the first entry
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]+", TOP)


def test_no_forbidden_entries(names: list[str]) -> None:
    for name in names:
        assert ".." not in name, name
        assert not name.startswith("/"), name
        assert ".pyc" not in name, name
        parts = name.split("/")
        assert not {"__pycache__", ".git", "__MACOSX"} & set(parts), name
        assert not any(part.startswith(".") for part in parts if part), name


def test_contents(names: list[str]) -> None:
    for required in ("__init__.py", "metadata.txt", "LICENSE", "README.md", "resources/icons/icon.svg"):
        assert f"{TOP}/{required}" in names, required
    for package_dir in ("plugin", "plugin/algorithms", "processing_core"):
        assert f"{TOP}/{package_dir}/__init__.py" in names, package_dir
    assert f"{TOP}/resources/dem/bigtujunga_srtm30m_utm11.tif" in names
    assert not any(name.startswith(f"{TOP}/tests/") for name in names)
    assert not any(
        name.startswith((f"{TOP}/scripts/", f"{TOP}/benchmarks/", f"{TOP}/.ci/")) for name in names
    )


def test_every_python_file_of_the_checkout_is_packaged(names: list[str]) -> None:
    expected = {
        f"{TOP}/{path.relative_to(REPO_ROOT).as_posix()}"
        for folder in ("plugin", "processing_core")
        for path in (REPO_ROOT / folder).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert expected <= set(names)


def test_metadata_complete(package: Path) -> None:
    with zipfile.ZipFile(package) as zf:
        text = zf.read(f"{TOP}/metadata.txt").decode("utf-8")
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str
        parser.read_file(io.StringIO(text))
        meta = parser["general"]
        missing = [key for key in REQUIRED_METADATA if not meta.get(key, "").strip()]
        assert missing == []
        assert zf.read(f"{TOP}/{meta['icon']}").lstrip().startswith(b"<?xml")
        assert "GNU GENERAL PUBLIC LICENSE" in zf.read(f"{TOP}/LICENSE").decode("utf-8")
    for key in ("tracker", "repository", "homepage"):
        assert re.fullmatch(r"https?://[^\s/]+\.[^\s/]+(/\S*)?", meta[key]), key


def test_core_runs_from_unzipped_folder(unpacked: Path) -> None:
    version = subprocess.run(
        [SYSTEM_PYTHON, "-m", "processing_core", "--version"],
        cwd=unpacked,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert version.returncode == 0, version.stderr
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(unpacked / "metadata.txt", encoding="utf-8")
    assert version.stdout.split()[-1] == parser.get("general", "version")


def test_plugin_package_imports_from_unzipped_folder(unpacked: Path) -> None:
    """QGIS imports the folder as a package and calls classFactory; check the import half."""
    script = f"import {TOP}; assert callable({TOP}.classFactory)"
    result = subprocess.run(
        [SYSTEM_PYTHON, "-c", script], cwd=unpacked.parent, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_package_is_reproducible(package: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.zip"
    result = subprocess.run(
        [SYSTEM_PYTHON, "scripts/build_package.py", "--out", str(again)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert again.read_bytes() == package.read_bytes()


def test_unzipped_plugin_loads_in_qgis_process(unpacked: Path, qgis_env_factory, qgis_process) -> None:
    """What "Install from ZIP" gives: the unzipped folder as a plugin, enabled, in qgis_process."""
    env = qgis_env_factory(unpacked)
    result = qgis_process(env, "--json", "list")
    assert result.returncode == 0, result.stderr
    algorithms = json.loads(result.stdout)["providers"]["sarots"]["algorithms"]
    assert {"sarots:geo2rdr", "sarots:rdr2geo", "sarots:lookup"} <= set(algorithms)
