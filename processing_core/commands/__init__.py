"""Sub-commands of ``python3 -m processing_core``, one module per family.

Each module here defines ``COMMANDS: dict[str, Command]``; :mod:`processing_core.cli` finds
the modules by itself, so adding a command never edits a shared file. Modules import only
argparse at the top and the science inside ``run``, which keeps ``--help`` fast.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Command:
    """One sub-command: its help line, how to declare its options and how to run it."""

    help: str
    """One line for ``--help``."""
    configure: Callable[[argparse.ArgumentParser], None]
    """Adds the command's options to its parser."""
    run: Callable[[argparse.Namespace], int]
    """Runs the command; returns the exit status."""
    order: int = 100
    """Position in ``--help`` (the processing chain's order)."""
