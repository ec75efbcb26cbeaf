"""The command line as a subprocess, as a user runs it: ``/usr/bin/python3 -m processing_core``."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"


def cli(*args: str, cwd: Path = REPO_ROOT, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``python3 -m processing_core ARGS`` in ``cwd``; no standard input; text output captured."""
    return subprocess.run(
        [SYSTEM_PYTHON, "-m", "processing_core", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
