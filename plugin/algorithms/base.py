"""Common base of the provider's algorithms: naming, groups, help, icons, instances."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputFolder,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsRasterLayer,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from .. import icon_path
from ..corebridge import FeedbackProgress, core_errors, core_function, require_file, require_stack

HOMEPAGE = "https://github.com/sar-offset-tracking/sar-offset-tracking"
CSV_FILTER = "CSV files (*.csv *.txt);;All files (*.*)"
CSV_OUT_FILTER = "CSV files (*.csv)"

#: group id -> title in the toolbox; one icon per group: resources/icons/group_<id>.svg
GROUPS: dict[str, str] = {
    "import": "Import",
    "geometry": "Geometry",
    "offsets": "Offset tracking",
    "timeseries": "Time series",
    "analysis": "Analysis",
    "simulation": "Simulation",
}

#: (core value of ``dem_vertical``, label) in the order of the enum parameter
DEM_VERTICAL_OPTIONS: tuple[tuple[str, str], ...] = (
    ("egm96", "EGM96 geoid heights (SRTM, most DEMs)"),
    ("ellipsoid", "WGS84 ellipsoid heights"),
)


def gdal_path_of(source: str) -> str:
    """Return what GDAL opens for a QGIS ``gdal`` layer source (drops ``|option:...`` suffixes)."""
    return source.split("|", 1)[0]


def raster_path_problem(value: object) -> str:
    """What is wrong with ``value`` as a raster file path ("" when fine or not a path)."""
    if not isinstance(value, str) or not value:
        return ""
    path = Path(gdal_path_of(value))
    if not (path.suffix or len(path.parts) > 1):
        return ""  # a layer id or name, resolved by QGIS
    if not path.exists():
        return f"file not found: {path}"
    if path.is_file() and not QgsRasterLayer(str(path), path.stem, "gdal").isValid():
        return f"not a raster GDAL can read: {path}"
    return ""


class SarAlgorithm(QgsProcessingAlgorithm):
    """Subclasses set the class attributes and write ``initAlgorithm``/``processAlgorithm``."""

    #: algorithm name within the provider (the id is ``sarots:<NAME>``)
    NAME = ""
    #: title shown in the Processing toolbox
    DISPLAY_NAME = ""
    #: group title (default: ``GROUPS[GROUP_ID]``)
    GROUP = ""
    GROUP_ID = ""
    #: file stem under resources/icons (default: the group's icon, ``group_<GROUP_ID>``)
    ICON = ""
    #: help text (simple HTML), shown beside the parameters
    HELP = ""

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("SarOffsetTracking", text)

    def name(self) -> str:
        return self.NAME

    def displayName(self) -> str:  # noqa: N802 - QGIS API
        return self.tr(self.DISPLAY_NAME)

    def group(self) -> str:
        return self.tr(self.GROUP or GROUPS.get(self.GROUP_ID, ""))

    def groupId(self) -> str:  # noqa: N802 - QGIS API
        return self.GROUP_ID

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API
        return self.tr(self.HELP)

    def helpUrl(self) -> str:  # noqa: N802 - QGIS API
        return f"{HOMEPAGE}#processing-algorithms"

    def icon(self) -> QIcon:
        return QIcon(self.svgIconPath())

    def svgIconPath(self) -> str:  # noqa: N802 - QGIS API
        return icon_path(self.ICON or f"group_{self.GROUP_ID}")

    def createInstance(self) -> SarAlgorithm:  # noqa: N802 - QGIS API
        return type(self)()

    def checkParameterValues(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext
    ) -> tuple[bool, str]:
        """QGIS's checks, but a raster given as a path that is missing or unreadable is named as such
        (QGIS 3.22 says "not found" for both)."""
        for definition in self.parameterDefinitions():
            if isinstance(definition, QgsProcessingParameterRasterLayer):
                problem = raster_path_problem(parameters.get(definition.name()))
                if problem:
                    return False, f"{definition.description()}: {problem}"
        return super().checkParameterValues(parameters, context)

    # -- parameter helpers shared by the algorithms ------------------------------------------

    def add_advanced(self, parameter: QgsProcessingParameterDefinition, advanced: bool = True) -> None:
        """Add ``parameter``, under "Advanced parameters" (expert options) when ``advanced``."""
        if advanced:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(parameter)

    def add_numbers(
        self, rows: Sequence[tuple[str, str, float | None, float | None]], *, advanced: bool = False
    ) -> None:
        """Number parameters from ``(name, label with unit, default, minimum)`` rows.

        An integer default makes an integer parameter; a None default an optional one.
        """
        for name, label, default, minimum in rows:
            kind = (
                QgsProcessingParameterNumber.Integer
                if isinstance(default, int)
                else QgsProcessingParameterNumber.Double
            )
            extra: dict[str, Any] = {"optional": True} if default is None else {}
            if minimum is not None:
                extra["minValue"] = minimum
            self.add_advanced(
                QgsProcessingParameterNumber(name, self.tr(label), kind, default, **extra), advanced
            )

    def add_flags(self, rows: Sequence[tuple[str, str, bool]], *, advanced: bool = False) -> None:
        """Boolean parameters from ``(name, label, default)`` rows."""
        for name, label, default in rows:
            self.add_advanced(QgsProcessingParameterBoolean(name, self.tr(label), default), advanced)

    def add_enum(
        self,
        name: str,
        description: str,
        options: Sequence[tuple[str, str]],
        *,
        default: int = 0,
        advanced: bool = False,
    ) -> None:
        """An enum parameter over ``(core value, label)`` pairs; read it with :meth:`enum_value`."""
        parameter = QgsProcessingParameterEnum(
            name, self.tr(description), options=[self.tr(label) for _, label in options], defaultValue=default
        )
        self.add_advanced(parameter, advanced)

    def enum_value(
        self,
        parameters: dict,
        name: str,
        options: Sequence[tuple[str, str]],
        context: QgsProcessingContext,
    ) -> str:
        """The core value chosen in the enum parameter ``name`` made by :meth:`add_enum`."""
        return options[self.parameterAsEnum(parameters, name, context)][0]

    def add_dem_parameter(self, name: str = "DEM", *, optional: bool = False, description: str = "") -> None:
        """The DEM as a raster layer (any GDAL raster with a CRS; SRTM 30 m is typical)."""
        text = description or "DEM (raster layer, heights in metres)"
        self.addParameter(QgsProcessingParameterRasterLayer(name, self.tr(text), optional=optional))

    def dem_path(self, parameters: dict, context: QgsProcessingContext, name: str = "DEM") -> str | None:
        """The file GDAL opens for the DEM parameter; None when optional and not given.

        Raises ``QgsProcessingException`` naming the value when the layer cannot be loaded or is
        not a GDAL raster.
        """
        value = parameters.get(name)
        if value is None or value == "":
            if self.parameterDefinition(name).flags() & QgsProcessingParameterDefinition.FlagOptional:
                return None
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None or not layer.isValid():
            raise QgsProcessingException(self.invalidRasterError(parameters, name))
        if layer.providerType() != "gdal":
            raise QgsProcessingException(
                f"DEM {layer.name()}: needs a GDAL raster (file), not a '{layer.providerType()}' layer"
            )
        return gdal_path_of(layer.source())

    @staticmethod
    def optional_number(parameters: dict, name: str) -> float | None:
        """The value of an optional number parameter, None when not given."""
        value = parameters.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise QgsProcessingException(f"{name}: expected a number, got {value!r}") from None

    def platform_days(self, parameters: dict, name: str, context: QgsProcessingContext) -> dict[str, float]:
        """A text parameter ``PLATFORM=DAYS, PLATFORM=DAYS`` as a dict (empty when not given)."""
        text = self.parameterAsString(parameters, name, context) or ""
        out: dict[str, float] = {}
        for item in (part.strip() for part in text.replace(";", ",").split(",")):
            if not item:
                continue
            platform, _, days = item.rpartition("=")
            try:
                value = float(days)
            except ValueError:
                value = -1.0
            if not platform.strip() or value < 0:
                raise QgsProcessingException(
                    f"{self.parameterDefinition(name).description()}: expected PLATFORM=DAYS with DAYS >= 0 "
                    f"(e.g. Sentinel-1A=24), got {item!r}"
                )
            out[platform.strip()] = value
        return out

    def run_core(
        self, module: str, name: str, *args: Any, feedback: QgsProcessingFeedback, **kwargs: Any
    ) -> Any:
        """Call ``processing_core.<module>.<name>(*args, **kwargs, progress=...)``.

        Progress and cancellation go through the feedback; the core's errors (and its
        ``Cancelled``) come out as ``QgsProcessingException`` with the core's message.
        """
        function: Callable[..., Any] = core_function(module, name)
        with core_errors():
            return function(*args, progress=FeedbackProgress(feedback), **kwargs)


class StackAlgorithm(SarAlgorithm):
    """A step that reads and updates a stack folder (``STACK/stack.json``).

    The stack folder comes in as the folder parameter ``STACK`` and goes out again as the
    folder output ``STACK``, so that the Model Builder chains the steps through it.
    """

    STACK = "STACK"

    def add_stack_parameter(self) -> None:
        self.addParameter(
            QgsProcessingParameterFile(
                self.STACK,
                self.tr("Stack folder (the folder holding stack.json)"),
                behavior=QgsProcessingParameterFile.Folder,
            )
        )

    def add_stack_output(self, description: str = "Stack folder") -> None:
        self.addOutput(QgsProcessingOutputFolder(self.STACK, self.tr(description)))

    def stack_path(self, parameters: dict, context: QgsProcessingContext) -> Path:
        """The stack folder, checked to hold a stack.json (``QgsProcessingException`` naming it)."""
        return require_stack(self.parameterAsFile(parameters, self.STACK, context))


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
