"""Pair network for offset tracking (paper, section 3; DESIGN.md step 4).

The paper's rule (Liu et al. 2020, GRL, doi:10.1029/2019GL086142): within each platform, every
pair whose temporal baseline reaches a lower bound chosen from the deformation rate (300 days
for ALOS PALSAR-1, 70 days for ALOS-2 PALSAR-2), with no bound on the perpendicular baseline
(ortho-rectification removes its effect); between consecutive platforms, bridging pairs joining
the N last images of one platform and the N first of the next (N = 3 in the paper).

The paper reports 83 pairs from its 28 images: 31 PALSAR-1, 44 PALSAR-2 and 8 bridging pairs.
Three images each side give 3 x 3 = 9 bridging pairs, so one of them was evidently left out
(the paper does not say which); this module keeps all nine by default. Its 31 and 44 depend on
the real acquisition dates; on the simulated ``baige-like`` dates the same rule gives 47 + 120
+ 9 = 176 pairs (derived by hand in tests/core/test_51_network.py). Optional upper bounds
(per platform, and for bridges) thin a network when offset tracking time matters.

Platforms flying as a constellation (``Sentinel-1A``/``-1B``/``-1C``) form one group for the
within-platform rule and the bridging.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from processing_core.errors import InputError
from processing_core.figure_files import save_png
from processing_core.progress import ProgressCallback, report
from processing_core.stack import Stack, load_stack

DEFAULT_MIN_DAYS: dict[str, float] = {"ALOS": 300.0, "ALOS-2": 70.0}
"""The paper's lower bounds of the temporal baseline per platform, days."""

GENERAL_MIN_DAYS = 30.0
"""Lower bound for platforms without their own (not from the paper: about two Sentinel-1
repeat cycles, long enough for metre-scale motion to exceed the offset noise)."""

DEFAULT_BRIDGE = 3
"""Images each side of a gap between platforms joined by bridging pairs (paper: 3)."""


@dataclass(frozen=True)
class Acquisition:
    """One scene as the pair selection sees it."""

    id: str
    platform: str
    date: dt.date
    bperp_m: float = 0.0
    """Perpendicular baseline relative to the final master, m."""


@dataclass(frozen=True)
class Pair:
    """One offset pair: reference earlier than secondary."""

    reference: str
    secondary: str
    days: int
    """Temporal baseline, days."""
    bperp_m: float
    """Perpendicular baseline (secondary minus reference, both relative to the final master), m."""
    kind: str
    """The platform group of a within-platform pair, or ``bridge``."""

    def to_dict(self) -> dict[str, Any]:
        """The ``stack.json`` entry."""
        d = asdict(self)
        d["bperp_m"] = round(float(self.bperp_m), 3)
        return d


@dataclass(frozen=True)
class PairRules:
    """Parameters of the pair selection (defaults: the paper's)."""

    min_days: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MIN_DAYS))
    """Lower bound of the temporal baseline per platform (or platform group), days."""
    default_min_days: float = GENERAL_MIN_DAYS
    """Lower bound for platforms not in ``min_days``."""
    max_days: Mapping[str, float] = field(default_factory=dict)
    """Optional upper bound per platform (or group), days."""
    default_max_days: float | None = None
    """Optional upper bound for platforms not in ``max_days``."""
    max_bperp_m: float | None = None
    """Optional bound on |B_perp| of every pair (none by default, as in the paper)."""
    bridge: int = DEFAULT_BRIDGE
    """Images each side of a platform change joined by bridging pairs (0: none)."""
    bridge_max_days: float | None = None
    """Optional upper bound of the bridging pairs' temporal baseline, days."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (for ``stack.json``)."""
        d = asdict(self)
        d["min_days"] = dict(self.min_days)
        d["max_days"] = dict(self.max_days)
        return d


def platform_group(platform: str) -> str:
    """Group of platforms flying as one constellation (``Sentinel-1A`` -> ``Sentinel-1``)."""
    if platform.startswith("Sentinel-1") and len(platform) == len("Sentinel-1") + 1:
        return "Sentinel-1"
    return platform


def _bound(table: Mapping[str, float], platform: str, default: float | None) -> float | None:
    if platform in table:
        return float(table[platform])
    group = platform_group(platform)
    if group in table:
        return float(table[group])
    return default


