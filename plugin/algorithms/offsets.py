"""``sarots:offsets``: NCC offset tracking of every pair of a rectified stack."""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputFolder,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingOutputNumber,
    QgsProcessingParameterString,
)

from ..corebridge import core_function
from ..layers import load_styled_raster
from ..scheduler import DASK_WORKERS, SCHEDULER, add_scheduler_parameters, scheduled
from .base import StackAlgorithm

SELECTION_OPTIONS: tuple[tuple[str, str], ...] = (
    ("max_snr", "highest SNR (the paper's rule)"),
    ("precision", "smallest window reaching the target precision"),
)
PREFILTER_OPTIONS: tuple[tuple[str, str], ...] = (
    ("none", "none"),
    ("log", "logarithm (dB)"),
    ("wallis", "Wallis filter"),
    ("highpass", "high-pass (Gaussian)"),
    ("sqrt", "square root of the amplitude"),  # appended: saved models keep their indices
)
#: offsets GeoTIFF band shown when the pairs are loaded (bands: azimuth_px, range_px, snr, ...)
SNR_BAND = 3


def parse_windows(text: str) -> tuple[int, ...]:
    """``"64, 96, 128"`` -> (64, 96, 128); ``QgsProcessingException`` otherwise."""
    try:
        windows = tuple(int(part) for part in text.replace(";", ",").split(",") if part.strip())
    except ValueError:
        windows = ()
    if not windows:
        raise QgsProcessingException(f"Window sizes: expected pixel sizes like 64,96,128, got {text!r}")
    return windows


