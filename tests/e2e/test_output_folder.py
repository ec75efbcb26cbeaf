"""Reliability (issue 13): a read-only stack folder gives a one-line error before any work.

Running as root, ``chmod`` does not stop writes, so the folder is made read-only for real: a
read-only bind mount in a private user and mount namespace (``unshare``); skipped where the
kernel does not allow unprivileged namespaces.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
DEM = REPO_ROOT.parent / "shared" / "fixtures" / "dem" / "bigtujunga_srtm30m_utm11.tif"
UNSHARE = ["unshare", "--user", "--map-root-user", "--mount"]


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run([*UNSHARE, "true"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    return probe.returncode == 0


@pytest.mark.skipif(not _namespaces_work(), reason="unprivileged user/mount namespaces not available")
def test_read_only_stack_folder_is_refused_before_work(tmp_path: Path) -> None:
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "stack.json").write_text(json.dumps({"format": "sar-stack/1", "scenes": []}), encoding="utf-8")
    folder = shlex.quote(str(stack))
    run = shlex.join(
        [SYSTEM_PYTHON, "-m", "processing_core", "run", "--stack", str(stack), "--dem", str(DEM)]
    )
    script = f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} {folder} && exec {run}"
    result = subprocess.run(
        [*UNSHARE, "sh", "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one line, no traceback
    assert lines[0].startswith("error:")
    assert f"{stack}: stack folder is not writable (Read-only file system)" in lines[0]
    assert sorted(p.name for p in stack.iterdir()) == ["stack.json"]  # nothing written
