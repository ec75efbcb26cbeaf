"""The run report: ``STACK/report/report.html`` with its PNG figures, readable without QGIS.

Sections: the pair network, rectification QC per scene, mean rate maps per platform period (LOS
and azimuth, like the paper's Figure 2), time series of the named points (Figure 3), the creep
stages of the most active point (Figure S7b), traditional versus improved co-registration of one
cross-platform pair (Figure 1), and a table of the figures the paper reports for Baige next to
this run's (and the truth's, for a simulated stack).
"""

from __future__ import annotations

import html
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from osgeo import gdal

from processing_core.atomic import write_json
from processing_core.progress import ProgressCallback, report
from processing_core.radar_grids import SubGrid
from processing_core.rectify import RectifyParameters
from processing_core.report.truth_metrics import rate_accuracy
from processing_core.stack import load_stack
from processing_core.vector import write_points_gpkg

gdal.UseExceptions()

# Liu et al. (2020), section 4-5: what the paper reports for Baige (LOS, azimuth in the paper's
# sign: azimuth positive opposite to the flight direction).
PAPER = {
    "los_p2_m": -60.2,
    "azimuth_p2_m": 12.6,
    "los_p4_m": -38.8,
    "azimuth_p4_m": 2.5,
    "onset": "2015-07-27",
    "stage_rates_mm_per_day": (6.0, 10.0, 17.0, 35.0, 92.0),
    "figure1_los_m": -22.0,
    "figure1_azimuth_m": 6.0,
}


@dataclass
class Raster:
    """A multiband raster on the offset grid: data (bands, rows, cols), names, metadata, grid."""

    data: np.ndarray
    names: list[str]
    band_meta: list[dict[str, str]]
    grid: SubGrid


def read_raster(path: Path) -> Raster:
    """All bands of a (sub-grid) raster as float64 with NaN nodata."""
    ds = gdal.Open(str(path))
    data = ds.ReadAsArray().astype(np.float64).reshape(ds.RasterCount, ds.RasterYSize, ds.RasterXSize)
    bands = [ds.GetRasterBand(k + 1) for k in range(ds.RasterCount)]
    for k, band in enumerate(bands):
        nodata = band.GetNoDataValue()
        if nodata is not None and not np.isnan(nodata):
            data[k][data[k] == nodata] = np.nan
    grid = SubGrid.from_metadata(ds.GetMetadata(), data.shape[1:], where=str(path))
    return Raster(data, [b.GetDescription() for b in bands], [b.GetMetadata() for b in bands], grid)


def node_series(
    raster: Raster, line: float, sample: float, *, usable: np.ndarray | None = None
) -> np.ndarray:
    """Series at master pixel (line, sample): bilinear interpolation of the four nodes around it,
    per band, over the nodes that are finite there and ``usable`` (rows, cols; default all), the
    weights renormalised; NaN where none of the four is. Bilinear, since a window measures the
    local mean motion and the field between nodes is smooth at the node spacing."""
    row, col = (float(v) for v in raster.grid.node_of(np.array(line), np.array(sample)))
    r0, c0 = int(np.floor(row)), int(np.floor(col))
    a, b = row - r0, col - c0
    n_rows, n_cols = raster.data.shape[1:]
    total = np.zeros(raster.data.shape[0])
    weight = np.zeros(raster.data.shape[0])
    for dr, dc, w in ((0, 0, (1 - a) * (1 - b)), (0, 1, (1 - a) * b), (1, 0, a * (1 - b)), (1, 1, a * b)):
        r, c = r0 + dr, c0 + dc
        if not (0 <= r < n_rows and 0 <= c < n_cols) or w == 0.0:
            continue
        if usable is not None and not usable[r, c]:
            continue
        values = raster.data[:, r, c]
        ok = np.isfinite(values)
        total[ok] += w * values[ok]
        weight[ok] += w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / weight, np.nan)