def select_pairs(acquisitions: Sequence[Acquisition], rules: PairRules | None = None) -> list[Pair]:
    """Pairs by the paper's rule: per-platform temporal bounds, plus bridging pairs.

    Returns the pairs sorted by reference date, then secondary date.

    Raises
    ------
    InputError
        For duplicate scene ids or a negative bridge count.
    """
    rules = rules or PairRules()
    if rules.bridge < 0:
        raise InputError(f"bridge must be >= 0, got {rules.bridge}")
    ids = [a.id for a in acquisitions]
    if len(set(ids)) != len(ids):
        raise InputError("duplicate scene ids in the pair selection")
    scenes = sorted(acquisitions, key=lambda a: (a.date, a.id))
    groups: dict[str, list[Acquisition]] = {}
    for a in scenes:
        groups.setdefault(platform_group(a.platform), []).append(a)
    chosen: dict[tuple[str, str], Pair] = {}

    def add(ref: Acquisition, sec: Acquisition, kind: str) -> None:
        if sec.date <= ref.date:
            return
        bperp = sec.bperp_m - ref.bperp_m
        if rules.max_bperp_m is not None and abs(bperp) > rules.max_bperp_m:
            return
        key = (ref.id, sec.id)
        if key not in chosen:
            chosen[key] = Pair(ref.id, sec.id, (sec.date - ref.date).days, bperp, kind)

    for group, members in groups.items():
        for i, ref in enumerate(members):
            low = _bound(rules.min_days, ref.platform, rules.default_min_days) or 0.0
            high = _bound(rules.max_days, ref.platform, rules.default_max_days)
            for sec in members[i + 1 :]:
                days = (sec.date - ref.date).days
                if days >= low and (high is None or days <= high):
                    add(ref, sec, group)
    if rules.bridge > 0:
        order = sorted(groups, key=lambda g: groups[g][0].date)
        for before, after in zip(order, order[1:]):
            for ref in groups[before][-rules.bridge :]:
                for sec in groups[after][: rules.bridge]:
                    a, b = (ref, sec) if ref.date <= sec.date else (sec, ref)
                    if rules.bridge_max_days is None or (b.date - a.date).days <= rules.bridge_max_days:
                        add(a, b, "bridge")
    date_of = {a.id: a.date for a in scenes}
    return sorted(chosen.values(), key=lambda p: (date_of[p.reference], date_of[p.secondary]))


@dataclass(frozen=True)
class Connectivity:
    """How the pairs tie the dates together."""

    components: list[list[str]]
    """Scene ids of each connected subset, in date order; the first holds the earliest scene."""
    gaps: list[tuple[str, str]]
    """Consecutive scenes (earlier, later) whose interval no pair spans: the time series has no
    information on the motion there (the minimum-norm solution sets its velocity to zero)."""

    @property
    def connected(self) -> bool:
        """True when one subset holds every scene."""
        return len(self.components) <= 1

    def describe(self) -> str:
        """One line per finding, for logs and the CLI."""
        if self.connected:
            return f"connected: one subset of {sum(map(len, self.components))} scenes"
        lines = [f"split into {len(self.components)} subsets:"]
        for k, comp in enumerate(self.components, start=1):
            lines.append(f"  subset {k}: {len(comp)} scenes, {comp[0]} ... {comp[-1]}")
        for a, b in self.gaps:
            lines.append(f"  no pair spans {a} -> {b}")
        return "\n".join(lines)


def connectivity(acquisitions: Sequence[Acquisition], pairs: Sequence[Pair]) -> Connectivity:
    """Connected subsets of the scenes under the pairs, and the intervals no pair spans."""
    scenes = sorted(acquisitions, key=lambda a: (a.date, a.id))
    index = {a.id: k for k, a in enumerate(scenes)}
    parent = list(range(len(scenes)))

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    covered = [False] * max(len(scenes) - 1, 0)
    for p in pairs:
        if p.reference not in index or p.secondary not in index:
            raise InputError(f"pair {p.reference}__{p.secondary} names a scene that is not in the stack")
        i, j = sorted((index[p.reference], index[p.secondary]))
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
        for k in range(i, j):
            covered[k] = True
    comps: dict[int, list[str]] = {}
    for k, a in enumerate(scenes):
        comps.setdefault(find(k), []).append(a.id)
    components = [comps[root] for root in sorted(comps)]
    gaps = [(scenes[k].id, scenes[k + 1].id) for k, ok in enumerate(covered) if not ok]
    return Connectivity(components, gaps)


def write_pairs_csv(
    path: str | os.PathLike[str], acquisitions: Sequence[Acquisition], pairs: Sequence[Pair]
) -> Path:
    """The pair table: reference, secondary, their dates and platforms, days, bperp_m, kind."""
    by_id = {a.id: a for a in acquisitions}
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
    with tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            [
                "reference",
                "secondary",
                "reference_date",
                "secondary_date",
                "reference_platform",
                "secondary_platform",
                "days",
                "bperp_m",
                "kind",
            ]
        )
        for p in pairs:
            r, s = by_id[p.reference], by_id[p.secondary]
            writer.writerow(
                [
                    p.reference,
                    p.secondary,
                    r.date,
                    s.date,
                    r.platform,
                    s.platform,
                    p.days,
                    f"{p.bperp_m:.3f}",
                    p.kind,
                ]
            )
    os.replace(tmp, out)
    return out


