"""``sarots:lookup``: DEM<->radar lookup tables, incidence, layover/shadow, simulated intensity."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterRasterLayer,
)

from ..corebridge import FeedbackProgress, core_errors, core_function, require_file
from .base import SarAlgorithm

#: (core value of ``dem_vertical``, label) in the order of the enum parameter
DEM_VERTICAL_OPTIONS: tuple[tuple[str, str], ...] = (
    ("egm96", "EGM96 geoid heights (SRTM, most DEMs)"),
    ("ellipsoid", "WGS84 ellipsoid heights"),
)


def gdal_path_of(source: str) -> str:
    """Return what GDAL opens for a QGIS ``gdal`` layer source (drops ``|option:...`` suffixes)."""
    return source.split("|", 1)[0]


class LookupTablesAlgorithm(SarAlgorithm):
    SCENE = "SCENE"
    DEM = "DEM"
    DEM_VERTICAL = "DEM_VERTICAL"
    GROUND_LUT = "GROUND_LUT"
    OUTPUT = "OUTPUT"
    FILES = "FILES"

    NAME = "lookup"
    DISPLAY_NAME = "DEM lookup tables and simulated intensity"
    GROUP = "Geometry"
    GROUP_ID = "geometry"
    ICON = "lookup"
    HELP = (
        "Projects a DEM into the geometry of a SAR scene through the Range-Doppler equations "
        "(step i of Liu et al. 2020) and writes GeoTIFFs to the output folder:<br>"
        "<code>dem_lut.tif</code> (DEM grid): radar line and sample of every DEM cell, incidence "
        "and local incidence angles;<br>"
        "<code>layover_shadow.tif</code> (DEM grid): bit 1 layover, bit 2 shadow, 255 outside "
        "the scene;<br>"
        "<code>simulated_intensity.tif</code> (radar grid): the DEM-simulated SAR intensity that "
        "later refines the geometry by matching it against the real image;<br>"
        "<code>ground_lut.tif</code> (radar grid, optional): latitude, longitude and height of "
        "every radar pixel, used for geocoding.<br><br>"
        "<b>Scene sidecar</b>: the scene's JSON sidecar in the sar-scene/1 interchange format.<br>"
        "<b>DEM</b>: any GDAL raster with a CRS covering the scene, e.g. SRTM 30 m.<br>"
        "<b>DEM heights</b>: SRTM and most global DEMs give heights above the EGM96 geoid; they "
        "are converted to ellipsoidal heights. Choose the ellipsoid when the DEM already holds "
        "ellipsoidal heights.<br><br>"
        "Same as the command line <code>python3 -m processing_core lookup</code>."
    )

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API
        self.addParameter(
            QgsProcessingParameterFile(
                self.SCENE,
                self.tr("Scene sidecar (sar-scene/1 JSON)"),
                behavior=QgsProcessingParameterFile.File,
                extension="json",
            )
        )
        self.addParameter(QgsProcessingParameterRasterLayer(self.DEM, self.tr("DEM")))
        self.addParameter(
            QgsProcessingParameterEnum(
                self.DEM_VERTICAL,
                self.tr("DEM heights"),
                options=[self.tr(label) for _, label in DEM_VERTICAL_OPTIONS],
                defaultValue=0,
            )
        )
        self.addParameter(
            QgsProcessingParameterBoolean(
                self.GROUND_LUT,
                self.tr(
                    "Also write the radar-to-ground table ground_lut.tif (lat, lon, height per radar pixel)"
                ),
                defaultValue=True,
            )
        )
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT, self.tr("Output folder")))
        self.addOutput(QgsProcessingOutputMultipleLayers(self.FILES, self.tr("Written rasters")))

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict:
        scene = require_file(self.parameterAsFile(parameters, self.SCENE, context), "Scene sidecar")
        dem_layer = self.parameterAsRasterLayer(parameters, self.DEM, context)
        if dem_layer is None or not dem_layer.isValid():
            raise QgsProcessingException(self.invalidRasterError(parameters, self.DEM))
        if dem_layer.providerType() != "gdal":
            raise QgsProcessingException(
                f"DEM {dem_layer.name()}: needs a GDAL raster (file), not a '{dem_layer.providerType()}' layer"
            )
        dem_path = gdal_path_of(dem_layer.source())
        dem_vertical = DEM_VERTICAL_OPTIONS[self.parameterAsEnum(parameters, self.DEM_VERTICAL, context)][0]
        ground_lut = self.parameterAsBool(parameters, self.GROUND_LUT, context)
        out_dir = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        write_lookup_tables = core_function("lookup", "write_lookup_tables")
        with core_errors():
            written = write_lookup_tables(
                str(scene),
                dem_path,
                out_dir,
                dem_vertical=dem_vertical,
                ground_lut=ground_lut,
                progress=FeedbackProgress(feedback),
            )
        files = [str(path) for path in written]
        for path in files:
            feedback.pushInfo(f"written: {path}")
        return {self.OUTPUT: out_dir, self.FILES: files}
