"""The Processing provider "SAR offset tracking" (id ``sarots``)."""

from __future__ import annotations

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from . import PLUGIN_ROOT, icon_path
from .algorithms import algorithm_classes

PROVIDER_ID = "sarots"
PROVIDER_NAME = "SAR offset tracking"


def plugin_version() -> str:
    """Return the plugin version from metadata.txt (the core reads the same file)."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(PLUGIN_ROOT / "metadata.txt", encoding="utf-8")
    return parser.get("general", "version", fallback="0+unknown").strip()


class SarOffsetTrackingProvider(QgsProcessingProvider):
    """Holds one algorithm per step of the offset-tracking chain."""

    def id(self) -> str:
        return PROVIDER_ID

    def name(self) -> str:
        return PROVIDER_NAME

    def longName(self) -> str:  # noqa: N802 - QGIS API
        return f"{PROVIDER_NAME} {plugin_version()}"

    def versionInfo(self) -> str:  # noqa: N802 - QGIS API
        return plugin_version()

    def icon(self) -> QIcon:
        return QIcon(icon_path())

    def svgIconPath(self) -> str:  # noqa: N802 - QGIS API
        return icon_path()

    def loadAlgorithms(self) -> None:  # noqa: N802 - QGIS API
        for cls in algorithm_classes():
            self.addAlgorithm(cls())
