"""CLI contract of ``import`` (DESIGN.md): products into a stack folder, run as a subprocess."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "core"))

from ceos_writer import spec_from_scene, write_product  # noqa: E402
from cli_runner import cli  # noqa: E402

from processing_core.orbitgen import synthetic_scene  # noqa: E402


@pytest.fixture(scope="module")
def products(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("products")
    rng = np.random.default_rng(0)
    for platform, stem, time in (
        ("ALOS-2", "ALOS2065432100-150727-FBDR1.1__A", "2015-07-27T05:12:33"),
        ("ALOS", "ALPSRP123456780-H1.1__A", "2008-01-01T06:00:00"),
    ):
        truth = synthetic_scene(
            scene_id="t",
            centre_lat_deg=34.32,
            centre_lon_deg=-118.15,
            centre_height_m=1000.0,
            centre_time=np.datetime64(time),
            lines=40,
            samples=32,
        )
        slc = (rng.normal(size=(40, 32)) + 1j * rng.normal(size=(40, 32))).astype(np.complex64)
        write_product(spec_from_scene(truth, platform, stem, {"HH": slc}), base, zip_name=f"{stem}.zip")
    return base


def test_import_help():
    result = cli("import", "--help")
    assert result.returncode == 0
    for option in ("--input", "--stack", "--multilook", "--polarization"):
        assert option in result.stdout


def test_import_folder_of_zips_into_a_stack(products, tmp_path):
    stack = tmp_path / "STACK"
    result = cli("import", "--input", str(products), "--stack", str(stack), "--multilook", "2x4")
    assert result.returncode == 0, result.stderr
    assert "2 scenes imported" in result.stdout
    data = json.loads((stack / "stack.json").read_text(encoding="utf-8"))
    assert [(s["date"], s["platform"], s["id"]) for s in data["scenes"]] == [
        ("2008-01-01", "ALOS", "PALSAR1_20080101"),
        ("2015-07-27", "ALOS-2", "PALSAR2_20150727"),
    ]
    for s in data["scenes"]:
        sidecar = json.loads((stack / s["sidecar"]).read_text(encoding="utf-8"))
        assert sidecar["format"] == "sar-scene/1"
        assert (sidecar["radar_grid"]["lines"], sidecar["radar_grid"]["samples"]) == (20, 8)
        assert (stack / "scenes" / sidecar["image"]).is_file()
    again = cli("import", "--input", str(products), "--stack", str(stack), "--multilook", "2x4")
    assert again.returncode == 0
    assert "0 scenes imported, 2 up to date" in again.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "/nonexistent/folder"], "/nonexistent/folder: no such file or folder"),
        (["--input", "README.md"], "README.md: unknown product kind"),
        (["--input", "tests", "--multilook", "0x3"], "--multilook must be AZxRG"),
    ],
)
def test_import_bad_input_exits_2_with_one_line(tmp_path, args, message):
    result = cli("import", "--stack", str(tmp_path / "S"), *args)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0]