def full_rank(root: Path, component: str, n_dates: int) -> np.ndarray | None:
    """Nodes where the pairs connect every date (rank n_dates - 1), from ``<component>_count.tif``;
    elsewhere the SBAS gives the minimum-norm solution, which understates the motion across the
    gap. ``None`` without the count raster."""
    path = root / "timeseries" / f"{component}_count.tif"
    if not path.exists():
        return None
    counts = read_raster(path)
    return np.nan_to_num(counts.data[counts.names.index("rank")], nan=-1) == n_dates - 1


def _truth_points(root: Path) -> list[dict[str, float | str]]:
    path = root / "truth" / "points.csv"
    if not path.exists():
        return []
    lines = path.read_text().strip().splitlines()
    head = lines[0].split(",")
    return [{k: (v if k == "name" else float(v)) for k, v in zip(head, row.split(","))} for row in lines[1:]]


def _truth_series(root: Path, name: str) -> dict[str, np.ndarray]:
    rows = (root / "truth" / f"{name}.csv").read_text().strip().splitlines()[1:]
    values = np.array([[float(v) for v in r.split(",")[1:3]] for r in rows])
    return {"los": values[:, 0], "azimuth": values[:, 1]}


def _qc_rows(root: Path, stack) -> list[list[str]]:
    out = []
    for s in stack.scenes:
        path = root / "rectified" / f"{s.id}.json"
        if not path.exists():
            continue
        qc = json.loads(path.read_text())

        def fmt(key: str, spec: str = ".3f", qc: dict = qc) -> str:
            value = qc.get(key)
            return format(value, spec) if isinstance(value, (int, float)) else "-"

        out.append(
            [
                s.id,
                s.platform,
                s.date,
                str(qc.get("reference", "")),
                fmt("tie_points", "d"),
                fmt("residual_line_rms_px"),
                fmt("residual_sample_rms_px"),
                fmt("layover_shadow_fraction", ".1%"),
            ]
        )
    return out


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _num(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None or not np.isfinite(value) else format(value, spec)


def write_report(
    stack_dir: str | os.PathLike[str],
    dem_path: str | os.PathLike[str],
    *,
    compare_traditional: bool = True,
    params: RectifyParameters | None = None,
    timings: dict[str, float] | None = None,
    progress: ProgressCallback | None = None,
) -> list[Path]:
    """Write ``STACK/report/report.html`` and its figures; return the files written.

    Needs the time series (``invert``); the Figure-1 comparison needs ``rectified/``.
    """
    from processing_core.report import figures
    from processing_core.report.compare import compare_pair

    root = Path(stack_dir)
    stack = load_stack(root)
    out = root / "report"
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    sections: list[str] = []
    results: dict[str, float | str | None] = {}
    truth_results: dict[str, float | str | None] = {}
    accuracy: dict[str, dict] = {}
    dates = [np.datetime64(s.date) for s in stack.scenes]
    report(progress, 0.05, "report: network and QC")
    network = root / "network" / "network.png"
    if network.exists():
        shutil.copyfile(network, out / "network.png")
        sections.append('<h2>Pair network</h2><img src="network.png" alt="pair network">')
        info = stack.parameters.get("pairs", {})
        sections.append(
            f"<p>{len(stack.pairs)} pairs; connected: {html.escape(str(info.get('connected')))}.</p>"
        )
    qc = _qc_rows(root, stack)
    if qc:
        head = [
            "scene",
            "platform",
            "date",
            "reference",
            "tie points",
            "residual line RMS (px)",
            "residual sample RMS (px)",
            "layover/shadow",
        ]
        sections.append("<h2>Rectification QC</h2>" + _table(head, qc))
    ts = root / "timeseries"
    points = _truth_points(root)
    series: dict[str, dict[str, np.ndarray]] = {}
    if (ts / "los_rate.tif").exists():
        report(progress, 0.2, "report: rate maps")
        rates = {c: read_raster(ts / f"{c}_rate.tif") for c in ("los", "azimuth")}
        g = rates["los"].grid
        extent = (g.col0, g.col0 + (g.cols - 1) * g.step, g.row0 + (g.rows - 1) * g.step, g.row0)
        periods = [n.split("_", 1)[1] for n in rates["los"].names]
        written.append(
            figures.rate_maps({c: (periods, r.data) for c, r in rates.items()}, extent, out / "rate_maps.png")
        )
        sections.append(
            "<h2>Mean rate maps</h2><p>Per platform period and over the whole span, m/yr, in the "
            "final master's radar geometry (like the paper's Figure 2).</p><img src=\"rate_maps.png\">"
        )
        for comp in ("los", "azimuth"):
            accuracy[comp] = rate_accuracy(root, comp)
        if any(accuracy.values()):
            sections.append(_rate_accuracy_table(accuracy))
    if (ts / "los.tif").exists() and points:
        report(progress, 0.4, "report: point time series")
        series_r = {c: read_raster(ts / f"{c}.tif") for c in ("los", "azimuth")}
        std_r = {
            c: read_raster(ts / f"{c}_std.tif") for c in ("los", "azimuth") if (ts / f"{c}_std.tif").exists()
        }
        series, truth = {}, {}
        usable = {c: full_rank(root, c, len(dates)) for c in series_r}
        for p in points:
            name = str(p["name"])
            at = (float(p["line"]), float(p["sample"]))
            series[name] = {c: node_series(r, *at, usable=usable[c]) for c, r in series_r.items()}
            for c, r in std_r.items():
                series[name][f"{c}_std"] = node_series(r, *at, usable=usable[c])
            if (root / "truth" / f"{name}.csv").exists():
                truth[name] = _truth_series(root, name)
        written.append(figures.point_series(dates, series, truth, out / "points.png"))
        located = [(str(p["name"]), float(p["lon"]), float(p["lat"])) for p in points]
        written.append(write_points_gpkg(out / "points.gpkg", dates, located, series))
        sections.append('<h2>Point time series</h2><img src="points.png">')
        rows = []
        for name, s in series.items():
            t = truth.get(name)
            err = {c: float(np.sqrt(np.nanmean((s[c] - t[c]) ** 2))) for c in ("los", "azimuth")} if t else {}
            rows.append(
                [
                    name,
                    _num(s["los"][-1]),
                    _num(t["los"][-1] if t else None),
                    _num(err.get("los")),
                    _num(s["azimuth"][-1]),
                    _num(t["azimuth"][-1] if t else None),
                    _num(err.get("azimuth")),
                ]
            )
            for comp in ("los", "azimuth"):
                results[f"{comp}_{name.lower()}_m"] = float(s[comp][-1])
                if t:
                    truth_results[f"{comp}_{name.lower()}_m"] = float(t[comp][-1])
                    results[f"{comp}_{name.lower()}_rmse_m"] = err[comp]
        sections.append(
            _table(
                ["point", "LOS last (m)", "truth", "LOS RMSE", "azimuth last (m)", "truth", "azimuth RMSE"],
                rows,
            )
        )
    if (ts / "los.tif").exists() and points and series:
        report(progress, 0.5, "report: creep stages")
        sections.append(_stages_section(root, out, dates, series, results, truth_results, written))
    if compare_traditional:
        report(progress, 0.6, "report: traditional vs improved")
        comparison = compare_pair(stack, dem_path, params=params)
        if comparison is not None:
            written.append(figures.figure1(comparison, out / "figure1.png"))
            (ia, ir), (ta, tr) = comparison.rms_px("improved"), comparison.rms_px("traditional")
            results.update({"figure1_improved_range_rms_px": ir, "figure1_traditional_range_rms_px": tr})
            sections.append(
                f"<h2>Traditional vs improved co-registration ({html.escape(comparison.other)} to "
                f'{html.escape(comparison.master)}, {comparison.days} days)</h2><img src="figure1.png">'
                + _table(
                    ["method", "azimuth RMS on stable ground (px)", "range RMS on stable ground (px)"],
                    [
                        ["traditional", _num(ta, ".3f"), _num(tr, ".3f")],
                        ["improved", _num(ia, ".3f"), _num(ir, ".3f")],
                    ],
                )
            )
    report(progress, 0.9, "report: table")
    sections.append(_paper_table(results, truth_results, bool(truth_results)))
    if timings:
        sections.append(
            "<h2>Timings</h2>" + _table(["step", "s"], [[k, f"{v:.1f}"] for k, v in timings.items()])
        )
    document: dict[str, object] = {"run": results, "truth": truth_results}
    if any(accuracy.values()):
        document["rate_accuracy"] = accuracy
    write_json(out / "results.json", document)
    page = _page(stack, sections)
    tmp = out / ".report.partial.html"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out / "report.html")
    written += [out / "results.json", out / "report.html"]
    report(progress, 1.0, "report written")
    return written


