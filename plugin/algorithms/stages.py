"""``sarots:stages``: creep stages of a point's series and its inverse-velocity failure forecast."""

from __future__ import annotations

from typing import Any

import numpy as np
from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterString,
)

from ..corebridge import core_errors, core_function
from .analysis import JSON_OUT_FILTER, PNG_OUT_FILTER, SERIES_HELP, AnalysisAlgorithm

#: named starts of the forecast's fitted stage (``processing_core.analysis.forecast.STARTS``)
STARTS = ("onset", "first")


class CreepStagesAlgorithm(AnalysisAlgorithm):
    SIGMA_M = "SIGMA_M"
    PENALTY = "PENALTY"
    MIN_POINTS = "MIN_POINTS"
    CONFIDENCE = "CONFIDENCE"
    START = "START"
    ALPHA = "ALPHA"
    WARNING = "WARNING"
    OUTPUT_JSON = "OUTPUT_JSON"
    PLOT_STAGES = "PLOT_STAGES"
    PLOT_FORECAST = "PLOT_FORECAST"
    ONSET = "ONSET"
    N_STAGES = "N_STAGES"
    FAILURE_DATE = "FAILURE_DATE"
    FAILURE_CI_LOW = "FAILURE_CI_LOW"
    FAILURE_CI_HIGH = "FAILURE_CI_HIGH"
    FIRST_WARNING = "FIRST_WARNING"

    NAME = "stages"
    DISPLAY_NAME = "Creep stages and failure forecast"
    HELP = (
        "Splits a displacement series into stages of constant rate (exact piecewise-linear "
        "segmentation with a BIC penalty per break, break dates refined to the day with "
        "profile-likelihood date intervals), classifies them as primary, secondary or tertiary "
        "creep and finds the acceleration onset (the start of the first tertiary stage). From "
        "the onset on, the inverse velocity (Fukuzono 1985; Voight's exponent 2) is fitted by a "
        "straight line whose zero is the forecast failure date, with its Fieller confidence "
        "interval; replaying the series date by date gives the first date a significant "
        "forecast was possible (the first warning).<br><br>"
        f"{SERIES_HELP}"
        "<b>Advanced</b>: noise std (0: estimated robustly from the series), penalty per break "
        "(0: BIC, 2 ln n, in units of sigma²), fewest acquisitions per stage, confidence level, "
        "the start of the forecast (<code>onset</code>, <code>first</code> or a date "
        "<code>YYYY-MM-DD</code>), Voight's exponent, the first-warning replay.<br><br>"
        '<b>Outputs</b>: a JSON report <code>{"input", "stages", "forecast"}</code> '
        "(<code>forecast</code> is null when there is no acceleration onset or too few "
        "intervals after it); optional PNG plots of the stages and of the inverse velocity; the "
        "onset date, the number of stages, the failure date with its interval and the first "
        "warning date (empty when none).<br><br>"
        "Same as the command lines <code>python3 -m processing_core stages</code> and "
        "<code>forecast</code>."
    )

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API
        self.add_series_parameters()
        self.add_numbers(
            [
                (self.SIGMA_M, "Noise std of the displacements, m (0: estimated)", 0.0, 0.0),
                (self.PENALTY, "Penalty per break, in sigma² (0: BIC, 2 ln n)", 0.0, 0.0),
                (self.MIN_POINTS, "Fewest acquisitions per stage", 1, 1),
                (self.CONFIDENCE, "Confidence level of the intervals", 0.95, 0.5),
            ],
            advanced=True,
        )
        self.add_advanced(
            QgsProcessingParameterString(
                self.START, self.tr("Start of the forecast: onset, first or YYYY-MM-DD"), "onset"
            )
        )
        self.add_numbers([(self.ALPHA, "Voight's exponent (2: inverse velocity)", 2.0, 1.01)], advanced=True)
        self.add_flags([(self.WARNING, "Replay the series for the first warning date", True)], advanced=True)
        self.add_file_output(self.OUTPUT_JSON, "Stages and forecast (JSON)", JSON_OUT_FILTER, optional=False)
        self.add_file_output(self.PLOT_STAGES, "Plot of the stages (PNG)", PNG_OUT_FILTER, optional=True)
        self.add_file_output(self.PLOT_FORECAST, "Plot of the forecast (PNG)", PNG_OUT_FILTER, optional=True)
        for name, text in (
            (self.ONSET, "Acceleration onset date (empty: none)"),
            (self.FAILURE_DATE, "Forecast failure date (empty: none)"),
            (self.FAILURE_CI_LOW, "Start of the failure date's interval (empty: unbounded)"),
            (self.FAILURE_CI_HIGH, "End of the failure date's interval (empty: unbounded)"),
            (self.FIRST_WARNING, "First warning date (empty: never)"),
        ):
            self.addOutput(QgsProcessingOutputString(name, self.tr(text)))
        self.addOutput(QgsProcessingOutputNumber(self.N_STAGES, self.tr("Number of stages")))

    def start(self, parameters: dict, context: QgsProcessingContext) -> Any:
        """The forecast's start: ``onset``, ``first`` or a ``datetime64[D]``."""
        text = (self.parameterAsString(parameters, self.START, context) or "onset").strip()
        if text in STARTS:
            return text
        try:
            return np.datetime64(text, "D")
        except ValueError:
            raise QgsProcessingException(
                f"Start of the forecast: expected onset, first or YYYY-MM-DD, got {text!r}"
            ) from None

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict:
        sigma = self.parameterAsDouble(parameters, self.SIGMA_M, context) or None
        penalty = self.parameterAsDouble(parameters, self.PENALTY, context) or "bic"
        confidence = self.parameterAsDouble(parameters, self.CONFIDENCE, context)
        start = self.start(parameters, context)
        dates, values, info, where = self.read_series(parameters, context, feedback)
        result = self.core(
            "analysis.stages",
            "detect_stages",
            dates,
            values,
            sigma_m=sigma,
            penalty=penalty,
            min_points=self.parameterAsInt(parameters, self.MIN_POINTS, context),
            confidence=confidence,
        )
        for s in result.stages:
            feedback.pushInfo(
                f"{s.start} .. {s.end}: {s.rate_mm_per_day:8.2f} ± {s.rate_std_mm_per_day:.2f} mm/day "
                f"({s.n_acquisitions} acquisitions) {s.kind}"
            )
        onset = str(result.onset.date) if result.onset is not None else ""
        feedback.pushInfo(f"acceleration onset: {onset or 'none'}")
        feedback.setProgress(30.0)
        forecast = None
        no_forecast = core_function("errors", "InputError")
        with core_errors():
            try:
                forecast = core_function("analysis.forecast", "forecast_failure")(
                    dates,
                    values,
                    start=start,
                    alpha=self.parameterAsDouble(parameters, self.ALPHA, context),
                    confidence=confidence,
                    sigma_m=sigma,
                    warning=self.parameterAsBool(parameters, self.WARNING, context),
                )
            except no_forecast as exc:  # no onset, too few intervals after the start
                feedback.pushWarning(f"no failure forecast: {exc}")
        if forecast is not None:
            f = forecast
            ci = f"{f.ci_low} .. {f.ci_high}" if f.ci_low is not None else "unbounded (slope not significant)"
            feedback.pushInfo(
                f"failure: {f.failure_date or 'none (inverse velocity not falling)'}, "
                f"{int(100 * f.confidence)} % interval {ci}; first warning: {f.first_warning_date or 'never'}"
            )
        feedback.setProgress(80.0)
        component = info["component"]
        report = {
            "input": info,
            "stages": result.to_dict(),
            "forecast": None if forecast is None else forecast.to_dict(),
        }
        out = self.write_report(self.parameterAsFileOutput(parameters, self.OUTPUT_JSON, context), report)
        stages_png = self.plot(
            self.parameterAsFileOutput(parameters, self.PLOT_STAGES, context),
            "plot_stages",
            result,
            title=f"Creep stages, {component}: {where}",
            feedback=feedback,
        )
        forecast_png = self.parameterAsFileOutput(parameters, self.PLOT_FORECAST, context)
        if forecast is None and forecast_png:
            feedback.pushWarning(f"no forecast to plot: {forecast_png} not written")
        elif forecast is not None:
            title = f"Failure forecast, {component}: {where}"
            forecast_png = self.plot(forecast_png, "plot_forecast", forecast, title=title, feedback=feedback)
        report_forecast = report["forecast"] or {}
        return {
            self.OUTPUT_JSON: out,
            self.PLOT_STAGES: stages_png,
            self.PLOT_FORECAST: forecast_png if forecast is not None else "",
            self.ONSET: onset,
            self.N_STAGES: len(result.stages),
            self.FAILURE_DATE: report_forecast.get("failure_date") or "",
            self.FAILURE_CI_LOW: report_forecast.get("ci_low") or "",
            self.FAILURE_CI_HIGH: report_forecast.get("ci_high") or "",
            self.FIRST_WARNING: report_forecast.get("first_warning_date") or "",
        }
