"""The offset-tracking command: every pair of a stack, or one pair of rasters."""

from __future__ import annotations

import argparse

from processing_core.commands import Command
from processing_core.offsets.params import PREFILTERS
from processing_core.progress import TextProgressBar


def _windows(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"windows must look like 64,96,128, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("give at least one window size")
    return values


def add_speckle_options(group: argparse._ActionsContainer) -> None:
    """``--prefilter KIND`` and ``--smooth-px SIGMA`` (see :mod:`processing_core.offsets.prefilter`)."""
    group.add_argument(
        "--prefilter",
        choices=PREFILTERS,
        default="none",
        help="speckle pre-filter of both images (default none)",
    )
    group.add_argument(
        "--smooth-px",
        type=float,
        default=0.0,
        help="sigma of a Gaussian low-pass of both images after the pre-filter, px; ~1 averages "
        "speckle that decorrelates between dates (default 0: none)",
    )


def add_scheduler_options(
    group: argparse._ActionsContainer, prefix: str = "", what: str = "the offsets' pairs"
) -> None:
    """``--scheduler ADDRESS`` and ``--dask-workers N`` (see :mod:`processing_core.execution`).

    Parameters
    ----------
    group
        Parser or argument group to add the options to.
    prefix
        Start of the help text (e.g. ``"with --stack: "``).
    what
        What runs as Dask tasks, for the help text.
    """
    group.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help=f"{prefix}run {what} as Dask tasks: 'local' (a local cluster of worker "
        "processes) or a running scheduler's address, e.g. tcp://HOST:8786 (default: here, in this "
        "process)",
    )
    group.add_argument(
        "--dask-workers", type=int, default=None, metavar="N", help="worker processes of --scheduler local"
    )


