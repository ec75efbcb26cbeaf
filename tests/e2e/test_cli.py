"""The command line contract (DESIGN.md): help, version, exit status 2 with one-line errors."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest
from cli_runner import cli

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
#: commands the foundation relies on; later issues add more
COMMANDS = ("geo2rdr", "rdr2geo", "lookup")


def test_help_lists_commands() -> None:
    result = cli("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python3 -m processing_core")
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", result.stdout, re.M), command


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "--scene" in result.stdout


def test_version_matches_metadata() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(REPO_ROOT / "metadata.txt", encoding="utf-8")
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"python3 -m processing_core {parser.get('general', 'version')}"


def test_no_command_is_an_error() -> None:
    assert cli().returncode == 2


def test_unknown_option_is_an_error() -> None:
    result = cli("geo2rdr", "--scene", "s.json", "--points", "p.csv", "--out", "o.csv", "--no-such-option")
    assert result.returncode == 2
    assert "unrecognized arguments: --no-such-option" in result.stderr
    missing = cli("geo2rdr")
    assert missing.returncode == 2
    assert "--scene" in missing.stderr


@pytest.mark.parametrize("command", ["geo2rdr", "rdr2geo"])
def test_bad_scene_path_gives_one_line_error(command: str, tmp_path: Path) -> None:
    points = tmp_path / "points.csv"
    header = "lat,lon,height" if command == "geo2rdr" else "line,sample,height"
    points.write_text(f"{header}\n1,2,3\n", encoding="utf-8")
    missing = tmp_path / "no_such_scene.json"
    result = cli(
        command, "--scene", str(missing), "--points", str(points), "--out", str(tmp_path / "out.csv")
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one line, no traceback
    assert lines[0].startswith("error:")
    assert missing.name in lines[0]
    assert not (tmp_path / "out.csv").exists()
