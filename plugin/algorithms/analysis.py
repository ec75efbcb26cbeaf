"""What the analysis algorithms (point, stages, correlate) share: the point, the series, the reports.

A series comes from a stack at a lon/lat (``processing_core.analysis.points.extract_point_series``)
or from a time-series CSV (``processing_core.analysis.series.read_series_csv``), as with the
command line's ``--stack --lon --lat`` or ``--csv``; the science stays in the core.
"""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ..corebridge import core_errors, core_function, require_file, require_stack
from .base import CSV_FILTER, DEM_VERTICAL_OPTIONS, SarAlgorithm

JSON_OUT_FILTER = "JSON files (*.json)"
PNG_OUT_FILTER = "PNG images (*.png)"

#: (core value, label) of the displacement component
COMPONENT_OPTIONS: tuple[tuple[str, str], ...] = (
    ("los", "LOS (line of sight)"),
    ("azimuth", "Azimuth (along track)"),
)

#: help text on the series parameters, shared by stages and correlate
SERIES_HELP = (
    "<b>Series</b>: a point of a stack (<b>Stack folder</b> with <code>timeseries/los.tif</code>, "
    "<code>azimuth.tif</code>, and <b>Longitude</b>/<b>Latitude</b> in WGS84 degrees) or a "
    "<b>time-series CSV</b> <code>date,los_m,azimuth_m</code> (e.g. from <i>Extract point time "
    "series</i>; with a <code>name</code> column, choose the point by its name). "
    "<b>Component</b>: LOS or azimuth.<br>"
)


