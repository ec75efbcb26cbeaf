"""``sarots:run``: every step after import (pairs to report) as one resumable job."""

from __future__ import annotations

import json
from collections.abc import Callable

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingMultiStepFeedback,
    QgsProcessingOutputHtml,
    QgsProcessingOutputString,
    QgsProcessingParameterEnum,
    QgsProcessingParameterString,
)

from ..corebridge import FeedbackProgress, core_errors, core_function
from ..scheduler import DASK_WORKERS, SCHEDULER, add_scheduler_parameters, scheduler_of
from .base import DEM_VERTICAL_OPTIONS, StackAlgorithm
from .geocode import add_target_grid_parameters, target_grid
from .invert import FRAME_OPTIONS, add_product_outputs, product_results
from .offsets import PREFILTER_OPTIONS, SELECTION_OPTIONS, parse_windows

#: labels of the core's steps (``processing_core.chain.STEPS``) in the steps parameter
STEP_LABELS = {
    "pairs": "pairs: select masters and offset pairs",
    "rectify": "rectify: ortho-rectify every scene into the final master's geometry",
    "offsets": "offsets: offset tracking of every pair",
    "invert": "invert: SBAS time series (LOS and azimuth)",
    "geocode": "geocode: time series to the map",
    "report": "report: report.html with figures",
}


def platform_days_text(table: dict[str, float]) -> str:
    """``{"ALOS": 300.0, "ALOS-2": 70.0}`` -> ``"ALOS=300, ALOS-2=70"``."""
    return ", ".join(f"{platform}={days:g}" for platform, days in table.items())


