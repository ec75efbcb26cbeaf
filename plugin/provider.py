"""The Processing provider "SAR offset tracking" (id ``sarots``)."""

from __future__ import annotations

from qgis.core import Qgis, QgsMessageLog, QgsProcessingModelAlgorithm, QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from . import PLUGIN_ROOT, RESOURCES, icon_path
from .algorithms import algorithm_classes
from .scheduler import add_settings, remove_settings

#: Model Builder models shipped with the plugin, offered as algorithms of the provider
MODELS = RESOURCES / "models"

PROVIDER_ID = "sarots"
PROVIDER_NAME = "SAR offset tracking"


def plugin_version() -> str:
    """Return the plugin version from metadata.txt (the core reads the same file)."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(PLUGIN_ROOT / "metadata.txt", encoding="utf-8")
    return parser.get("general", "version", fallback="0+unknown").strip()


class SarOffsetTrackingProvider(QgsProcessingProvider):
    """Holds one algorithm per step of the offset-tracking chain, and the plugin's Processing settings."""

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

    def load(self) -> bool:
        """Register the provider's Processing settings (the Dask scheduler), then load the algorithms.

        The settings are listed under Settings > Options > Processing > Providers > SAR offset
        tracking (see :mod:`plugin.scheduler`).
        """
        add_settings(self.name(), self.icon())
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        """Unregister the Processing settings (QGIS keeps their saved values)."""
        remove_settings()

    def loadAlgorithms(self) -> None:  # noqa: N802 - QGIS API
        for cls in algorithm_classes():
            self.addAlgorithm(cls())
        for path in sorted(MODELS.glob("*.model3")):
            self.add_model(path)

    def add_model(self, path: object) -> bool:
        """Add the model in ``path`` (a .model3) as algorithm ``sarots:<model name>``.

        Its child algorithms are looked up when an instance is created to run (the provider is
        not registered yet while it loads), so the model runs like any other algorithm.
        """
        model = QgsProcessingModelAlgorithm()
        if not model.fromFile(str(path)):
            QgsMessageLog.logMessage(f"{path}: not a readable Processing model", PROVIDER_NAME, Qgis.Warning)
            return False
        model.setSourceFilePath(str(path))
        return self.addAlgorithm(model)
