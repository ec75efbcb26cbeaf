#!/usr/bin/python3
"""Issue 7's accuracy criteria on a finished simulated stack (``make accuracy`` after ``make demo``).

Reads ``STACK/report/results.json`` (written by the report from the products and the truth)
and checks: the LOS and azimuth series at P1-P4 against the truth with RMSE below 0.5 m, and
the mean rate maps inside the landslide within 10 % of the truth (the median relative error
of every period's map, and its landslide mean). Prints one line per check; exit status 1 when
any fails, 2 when the stack has no such results.

    /usr/bin/python3 scripts/check_accuracy.py demo_output/stack
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RMSE_M = 0.5
RATE_FRACTION = 0.10


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    path = Path(argv[0]) / "report" / "results.json"
    try:
        results = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: {path}: cannot be read ({exc})", file=sys.stderr)
        return 2
    run, accuracy = results.get("run", {}), results.get("rate_accuracy", {})
    checks: list[tuple[str, float, float]] = []
    for comp in ("los", "azimuth"):
        for point in ("p1", "p2", "p3", "p4"):
            value = run.get(f"{comp}_{point}_rmse_m")
            checks.append(
                (f"{comp} RMSE at {point.upper()} (m)", float("nan") if value is None else value, RMSE_M)
            )
        for period, a in accuracy.get(comp, {}).items():
            checks.append(
                (f"{comp} rate {period}: median relative error", a["median_relative_error"], RATE_FRACTION)
            )
            mean_error = abs(a["landslide_mean_m_per_yr"] - a["truth_mean_m_per_yr"]) / abs(
                a["truth_mean_m_per_yr"]
            )
            checks.append((f"{comp} rate {period}: landslide mean relative error", mean_error, RATE_FRACTION))
    if not accuracy or not checks:
        print(f"error: {path}: no truth comparison (not a simulated stack?)", file=sys.stderr)
        return 2
    failed = 0
    for name, value, limit in checks:
        ok = value < limit  # NaN (a point without a full-rank node) fails
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {value:.3f} (limit {limit})")
    print(f"{len(checks) - failed} of {len(checks)} checks pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
