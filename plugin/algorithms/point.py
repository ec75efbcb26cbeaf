"""``sarots:point``: LOS and azimuth time series at points of a vector layer or at a lon/lat."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeatureSource,
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterVectorDestination,
)

from ..corebridge import require_stack
from .analysis import PNG_OUT_FILTER, AnalysisAlgorithm
from .base import CSV_OUT_FILTER

#: the GeoPackage layer loaded into the project (the core also writes ``points_azimuth``)
LOADED_LAYER = "points_los"


def layer_points(
    source: QgsFeatureSource, context: QgsProcessingContext, feedback: QgsProcessingFeedback
) -> list[tuple[str, float, float]]:
    """(name, lon, lat) of every point of ``source`` in WGS84: the ``name`` field (any case) when
    the layer has one, else the feature id; the parts of a multipoint get ``_1``, ``_2``, ..."""
    if not source.sourceCrs().isValid():
        raise QgsProcessingException("Points layer: has no CRS; set the layer's CRS first")
    to_wgs84 = QgsCoordinateTransform(
        source.sourceCrs(), QgsCoordinateReferenceSystem("EPSG:4326"), context.transformContext()
    )
    fields = source.fields()
    index = next((i for i in range(fields.count()) if fields.at(i).name().lower() == "name"), -1)
    points: list[tuple[str, float, float]] = []
    for feature in source.getFeatures():
        geometry = feature.geometry()
        if geometry.isNull() or geometry.isEmpty():
            feedback.pushWarning(f"feature {feature.id()} has no geometry: skipped")
            continue
        value = feature.attribute(index) if index >= 0 else None
        name = str(value) if value not in (None, "") and str(value) != "NULL" else str(feature.id())
        parts = geometry.asMultiPoint() if geometry.isMultipart() else [geometry.asPoint()]
        for k, part in enumerate(parts):
            point = to_wgs84.transform(part)
            points.append((name if len(parts) == 1 else f"{name}_{k + 1}", point.x(), point.y()))
    names = [name for name, _, _ in points]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise QgsProcessingException(
            f"Points layer: point names must be unique; repeated: {', '.join(repeated)}"
        )
    if not points:
        raise QgsProcessingException("Points layer: no points")
    return points


def component_arrays(series: Any) -> dict[str, Any]:
    """``write_points_gpkg``'s arrays of one ``PointSeries``: los, azimuth and their std if known."""
    arrays = {"los": series.los_m, "azimuth": series.azimuth_m}
    for key, std in (("los_std", series.los_std_m), ("azimuth_std", series.azimuth_std_m)):
        if std is not None:
            arrays[key] = std
    return arrays


