"""``sarots:geocode``: radar-geometry rasters of a stack to a map CRS through the DEM lookup table."""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingParameterCrs,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
)

from ..corebridge import require_file
from .base import SarAlgorithm, StackAlgorithm, gdal_path_of
from .invert import add_product_outputs, product_results

RESAMPLING_OPTIONS: tuple[tuple[str, str], ...] = (
    ("auto", "automatic: nearest for counts and masks, bilinear otherwise"),
    ("bilinear", "bilinear"),
    ("nearest", "nearest neighbour"),
)


def epsg_of(authid: str) -> int:
    """``"EPSG:32611"`` -> 32611; ``QgsProcessingException`` for CRSs without an EPSG code."""
    authority, _, code = authid.partition(":")
    if authority.upper() != "EPSG" or not code.isdigit():
        raise QgsProcessingException(f"Target CRS: needs a CRS with an EPSG code, got '{authid or 'custom'}'")
    return int(code)


def add_target_grid_parameters(alg: SarAlgorithm, crs: str = "CRS", resolution: str = "RESOLUTION") -> None:
    """The optional target CRS of geocoding and its cell size (read with :func:`target_grid`)."""
    alg.addParameter(
        QgsProcessingParameterCrs(
            crs, alg.tr("Target CRS (empty: the DEM's CRS and cell size)"), optional=True
        )
    )
    alg.add_numbers([(resolution, "Cell size in the target CRS's units (with a target CRS)", None, 0.0)])


def target_grid(
    alg: SarAlgorithm,
    parameters: dict,
    context: QgsProcessingContext,
    crs: str = "CRS",
    resolution: str = "RESOLUTION",
) -> tuple[int | None, float | None]:
    """(EPSG code, cell size) of the parameters made by :func:`add_target_grid_parameters`;
    (None, None) for the DEM's grid. Both or neither must be given."""
    chosen = alg.parameterAsCrs(parameters, crs, context)
    epsg = epsg_of(chosen.authid()) if chosen.isValid() else None
    cell = alg.optional_number(parameters, resolution)
    if (epsg is None) != (cell is None):
        raise QgsProcessingException("Give a target CRS and its cell size together, or neither (DEM grid)")
    return epsg, cell


class GeocodeAlgorithm(StackAlgorithm):
    INPUT = "INPUT"
    CRS = "CRS"
    RESOLUTION = "RESOLUTION"
    RESAMPLING = "RESAMPLING"
    LUT = "LUT"
    OUTPUT = "OUTPUT"
    FILES = "FILES"

    NAME = "geocode"
    DISPLAY_NAME = "Geocode time series (radar geometry to map)"
    GROUP_ID = "timeseries"
    HELP = (
        "Resamples rasters in the final master's radar geometry (time series, rates, offset "
        "fields; full resolution or an offset grid) onto a map grid through the DEM lookup table "
        "the rectification wrote: every map cell takes the value at the radar position of its "
        "ground point. Cells the radar raster does not cover are no-data; band names "
        "(<code>DYYYYMMDD</code>) and metadata are kept.<br><br>"
        "<b>Stack folder</b>: a rectified stack (its <code>geometry/dem_lut.tif</code>).<br>"
        "<b>Rasters</b>: the radar-geometry rasters to geocode (empty: every "
        "<code>timeseries/*.tif</code>).<br>"
        "<b>Target CRS</b> (empty: the DEM's CRS and cell size) with its <b>cell size</b> in the "
        "CRS's units (metres for UTM).<br>"
        "<b>Advanced</b>: resampling (bilinear for values, nearest for counts and masks), another "
        "lookup table.<br><br>"
        "<b>Output folder</b> (empty: <code>STACK/geocoded/</code>): one GeoTIFF per input, "
        "same name (<code>_epsgN</code> added with a target CRS). The displacement and rate "
        "layers load with a diverging colour ramp centred on zero (legend in m or m/yr).<br><br>"
        "Same as the command line <code>python3 -m processing_core geocode</code>."
    )

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API
        self.add_stack_parameter()
        self.addParameter(
            QgsProcessingParameterMultipleLayers(
                self.INPUT,
                self.tr("Rasters in radar geometry (empty: every timeseries/*.tif)"),
                QgsProcessing.TypeRaster,
                optional=True,
            )
        )
        add_target_grid_parameters(self, self.CRS, self.RESOLUTION)
        self.add_enum(self.RESAMPLING, "Resampling", RESAMPLING_OPTIONS, advanced=True)
        self.add_advanced(
            QgsProcessingParameterFile(
                self.LUT,
                self.tr("DEM lookup table (empty: STACK/geometry/dem_lut.tif)"),
                extension="tif",
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterFolderDestination(
                self.OUTPUT,
                self.tr("Output folder (empty: STACK/geocoded)"),
                optional=True,
                createByDefault=False,
            )
        )
        self.add_stack_output()
        self.addOutput(QgsProcessingOutputMultipleLayers(self.FILES, self.tr("Geocoded rasters")))
        add_product_outputs(self, "Geocoded ")

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict:
        stack = self.stack_path(parameters, context)
        inputs = [
            gdal_path_of(layer.source())
            for layer in self.parameterAsLayerList(parameters, self.INPUT, context)
        ]
        epsg, resolution = target_grid(self, parameters, context, self.CRS, self.RESOLUTION)
        lut = self.parameterAsFile(parameters, self.LUT, context)
        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context) or str(stack / "geocoded")
        written = self.run_core(
            "geocode",
            "geocode_stack",
            str(stack),
            inputs or None,
            lut=str(require_file(lut, "DEM lookup table")) if lut else None,
            epsg=epsg,
            resolution=resolution,
            resampling=self.enum_value(parameters, self.RESAMPLING, RESAMPLING_OPTIONS, context),
            out_dir=out,
            feedback=feedback,
        )
        feedback.pushInfo(f"{len(written)} rasters geocoded into {out}")
        suffix = "" if epsg is None else f"_epsg{epsg}"
        return {
            self.STACK: str(stack),
            self.OUTPUT: out,
            self.FILES: [str(p) for p in written],
            **product_results(self, Path(out), context, prefix="Geocoded ", suffix=suffix, only=written),
        }