class OffsetTrackingAlgorithm(StackAlgorithm):
    STEP_PX = "STEP_PX"
    WINDOWS = "WINDOWS"
    SEARCH_PX = "SEARCH_PX"
    SELECTION = "SELECTION"
    TARGET_SIGMA_PX = "TARGET_SIGMA_PX"
    MIN_NCC = "MIN_NCC"
    MIN_SNR = "MIN_SNR"
    OUTLIER_SIZE = "OUTLIER_SIZE"
    OUTLIER_THRESHOLD = "OUTLIER_THRESHOLD"
    OUTLIER_FLOOR_PX = "OUTLIER_FLOOR_PX"
    WINDOW_AGREEMENT_PX = "WINDOW_AGREEMENT_PX"
    MIN_VALID_FRACTION = "MIN_VALID_FRACTION"
    PREFILTER = "PREFILTER"
    PREFILTER_PX = "PREFILTER_PX"
    SMOOTH_PX = "SMOOTH_PX"
    OVERSAMPLING = "OVERSAMPLING"
    THREADS = "THREADS"
    MEMORY_MB = "MEMORY_MB"
    SCHEDULER = SCHEDULER
    DASK_WORKERS = DASK_WORKERS
    FORCE = "FORCE"
    LOAD_PAIRS = "LOAD_PAIRS"
    OFFSETS = "OFFSETS"
    FILES = "FILES"
    COMPUTED = "COMPUTED"
    SKIPPED = "SKIPPED"

    NAME = "offsets"
    DISPLAY_NAME = "Offset tracking of the stack's pairs"
    GROUP_ID = "offsets"
    HELP = (
        "Measures how far the ground moved between the two scenes of every pair by normalised "
        "cross-correlation of amplitude chips (pixel offset tracking), in range (line of sight) "
        "and azimuth (along the flight path), on a regular grid of the rectified scenes. At every "
        "node several chip sizes are tried (paper: 64 to 128 px) and the estimate of best "
        "quality is kept; peaks are located to sub-pixel precision; nodes below the SNR or NCC "
        "thresholds, and outliers against their neighbours, are rejected.<br><br>"
        "<b>Stack folder</b>: a rectified stack with pairs (run <i>Select masters and offset "
        "pairs</i> and <i>Ortho-rectify stack</i> first).<br>"
        "<b>Grid spacing</b> in pixels of the master, <b>window sizes</b> in pixels (comma "
        "separated, all even or all odd), <b>search radius</b> in pixels (the largest offset "
        "found; 32 px = about 140 m in PALSAR-2 slant range), window selection rule.<br>"
        "<b>Advanced</b>: quality thresholds, outlier filter, speckle pre-filter, threads and "
        "memory, a Dask scheduler running one pair per task (<code>local</code>: a local cluster; "
        "<code>tcp://HOST:8786</code>: a running one; empty: the plugin's Processing setting "
        "<i>Dask scheduler</i>, else in QGIS; threads then count per task, default 1), recompute "
        "pairs that are up to date, load each pair's SNR into the project.<br><br>"
        "<b>Output</b>: <code>offsets/&lt;reference&gt;__&lt;secondary&gt;.tif</code> per pair, "
        "bands <code>azimuth_px</code>, <code>range_px</code>, <code>snr</code>, <code>ncc</code>, "
        "<code>window_px</code>, <code>sigma_azimuth_px</code>, <code>sigma_range_px</code>, "
        "<code>flags</code> (offsets in pixels; metadata ROW0, COL0, STEP_PX locate the grid). "
        "Resumable: pairs whose output is up to date are skipped. Cancelling stops within the "
        "current pair; finished pairs are kept.<br><br>"
        "Same as the command line <code>python3 -m processing_core offsets</code>."
    )

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API
        d = core_function("offsets", "OffsetParameters")(step_px=8, search_px=32)
        self.add_stack_parameter()
        self.add_numbers([(self.STEP_PX, "Grid spacing (px)", d.step_px, 1)])
        self.addParameter(
            QgsProcessingParameterString(
                self.WINDOWS,
                self.tr("Window sizes tried at every node (px, comma separated)"),
                ",".join(str(w) for w in d.windows_px),
            )
        )
        self.add_numbers([(self.SEARCH_PX, "Search radius (px)", d.search_px, 1)])
        self.add_enum(self.SELECTION, "Window selection", SELECTION_OPTIONS)
        self.add_numbers(
            [
                (self.TARGET_SIGMA_PX, "Target precision of the precision rule (px)", d.target_sigma_px, 0.0),
                (self.MIN_NCC, "Minimum peak correlation (NCC)", d.min_ncc, -1.0),
                (self.MIN_SNR, "Minimum SNR", d.min_snr, 0.0),
                (self.OUTLIER_SIZE, "Outlier filter neighbourhood (nodes, odd; 0: off)", d.outlier_size, 0),
                (self.OUTLIER_THRESHOLD, "Outlier threshold (robust spreads)", d.outlier_threshold, 0.0),
                (self.OUTLIER_FLOOR_PX, "Outlier filter noise floor (px)", d.outlier_floor_px, 0.0),
                (
                    self.WINDOW_AGREEMENT_PX,
                    "Windows' peaks must agree within (px; 0: off)",
                    d.window_agreement_px,
                    0,
                ),
                (
                    self.MIN_VALID_FRACTION,
                    "Least valid fraction of a chip with no-data (0-1)",
                    d.min_valid_fraction,
                    0.0,
                ),
            ],
            advanced=True,
        )
        self.add_enum(self.PREFILTER, "Speckle pre-filter", PREFILTER_OPTIONS, advanced=True)
        self.add_numbers(
            [
                (self.PREFILTER_PX, "Pre-filter scale (px)", d.prefilter_px, 3),
                (
                    self.SMOOTH_PX,
                    "Gaussian low-pass after the pre-filter, sigma (px; 0: none)",
                    d.smooth_px,
                    0.0,
                ),
                (self.OVERSAMPLING, "Pixels per speckle cell (for the predicted std)", d.oversampling, 1.0),
                (self.THREADS, "Worker threads (0: all cores)", 0, 0),
                (self.MEMORY_MB, "Working memory (MiB)", 1024.0, 16.0),
            ],
            advanced=True,
        )
        add_scheduler_parameters(self, "the pairs")
        self.add_flags(
            [
                (self.FORCE, "Recompute pairs that are up to date", False),
                (self.LOAD_PAIRS, "Load each pair's offset field into the project (SNR style)", False),
            ],
            advanced=True,
        )
        self.add_stack_output("Stack folder (with offsets)")
        self.addOutput(QgsProcessingOutputFolder(self.OFFSETS, self.tr("Offsets folder")))
        self.addOutput(QgsProcessingOutputMultipleLayers(self.FILES, self.tr("Offset fields, one per pair")))
        self.addOutput(QgsProcessingOutputNumber(self.COMPUTED, self.tr("Pairs computed")))
        self.addOutput(QgsProcessingOutputNumber(self.SKIPPED, self.tr("Pairs up to date (skipped)")))

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict:
        stack = self.stack_path(parameters, context)
        number = {
            name: self.parameterAsDouble(parameters, name, context)
            for name in (
                self.TARGET_SIGMA_PX,
                self.MIN_NCC,
                self.MIN_SNR,
                self.OUTLIER_THRESHOLD,
                self.OUTLIER_FLOOR_PX,
                self.MIN_VALID_FRACTION,
                self.OVERSAMPLING,
                self.SMOOTH_PX,
            )
        }
        integer = {
            name: self.parameterAsInt(parameters, name, context)
            for name in (
                self.STEP_PX,
                self.SEARCH_PX,
                self.OUTLIER_SIZE,
                self.WINDOW_AGREEMENT_PX,
                self.PREFILTER_PX,
            )
        }
        try:
            params = core_function("offsets", "OffsetParameters")(
                step_px=integer[self.STEP_PX],
                search_px=integer[self.SEARCH_PX],
                windows_px=parse_windows(self.parameterAsString(parameters, self.WINDOWS, context)),
                selection=self.enum_value(parameters, self.SELECTION, SELECTION_OPTIONS, context),
                target_sigma_px=number[self.TARGET_SIGMA_PX],
                min_ncc=number[self.MIN_NCC],
                min_snr=number[self.MIN_SNR],
                outlier_size=integer[self.OUTLIER_SIZE],
                outlier_threshold=number[self.OUTLIER_THRESHOLD],
                outlier_floor_px=number[self.OUTLIER_FLOOR_PX],
                prefilter=self.enum_value(parameters, self.PREFILTER, PREFILTER_OPTIONS, context),
                prefilter_px=integer[self.PREFILTER_PX],
                smooth_px=number[self.SMOOTH_PX],
                oversampling=number[self.OVERSAMPLING],
                min_valid_fraction=number[self.MIN_VALID_FRACTION],
                window_agreement_px=integer[self.WINDOW_AGREEMENT_PX],
            )
        except ValueError as exc:
            raise QgsProcessingException(str(exc)) from exc
        threads = self.parameterAsInt(parameters, self.THREADS, context)
        with scheduled(self, parameters, context) as executor:
            results = self.run_core(
                "offsets",
                "track_stack",
                str(stack),
                parameters=params,
                threads=threads or None,
                memory_mb=self.parameterAsDouble(parameters, self.MEMORY_MB, context),
                force=self.parameterAsBool(parameters, self.FORCE, context),
                executor=executor,
                feedback=feedback,
            )
        files = [str(r.path) for r in results]
        computed = sum(not r.skipped for r in results)
        feedback.pushInfo(f"{computed} pair(s) computed, {len(results) - computed} up to date")
        if self.parameterAsBool(parameters, self.LOAD_PAIRS, context):
            for path in files:
                load_styled_raster(context, path, f"SNR {Path(path).stem}", "snr", band=SNR_BAND)
        return {
            self.STACK: str(stack),
            self.OFFSETS: str(stack / "offsets"),
            self.FILES: files,
            self.COMPUTED: computed,
            self.SKIPPED: len(results) - computed,
        }
