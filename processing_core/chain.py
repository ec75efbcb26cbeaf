"""The whole chain as one resumable job: masters and pairs, rectification, offsets, inversion,
geocoding, point analysis and the report (the ``run`` command).

Each step keeps its own skip rule (a scene, pair or product whose inputs and parameters are
unchanged is not recomputed), so a rerun after an interruption continues where it stopped and
gives results identical to an uninterrupted run. The options are validated on construction and
saved to ``STACK/run.json``; every step's start, end and duration go to ``STACK/run.log``.

Reference: Liu, X., Zhao, C., Zhang, Q., Lu, Z., Li, Z. (2020). Deformation of the Baige
landslide, Tibet, China, revealed through the integration of cross-platform ALOS/PALSAR-1 and
ALOS/PALSAR-2 SAR observations. GRL 47, e2019GL086142, doi:10.1029/2019GL086142.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from processing_core.atomic import write_json
from processing_core.errors import InputError
from processing_core.execution import Executor
from processing_core.network import DEFAULT_BRIDGE, DEFAULT_MIN_DAYS, PairRules
from processing_core.offsets.params import OffsetParameters
from processing_core.progress import ProgressCallback, report, scaled
from processing_core.rectify import RectifyParameters
from processing_core.timeseries_tasks import check_frame

STEPS = ("pairs", "rectify", "offsets", "invert", "geocode", "report")
"""The steps of :func:`run_stack`, in order."""

# Share of the overall progress bar per step, from the demo's measured durations.
_WEIGHTS = {"pairs": 0.01, "rectify": 0.3, "offsets": 0.5, "invert": 0.07, "geocode": 0.04, "report": 0.08}


@dataclass(frozen=True)
class RunOptions:
    """Options of the whole chain, with the paper's defaults; ``ValueError`` on bad values."""

    final_master: str | None = None
    """Scene id of the final master (default: the master of the newest platform)."""
    min_days: Mapping[str, float] = field(default_factory=dict)
    """Lower bounds of the temporal baseline per platform, days (added to ALOS 300, ALOS-2 70)."""
    max_days: Mapping[str, float] = field(default_factory=dict)
    """Optional upper bounds of the temporal baseline per platform, days."""
    bridge: int = DEFAULT_BRIDGE
    """Images each side of a platform change joined by bridging pairs (paper: 3)."""
    step_px: int = 8
    """Offset grid spacing, master pixels."""
    windows_px: tuple[int, ...] = (64, 96, 128)
    """Chip sizes tried at every node (paper: 64 to 128 px)."""
    search_px: int = 32
    """Offset search radius, pixels."""
    selection: str = "max_snr"
    """Window selection rule: ``max_snr`` (the paper's) or ``precision``."""
    prefilter: str = "none"
    """Speckle pre-filter of both images before correlation (``none``, ``sqrt``, ``log``, ...)."""
    smooth_px: float = 0.0
    """Sigma of the Gaussian low-pass after the pre-filter, px (0: none; ~1 where the speckle
    decorrelates between the dates, see :mod:`processing_core.offsets.prefilter`)."""
    min_snr: float = 20.0
    """Offsets with a lower correlation SNR are rejected (a low-pass lowers the SNR of noise
    peaks as well: 10 goes with ``smooth_px`` 1)."""
    weighted: bool = False
    """Weight the SBAS inversion by each offset's predicted variance."""
    robust: bool = False
    """Iteratively reweighted L1 SBAS that resists outlier pairs."""
    frame: str = "material"
    """Whose motion the series follow: ``material`` (the ground that was at each node on the
    first date) or ``eulerian`` (the offsets as measured at the nodes);
    :mod:`processing_core.material`."""
    epsg: int | None = None
    """Geocoding target CRS (default: the DEM's CRS and spacing)."""
    resolution: float | None = None
    """Geocoding cell size in the target CRS's units (with ``epsg``)."""
    compare_traditional: bool = True
    """Also rectify one cross-platform pair the traditional way, for the report's Figure 1."""
    threads: int | None = None
    """Threads for offset tracking and inversion (default: all cores)."""
    dem_vertical: str = "egm96"
    """Vertical datum of the DEM: ``egm96`` or ``ellipsoid``."""
    tie_window_px: int = 128
    """Rectification tie-point window, px (smaller for scenes of a few hundred pixels)."""
    tie_step_px: int = 32
    """Rectification tie-point spacing, px."""
    scheduler: str | None = None
    """Where the tasks of the rectify (scenes), offsets (pairs) and invert (blocks of rows) steps
    run: None here (serial), ``local`` a local Dask cluster of worker processes, or a running
    Dask scheduler's address (``tcp://HOST:8786``). One cluster serves the whole run."""
    workers: int | None = None
    """Worker processes of the ``local`` Dask cluster (default: one per core)."""

    def __post_init__(self) -> None:
        for name in ("min_days", "max_days"):
            table = dict(getattr(self, name))
            for platform, days in table.items():
                if not isinstance(days, (int, float)) or isinstance(days, bool) or days < 0:
                    raise ValueError(f"{name}[{platform!r}] must be a number of days >= 0, got {days!r}")
            object.__setattr__(self, name, table)
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")
        check_frame(self.frame)
        from processing_core.execution import check_scheduler

        check_scheduler(self.scheduler, self.workers)
        # The step parameter classes validate the rest; building them here fails early.
        self.pair_rules()
        self.offset_parameters()
        self.rectify_parameters()

    def pair_rules(self) -> PairRules:
        """The pair-selection rules of these options."""
        return PairRules(
            min_days={**DEFAULT_MIN_DAYS, **self.min_days},
            max_days=dict(self.max_days),
            bridge=self.bridge,
        )

    def offset_parameters(self) -> OffsetParameters:
        """The offset-tracking parameters of these options."""
        return OffsetParameters(
            step_px=self.step_px,
            search_px=self.search_px,
            windows_px=tuple(self.windows_px),
            selection=self.selection,
            prefilter=self.prefilter,
            smooth_px=self.smooth_px,
            min_snr=self.min_snr,
        )

    def rectify_parameters(self, method: str = "improved") -> RectifyParameters:
        """The rectification parameters of these options."""
        return RectifyParameters(
            method=method,
            dem_vertical=self.dem_vertical,
            window_px=self.tie_window_px,
            step_px=self.tie_step_px,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        data = asdict(self)
        data["windows_px"] = list(self.windows_px)
        return data


@dataclass
class RunSummary:
    """What :func:`run_stack` did."""

    stack: Path
    """The stack folder."""
    seconds: dict[str, float]
    """Wall time of each step, s."""
    outputs: dict[str, list[Path]]
    """Files written (or found up to date) by each step."""
    report: Path | None
    """``STACK/report/report.html``."""


def _logger(root: Path) -> tuple[logging.Logger, logging.Handler]:
    log = logging.getLogger(f"processing_core.run.{root.resolve()}")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = logging.FileHandler(root / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S"))
    log.addHandler(handler)
    return log, handler


def run_stack(
    stack_dir: str | os.PathLike[str],
    dem_path: str | os.PathLike[str],
    *,
    options: RunOptions | None = None,
    steps: tuple[str, ...] = STEPS,
    progress: ProgressCallback | None = None,
    step_progress: Callable[[str], ProgressCallback | None] | None = None,
) -> RunSummary:
    """Run the chain on a stack folder made by ``import`` or ``simulate``.

    Parameters
    ----------
    stack_dir
        Stack folder with ``stack.json`` and ``scenes/``.
    dem_path
        DEM covering the scenes (any GDAL raster with a CRS).
    options
        Chain options (default: the paper's).
    steps
        Subset of :data:`STEPS` to run, in the chain's order.
    progress
        Overall progress callback (fraction of the whole chain).
    step_progress
        Optional factory of a per-step callback (called with the step name), e.g. a progress
        bar per step; both callbacks are told, and either can cancel.

    Returns
    -------
    RunSummary
    """
    from processing_core.preflight import check_free_space, check_writable
    from processing_core.stack import load_stack

    options = options or RunOptions()
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise InputError(f"unknown step(s) {', '.join(unknown)}; expected some of {', '.join(STEPS)}")
    root = Path(stack_dir)
    stack = load_stack(root)  # a clear error for a folder that is not a stack
    dem = Path(dem_path)
    if not dem.is_file():
        raise InputError(f"{dem}: DEM not found")
    check_writable(root)
    check_free_space(stack, dem, steps, options.step_px)
    write_json(
        root / "run.json", {"dem": str(dem.resolve()), "steps": list(steps), "options": options.to_dict()}
    )
    log, handler = _logger(root)
    summary = RunSummary(root, {}, {}, None)
    todo = [s for s in STEPS if s in steps]
    total = sum(_WEIGHTS[s] for s in todo)
    start = 0.0
    executor = None
    if options.scheduler is not None:
        from processing_core.execution import DaskExecutor

        executor = DaskExecutor(options.scheduler, options.workers)  # connects on its first tasks
    try:
        log.info("run %s with DEM %s, options %s", root, dem, json.dumps(options.to_dict()))
        for name in todo:
            stop = start + _WEIGHTS[name] / total
            overall = scaled(progress, start, stop)
            own = step_progress(name) if step_progress else None
            with _timed(log, summary, name):
                summary.outputs[name] = _STEP_FUNCTIONS[name](
                    root, dem, options, _both(overall, own), summary, executor
                )
            start = stop
        report(progress, 1.0, "chain finished")
        log.info("finished in %.1f s", sum(summary.seconds.values()))
    except Exception as exc:
        log.error("stopped: %s", " ".join(str(exc).split()) or type(exc).__name__)
        raise
    finally:
        if executor is not None:
            executor.close()  # also on an error or a cancel: the local cluster's workers stop
        log.removeHandler(handler)
        handler.close()
    return summary


@contextmanager
def _timed(log: logging.Logger, summary: RunSummary, name: str) -> Iterator[None]:
    log.info("step %s: start", name)
    t0 = time.monotonic()
    yield
    summary.seconds[name] = time.monotonic() - t0
    log.info("step %s: done in %.1f s", name, summary.seconds[name])


def _both(a: ProgressCallback | None, b: ProgressCallback | None) -> ProgressCallback | None:
    if a is None or b is None:
        return a or b

    def call(fraction: float, message: str) -> bool:
        first, second = a(fraction, message), b(fraction, message)
        return first is not False and second is not False

    return call


def _step_pairs(
    root: Path, dem: Path, options: RunOptions, progress, summary, executor: Executor | None = None
) -> list[Path]:
    from processing_core.network import select_stack_pairs

    _, conn, written = select_stack_pairs(root, options.pair_rules(), progress=progress)
    if not conn.connected:
        logging.getLogger(f"processing_core.run.{root.resolve()}").warning(
            "the pair network splits into %d subsets: the SBAS gives minimum-norm velocities across the gaps",
            len(conn.components),
        )
    return written


def _step_rectify(
    root: Path, dem: Path, options: RunOptions, progress, summary, executor: Executor | None = None
) -> list[Path]:
    from processing_core.rectify import rectify_stack

    stack = rectify_stack(
        root,
        dem,
        params=options.rectify_parameters(),
        final_master=options.final_master,
        progress=progress,
        executor=executor,
    )
    return [root / "rectified" / f"{s.id}.tif" for s in stack.scenes]


def _step_offsets(
    root: Path, dem: Path, options: RunOptions, progress, summary, executor: Executor | None = None
) -> list[Path]:
    from processing_core.offsets.files import track_stack

    results = track_stack(
        root,
        parameters=options.offset_parameters(),
        threads=options.threads,
        progress=progress,
        executor=executor,
    )
    return [r.path for r in results]


def _step_invert(
    root: Path, dem: Path, options: RunOptions, progress, summary, executor: Executor | None = None
) -> list[Path]:
    from processing_core.timeseries import invert_stack

    result = invert_stack(
        root,
        weighted=options.weighted,
        robust=options.robust,
        frame=options.frame,
        workers=options.threads,
        progress=progress,
        executor=executor,
    )
    return [Path(p) for p in result["outputs"]]


def _step_geocode(
    root: Path, dem: Path, options: RunOptions, progress, summary, executor: Executor | None = None
) -> list[Path]:
    from processing_core.geocode import geocode_stack

    return geocode_stack(root, epsg=options.epsg, resolution=options.resolution, progress=progress)


def _step_report(
    root: Path, dem: Path, options: RunOptions, progress, summary, executor: Executor | None = None
) -> list[Path]:
    from processing_core.report import write_report

    written = write_report(
        root,
        dem,
        compare_traditional=options.compare_traditional,
        params=options.rectify_parameters("traditional"),
        timings=summary.seconds,
        progress=progress,
    )
    summary.report = next((p for p in written if p.name == "report.html"), None)
    return written


_STEP_FUNCTIONS = {
    "pairs": _step_pairs,
    "rectify": _step_rectify,
    "offsets": _step_offsets,
    "invert": _step_invert,
    "geocode": _step_geocode,
    "report": _step_report,
}
