"""Command line of the core: ``python3 -m processing_core <command> ...``.

Every command has ``--help``; bad input ends with a one-line error on stderr and
exit status 2 (DESIGN.md, command-line contract). The commands live in
:mod:`processing_core.commands`, one module per family, found at start-up.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import processing_core.commands as commands_pkg
from processing_core import __version__
from processing_core.commands import Command
from processing_core.errors import SarError


def discover() -> dict[str, Command]:
    """Every command of every module in :mod:`processing_core.commands`, in chain order."""
    found: dict[str, Command] = {}
    for info in pkgutil.iter_modules(commands_pkg.__path__):
        module = importlib.import_module(f"{commands_pkg.__name__}.{info.name}")
        for name, command in getattr(module, "COMMANDS", {}).items():
            if name in found:
                raise RuntimeError(f"command '{name}' defined twice (module {info.name})")
            found[name] = command
    return dict(sorted(found.items(), key=lambda item: (item[1].order, item[0])))


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with one sub-parser per discovered command."""
    parser = argparse.ArgumentParser(
        prog="python3 -m processing_core",
        description="SAR offset tracking for large landslide motion (Liu et al. 2020, GRL).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in discover().items():
        p = sub.add_parser(name, help=command.help, description=command.help)
        command.configure(p)
        p.set_defaults(_run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    try:
        return args._run(args)
    except SarError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unreadable input, full disk, permissions: still one line
        print(f"error: {exc}", file=sys.stderr)
        return 2