def _rate_accuracy_table(accuracy: dict[str, dict]) -> str:
    rows = [
        [
            comp,
            html.escape(period),
            str(a["nodes"]),
            _num(100 * a["median_relative_error"], ".1f"),
            _num(100 * a["within_10_percent"], ".0f"),
            _num(a["landslide_mean_m_per_yr"]),
            _num(a["truth_mean_m_per_yr"]),
        ]
        for comp, periods in accuracy.items()
        for period, a in periods.items()
    ]
    head = ["component", "period", "nodes", "median error (%)", "within 10 % (%)", "mean (m/yr)", "truth"]
    return (
        "<p>Against the simulation's truth, inside the landslide (full-rank nodes whose true rate "
        "exceeds half the period's peak):</p>" + _table(head, rows)
    )


def _truth_history(root: Path) -> list[tuple[str, float]] | None:
    """(start date, LOS rate mm/day) of the simulated creep history at P2, if simulated."""
    try:
        from processing_core.simulate import get_scenario

        name = json.loads((root / "truth" / "truth.json").read_text())["scenario"]
        return [(p.start, 1000.0 * p.rate_m_per_day) for p in get_scenario(name).history]
    except (OSError, KeyError, ValueError):
        return None


def _stages_section(root, out, dates, series, results, truth_results, written) -> str:
    """Creep stages and the inverse-velocity forecast of the most active point (Figure S7b)."""
    from processing_core.analysis.forecast import forecast_failure
    from processing_core.analysis.plots import plot_stages
    from processing_core.analysis.stages import detect_stages

    name = max(series, key=lambda n: abs(np.nan_to_num(series[n]["los"][-1])))
    los = series[name]["los"]
    # The noise level is estimated from the series itself (robust point-to-chord residuals): the
    # SBAS std propagates an assumed per-pair noise and overstates it here by about 2x, which
    # merges stages.
    sigma = None
    t = np.asarray(dates, dtype="datetime64[D]")
    try:
        stages = detect_stages(t, los, sigma_m=sigma)
    except ValueError as exc:
        return f"<h2>Creep stages</h2><p>No segmentation of {html.escape(name)}: {html.escape(str(exc))}</p>"
    figure = plot_stages(out / "stages.png", stages, title=f"Creep stages of {name} (LOS)")
    if figure is not None:
        written.append(figure)
    rows = [
        [
            s.kind,
            str(s.start),
            str(s.end),
            f"{s.rate_mm_per_day:.1f} ({s.rate_low_mm_per_day:.1f} to {s.rate_high_mm_per_day:.1f})",
        ]
        for s in stages.stages
    ]
    html_out = f'<h2>Creep stages of {html.escape(name)}</h2><img src="stages.png">' + _table(
        ["stage", "from", "to", "LOS rate mm/day (range)"], rows
    )
    html_out += (
        "<p>Breaks: " + "; ".join(f"{b.date} ({b.date_low} to {b.date_high})" for b in stages.breaks) + "</p>"
    )
    results["stages_point"] = name
    results["stage_rates_mm_per_day"] = [s.rate_mm_per_day for s in stages.stages]
    results["break_dates"] = [str(b.date) for b in stages.breaks]
    results["onset"] = None if stages.onset is None else str(stages.onset.date)
    results["onset_interval"] = (
        None if stages.onset is None else [str(stages.onset.date_low), str(stages.onset.date_high)]
    )
    history = _truth_history(root)
    if history is not None:
        truth_results["stage_rates_mm_per_day"] = [r for _, r in history]
        truth_results["break_dates"] = [d for d, _ in history[1:]]
        html_out += (
            "<p>Truth (simulated history at P2): "
            + "; ".join(f"from {d}: {r:.0f} mm/day" for d, r in history)
            + "</p>"
        )
    try:
        forecast = forecast_failure(t, los, sigma_m=sigma)
    except ValueError as exc:
        html_out += f"<p>No inverse-velocity forecast: {html.escape(str(exc))}</p>"
        return html_out
    results["forecast_failure"] = None if forecast.failure_date is None else str(forecast.failure_date)
    results["forecast_interval"] = [
        None if forecast.ci_low is None else str(forecast.ci_low),
        None if forecast.ci_high is None else str(forecast.ci_high),
    ]
    results["first_warning"] = (
        None if forecast.first_warning_date is None else str(forecast.first_warning_date)
    )
    html_out += (
        f"<p>Inverse-velocity forecast (Fukuzono 1985) from {forecast.start_date}: failure "
        f"{results['forecast_failure'] or 'not forecast'} (95 % interval {results['forecast_interval'][0] or 'unbounded'} "
        f"to {results['forecast_interval'][1] or 'unbounded'}); first warning possible on "
        f"{results['first_warning'] or 'no date'}. Baige failed on 2018-10-11 (the paper).</p>"
    )
    return html_out