class PointSeriesAlgorithm(AnalysisAlgorithm):
    POINTS = "POINTS"
    OUTPUT_CSV = "OUTPUT_CSV"
    OUTPUT_GPKG = "OUTPUT_GPKG"
    PLOT = "PLOT"
    COUNT = "COUNT"

    NAME = "point"
    DISPLAY_NAME = "Extract point time series"
    HELP = (
        "Reads the LOS and azimuth displacement time series (and their standard deviations) of a "
        "stack at ground points: the nearest node of the time-series grid, or the mean over the "
        "nodes within a radius. Each point is placed in the final master's radar geometry with "
        "its height from a DEM, the stack's lookup table or a given height.<br><br>"
        "<b>Stack folder</b>: a stack with time series (run <i>Time-series inversion</i> first).<br>"
        "<b>Points</b>: a point layer in any CRS (each feature is transformed to WGS84; its "
        "<code>name</code> field names the series, else the feature id), <b>or</b> one "
        "<b>Longitude</b>/<b>Latitude</b> in WGS84 degrees.<br>"
        "<b>Radius</b>: 0 for the nearest node; above 0, the mean over the nodes within this "
        "ground distance (m), with their spread as the std.<br>"
        "<b>DEM</b> (or <b>height</b>): the point's height (default: the stack's "
        "<code>geometry/ground_lut.tif</code> or the rectification's DEM).<br><br>"
        "<b>Outputs</b>: a CSV <code>date,los_m,azimuth_m[,los_std_m,azimuth_std_m]</code> (with "
        "a leading <code>name</code> column for several points), metres relative to the first "
        "date; a GeoPackage with the layers <code>points_los</code> and "
        "<code>points_azimuth</code>, one WGS84 point per location with one column per date "
        "<code>DYYYYMMDD</code> (InSAR-Explorer style; <code>points_los</code> is loaded); "
        "optionally a PNG plot of the series.<br><br>"
        "Same as the command line <code>python3 -m processing_core point</code>."
    )

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API
        self.add_stack_folder(optional=False)
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                self.POINTS,
                self.tr("Points (any CRS; a 'name' field names them)"),
                [QgsProcessing.TypeVectorPoint],
                optional=True,
            )
        )
        self.add_lon_lat()
        self.add_location_options(advanced=False)
        self.add_file_output(self.OUTPUT_CSV, "Time series CSV", CSV_OUT_FILTER, optional=False)
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                self.OUTPUT_GPKG,
                self.tr("Point layers (GeoPackage, DYYYYMMDD columns)"),
                QgsProcessing.TypeVectorPoint,
            )
        )
        self.add_file_output(self.PLOT, "Plot of the series (PNG)", PNG_OUT_FILTER, optional=True)
        self.addOutput(QgsProcessingOutputNumber(self.COUNT, self.tr("Number of points")))

    def points(
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> list[tuple[str, float, float]]:
        """(name, lon, lat) of the points layer or of the single lon/lat (name empty)."""
        source = self.parameterAsSource(parameters, self.POINTS, context)
        point = self.lon_lat(parameters)
        if source is not None and point is not None:
            raise QgsProcessingException("Give either a points layer or a longitude/latitude, not both")
        if source is not None:
            return layer_points(source, context, feedback)
        if point is None:
            raise QgsProcessingException(
                "No points given: choose a points layer, or a longitude and latitude"
            )
        return [("", *point)]

    def gpkg_path(self, parameters: dict, context: QgsProcessingContext) -> str:
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT_GPKG, context)
        path = out.split("|", 1)[0]
        if Path(path).suffix.lower() != ".gpkg":
            raise QgsProcessingException(f"Point layers: needs a GeoPackage file (.gpkg), got {out!r}")
        return path

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict:
        stack = require_stack(self.parameterAsFile(parameters, self.STACK, context))
        points = self.points(parameters, context, feedback)
        options = self.location_options(parameters, context)
        csv_out = self.parameterAsFileOutput(parameters, self.OUTPUT_CSV, context)
        gpkg = self.gpkg_path(parameters, context)
        plot = self.parameterAsFileOutput(parameters, self.PLOT, context)
        series = []
        for k, (name, lon, lat) in enumerate(points):
            if feedback.isCanceled():
                raise QgsProcessingException("Cancelled")
            s = self.core(
                "analysis.points", "extract_point_series", str(stack), lon, lat, name=name, **options
            )
            i = s.info
            feedback.pushInfo(
                f"point{' ' + name if name else ''}: lon {lon:.6f}, lat {lat:.6f}, height {i['height_m']:.1f} m, "
                f"master line {i['line']:.1f}, sample {i['sample']:.1f}, {i['n_nodes']} node(s)"
            )
            series.append(s)
            feedback.setProgress(100.0 * (k + 1) / (len(points) + 1))
        self.core("analysis.series", "write_series_csv", csv_out, series)
        names = [name or "point" for name, _, _ in points]  # the GeoPackage needs a name
        located = [(n, lon, lat) for n, (_, lon, lat) in zip(names, points)]
        arrays = {n: component_arrays(s) for n, s in zip(names, series)}
        self.core("vector", "write_points_gpkg", gpkg, series[0].dates, located, arrays)
        self.load_los_layer(gpkg, context)
        results = {
            self.OUTPUT_CSV: csv_out,
            self.OUTPUT_GPKG: gpkg,
            self.PLOT: self.plot(plot, "plot_series", series, feedback=feedback),
            self.COUNT: len(series),
        }
        feedback.pushInfo(f"{len(series)} series written to {csv_out} and {gpkg}")
        return results

    @staticmethod
    def load_los_layer(gpkg: str, context: QgsProcessingContext) -> None:
        """Load the GeoPackage's ``points_los`` layer instead of the whole file, when the output is to
        be loaded (the toolbox, Model Builder, ``runAndLoadResults``)."""
        if not context.willLoadLayerOnCompletion(gpkg):
            return
        layers = context.layersToLoadOnCompletion()
        details = layers.pop(gpkg)
        layers[f"{gpkg}|layername={LOADED_LAYER}"] = details
        context.setLayersToLoadOnCompletion(layers)
