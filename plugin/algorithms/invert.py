"""``sarots:invert``: SBAS inversion of the pairs' offsets into LOS and azimuth time series."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputFolder,
    QgsProcessingOutputNumber,
    QgsProcessingOutputRasterLayer,
    QgsProcessingOutputString,
)

from ..layers import load_styled_raster
from ..scheduler import DASK_WORKERS, SCHEDULER, add_scheduler_parameters, scheduled
from .base import SarAlgorithm, StackAlgorithm

#: (core value, label) of the frame of the series (``processing_core.material``)
FRAME_OPTIONS: tuple[tuple[str, str], ...] = (
    ("material", "Material: the ground that was at each node on the first date"),
    ("eulerian", "Eulerian: the offsets as measured at the nodes"),
)

#: (output name, file stem in timeseries/ and geocoded/, layer title, style) of the loaded products
PRODUCTS: tuple[tuple[str, str, str, str], ...] = (
    ("LOS", "los", "LOS displacement (m)", "displacement_m"),
    ("AZIMUTH", "azimuth", "Azimuth displacement (m)", "displacement_m"),
    ("LOS_RATE", "los_rate", "LOS rate (m/yr)", "rate_m_per_yr"),
    ("AZIMUTH_RATE", "azimuth_rate", "Azimuth rate (m/yr)", "rate_m_per_yr"),
)


def add_product_outputs(alg: SarAlgorithm, prefix: str = "") -> None:
    """Declare one raster output per product of :data:`PRODUCTS`."""
    for name, _, title, _ in PRODUCTS:
        alg.addOutput(QgsProcessingOutputRasterLayer(name, alg.tr(f"{prefix}{title}")))


def product_results(
    alg: SarAlgorithm,
    folder: Path,
    context: QgsProcessingContext,
    *,
    prefix: str = "",
    suffix: str = "",
    only: Iterable[Path] | None = None,
) -> dict[str, str]:
    """The products in ``folder`` (of those in ``only`` if given) as results, each loaded with its style."""
    allowed = None if only is None else {Path(p).resolve() for p in only}
    results = {}
    for name, stem, title, style in PRODUCTS:
        path = folder / f"{stem}{suffix}.tif"
        if path.is_file() and (allowed is None or path.resolve() in allowed):
            results[name] = str(path)
            load_styled_raster(context, str(path), alg.tr(f"{prefix}{title}"), style, output_name=name)
    return results


class InvertTimeSeriesAlgorithm(StackAlgorithm):
    WEIGHTED = "WEIGHTED"
    ROBUST = "ROBUST"
    FRAME = "FRAME"
    BLOCK_ROWS = "BLOCK_ROWS"
    MEMORY_MB = "MEMORY_MB"
    WORKERS = "WORKERS"
    SCHEDULER = SCHEDULER
    DASK_WORKERS = DASK_WORKERS
    FORCE = "FORCE"
    TIMESERIES = "TIMESERIES"
    DATES = "DATES"
    PAIRS_USED = "PAIRS_USED"

    NAME = "invert"
    DISPLAY_NAME = "Time-series inversion (SBAS)"
    GROUP_ID = "timeseries"
    HELP = (
        "Turns the offsets of all pairs into displacement time series, separately for the line "
        "of sight (LOS) and azimuth: offsets are converted to metres (range pixels by the slant "
        "range spacing; azimuth pixels by the ground length of a line from the orbit), then an "
        "SBAS inversion (Berardino et al. 2002, as in Liu et al. 2020) with the velocities "
        "between consecutive dates as unknowns is solved by SVD at every grid node; where the "
        "network splits, the minimum-norm solution is kept.<br><br>"
        "<b>Stack folder</b>: a stack with offsets (run <i>Offset tracking</i> first).<br>"
        "<b>Weighted</b>: weight each offset by its predicted variance (default: equal weights, "
        "as the paper). <b>Robust</b>: iteratively reweighted fit that resists outlier pairs.<br>"
        "<b>Frame</b>: <i>material</i> (default) follows the ground that was at each node on the "
        "first date: each pair's offsets are read where that ground is on the pair's first date, "
        "iterating from the offsets as measured. <i>Eulerian</i> sums the offsets as measured at "
        "the nodes, which mixes pieces of ground once they have moved by pixels: metres off at a "
        "landslide's head and toe after tens of metres of motion.<br>"
        "<b>Advanced</b>: block rows, memory, threads (per task with a scheduler, default 1), a "
        "Dask scheduler running one block of rows per task (<code>local</code>: a local cluster; "
        "<code>tcp://HOST:8786</code>: a running one; empty: the plugin's Processing setting "
        "<i>Dask scheduler</i>, else in QGIS), recompute.<br><br>"
        "<b>Output</b> (<code>timeseries/</code>, on the offset grid of the master geometry): "
        "<code>los.tif</code> and <code>azimuth.tif</code>, one band per date named "
        "<code>DYYYYMMDD</code>, metres relative to the first date (negative LOS = away from the "
        "sensor; azimuth positive along the flight direction); their standard deviations "
        "<code>*_std.tif</code>; mean rates in m/yr per platform period and over the whole span "
        "<code>*_rate.tif</code> (the least-squares line through the period's dates); residual RMS and pair counts. The displacement and rate layers "
        "load with a diverging colour ramp centred on zero, showing the last date or the whole "
        "span. Resumable: skipped when the offsets and options are unchanged.<br><br>"
        "Same as the command line <code>python3 -m processing_core invert</code>."
    )

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API
        self.add_stack_parameter()
        self.add_flags(
            [
                (self.WEIGHTED, "Weight offsets by their predicted variance (1/sigma²)", False),
                (self.ROBUST, "Robust fit (resists outlier pairs)", False),
            ]
        )
        self.add_enum(self.FRAME, "Frame of the series", FRAME_OPTIONS)
        self.add_numbers(
            [
                (self.BLOCK_ROWS, "Grid rows per block (0: from the memory)", 0, 0),
                (self.MEMORY_MB, "Memory for one block of offsets (MiB)", 512.0, 1.0),
                (self.WORKERS, "Threads (0: all cores)", 0, 0),
            ],
            advanced=True,
        )
        add_scheduler_parameters(self, "the blocks of rows")
        self.add_flags([(self.FORCE, "Recompute even when up to date", False)], advanced=True)
        self.add_stack_output("Stack folder (with time series)")
        self.addOutput(QgsProcessingOutputFolder(self.TIMESERIES, self.tr("Time-series folder")))
        add_product_outputs(self)
        self.addOutput(QgsProcessingOutputString(self.DATES, self.tr("Dates (comma separated)")))
        self.addOutput(QgsProcessingOutputNumber(self.PAIRS_USED, self.tr("Pairs used")))

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict:
        stack = self.stack_path(parameters, context)
        with scheduled(self, parameters, context) as executor:
            summary = self.run_core(
                "timeseries",
                "invert_stack",
                str(stack),
                weighted=self.parameterAsBool(parameters, self.WEIGHTED, context),
                robust=self.parameterAsBool(parameters, self.ROBUST, context),
                frame=self.enum_value(parameters, self.FRAME, FRAME_OPTIONS, context),
                block_rows=self.parameterAsInt(parameters, self.BLOCK_ROWS, context) or None,
                workers=self.parameterAsInt(parameters, self.WORKERS, context) or None,
                force=self.parameterAsBool(parameters, self.FORCE, context),
                memory_mb=self.parameterAsDouble(parameters, self.MEMORY_MB, context),
                executor=executor,
                feedback=feedback,
            )
        if summary["skipped_run"]:
            feedback.pushInfo("Time series up to date (inputs and options unchanged)")
        grid = summary["grid"]
        feedback.pushInfo(
            f"{len(summary['dates'])} dates, {len(summary['pairs_used'])} pairs, grid "
            f"{grid['rows']} x {grid['cols']} nodes every {grid['step_px']:g} px"
        )
        skipped = summary["pairs_skipped_no_offsets"]
        if skipped:
            feedback.pushWarning(f"{len(skipped)} pair(s) without offsets left out: {', '.join(skipped)}")
        folder = stack / "timeseries"
        return {
            self.STACK: str(stack),
            self.TIMESERIES: str(folder),
            **product_results(self, folder, context),
            self.DATES: ",".join(summary["dates"]),
            self.PAIRS_USED: len(summary["pairs_used"]),
        }
