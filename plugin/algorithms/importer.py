"""``sarots:import``: SAR products (a folder of them and/or a list of files) into a stack folder."""

from __future__ import annotations

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterString,
)

from ..corebridge import core_function
from .base import StackAlgorithm


class ImportProductsAlgorithm(StackAlgorithm):
    FOLDER = "FOLDER"
    FILES = "FILES"
    MULTILOOK = "MULTILOOK"
    POLARIZATION = "POLARIZATION"
    OUTPUT = "OUTPUT"
    SCENES = "SCENES"
    IMPORTED = "IMPORTED"
    PLATFORMS = "PLATFORMS"

    NAME = "import"
    DISPLAY_NAME = "Import SAR products into a stack"
    GROUP_ID = "import"
    HELP = (
        "Reads SAR scenes of one or several platforms, with their orbits and timing, into a stack "
        "folder that the other algorithms work on: ALOS PALSAR-1 and ALOS-2 PALSAR-2 CEOS Level "
        "1.1 and 1.5 (folders, zips or their LED- files), Sentinel-1 SAFE (folders or zips, with "
        "optional precise orbit <code>.EOF</code> files) and rasters in radar geometry with a "
        "hand-written <code>sar-scene/1</code> sidecar (<code>*.json</code>). Every scene is "
        "written in the interchange format (amplitude GeoTIFF + sidecar) and listed in "
        "<code>stack.json</code>, sorted by date.<br><br>"
        "<b>Folder of products</b>: searched three levels deep for any of these (other files are "
        "skipped); <b>and/or product files</b>: a list of files. Give at least one of the two.<br>"
        "<b>Multilook</b>: looks averaged into each pixel, <code>AZxRG</code> (azimuth x range, "
        "e.g. <code>5x1</code> for PALSAR-1 FBS SLCs; empty or <code>1x1</code>: none).<br>"
        "<b>Advanced</b>: the polarisation to import (default: each product's first "
        "co-polarised one).<br><br>"
        "<b>Output stack folder</b>: <code>stack.json</code> and <code>scenes/&lt;id&gt;.tif</code> "
        "+ <code>&lt;id&gt;.json</code> (ids <code>&lt;SENSOR&gt;_&lt;YYYYMMDD&gt;</code>). A "
        "folder that holds a stack already is added to; products imported before with the same "
        "options, unchanged since, are skipped. Masters are chosen by the next step, "
        "<i>Select masters and offset pairs</i>.<br><br>"
        "Same as the command line <code>python3 -m processing_core import</code>."
    )

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API
        self.addParameter(
            QgsProcessingParameterFile(
                self.FOLDER,
                self.tr("Folder of products (CEOS, SAFE, zips, sar-scene/1 sidecars)"),
                behavior=QgsProcessingParameterFile.Folder,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterMultipleLayers(
                self.FILES,
                self.tr("and/or product files (LED- files, zips, *.json sidecars, .EOF orbits)"),
                QgsProcessing.TypeFile,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                self.MULTILOOK, self.tr("Multilook, azimuth x range looks (AZxRG)"), "1x1", optional=True
            )
        )
        self.add_advanced(
            QgsProcessingParameterString(
                self.POLARIZATION,
                self.tr("Polarisation (empty: each product's first co-polarised one)"),
                optional=True,
            )
        )
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT, self.tr("Stack folder")))
        self.add_stack_output()
        self.addOutput(QgsProcessingOutputNumber(self.SCENES, self.tr("Number of scenes in the stack")))
        self.addOutput(QgsProcessingOutputNumber(self.IMPORTED, self.tr("Scenes imported by this run")))
        self.addOutput(
            QgsProcessingOutputString(self.PLATFORMS, self.tr("Platforms, by date (comma separated)"))
        )

    def looks(self, parameters: dict, context: QgsProcessingContext) -> tuple[int, int] | None:
        """The MULTILOOK parameter as (azimuth, range) looks; None when empty."""
        text = (self.parameterAsString(parameters, self.MULTILOOK, context) or "").strip()
        if not text:
            return None
        try:
            return core_function("commands.importing", "parse_looks")(text)
        except ValueError:
            raise QgsProcessingException(
                f"Multilook: expected AZxRG with positive integers (e.g. 5x1), got {text!r}"
            ) from None

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict:
        folder = self.parameterAsFile(parameters, self.FOLDER, context)
        # QGIS 3.22 gives [''] for an empty file list
        files = [path for path in self.parameterAsFileList(parameters, self.FILES, context) if path]
        inputs = ([folder] if folder else []) + files
        if not inputs:
            raise QgsProcessingException(
                "No products given: choose a folder of products and/or product files"
            )
        looks = self.looks(parameters, context)
        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        stack = self.run_core(
            "readers.importer",
            "import_products",
            inputs,
            out,
            multilook=looks,
            polarization=self.parameterAsString(parameters, self.POLARIZATION, context) or None,
            feedback=feedback,
        )
        step = stack.provenance[-1]["arguments"]
        for entry in stack.scenes:
            feedback.pushInfo(f"{entry.date}  {entry.platform:8s} {entry.id}")
        for path in step["skipped"]:
            feedback.pushWarning(f"skipped (not a SAR product): {path}")
        feedback.pushInfo(
            f"{len(step['imported'])} scene(s) imported, {len(step['unchanged'])} up to date, "
            f"{len(stack.scenes)} in {out}"
        )
        platforms = list(dict.fromkeys(entry.platform for entry in stack.scenes))
        return {
            self.OUTPUT: out,
            self.STACK: out,
            self.SCENES: len(stack.scenes),
            self.IMPORTED: len(step["imported"]),
            self.PLATFORMS: ",".join(platforms),
        }
