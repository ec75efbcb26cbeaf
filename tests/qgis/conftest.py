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


@pytest.fixture
def loaded_plugin(plugin_package: ModuleType, qgis_iface: object):
    """A plugin instance after ``initGui()``; unloaded again after the test."""
    plugin = plugin_package.classFactory(qgis_iface)
    plugin.initGui()
    try:
        yield plugin
    finally:
        plugin.unload()


@pytest.fixture
def registry(qgis_app: object):
    from qgis.core import QgsApplication

    return QgsApplication.processingRegistry()
