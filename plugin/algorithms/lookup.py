"""``sarots:lookup``: DEM<->radar lookup tables, incidence, layover/shadow, simulated intensity."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
)

from ..corebridge import require_file
from .base import DEM_VERTICAL_OPTIONS, SarAlgorithm, gdal_path_of

__all__ = ["DEM_VERTICAL_OPTIONS", "LookupTablesAlgorithm", "gdal_path_of"]


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
        self.add_dem_parameter(self.DEM, description="DEM")
        self.add_enum(self.DEM_VERTICAL, "DEM heights", DEM_VERTICAL_OPTIONS)
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
        dem_path = self.dem_path(parameters, context, self.DEM)
        dem_vertical = self.enum_value(parameters, self.DEM_VERTICAL, DEM_VERTICAL_OPTIONS, context)
        ground_lut = self.parameterAsBool(parameters, self.GROUND_LUT, context)
        out_dir = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        written = self.run_core(
            "lookup",
            "write_lookup_tables",
            str(scene),
            dem_path,
            out_dir,
            dem_vertical=dem_vertical,
            ground_lut=ground_lut,
            feedback=feedback,
        )
        files = [str(path) for path in written]
        for path in files:
            feedback.pushInfo(f"written: {path}")
        return {self.OUTPUT: out_dir, self.FILES: files}
