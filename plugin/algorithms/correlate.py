"""``sarots:correlate``: lagged correlation of a point's speeds with precipitation and backscatter."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFile,
    QgsProcessingParameterString,
)

from ..corebridge import require_file, require_stack
from .analysis import JSON_OUT_FILTER, PNG_OUT_FILTER, SERIES_HELP, AnalysisAlgorithm
from .base import CSV_FILTER

#: (core value, label); the core's ``correlate.MEASURES``, ``DETRENDS``, ``covariates.IMERG_UNITS``
MEASURE_OPTIONS: tuple[tuple[str, str], ...] = (
    ("mean", "mean rate over the interval (mm/day)"),
    ("sum", "total over the interval (mm)"),
)
DETREND_OPTIONS: tuple[tuple[str, str], ...] = (
    ("none", "none"),
    ("linear", "linear trend of the displacement"),
    ("stages", "rates of the creep stages"),
)
IMERG_UNIT_OPTIONS: tuple[tuple[str, str], ...] = (
    ("auto", "from the files"),
    ("mm/hr", "mm/hr (mean rate)"),
    ("mm/month", "mm/month (total)"),
)
#: (output name, key of the core's LagCorrelation, label) of the best-lag outputs
BEST: tuple[tuple[str, str, str], ...] = (
    ("BEST_LAG_MONTHS", "best_lag_months", "best lag (months)"),
    ("BEST_R", "best_r", "r at the best lag"),
    ("BEST_P", "best_p_value", "family-wise p-value of the best lag"),
)
WGS84 = "EPSG:4326"


class CorrelationAlgorithm(AnalysisAlgorithm):
    PRECIP = "PRECIP"
    IMERG = "IMERG"
    IMERG_UNITS = "IMERG_UNITS"
    IMERG_EXTENT = "IMERG_EXTENT"
    BACKSCATTER = "BACKSCATTER"
    WINDOW = "WINDOW"
    BACKSCATTER_EXTENT = "BACKSCATTER_EXTENT"
    MAX_LAG_MONTHS = "MAX_LAG_MONTHS"
    MEASURE = "MEASURE"
    DETREND = "DETREND"
    PERMUTATIONS = "PERMUTATIONS"
    BLOCK_LENGTH = "BLOCK_LENGTH"
    SEED = "SEED"
    SIGMA_M = "SIGMA_M"
    OUTPUT_JSON = "OUTPUT_JSON"
    PLOT = "PLOT"

    NAME = "correlate"
    DISPLAY_NAME = "Correlation with precipitation and backscatter"
    HELP = (
        "Correlates the speed of a point over every acquisition interval with the monthly "
        "precipitation (overlap-weighted months of a CSV or of GPM IMERG files) and/or with the "
        "mean backscatter of a region of the rectified scenes, the covariate shifted back by 0 "
        "to the largest lag in months (Pearson r per lag). The p-values come from circular "
        "block permutations of the rates, per lag and family-wise over the lags for the best "
        "lag (the one of largest |r|).<br><br>"
        f"{SERIES_HELP}"
        "<b>Precipitation CSV</b> <code>month,precip_mm</code> (monthly totals) <b>or IMERG "
        "folder</b> (monthly HDF5, netCDF or GeoTIFF files; averaged over the stack's area or "
        "the advanced extent). <b>Backscatter</b>: the mean dB of "
        "<code>STACK/rectified/*.tif</code> over the whole master grid, a pixel window "
        "<code>LINE0,LINE1,SAMPLE0,SAMPLE1</code> (end exclusive) or an extent. At least one "
        "covariate.<br>"
        "<b>Advanced</b>: the precipitation measure per interval (mean mm/day or total mm), a "
        "trend removed from the rates first, permutations, block length (0: round(n^(1/3))), "
        "seed, IMERG units and extent.<br><br>"
        "<b>Outputs</b>: a JSON report (r, p and intervals per lag, per covariate), an optional "
        "PNG plot, and the best lag, r and family-wise p-value: of the precipitation when given, "
        "else of the backscatter (<code>BACKSCATTER_*</code>: always the backscatter's).<br><br>"
        "Same as the command line <code>python3 -m processing_core correlate</code>."
    )

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API
        self.add_series_parameters()
        self.addParameter(
            QgsProcessingParameterFile(
                self.PRECIP,
                self.tr("Monthly precipitation CSV (month,precip_mm)"),
                behavior=QgsProcessingParameterFile.File,
                fileFilter=CSV_FILTER,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                self.IMERG,
                self.tr("or a folder of GPM IMERG monthly files"),
                behavior=QgsProcessingParameterFile.Folder,
                optional=True,
            )
        )
        self.add_flags([(self.BACKSCATTER, "Also correlate with the backscatter of the stack", False)])
        self.addParameter(
            QgsProcessingParameterString(
                self.WINDOW,
                self.tr("Backscatter window LINE0,LINE1,SAMPLE0,SAMPLE1 (empty: the whole grid)"),
                optional=True,
            )
        )
        self.add_advanced(
            QgsProcessingParameterExtent(
                self.BACKSCATTER_EXTENT,
                self.tr("or a backscatter extent (needs the lookup table)"),
                optional=True,
            )
        )
        self.add_numbers([(self.MAX_LAG_MONTHS, "Largest lag, months", 6, 0)])
        self.add_enum(self.MEASURE, "Precipitation per interval", MEASURE_OPTIONS, advanced=True)
        self.add_enum(self.DETREND, "Trend removed from the rates", DETREND_OPTIONS, advanced=True)
        self.add_numbers(
            [
                (self.PERMUTATIONS, "Block permutations for the p-values", 2000, 1),
                (self.BLOCK_LENGTH, "Intervals per permuted block (0: round(n^(1/3)))", 0, 0),
                (self.SEED, "Seed of the permutations", 0, 0),
                (self.SIGMA_M, "Noise std for the stage trend, m (0: estimated)", 0.0, 0.0),
            ],
            advanced=True,
        )
        self.add_enum(self.IMERG_UNITS, "Units of the IMERG values", IMERG_UNIT_OPTIONS, advanced=True)
        self.add_advanced(
            QgsProcessingParameterExtent(
                self.IMERG_EXTENT, self.tr("Area of the IMERG mean (empty: the stack's area)"), optional=True
            )
        )
        self.add_file_output(self.OUTPUT_JSON, "Correlation report (JSON)", JSON_OUT_FILTER, optional=False)
        self.add_file_output(self.PLOT, "Plot of the correlation (PNG)", PNG_OUT_FILTER, optional=True)
        for prefix, what in (("", ""), ("BACKSCATTER_", "backscatter: ")):
            for name, _, text in BEST:
                self.addOutput(QgsProcessingOutputNumber(prefix + name, self.tr(what + text)))

    def extent(self, parameters: dict, name: str, context: QgsProcessingContext) -> tuple[float, ...] | None:
        """(lon_min, lat_min, lon_max, lat_max) of an optional extent parameter, None when empty."""
        if not parameters.get(name):
            return None
        box = self.parameterAsExtent(parameters, name, context, QgsCoordinateReferenceSystem(WGS84))
        return box.xMinimum(), box.yMinimum(), box.xMaximum(), box.yMaximum()

    def window(self, parameters: dict, context: QgsProcessingContext) -> tuple[int, int, int, int] | None:
        text = (self.parameterAsString(parameters, self.WINDOW, context) or "").strip()
        if not text:
            return None
        try:
            values = tuple(int(v) for v in text.replace(";", ",").split(","))
        except ValueError:
            values = ()
        if len(values) != 4:
            raise QgsProcessingException(
                f"Backscatter window: expected four integers LINE0,LINE1,SAMPLE0,SAMPLE1, got {text!r}"
            )
        return values  # type: ignore[return-value]

    def precipitation(self, parameters: dict, context: QgsProcessingContext) -> Any:
        """The monthly precipitation (CSV or IMERG), None when neither is given."""
        precip = self.parameterAsFile(parameters, self.PRECIP, context)
        imerg = self.parameterAsFile(parameters, self.IMERG, context)
        if precip and imerg:
            raise QgsProcessingException("Give either a precipitation CSV or an IMERG folder, not both")
        if precip:
            return self.core(
                "analysis.covariates", "read_precip_csv", str(require_file(precip, "Precipitation CSV"))
            )
        if not imerg:
            return None
        bbox = self.extent(parameters, self.IMERG_EXTENT, context)
        if bbox is None:
            stack = self.parameterAsFile(parameters, self.STACK, context)
            if not stack:
                raise QgsProcessingException("IMERG: give the area of the mean (extent) or a stack folder")
            bbox = self.core("analysis.covariates", "stack_bbox", str(require_stack(stack)))
        units = self.enum_value(parameters, self.IMERG_UNITS, IMERG_UNIT_OPTIONS, context)
        return self.core("analysis.covariates", "read_imerg", imerg, bbox, units=units)

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict:
        backscatter = self.parameterAsBool(parameters, self.BACKSCATTER, context)
        has_precip = bool(
            self.parameterAsFile(parameters, self.PRECIP, context)
            or self.parameterAsFile(parameters, self.IMERG, context)
        )
        if not (has_precip or backscatter):
            raise QgsProcessingException(
                "No covariate given: choose a precipitation CSV, an IMERG folder and/or the backscatter"
            )
        stack = self.parameterAsFile(parameters, self.STACK, context)
        if backscatter and not stack:
            raise QgsProcessingException(
                "Backscatter needs the stack folder (it reads STACK/rectified/*.tif)"
            )
        region = {
            "window": self.window(parameters, context),
            "bbox": self.extent(parameters, self.BACKSCATTER_EXTENT, context),
        }
        precip = self.precipitation(parameters, context)
        dates, values, info, _ = self.read_series(parameters, context, feedback)
        common = {
            "max_lag_months": self.parameterAsInt(parameters, self.MAX_LAG_MONTHS, context),
            "detrend": self.enum_value(parameters, self.DETREND, DETREND_OPTIONS, context),
            "permutations": self.parameterAsInt(parameters, self.PERMUTATIONS, context),
            "seed": self.parameterAsInt(parameters, self.SEED, context),
            "block_length": self.parameterAsInt(parameters, self.BLOCK_LENGTH, context) or None,
            "sigma_m": self.parameterAsDouble(parameters, self.SIGMA_M, context) or None,
        }
        results: list[Any] = []
        report: dict[str, Any] = {"input": info}
        bs = None
        if precip is not None:
            measure = self.enum_value(parameters, self.MEASURE, MEASURE_OPTIONS, context)
            res = self.core(
                "analysis.correlate",
                "correlate_precipitation",
                dates,
                values,
                precip,
                measure=measure,
                **common,
            )
            results.append(res)
            report["precipitation"] = {"source": precip.source, "measure": measure, **res.to_dict()}
        feedback.setProgress(40.0)
        if backscatter:
            bs_dates, bs_db, n_pix = self.core(
                "analysis.covariates", "backscatter_series", str(require_stack(stack)), **region
            )
            res = self.core(
                "analysis.correlate", "correlate_backscatter", dates, values, bs_dates, bs_db, **common
            )
            results.append(res)
            bs = (bs_dates, bs_db)
            report["backscatter"] = {
                "region": {k: list(v) if v else None for k, v in region.items()},
                "series": [
                    {"date": str(d), "mean_db": v, "pixels": int(n)}
                    for d, v, n in zip(bs_dates, bs_db, n_pix)
                ],
                **res.to_dict(),
            }
        feedback.setProgress(80.0)
        for res in results:
            feedback.pushInfo(
                f"{res.covariate}: best lag {res.best_lag_months} months, r = {res.best_r:.3f}, "
                f"p = {res.best_p_value:.4f} (family-wise, {res.permutations} block permutations)"
            )
        out = self.write_report(self.parameterAsFileOutput(parameters, self.OUTPUT_JSON, context), report)
        plot = self.plot(
            self.parameterAsFileOutput(parameters, self.PLOT, context),
            "plot_correlation",
            results,
            precip=precip,
            backscatter=bs,
            feedback=feedback,
        )
        outputs: dict[str, Any] = {self.OUTPUT_JSON: out, self.PLOT: plot}
        for prefix, res in (("", results[0]), ("BACKSCATTER_", results[-1] if backscatter else None)):
            for name, key, _ in BEST:
                outputs[prefix + name] = None if res is None else getattr(res, key)
        return outputs
