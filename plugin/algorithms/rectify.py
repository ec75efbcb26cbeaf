"""``sarots:rectify``: every scene of a stack into the final master's geometry (steps i-iii)."""

from __future__ import annotations

import json

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputFolder,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterString,
)

from ..corebridge import core_function
from ..scheduler import DASK_WORKERS, SCHEDULER, add_scheduler_parameters, scheduled
from .base import DEM_VERTICAL_OPTIONS, StackAlgorithm

#: (core value of ``method``, label) in the order of the enum parameter
METHOD_OPTIONS: tuple[tuple[str, str], ...] = (
    ("improved", "improved: DEM ortho-rectification through the orbits (the paper's, steps i-iii)"),
    ("traditional", "traditional: polynomial co-registration without DEM (for comparison)"),
)
INTERPOLATION_OPTIONS: tuple[tuple[str, str], ...] = (("3", "cubic spline"), ("1", "bilinear"))


class RectifyStackAlgorithm(StackAlgorithm):
    DEM = "DEM"
    METHOD = "METHOD"
    FINAL_MASTER = "FINAL_MASTER"
    DEM_VERTICAL = "DEM_VERTICAL"
    WINDOW_PX = "WINDOW_PX"
    STEP_PX = "STEP_PX"
    SEARCH_PX = "SEARCH_PX"
    MIN_NCC = "MIN_NCC"
    MIN_SNR = "MIN_SNR"
    ITERATIONS = "ITERATIONS"
    INTERPOLATION = "INTERPOLATION"
    FIT_SCALE = "FIT_SCALE"
    SCHEDULER = SCHEDULER
    DASK_WORKERS = DASK_WORKERS
    RECTIFIED = "RECTIFIED"
    SCENES = "SCENES"
    MAX_RESIDUAL_PX = "MAX_RESIDUAL_PX"

    NAME = "rectify"
    DISPLAY_NAME = "Ortho-rectify stack into the final master's geometry"
    GROUP_ID = "geometry"
    HELP = (
        "Puts every scene of a stack into the radar geometry of one final master, so that "
        "offsets between any two scenes measure ground motion only (Liu et al. 2020, steps "
        "i-iii): (i) the DEM is projected into the master's geometry through the Range-Doppler "
        "equations and the master's timing is refined by matching a DEM-simulated intensity; "
        "(ii) each slave is mapped through the DEM and its own orbit and its timing refined on "
        "tie points, robustly so that moving ground is ignored; (iii) the slave is resampled "
        "and its residual offsets measured and removed. Topography and incidence differences "
        "vanish even for 28 km perpendicular baselines between platforms. Ground a scene sees "
        "in layover or shadow is masked.<br><br>"
        "<b>Stack folder</b>: a folder with <code>stack.json</code>.<br>"
        "<b>DEM</b>: a raster layer covering the scenes (e.g. SRTM 30 m).<br>"
        "<b>Method</b>: <i>improved</i> (the paper's) or <i>traditional</i> polynomial "
        "co-registration without DEM, written to <code>rectified_traditional/</code> for "
        "comparison (offset tracking reads <code>rectified/</code>, the improved result).<br>"
        "<b>Advanced</b>: final master scene id (default: the master of the newest platform), "
        "DEM heights, tie-point window, spacing and search radius in pixels, correlation "
        "thresholds, refinement passes, resampling, a Dask scheduler running one scene per task "
        "(<code>local</code>: a local cluster; <code>tcp://HOST:8786</code>: a running one; "
        "empty: the plugin's Processing setting <i>Dask scheduler</i>, else in QGIS).<br><br>"
        "<b>Output</b>: <code>geometry/</code> (the final master's DEM lookup tables, used by "
        "geocoding), <code>rectified/&lt;id&gt;.tif</code> and <code>&lt;id&gt;.json</code> (QC: "
        "tie points, residual RMS in pixels, layover/shadow fraction). Resumable: scenes "
        "already rectified with the same parameters are skipped.<br><br>"
        "Same as the command line <code>python3 -m processing_core rectify</code>."
    )

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API
        defaults = core_function("rectify", "RectifyParameters")()
        self.add_stack_parameter()
        self.add_dem_parameter(self.DEM)
        self.add_enum(self.METHOD, "Method", METHOD_OPTIONS)
        self.add_advanced(
            QgsProcessingParameterString(
                self.FINAL_MASTER,
                self.tr("Final master scene id (empty: the stack's, else the newest platform's master)"),
                optional=True,
            )
        )
        self.add_enum(self.DEM_VERTICAL, "DEM heights", DEM_VERTICAL_OPTIONS, advanced=True)
        self.add_numbers(
            [
                (self.WINDOW_PX, "Tie-point matching window (px)", defaults.window_px, 16),
                (self.STEP_PX, "Tie-point spacing (px)", defaults.step_px, 1),
                (self.SEARCH_PX, "Tie-point search radius (px)", defaults.search_px, 1),
                (self.MIN_NCC, "Minimum tie-point correlation (NCC, 0-1)", defaults.min_ncc, 0.0),
                (self.MIN_SNR, "Minimum tie-point SNR", defaults.min_snr, 0.0),
                (self.ITERATIONS, "Refinement passes per scene", defaults.iterations, 1),
            ],
            advanced=True,
        )
        self.add_enum(self.INTERPOLATION, "Amplitude resampling", INTERPOLATION_OPTIONS, advanced=True)
        self.add_flags(
            [(self.FIT_SCALE, "Also fit line-interval and range-spacing scale errors", defaults.fit_scale)],
            advanced=True,
        )
        add_scheduler_parameters(self, "the scenes")
        self.add_stack_output("Stack folder (rectified)")
        self.addOutput(QgsProcessingOutputFolder(self.RECTIFIED, self.tr("Rectified scenes folder")))
        self.addOutput(QgsProcessingOutputNumber(self.SCENES, self.tr("Number of scenes rectified")))
        self.addOutput(
            QgsProcessingOutputNumber(self.MAX_RESIDUAL_PX, self.tr("Largest residual RMS of a scene (px)"))
        )
        self.addOutput(QgsProcessingOutputString(self.FINAL_MASTER, self.tr("Final master scene id")))

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict:
        stack = self.stack_path(parameters, context)
        dem = self.dem_path(parameters, context, self.DEM)
        method = self.enum_value(parameters, self.METHOD, METHOD_OPTIONS, context)
        try:
            params = core_function("rectify", "RectifyParameters")(
                method=method,
                window_px=self.parameterAsInt(parameters, self.WINDOW_PX, context),
                step_px=self.parameterAsInt(parameters, self.STEP_PX, context),
                search_px=self.parameterAsInt(parameters, self.SEARCH_PX, context),
                min_ncc=self.parameterAsDouble(parameters, self.MIN_NCC, context),
                min_snr=self.parameterAsDouble(parameters, self.MIN_SNR, context),
                iterations=self.parameterAsInt(parameters, self.ITERATIONS, context),
                interpolation_order=int(
                    self.enum_value(parameters, self.INTERPOLATION, INTERPOLATION_OPTIONS, context)
                ),
                fit_scale=self.parameterAsBool(parameters, self.FIT_SCALE, context),
                dem_vertical=self.enum_value(parameters, self.DEM_VERTICAL, DEM_VERTICAL_OPTIONS, context),
            )
        except ValueError as exc:
            raise QgsProcessingException(str(exc)) from exc
        with scheduled(self, parameters, context) as executor:
            result = self.run_core(
                "rectify",
                "rectify_stack",
                str(stack),
                dem,
                params=params,
                final_master=self.parameterAsString(parameters, self.FINAL_MASTER, context) or None,
                executor=executor,
                feedback=feedback,
            )
        folder = stack / ("rectified" if method == "improved" else "rectified_traditional")
        residuals = []
        for entry in result.scenes:
            qc_file = folder / f"{entry.id}.json"
            qc = json.loads(qc_file.read_text(encoding="utf-8")) if qc_file.is_file() else {}
            rms = [qc[k] for k in ("residual_line_rms_px", "residual_sample_rms_px") if k in qc]
            if rms:
                residuals.append(max(rms))
                feedback.pushInfo(f"{entry.id}: residual RMS line {rms[0]:.3f} px, sample {rms[-1]:.3f} px")
        final = str(result.masters["final"])
        feedback.pushInfo(f"{len(result.scenes)} scenes in the geometry of {final} ({method})")
        return {
            self.STACK: str(stack),
            self.RECTIFIED: str(folder),
            self.SCENES: len(result.scenes),
            self.MAX_RESIDUAL_PX: max(residuals, default=0.0),
            self.FINAL_MASTER: final,
        }