def _configure(p: argparse.ArgumentParser) -> None:
    where = p.add_argument_group("input and output (either --stack, or --reference/--secondary/--out)")
    where.add_argument(
        "--stack",
        help="stack folder: every pair of stack.json, rectified/<id>.tif -> offsets/<ref>__<sec>.tif",
    )
    where.add_argument("--reference", help="reference amplitude raster (band 1) of a single pair")
    where.add_argument("--secondary", help="secondary amplitude raster (band 1), same size as the reference")
    where.add_argument("--out", help="output offsets GeoTIFF of a single pair")
    where.add_argument(
        "--prior", help="offsets GeoTIFF of a coarser pass, searched around (single pair only)"
    )
    t = p.add_argument_group("tracking")
    t.add_argument("--step-px", type=int, default=8, help="grid spacing in pixels (default 8)")
    t.add_argument(
        "--windows",
        type=_windows,
        default=(64, 96, 128),
        help="chip sizes tried at every node (default 64,96,128)",
    )
    t.add_argument(
        "--search-px", type=int, default=32, help="search radius in pixels around the prior (default 32)"
    )
    t.add_argument(
        "--selection",
        choices=("max_snr", "precision"),
        default="max_snr",
        help="keep the window of highest SNR (the paper's rule) or the smallest meeting --target-sigma-px",
    )
    t.add_argument(
        "--target-sigma-px",
        type=float,
        default=0.05,
        help="precision goal of --selection precision (default 0.05)",
    )
    add_speckle_options(t)
    t.add_argument(
        "--prefilter-px", type=int, default=32, help="scale of the wallis/highpass pre-filters (default 32)"
    )
    t.add_argument(
        "--oversampling",
        type=float,
        default=1.0,
        help="pixels per speckle resolution cell, for the predicted std (default 1)",
    )
    q = p.add_argument_group("quality")
    q.add_argument(
        "--min-ncc", type=float, default=0.05, help="reject nodes with a lower peak NCC (default 0.05)"
    )
    q.add_argument("--min-snr", type=float, default=20.0, help="reject nodes with a lower SNR (default 20)")
    q.add_argument(
        "--outlier-size",
        type=int,
        default=5,
        help="neighbourhood of the median/MAD filter in nodes, 0 = off (default 5)",
    )
    q.add_argument("--outlier-threshold", type=float, default=3.0, help="median/MAD threshold (default 3)")
    q.add_argument(
        "--outlier-floor-px", type=float, default=0.1, help="noise floor of the filter in px (default 0.1)"
    )
    q.add_argument(
        "--window-agreement-px",
        type=int,
        default=1,
        help="a window's integer peak must lie this close to another window's, 0 = off (default 1)",
    )
    q.add_argument(
        "--min-valid-fraction",
        type=float,
        default=0.5,
        help="least valid fraction of a chip with no-data pixels (default 0.5)",
    )
    r = p.add_argument_group("run")
    r.add_argument("--threads", type=int, default=None, help="worker threads (default: all cores)")
    r.add_argument(
        "--memory-mb", type=float, default=1024.0, help="working memory target in MiB (default 1024)"
    )
    r.add_argument("--force", action="store_true", help="recompute pairs whose output is up to date")
    add_scheduler_options(r, what="the pairs (--stack), or a single pair's tiles,")


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from processing_core.errors import InputError
    from processing_core.execution import check_scheduler, executor_for
    from processing_core.offsets import OffsetParameters, track_files, track_stack
    from processing_core.preflight import check_stack_output, check_writable

    single = [args.reference, args.secondary, args.out]
    if args.stack and any(single):
        raise InputError("give either --stack or --reference/--secondary/--out, not both")
    if not args.stack and not all(single):
        raise InputError("give --stack STACK, or all of --reference, --secondary and --out")
    if args.stack and args.prior:
        raise InputError("--prior applies to a single pair (--reference/--secondary/--out)")
    try:
        params = OffsetParameters(
            step_px=args.step_px,
            search_px=args.search_px,
            windows_px=args.windows,
            selection=args.selection,
            target_sigma_px=args.target_sigma_px,
            min_ncc=args.min_ncc,
            min_snr=args.min_snr,
            outlier_size=args.outlier_size,
            outlier_threshold=args.outlier_threshold,
            outlier_floor_px=args.outlier_floor_px,
            prefilter=args.prefilter,
            prefilter_px=args.prefilter_px,
            smooth_px=args.smooth_px,
            oversampling=args.oversampling,
            min_valid_fraction=args.min_valid_fraction,
            window_agreement_px=args.window_agreement_px,
        )
        if args.threads is not None and args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        if not args.memory_mb > 0:
            raise ValueError(f"--memory-mb must be positive, got {args.memory_mb}")
        check_scheduler(args.scheduler, args.dask_workers)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    options = {"threads": args.threads, "memory_mb": args.memory_mb, "force": args.force}
    if args.stack:
        check_stack_output(args.stack, None, ("offsets",), step_px=args.step_px)
    else:
        check_writable(Path(args.out).parent, "output folder")
    if args.stack:
        with executor_for(args.scheduler, args.dask_workers) as executor:
            results = track_stack(
                args.stack,
                parameters=params,
                progress=TextProgressBar("offsets"),
                executor=None if args.scheduler is None else executor,
                **options,
            )
        done = sum(not r.skipped for r in results)
        for r in results:
            print(f"{r.path}{' (up to date)' if r.skipped else ''}")
        print(f"offsets: {done} pair(s) computed, {len(results) - done} up to date")
        return 0
    with executor_for(args.scheduler, args.dask_workers) as executor:
        out = track_files(
            args.reference,
            args.secondary,
            args.out,
            parameters=params,
            prior=args.prior,
            progress=TextProgressBar("offsets"),
            executor=None if args.scheduler is None else executor,
            **options,
        )
    print(f"offsets: {out}")
    return 0


COMMANDS = {
    "offsets": Command(
        "offset tracking (NCC, windows 64-128 px, sub-pixel) of a stack's pairs or of two rasters",
        _configure,
        _run,
        40,
    ),
}
