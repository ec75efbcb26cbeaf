"""Fixtures for the QGIS tier: the plugin imported the way QGIS imports it."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PLUGIN_DIR_NAME = "sar_offset_tracking"


@pytest.fixture(scope="session")
def plugin_package(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The checkout imported as the package ``sar_offset_tracking`` (as QGIS names it).

    A temporary plugins folder holds a symlink ``sar_offset_tracking -> checkout``; QGIS does
    the same with its profile's python/plugins folder.
    """
    plugins = tmp_path_factory.mktemp("plugins")
    (plugins / PLUGIN_DIR_NAME).symlink_to(REPO_ROOT, target_is_directory=True)
    sys.path.insert(0, str(plugins))
    try:
        yield importlib.import_module(PLUGIN_DIR_NAME)
    finally:
        sys.path.remove(str(plugins))


@pytest.fixture(scope="session")
def gui_iface(qgis_iface: object) -> object:
    """pytest-qgis' stub ``QgisInterface`` completed with the GUI calls the plugin makes.

    The stub ignores plugin menus, toolbar icons and docks and lacks ``removePluginMenu`` and
    ``removeDockWidget``; here menus and icons are recorded in ``menu_actions`` /
    ``toolbar_actions`` and docks really go into (and out of) the stub's main window, so tests
    can check that unloading leaves nothing behind.
    """
    iface = qgis_iface
    if getattr(iface, "menu_actions", None) is None:
        main = iface.mainWindow()
        iface.menu_actions = []
        iface.toolbar_actions = []

        def add_menu(name: str, action: object) -> None:
            iface.menu_actions.append((name, action))

        def remove_menu(name: str, action: object) -> None:
            iface.menu_actions.remove((name, action))

        iface.addPluginToMenu = add_menu
        iface.removePluginMenu = remove_menu
        iface.addToolBarIcon = iface.toolbar_actions.append
        iface.removeToolBarIcon = iface.toolbar_actions.remove
        iface.addDockWidget = main.addDockWidget
        iface.removeDockWidget = main.removeDockWidget
    return iface


@pytest.fixture
def loaded_plugin(plugin_package: ModuleType, gui_iface: object):
    """A plugin instance after ``initGui()``; unloaded again after the test."""
    plugin = plugin_package.classFactory(gui_iface)
    plugin.initGui()
    try:
        yield plugin
    finally:
        plugin.unload()


@pytest.fixture
def registry(qgis_app: object):
    from qgis.core import QgsApplication

    return QgsApplication.processingRegistry()


@pytest.fixture(scope="module")
def provider(plugin_package: ModuleType, qgis_iface: object, qgis_processing: object):
    """The ``sarots`` provider, registered by ``initProcessing()`` for the module's tests
    (run them with ``processing.run``)."""
    from qgis.core import QgsApplication

    plugin = plugin_package.classFactory(qgis_iface)
    plugin.initProcessing()
    yield QgsApplication.processingRegistry().providerById("sarots")
    plugin.unload()