class AnalysisAlgorithm(SarAlgorithm):
    """Parameters and readers shared by the analysis algorithms."""

    STACK = "STACK"
    LON = "LON"
    LAT = "LAT"
    RADIUS_M = "RADIUS_M"
    DEM = "DEM"
    DEM_VERTICAL = "DEM_VERTICAL"
    HEIGHT_M = "HEIGHT_M"
    CSV = "CSV"
    POINT_NAME = "POINT_NAME"
    COMPONENT = "COMPONENT"

    GROUP_ID = "analysis"

    # -- parameters -------------------------------------------------------------------------

    def add_stack_folder(self, *, optional: bool) -> None:
        text = "Stack folder (with timeseries/los.tif, azimuth.tif)"
        self.addParameter(
            QgsProcessingParameterFile(
                self.STACK, self.tr(text), behavior=QgsProcessingParameterFile.Folder, optional=optional
            )
        )

    def add_lon_lat(self) -> None:
        self.add_numbers(
            [
                (self.LON, "Longitude of the point (WGS84, degrees)", None, -180.0),
                (self.LAT, "Latitude of the point (WGS84, degrees)", None, -90.0),
            ]
        )

    def add_location_options(self, *, advanced: bool) -> None:
        """Radius of the mean and the point's height: DEM (and its datum) or a given height."""
        self.add_numbers(
            [(self.RADIUS_M, "Radius of the mean, m (0: the nearest grid node)", 0.0, 0.0)], advanced=advanced
        )
        text = "DEM for the point's height (empty: the stack's lookup table or DEM)"
        self.add_advanced(QgsProcessingParameterRasterLayer(self.DEM, self.tr(text), optional=True), advanced)
        self.add_enum(self.DEM_VERTICAL, "Vertical datum of the DEM", DEM_VERTICAL_OPTIONS, advanced=True)
        self.add_numbers(
            [(self.HEIGHT_M, "Ellipsoidal height of the point, m (instead of a DEM)", None, None)],
            advanced=advanced,
        )

    def add_series_parameters(self) -> None:
        """A stack point (STACK, LON, LAT, location options) or a series CSV, and the component."""
        self.add_stack_folder(optional=True)
        self.add_lon_lat()
        self.addParameter(
            QgsProcessingParameterFile(
                self.CSV,
                self.tr("or a time-series CSV (date,los_m,azimuth_m)"),
                behavior=QgsProcessingParameterFile.File,
                fileFilter=CSV_FILTER,
                optional=True,
            )
        )
        self.add_advanced(
            QgsProcessingParameterString(
                self.POINT_NAME, self.tr("Point of a CSV holding several (its name)"), optional=True
            )
        )
        self.add_location_options(advanced=True)
        self.add_enum(self.COMPONENT, "Displacement component", COMPONENT_OPTIONS)

    def add_file_output(self, name: str, description: str, file_filter: str, *, optional: bool) -> None:
        self.addParameter(
            QgsProcessingParameterFileDestination(
                name, self.tr(description), file_filter, optional=optional, createByDefault=not optional
            )
        )

    # -- readers ----------------------------------------------------------------------------

    def lon_lat(self, parameters: dict) -> tuple[float, float] | None:
        """(lon, lat) when both are given, None when neither; an error for only one."""
        lon, lat = self.optional_number(parameters, self.LON), self.optional_number(parameters, self.LAT)
        if (lon is None) != (lat is None):
            raise QgsProcessingException("Give the longitude and the latitude of the point together")
        return None if lon is None or lat is None else (lon, lat)

    def location_options(self, parameters: dict, context: QgsProcessingContext) -> dict[str, Any]:
        """Keyword arguments of ``extract_point_series`` besides the stack, lon and lat."""
        return {
            "radius_m": self.parameterAsDouble(parameters, self.RADIUS_M, context),
            "height_m": self.optional_number(parameters, self.HEIGHT_M),
            "dem": self.dem_path(parameters, context),
            "dem_vertical": self.enum_value(parameters, self.DEM_VERTICAL, DEM_VERTICAL_OPTIONS, context),
        }

    def read_series(
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> tuple[Any, Any, dict[str, Any], str]:
        """(dates, values, description, where) of the chosen component, from a stack point or a CSV
        (the command line's ``--stack --lon --lat`` / ``--csv``)."""
        csv_path = self.parameterAsFile(parameters, self.CSV, context)
        point = self.lon_lat(parameters)
        stack_text = self.parameterAsFile(parameters, self.STACK, context)
        component = self.enum_value(parameters, self.COMPONENT, COMPONENT_OPTIONS, context)
        if csv_path:
            if point is not None:
                raise QgsProcessingException(
                    "Give either a time-series CSV or a longitude/latitude, not both"
                )
            path = require_file(csv_path, "Time-series CSV")
            name = self.parameterAsString(parameters, self.POINT_NAME, context) or None
            series = self.core("analysis.series", "read_series_csv", str(path), name=name)
            where = str(path)
        else:
            if point is None or not stack_text:
                raise QgsProcessingException(
                    "No series given: choose a stack folder with a longitude and latitude, or a time-series CSV"
                )
            stack = require_stack(stack_text)
            options = self.location_options(parameters, context)
            series = self.core("analysis.points", "extract_point_series", str(stack), *point, **options)
            where = f"{stack} at lon {point[0]}, lat {point[1]}"
        dates, values = series.valid(component)
        if len(dates) < 3:
            raise QgsProcessingException(f"{where}: only {len(dates)} valid {component} values")
        feedback.pushInfo(f"{len(dates)} {component} values from {where}")
        info = {"source": where, "component": component, "name": series.name, **series.info}
        return dates, values, info, where

    @staticmethod
    def core(module: str, function_name: str, /, *args: Any, **kwargs: Any) -> Any:
        """``processing_core.<module>.<name>(*args, **kwargs)`` for the quick analysis functions
        (no progress argument); the core's errors come out as ``QgsProcessingException``."""
        function = core_function(module, function_name)
        with core_errors():
            return function(*args, **kwargs)

    def write_report(self, path: str, report: dict[str, Any]) -> str:
        """Write the JSON report (atomically, NaN as null) with the core's writer."""
        return str(self.core("analysis.series", "write_json", path, report))

    def plot(
        self, path: str, module_function: str, *args: Any, feedback: QgsProcessingFeedback, **kwargs: Any
    ) -> str:
        """Draw a figure with ``processing_core.analysis.plots.<module_function>`` when ``path``
        is given; "" when not asked for or without matplotlib (with a warning)."""
        if not path:
            return ""
        written = self.core("analysis.plots", module_function, path, *args, **kwargs)
        if written is None:
            feedback.pushWarning(f"plot skipped (no matplotlib): {path}")
            return ""
        return str(written)
