"""Pair selection command."""

from __future__ import annotations

import argparse

from processing_core.commands import Command
from processing_core.progress import TextProgressBar


def _platform_days(text: str) -> tuple[str, float]:
    try:
        platform, days = text.rsplit("=", 1)
        value = float(days)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PLATFORM=DAYS (e.g. ALOS-2=70), got {text!r}") from None
    if not platform or value < 0:
        raise argparse.ArgumentTypeError(f"expected PLATFORM=DAYS with DAYS >= 0, got {text!r}")
    return platform, value


def _pairs_configure(p: argparse.ArgumentParser) -> None:
    from processing_core.network import DEFAULT_BRIDGE, DEFAULT_MIN_DAYS, GENERAL_MIN_DAYS

    defaults = ", ".join(f"{k}={v:g}" for k, v in DEFAULT_MIN_DAYS.items())
    p.add_argument("--stack", required=True, help="stack folder (stack.json)")
    p.add_argument(
        "--min-days",
        type=_platform_days,
        action="append",
        default=[],
        metavar="PLATFORM=DAYS",
        help=f"lower bound of the temporal baseline for a platform (repeatable; defaults {defaults})",
    )
    p.add_argument(
        "--default-min-days",
        type=float,
        default=GENERAL_MIN_DAYS,
        help=f"lower bound for other platforms (default {GENERAL_MIN_DAYS:g})",
    )
    p.add_argument(
        "--max-days",
        type=_platform_days,
        action="append",
        default=[],
        metavar="PLATFORM=DAYS",
        help="optional upper bound of the temporal baseline for a platform (repeatable)",
    )
    p.add_argument(
        "--default-max-days", type=float, default=None, help="optional upper bound for other platforms"
    )
    p.add_argument(
        "--max-bperp",
        type=float,
        default=None,
        help="optional bound on |B_perp|, m (default: none, as the paper)",
    )
    p.add_argument(
        "--bridge",
        type=int,
        default=DEFAULT_BRIDGE,
        help=f"images each side of a platform change joined by bridging pairs (default {DEFAULT_BRIDGE})",
    )
    p.add_argument(
        "--bridge-max-days", type=float, default=None, help="optional upper bound for bridging pairs"
    )
    p.add_argument("--no-plot", action="store_true", help="skip network/network.png")


def _pairs_run(args: argparse.Namespace) -> int:
    from processing_core.network import DEFAULT_MIN_DAYS, PairRules, select_stack_pairs

    rules = PairRules(
        min_days={**DEFAULT_MIN_DAYS, **dict(args.min_days)},
        default_min_days=args.default_min_days,
        max_days=dict(args.max_days),
        default_max_days=args.default_max_days,
        max_bperp_m=args.max_bperp,
        bridge=args.bridge,
        bridge_max_days=args.bridge_max_days,
    )
    pairs, report, written = select_stack_pairs(
        args.stack, rules, plot=not args.no_plot, progress=TextProgressBar("pairs")
    )
    kinds: dict[str, int] = {}
    for pair in pairs:
        kinds[pair.kind] = kinds.get(pair.kind, 0) + 1
    counts = ", ".join(f"{n} {kind}" for kind, n in kinds.items())
    print(f"pairs: {len(pairs)} ({counts})")
    print(report.describe())
    for path in written:
        print(path)
    return 0


COMMANDS = {
    "pairs": Command(
        "select offset pairs (per-platform temporal bounds, bridging pairs), table and network plot",
        _pairs_configure,
        _pairs_run,
        35,
    ),
}