def _paper_table(run: dict, truth: dict, simulated: bool) -> str:
    rows = []
    for key, label, paper_key in (
        ("los_p2_m", "cumulative LOS at P2 (m)", "los_p2_m"),
        ("azimuth_p2_m", "cumulative azimuth at P2 (m; paper: + opposite to flight)", "azimuth_p2_m"),
        ("los_p4_m", "cumulative LOS at P4 (m)", "los_p4_m"),
        ("azimuth_p4_m", "cumulative azimuth at P4 (m; paper: + opposite to flight)", "azimuth_p4_m"),
    ):
        rows.append(
            [
                label,
                _num(PAPER[paper_key], ".1f"),
                _num(run.get(key)),
                _num(truth.get(key)) if simulated else "-",
            ]
        )
    rows.append(
        [
            "acceleration onset (tertiary creep)",
            PAPER["onset"],
            str(run.get("onset") or "-")
            + (
                f" ({run['onset_interval'][0]} to {run['onset_interval'][1]})"
                if run.get("onset_interval")
                else ""
            ),
            (truth.get("break_dates") or ["-", "-"])[1] if simulated else "-",
        ]
    )
    rows.append(
        [
            "stage rates, LOS (mm/day)",
            ", ".join(f"{-r:g}" for r in PAPER["stage_rates_mm_per_day"]),
            ", ".join(f"{r:.1f}" for r in run.get("stage_rates_mm_per_day", [])) or "-",
            ", ".join(f"{r:g}" for r in truth.get("stage_rates_mm_per_day", [])) if simulated else "-",
        ]
    )
    head = ["quantity", "paper (Baige)", "this run", "truth" if simulated else "(no truth)"]
    return "<h2>The paper's figures and this run's</h2>" + _table(head, rows)


def _page(stack, sections: list[str]) -> str:
    platforms = sorted({s.platform for s in stack.scenes})
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
        "table{border-collapse:collapse;font-size:12px;margin:0.5em 0}"
        "td,th{border:1px solid #bbb;padding:2px 6px}img{max-width:100%}"
    )
    head = (
        f"<h1>SAR offset tracking: {html.escape(stack.root.name)}</h1>"
        f"<p>{len(stack.scenes)} scenes ({html.escape(', '.join(platforms))}), "
        f"{html.escape(stack.scenes[0].date)} to {html.escape(stack.scenes[-1].date)}; final master "
        f"{html.escape(str(stack.masters.get('final')))}. Displacements: LOS negative = away from the "
        "sensor; azimuth positive along the flight direction (the paper's maps use the opposite sign).</p>"
    )
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(stack.root.name)}</title><style>{style}</style></head><body>{head}{''.join(sections)}</body></html>\n"