class RunChainAlgorithm(StackAlgorithm):
    DEM = "DEM"
    WINDOWS = "WINDOWS"
    STEP_PX = "STEP_PX"
    SEARCH_PX = "SEARCH_PX"
    SELECTION = "SELECTION"
    PREFILTER = "PREFILTER"
    SMOOTH_PX = "SMOOTH_PX"
    MIN_SNR = "MIN_SNR"
    CRS = "CRS"
    RESOLUTION = "RESOLUTION"
    COMPARE_TRADITIONAL = "COMPARE_TRADITIONAL"
    STEPS = "STEPS"
    FINAL_MASTER = "FINAL_MASTER"
    MIN_DAYS = "MIN_DAYS"
    MAX_DAYS = "MAX_DAYS"
    BRIDGE = "BRIDGE"
    WEIGHTED = "WEIGHTED"
    ROBUST = "ROBUST"
    FRAME = "FRAME"
    TIE_WINDOW_PX = "TIE_WINDOW_PX"
    TIE_STEP_PX = "TIE_STEP_PX"
    DEM_VERTICAL = "DEM_VERTICAL"
    THREADS = "THREADS"
    SCHEDULER = SCHEDULER
    DASK_WORKERS = DASK_WORKERS
    REPORT = "REPORT"
    STEP_SECONDS = "STEP_SECONDS"

    NAME = "run"
    DISPLAY_NAME = "Run full chain"
    ICON = "icon"
    HELP = (
        "Runs the whole offset-tracking chain of Liu et al. 2020 on a stack folder, as one "
        "resumable job with the paper's defaults: select masters and pairs (300 / 70 days for "
        "ALOS / ALOS-2, 3 bridging images each side of a platform change), ortho-rectify every "
        "scene into the final master's geometry through the DEM, track offsets of every pair "
        "with several window sizes, invert them into LOS and azimuth time series (SBAS), geocode "
        "them and write a report. Each step skips the work whose inputs and parameters are "
        "unchanged, so a rerun after a cancel or a crash continues where it stopped.<br><br>"
        "<b>Stack folder</b>: from <i>Import SAR products into a stack</i> (or the simulator).<br>"
        "<b>DEM</b>: a raster layer covering the scenes (e.g. SRTM 30 m).<br>"
        "<b>Offset tracking</b>: window sizes in pixels (paper: 64 to 128), grid spacing and "
        "search radius in pixels, window selection rule.<br>"
        "<b>Target CRS</b> of the geocoded products with its cell size (empty: the DEM's grid).<br>"
        "<b>Traditional comparison</b>: also rectify one cross-platform pair without the DEM for "
        "the report's Figure 1.<br>"
        "<b>Steps</b>: the steps to run (default: all, in the chain's order).<br>"
        "<b>Advanced</b>: final master, temporal-baseline bounds as <code>PLATFORM=DAYS, ...</code> "
        "(others: 30 days), bridging images, weighted or robust inversion, tie-point window and "
        "spacing of the rectification (smaller for scenes of a few hundred pixels), DEM heights, "
        "threads, the Dask scheduler of the rectify, offsets and invert tasks (one scene, pair or "
        "block of rows per task; empty: the plugin's Processing setting <i>Dask scheduler</i>, "
        "else in QGIS).<br><br>"
        "<b>Output</b>: the stack folder with <code>network/</code>, <code>rectified/</code>, "
        "<code>offsets/</code>, <code>timeseries/</code>, <code>geocoded/</code> (loaded with a "
        "diverging colour ramp centred on zero), <code>report/report.html</code>, "
        "<code>run.log</code> and <code>run.json</code>; the seconds each step took.<br><br>"
        "Same as the command line <code>python3 -m processing_core run</code>."
    )

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API
        d = core_function("chain", "RunOptions")()
        self.add_stack_parameter()
        self.add_dem_parameter(self.DEM)
        self.addParameter(
            QgsProcessingParameterString(
                self.WINDOWS,
                self.tr("Offset window sizes tried at every node (px, comma separated)"),
                ",".join(str(w) for w in d.windows_px),
            )
        )
        self.add_numbers(
            [
                (self.STEP_PX, "Offset grid spacing (px)", d.step_px, 1),
                (self.SEARCH_PX, "Offset search radius (px)", d.search_px, 1),
            ]
        )
        self.add_enum(self.SELECTION, "Window selection", SELECTION_OPTIONS)
        self.add_enum(self.PREFILTER, "Speckle pre-filter", PREFILTER_OPTIONS, advanced=True)
        self.add_numbers(
            [
                (
                    self.SMOOTH_PX,
                    "Gaussian low-pass after the pre-filter, sigma (px; 0: none)",
                    d.smooth_px,
                    0.0,
                ),
                (self.MIN_SNR, "Reject offsets with a lower SNR (10 with a 1 px low-pass)", d.min_snr, 0.0),
            ],
            advanced=True,
        )
        add_target_grid_parameters(self, self.CRS, self.RESOLUTION)
        self.add_flags(
            [
                (
                    self.COMPARE_TRADITIONAL,
                    "Compare with traditional co-registration in the report (Figure 1)",
                    d.compare_traditional,
                )
            ]
        )
        steps = self.chain_steps()
        self.addParameter(
            QgsProcessingParameterEnum(
                self.STEPS,
                self.tr("Steps to run"),
                options=[self.tr(STEP_LABELS.get(s, s)) for s in steps],
                allowMultiple=True,
                defaultValue=list(range(len(steps))),
            )
        )
        self.add_advanced(
            QgsProcessingParameterString(
                self.FINAL_MASTER,
                self.tr("Final master scene id (empty: the stack's, else the newest platform's master)"),
                optional=True,
            )
        )
        paper = core_function("network", "DEFAULT_MIN_DAYS")
        for name, label, default in (
            (self.MIN_DAYS, "Minimum temporal baselines (PLATFORM=DAYS, ...; others: 30)", paper),
            (self.MAX_DAYS, "Maximum temporal baselines (PLATFORM=DAYS, ...; empty: none)", {}),
        ):
            self.add_advanced(
                QgsProcessingParameterString(
                    name, self.tr(label), platform_days_text(default) or None, optional=True
                )
            )
        self.add_numbers(
            [
                (self.BRIDGE, "Bridging images each side of a platform change (0: none)", d.bridge, 0),
                (self.TIE_WINDOW_PX, "Rectification tie-point window (px)", d.tie_window_px, 16),
                (self.TIE_STEP_PX, "Rectification tie-point spacing (px)", d.tie_step_px, 1),
                (self.THREADS, "Threads (0: all cores)", 0, 0),
            ],
            advanced=True,
        )
        add_scheduler_parameters(self, "the rectify, offsets and invert tasks")
        self.add_flags(
            [
                (self.WEIGHTED, "Weight offsets by their predicted variance (1/sigma²)", d.weighted),
                (self.ROBUST, "Robust inversion (resists outlier pairs)", d.robust),
            ],
            advanced=True,
        )
        self.add_enum(self.FRAME, "Frame of the time series", FRAME_OPTIONS, advanced=True)
        self.add_enum(self.DEM_VERTICAL, "DEM heights", DEM_VERTICAL_OPTIONS, advanced=True)
        self.add_stack_output("Stack folder (processed)")
        self.addOutput(QgsProcessingOutputHtml(self.REPORT, self.tr("Report (report/report.html)")))
        add_product_outputs(self, "Geocoded ")
        self.addOutput(QgsProcessingOutputString(self.STEP_SECONDS, self.tr("Seconds per step (JSON)")))

    @staticmethod
    def chain_steps() -> tuple[str, ...]:
        return tuple(core_function("chain", "STEPS"))

    def run_options(self, parameters: dict, context: QgsProcessingContext) -> object:
        """``processing_core.chain.RunOptions`` of the parameters (``QgsProcessingException`` when bad)."""
        epsg, resolution = target_grid(self, parameters, context, self.CRS, self.RESOLUTION)
        scheduler, workers = scheduler_of(self, parameters, context)
        integer = {
            name: self.parameterAsInt(parameters, name, context)
            for name in (self.STEP_PX, self.SEARCH_PX, self.BRIDGE, self.TIE_WINDOW_PX, self.TIE_STEP_PX)
        }
        try:
            return core_function("chain", "RunOptions")(
                final_master=self.parameterAsString(parameters, self.FINAL_MASTER, context) or None,
                min_days=self.platform_days(parameters, self.MIN_DAYS, context),
                max_days=self.platform_days(parameters, self.MAX_DAYS, context),
                bridge=integer[self.BRIDGE],
                step_px=integer[self.STEP_PX],
                windows_px=parse_windows(self.parameterAsString(parameters, self.WINDOWS, context)),
                search_px=integer[self.SEARCH_PX],
                selection=self.enum_value(parameters, self.SELECTION, SELECTION_OPTIONS, context),
                prefilter=self.enum_value(parameters, self.PREFILTER, PREFILTER_OPTIONS, context),
                smooth_px=self.parameterAsDouble(parameters, self.SMOOTH_PX, context),
                min_snr=self.parameterAsDouble(parameters, self.MIN_SNR, context),
                weighted=self.parameterAsBool(parameters, self.WEIGHTED, context),
                robust=self.parameterAsBool(parameters, self.ROBUST, context),
                frame=self.enum_value(parameters, self.FRAME, FRAME_OPTIONS, context),
                epsg=epsg,
                resolution=resolution,
                compare_traditional=self.parameterAsBool(parameters, self.COMPARE_TRADITIONAL, context),
                threads=self.parameterAsInt(parameters, self.THREADS, context) or None,
                dem_vertical=self.enum_value(parameters, self.DEM_VERTICAL, DEM_VERTICAL_OPTIONS, context),
                tie_window_px=integer[self.TIE_WINDOW_PX],
                tie_step_px=integer[self.TIE_STEP_PX],
                scheduler=scheduler,
                workers=workers,
            )
        except ValueError as exc:
            raise QgsProcessingException(str(exc)) from exc

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict:
        stack = self.stack_path(parameters, context)
        dem = self.dem_path(parameters, context, self.DEM)
        options = self.run_options(parameters, context)
        steps = self.chain_steps()
        chosen = sorted(set(self.parameterAsEnums(parameters, self.STEPS, context)))
        todo = tuple(steps[k] for k in chosen if 0 <= k < len(steps))
        if not todo:
            raise QgsProcessingException("Steps to run: choose at least one step")
        multi = QgsProcessingMultiStepFeedback(len(todo), feedback)

        def step_progress(name: str) -> Callable[[float, str], bool]:
            k = todo.index(name)
            multi.setCurrentStep(k)
            feedback.pushInfo(f"Step {k + 1}/{len(todo)}: {name}")
            return FeedbackProgress(multi)

        with core_errors():
            summary = core_function("chain", "run_stack")(
                str(stack), dem, options=options, steps=todo, progress=None, step_progress=step_progress
            )
        seconds = {name: round(float(s), 2) for name, s in summary.seconds.items()}
        for name, s in seconds.items():
            feedback.pushInfo(f"{name}: {s:.1f} s")
        feedback.pushInfo(f"log: {stack / 'run.log'}")
        suffix = "" if options.epsg is None else f"_epsg{options.epsg}"
        results = {
            self.STACK: str(stack),
            self.REPORT: str(summary.report) if summary.report is not None else "",
            self.STEP_SECONDS: json.dumps(seconds),
        }
        if "geocode" in summary.outputs:
            results.update(
                product_results(
                    self,
                    stack / "geocoded",
                    context,
                    prefix="Geocoded ",
                    suffix=suffix,
                    only=summary.outputs["geocode"],
                )
            )
        return results
