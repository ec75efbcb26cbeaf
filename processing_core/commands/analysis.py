"""Landslide analysis commands: point, stages, forecast, correlate."""

from __future__ import annotations

import argparse
from typing import Any

from processing_core.commands import Command

# The core's option values, repeated here so that --help does not import numpy and scipy
# (tests check they match processing_core.analysis).
_COMPONENTS = ("los", "azimuth")
_MEASURES = ("mean", "sum")
_DETRENDS = ("none", "linear", "stages")
_IMERG_UNITS = ("auto", "mm/hr", "mm/month")
_STARTS = ("onset", "first")


def _point_location_options(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument(
        "--radius-m",
        type=float,
        default=0.0,
        help="mean over the nodes within this ground distance, m (default 0: the nearest node)",
    )
    p.add_argument(
        "--dem",
        default=None,
        help="DEM for the point's height (default: the stack's geometry/ground_lut.tif or the rectification's DEM)",
    )
    p.add_argument(
        "--dem-vertical",
        choices=("egm96", "ellipsoid"),
        default="egm96",
        help="vertical datum of --dem heights (default egm96)",
    )
    p.add_argument(
        "--height-m", type=float, default=None, help="ellipsoidal height of the point, m (instead of a DEM)"
    )


def _source_options(p: argparse.ArgumentParser) -> None:
    src = p.add_argument_group("series: a point of a stack (--stack --lon --lat) or a CSV (--csv)")
    src.add_argument("--stack", default=None, help="stack folder with timeseries/los.tif, azimuth.tif")
    src.add_argument("--lon", type=float, default=None, help="longitude of the point, deg")
    src.add_argument("--lat", type=float, default=None, help="latitude of the point, deg")
    src.add_argument(
        "--csv", default=None, help="point time-series CSV (date,los_m,azimuth_m), e.g. from 'point'"
    )
    src.add_argument("--name", default=None, help="point of a CSV holding several (its name column)")
    _point_location_options(src)
    p.add_argument(
        "--component", choices=_COMPONENTS, default="los", help="displacement component (default los)"
    )


def _load(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    """(dates, values, description) of the chosen component."""
    from processing_core.analysis.points import extract_point_series
    from processing_core.analysis.series import read_series_csv
    from processing_core.errors import InputError

    if args.csv is not None:
        if args.lon is not None or args.lat is not None:
            raise InputError("give either --csv or --stack/--lon/--lat, not both")
        series = read_series_csv(args.csv, name=args.name)
    else:
        if args.stack is None or args.lon is None or args.lat is None:
            raise InputError("give --csv SERIES.csv, or --stack STACK with --lon and --lat")
        series = extract_point_series(
            args.stack,
            args.lon,
            args.lat,
            radius_m=args.radius_m,
            height_m=args.height_m,
            dem=args.dem,
            dem_vertical=args.dem_vertical,
        )
    dates, values = series.valid(args.component)
    where = args.csv or f"{args.stack} at lon {args.lon}, lat {args.lat}"
    if len(dates) < 3:
        raise InputError(f"{where}: only {len(dates)} valid {args.component} values")
    return dates, values, {"source": where, "component": args.component, "name": series.name, **series.info}


def _finish(args: argparse.Namespace, report: dict[str, Any], plot: Any) -> None:
    """Write the JSON report atomically and, with --plot, the figure (``plot(path)``)."""
    from processing_core.analysis.series import write_json

    print(write_json(args.out, report))
    if args.plot:
        print(plot(args.plot) or "plot skipped (no matplotlib)")


# -- point ---------------------------------------------------------------------------------------
def _point_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stack", required=True, help="stack folder with timeseries/los.tif, azimuth.tif")
    p.add_argument("--lon", type=float, default=None, help="longitude, deg")
    p.add_argument("--lat", type=float, default=None, help="latitude, deg")
    p.add_argument(
        "--points", default=None, help="CSV of points with columns name,lon,lat (instead of --lon/--lat)"
    )
    _point_location_options(p)
    p.add_argument(
        "--out",
        required=True,
        help="output CSV: date,los_m,azimuth_m,los_std_m,azimuth_std_m (+ name first for --points)",
    )
    p.add_argument("--plot", default=None, help="PNG of the LOS and azimuth series")


def _point_run(args: argparse.Namespace) -> int:
    from processing_core.analysis.plots import plot_series
    from processing_core.analysis.points import extract_point_series, read_points_table
    from processing_core.analysis.series import write_series_csv
    from processing_core.errors import InputError

    if args.points is not None and (args.lon is not None or args.lat is not None):
        raise InputError("give either --points or --lon/--lat, not both")
    if args.points is None and (args.lon is None or args.lat is None):
        raise InputError("give --lon and --lat, or --points CSV")
    points = read_points_table(args.points) if args.points else [("", args.lon, args.lat)]
    options = {
        "radius_m": args.radius_m,
        "height_m": args.height_m,
        "dem": args.dem,
        "dem_vertical": args.dem_vertical,
    }
    series = [extract_point_series(args.stack, lon, lat, name=name, **options) for name, lon, lat in points]
    write_series_csv(args.out, series)
    for s in series:
        i = s.info
        print(
            f"point{' ' + s.name if s.name else ''}: lon {i['lon_deg']:.6f}, lat {i['lat_deg']:.6f}, "
            f"height {i['height_m']:.1f} m, master line {i['line']:.1f}, sample {i['sample']:.1f}, "
            f"node ({i['node_row']}, {i['node_col']}), {i['n_nodes']} node(s)"
        )
    print(args.out)
    if args.plot:
        print(plot_series(args.plot, series) or "plot skipped (no matplotlib)")
    return 0


# -- stages --------------------------------------------------------------------------------------
def _penalty(text: str) -> float | str:
    if text == "bic":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'bic' or a number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"the penalty must be >= 0, got {value}")
    return value


def _stages_configure(p: argparse.ArgumentParser) -> None:
    _source_options(p)
    p.add_argument(
        "--sigma-m",
        type=float,
        default=None,
        help="noise std of the displacements, m (default: estimated robustly)",
    )
    p.add_argument(
        "--penalty",
        type=_penalty,
        default="bic",
        help="'bic' (2 ln n per break, default) or a penalty per break in units of sigma^2",
    )
    p.add_argument("--min-points", type=int, default=1, help="fewest acquisitions per stage (default 1)")
    p.add_argument(
        "--confidence",
        type=float,
        default=0.95,
        help="level of the break-date intervals and tests (default 0.95)",
    )
    p.add_argument("--out", required=True, help="output JSON: stages, breaks with date intervals, onset")
    p.add_argument("--plot", default=None, help="PNG of the data, the fit and the stages")


def _stages_run(args: argparse.Namespace) -> int:
    from processing_core.analysis.plots import plot_stages
    from processing_core.analysis.stages import detect_stages

    dates, values, info = _load(args)
    result = detect_stages(
        dates,
        values,
        sigma_m=args.sigma_m,
        penalty=args.penalty,
        min_points=args.min_points,
        confidence=args.confidence,
    )
    for s in result.stages:
        print(
            f"{s.start} .. {s.end}: {s.rate_mm_per_day:8.2f} ± {s.rate_std_mm_per_day:.2f} mm/day "
            f"({s.n_acquisitions} acquisitions) {s.kind}"
        )
    for b in result.breaks:
        print(f"break {b.date} ({int(100 * result.confidence)} % interval {b.date_low} .. {b.date_high})")
    print(f"acceleration onset: {result.onset.date if result.onset else 'none'}")
    title = f"Creep stages, {info['component']}: {info['source']}"
    _finish(args, {"input": info, **result.to_dict()}, lambda path: plot_stages(path, result, title=title))
    return 0


# -- forecast ------------------------------------------------------------------------------------
def _forecast_configure(p: argparse.ArgumentParser) -> None:
    _source_options(p)
    p.add_argument(
        "--start",
        default="onset",
        help="'onset' (detected acceleration onset, default), 'first' (whole series) or YYYY-MM-DD",
    )
    p.add_argument(
        "--alpha",
        type=float,
        default=2.0,
        help="Voight's exponent > 1 (default 2: Fukuzono's inverse velocity)",
    )
    p.add_argument(
        "--confidence", type=float, default=0.95, help="level of the failure-date interval (default 0.95)"
    )
    p.add_argument(
        "--sigma-m",
        type=float,
        default=None,
        help="noise std for the onset detection, m (default: estimated)",
    )
    p.add_argument(
        "--no-warning", action="store_true", help="skip the replay that finds the first warning date"
    )
    p.add_argument("--out", required=True, help="output JSON: failure date, interval, first warning date")
    p.add_argument("--plot", default=None, help="PNG of the inverse velocity and the forecast")


def _forecast_run(args: argparse.Namespace) -> int:
    import numpy as np

    from processing_core.analysis.forecast import forecast_failure
    from processing_core.analysis.plots import plot_forecast
    from processing_core.errors import InputError

    start: Any = args.start
    if start not in _STARTS:
        try:
            start = np.datetime64(args.start, "D")
        except ValueError:
            raise InputError(f"--start must be onset, first or YYYY-MM-DD, got {args.start!r}") from None
    dates, values, info = _load(args)
    f = forecast_failure(
        dates,
        values,
        start=start,
        alpha=args.alpha,
        confidence=args.confidence,
        sigma_m=args.sigma_m,
        warning=not args.no_warning,
    )
    ci = f"{f.ci_low} .. {f.ci_high}" if f.ci_low is not None else "unbounded (slope not significant)"
    print(f"tertiary stage from {f.start_date} ({f.start_source}), {f.fit.n} intervals, r2 {f.fit.r2:.3f}")
    print(
        f"failure: {f.failure_date or 'none (inverse velocity not falling)'}, {int(100 * f.confidence)} % interval {ci}"
    )
    print(f"first warning possible on: {f.first_warning_date or 'never'}")
    title = f"Failure forecast, {info['component']}: {info['source']}"
    _finish(args, {"input": info, **f.to_dict()}, lambda path: plot_forecast(path, f, title=title))
    return 0


# -- correlate -----------------------------------------------------------------------------------
def _correlate_configure(p: argparse.ArgumentParser) -> None:
    _source_options(p)
    cov = p.add_argument_group("covariates (at least one)")
    cov.add_argument("--precip", default=None, help="monthly precipitation CSV: month,precip_mm")
    cov.add_argument(
        "--imerg", default=None, help="folder of GPM IMERG monthly files (HDF5, netCDF, GeoTIFF)"
    )
    cov.add_argument(
        "--imerg-units",
        choices=_IMERG_UNITS,
        default="auto",
        help="units of the IMERG values (default: from the files)",
    )
    cov.add_argument(
        "--bbox",
        type=float,
        nargs=4,
        metavar=("LON0", "LAT0", "LON1", "LAT1"),
        default=None,
        help="area of the IMERG mean (default: the stack's area)",
    )
    cov.add_argument(
        "--backscatter",
        action="store_true",
        help="also correlate with the mean backscatter of STACK/rectified/*.tif",
    )
    cov.add_argument(
        "--window",
        type=int,
        nargs=4,
        metavar=("LINE0", "LINE1", "SAMPLE0", "SAMPLE1"),
        default=None,
        help="backscatter region: master pixel window (end exclusive)",
    )
    cov.add_argument(
        "--backscatter-bbox",
        type=float,
        nargs=4,
        metavar=("LON0", "LAT0", "LON1", "LAT1"),
        default=None,
        help="backscatter region: lon/lat box (needs geometry/ground_lut.tif)",
    )
    p.add_argument("--max-lag-months", type=int, default=6, help="largest lag, months (default 6)")
    p.add_argument(
        "--measure",
        choices=_MEASURES,
        default="mean",
        help="precipitation per interval: mean mm/day (default) or sum mm",
    )
    p.add_argument(
        "--detrend",
        choices=_DETRENDS,
        default="none",
        help="trend removed from the rates first (default none)",
    )
    p.add_argument(
        "--permutations", type=int, default=2000, help="block permutations for the p-values (default 2000)"
    )
    p.add_argument(
        "--block-length", type=int, default=None, help="intervals per permuted block (default round(n^(1/3)))"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the permutations (default 0)")
    p.add_argument("--sigma-m", type=float, default=None, help="noise std for --detrend stages, m")
    p.add_argument("--out", required=True, help="output JSON: r and p-value per lag, best lag")
    p.add_argument("--plot", default=None, help="PNG of the speeds, the covariates and r per lag")


def _correlate_run(args: argparse.Namespace) -> int:
    from processing_core.analysis import correlate as corr
    from processing_core.analysis import covariates as cv
    from processing_core.analysis.plots import plot_correlation
    from processing_core.errors import InputError

    if args.precip is None and args.imerg is None and not args.backscatter:
        raise InputError("give --precip CSV, --imerg DIR and/or --backscatter")
    if args.precip is not None and args.imerg is not None:
        raise InputError("give either --precip or --imerg, not both")
    if args.backscatter and args.stack is None:
        raise InputError("--backscatter needs --stack (it reads STACK/rectified/*.tif)")
    dates, values, info = _load(args)
    common = {
        "max_lag_months": args.max_lag_months,
        "detrend": args.detrend,
        "permutations": args.permutations,
        "seed": args.seed,
        "block_length": args.block_length,
        "sigma_m": args.sigma_m,
    }
    results, report = [], {"input": info}
    precip = bs = None
    if args.precip is not None or args.imerg is not None:
        if args.precip is not None:
            precip = cv.read_precip_csv(args.precip)
        else:
            if args.bbox is None and args.stack is None:
                raise InputError("--imerg needs --bbox LON0 LAT0 LON1 LAT1 (or --stack for the stack's area)")
            bbox = tuple(args.bbox) if args.bbox is not None else cv.stack_bbox(args.stack)
            precip = cv.read_imerg(args.imerg, bbox, units=args.imerg_units)  # type: ignore[arg-type]
            report["imerg_bbox"] = list(bbox)
        res = corr.correlate_precipitation(dates, values, precip, measure=args.measure, **common)
        results.append(res)
        report["precipitation"] = {"source": precip.source, "measure": args.measure, **res.to_dict()}
    if args.backscatter:
        region = {
            "window": tuple(args.window) if args.window else None,
            "bbox": tuple(args.backscatter_bbox) if args.backscatter_bbox else None,
        }
        bs_dates, bs_db, n_pix = cv.backscatter_series(args.stack, **region)  # type: ignore[arg-type]
        res = corr.correlate_backscatter(dates, values, bs_dates, bs_db, **common)
        results.append(res)
        bs = (bs_dates, bs_db)
        report["backscatter"] = {
            "region": {k: list(v) if v else None for k, v in region.items()},
            "series": [
                {"date": str(d), "mean_db": v, "pixels": int(n)} for d, v, n in zip(bs_dates, bs_db, n_pix)
            ],
            **res.to_dict(),
        }
    for res in results:
        print(
            f"{res.covariate}: best lag {res.best_lag_months} months, r = {res.best_r:.3f}, "
            f"p = {res.best_p_value:.4f} (family-wise, {res.permutations} block permutations)"
        )
    _finish(args, report, lambda path: plot_correlation(path, results, precip=precip, backscatter=bs))
    return 0


COMMANDS = {
    "point": Command(
        "time series (LOS, azimuth, std) at a lon/lat or a CSV of points, optionally a radius mean; CSV + plot",
        _point_configure,
        _point_run,
        80,
    ),
    "stages": Command(
        "creep stages: piecewise-linear segmentation (BIC), break-date intervals, rates, primary/secondary/tertiary, onset",
        _stages_configure,
        _stages_run,
        81,
    ),
    "forecast": Command(
        "inverse-velocity (Fukuzono) failure date with its confidence interval and the first warning date",
        _forecast_configure,
        _forecast_run,
        82,
    ),
    "correlate": Command(
        "lagged correlation (0-6 months) of the displacement rate with precipitation and backscatter, permutation p-values",
        _correlate_configure,
        _correlate_run,
        83,
    ),
}
