"""Common base of the provider's algorithms: naming, groups, help, icons, instances."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from .. import icon_path
from ..corebridge import FeedbackProgress, core_errors, core_function, require_file

HOMEPAGE = "https://github.com/sar-offset-tracking/sar-offset-tracking"
CSV_FILTER = "CSV files (*.csv *.txt);;All files (*.*)"
CSV_OUT_FILTER = "CSV files (*.csv)"


class SarAlgorithm(QgsProcessingAlgorithm):
    """Subclasses set the class attributes and write ``initAlgorithm``/``processAlgorithm``."""

    #: algorithm name within the provider (the id is ``sarots:<NAME>``)
    NAME = ""
    #: title shown in the Processing toolbox
    DISPLAY_NAME = ""
    GROUP = ""
    GROUP_ID = ""
    #: file stem under resources/icons
    ICON = "icon"
    #: help text (simple HTML), shown beside the parameters
    HELP = ""

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("SarOffsetTracking", text)

    def name(self) -> str:
        return self.NAME

    def displayName(self) -> str:  # noqa: N802 - QGIS API
        return self.tr(self.DISPLAY_NAME)

    def group(self) -> str:
        return self.tr(self.GROUP)

    def groupId(self) -> str:  # noqa: N802 - QGIS API
        return self.GROUP_ID

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API
        return self.tr(self.HELP)

    def helpUrl(self) -> str:  # noqa: N802 - QGIS API
        return f"{HOMEPAGE}#processing-algorithms"

    def icon(self) -> QIcon:
        return QIcon(icon_path(self.ICON))

    def svgIconPath(self) -> str:  # noqa: N802 - QGIS API
        return icon_path(self.ICON)

    def createInstance(self) -> SarAlgorithm:  # noqa: N802 - QGIS API
        return type(self)()


class PointsCsvAlgorithm(SarAlgorithm):
    """A scene sidecar plus a points CSV in, a points CSV out (geo2rdr, rdr2geo)."""

    SCENE = "SCENE"
    POINTS = "POINTS"
    OUTPUT = "OUTPUT"
    COUNT = "COUNT"

    GROUP = "Geometry"
    GROUP_ID = "geometry"
    #: core function in ``processing_core.pointsio``: f(scene, points_csv, out_csv, *, progress) -> int
    CORE_FUNCTION = ""
    POINTS_DESCRIPTION = "Points CSV"
    OUTPUT_DESCRIPTION = "Output CSV"

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API
        self.addParameter(
            QgsProcessingParameterFile(
                self.SCENE,
                self.tr("Scene sidecar (sar-scene/1 JSON)"),
                behavior=QgsProcessingParameterFile.File,
                extension="json",
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                self.POINTS,
                self.tr(self.POINTS_DESCRIPTION),
                behavior=QgsProcessingParameterFile.File,
                fileFilter=CSV_FILTER,
            )
        )
        self.addParameter(
            QgsProcessingParameterFileDestination(
                self.OUTPUT, self.tr(self.OUTPUT_DESCRIPTION), CSV_OUT_FILTER
            )
        )
        self.addOutput(QgsProcessingOutputNumber(self.COUNT, self.tr("Number of points written")))

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict:
        scene = require_file(self.parameterAsFile(parameters, self.SCENE, context), "Scene sidecar")
        points = require_file(self.parameterAsFile(parameters, self.POINTS, context), "Points CSV")
        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        function = core_function("pointsio", self.CORE_FUNCTION)
        with core_errors():
            count = function(str(scene), str(points), out, progress=FeedbackProgress(feedback))
        feedback.pushInfo(f"{count} points written to {out}")
        return {self.OUTPUT: out, self.COUNT: count}