def plot_network(
    path: str | os.PathLike[str], acquisitions: Sequence[Acquisition], pairs: Sequence[Pair]
) -> Path | None:
    """Network figure (PNG): scenes at (date, B_perp), pairs as lines; ``None`` without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    by_id = {a.id: a for a in acquisitions}
    fig = Figure(figsize=(10, 5.5), constrained_layout=True)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    colors = {"bridge": "tab:red"}
    palette = ["tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown", "tab:olive"]
    kinds = sorted({p.kind for p in pairs} - {"bridge"})
    for k, kind in enumerate(kinds):
        colors[kind] = palette[k % len(palette)]
    for kind in kinds + ["bridge"]:
        chosen = [p for p in pairs if p.kind == kind]
        for n, p in enumerate(chosen):
            a, b = by_id[p.reference], by_id[p.secondary]
            ax.plot(
                [a.date, b.date],
                [a.bperp_m, b.bperp_m],
                color=colors[kind],
                lw=0.8 if kind != "bridge" else 1.2,
                alpha=0.55,
                label=f"{kind} pairs ({len(chosen)})" if n == 0 else None,
            )
    groups = sorted({platform_group(a.platform) for a in acquisitions})
    for k, group in enumerate(groups):
        members = [a for a in acquisitions if platform_group(a.platform) == group]
        ax.scatter(
            [a.date for a in members],
            [a.bperp_m for a in members],
            s=22,
            zorder=3,
            color=colors.get(group, palette[k % len(palette)]),
            edgecolor="black",
            linewidth=0.5,
            label=f"{group} scenes ({len(members)})",
        )
    ax.set_xlabel("acquisition date")
    ax.set_ylabel("perpendicular baseline to the final master (m)")
    ax.set_title(f"Offset pair network: {len(pairs)} pairs, {len(acquisitions)} scenes")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return save_png(fig, path, dpi=90)


def stack_acquisitions(stack: Stack, *, progress: ProgressCallback | None = None) -> list[Acquisition]:
    """The stack's scenes with perpendicular baselines to the final master (computed from the orbits).

    The final master is ``stack.masters["final"]``, or chosen by :func:`baselines.select_masters`
    when the stack has none yet (nothing is written then).
    """
    from processing_core.baselines import baseline, select_masters
    from processing_core.geometry import RadarGeometry

    if not stack.scenes:
        raise InputError(f"{stack.path}: the stack has no scenes")
    scenes = [stack.scene(s.id) for s in stack.scenes]
    final = stack.masters.get("final") if stack.masters else None
    if final is None:
        final = select_masters(scenes)["final"]
    master = RadarGeometry(next(s for s in scenes if s.id == final))
    out = []
    for k, (entry, scene) in enumerate(zip(stack.scenes, scenes)):
        b = baseline(master, RadarGeometry(scene)).perpendicular_m if scene.id != final else 0.0
        out.append(Acquisition(entry.id, entry.platform, dt.date.fromisoformat(entry.date[:10]), float(b)))
        report(progress, 0.8 * (k + 1) / len(scenes), "perpendicular baselines")
    return out


def _chosen_masters(stack: Stack) -> dict[str, Any]:
    """Masters by :func:`baselines.select_masters` for a stack that has no final master yet (an
    imported one), keeping any entries it already has (a ``per_platform`` table, say)."""
    from processing_core.baselines import select_masters

    chosen = select_masters([stack.scene(s.id) for s in stack.scenes])
    return {**chosen, **{k: v for k, v in (stack.masters or {}).items() if v}}


def select_stack_pairs(
    root: str | os.PathLike[str],
    rules: PairRules | None = None,
    *,
    plot: bool = True,
    progress: ProgressCallback | None = None,
) -> tuple[list[Pair], Connectivity, list[Path]]:
    """Select the pairs of a stack; write ``stack.json`` pairs, ``network/pairs.csv`` and
    ``network/network.png`` (unless ``plot`` is false or matplotlib is missing).

    A stack without a final master (an imported one) gets its masters chosen by
    :func:`baselines.select_masters` and saved with the pairs; existing masters are kept.

    Returns the pairs, the connectivity report and the files written.
    """
    rules = rules or PairRules()
    stack = load_stack(root)
    if len(stack.scenes) < 2:
        raise InputError(f"{stack.path}: {len(stack.scenes)} scene(s); pairs need at least two scenes")
    if not (stack.masters or {}).get("final"):
        stack.masters = _chosen_masters(stack)
    acquisitions = stack_acquisitions(stack, progress=progress)
    pairs = select_pairs(acquisitions, rules)
    if not pairs:
        raise InputError(f"{stack.path}: no pair satisfies the rules {rules.to_dict()}")
    report_ = connectivity(acquisitions, pairs)
    folder = stack.root / "network"
    written = [write_pairs_csv(folder / "pairs.csv", acquisitions, pairs)]
    if plot:
        figure = plot_network(folder / "network.png", acquisitions, pairs)
        if figure is not None:
            written.append(figure)
    stack.pairs = [p.to_dict() for p in pairs]
    stack.parameters["pairs"] = {
        **rules.to_dict(),
        "connected": report_.connected,
        "components": report_.components,
        "gaps": [list(g) for g in report_.gaps],
    }
    stack.record("pairs", rules.to_dict())
    written.insert(0, stack.save())
    report(progress, 1.0, f"{len(pairs)} pairs")
    return pairs, report_, written
