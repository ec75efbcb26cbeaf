"""The plugin loads in QGIS 3.22, registers its Processing provider and unloads cleanly."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from qgis.core import QgsApplication, QgsProcessingProvider

pytestmark = pytest.mark.qgis

EXPECTED_ALGORITHMS = {"sarots:geo2rdr", "sarots:rdr2geo", "sarots:lookup"}


def test_package_import_is_lazy(plugin_package) -> None:
    """Importing the plugin package loads neither QGIS, the provider nor the core (fresh process)."""
    plugins_dir = Path(plugin_package.__file__).parent.parent
    script = (
        "import sys; import sar_offset_tracking as p; assert callable(p.classFactory); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('qgis', 'processing_core') or m.startswith('sar_offset_tracking.')))"
    )
    result = subprocess.run(
        ["/usr/bin/python3", "-c", script],
        cwd=plugins_dir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_class_factory_returns_plugin(plugin_package, qgis_iface) -> None:
    plugin = plugin_package.classFactory(qgis_iface)
    for method in ("initGui", "initProcessing", "unload"):
        assert callable(getattr(plugin, method))
    assert plugin.iface is qgis_iface


def test_provider_registered_with_name_and_icon(loaded_plugin, registry) -> None:
    provider = registry.providerById("sarots")
    assert isinstance(provider, QgsProcessingProvider)
    assert provider.name() == "SAR offset tracking"
    assert provider.id() == "sarots"
    assert not provider.icon().isNull()
    icon_file = Path(provider.svgIconPath())
    assert icon_file.suffix == ".svg"
    assert icon_file.is_file()
    assert provider.versionInfo() == provider.longName().split()[-1]


def test_provider_lists_algorithms(loaded_plugin, registry) -> None:
    provider = registry.providerById("sarots")
    ids = {alg.id() for alg in provider.algorithms()}
    assert EXPECTED_ALGORITHMS <= ids
    for alg_id in EXPECTED_ALGORITHMS:
        assert registry.algorithmById(alg_id) is not None, alg_id


def test_init_processing_is_idempotent(loaded_plugin, registry) -> None:
    before = len(registry.providers())
    loaded_plugin.initProcessing()
    loaded_plugin.initGui()
    assert len(registry.providers()) == before
    assert [p.id() for p in registry.providers()].count("sarots") == 1


def test_unload_removes_provider(plugin_package, qgis_iface, registry) -> None:
    plugin = plugin_package.classFactory(qgis_iface)
    plugin.initProcessing()
    assert registry.providerById("sarots") is not None
    plugin.unload()
    assert registry.providerById("sarots") is None
    assert registry.algorithmById("sarots:geo2rdr") is None
    plugin.unload()  # a second unload is harmless
    # and the plugin can be loaded again (QGIS "reload plugin")
    plugin.initProcessing()
    assert registry.providerById("sarots") is not None
    plugin.unload()
    assert registry.providerById("sarots") is None


def test_unload_removes_the_processing_settings(plugin_package, qgis_iface, qgis_processing) -> None:
    """The provider's Dask settings are in Processing's configuration while it is registered."""
    from processing.core.ProcessingConfig import ProcessingConfig

    names = {"SAROTS_DASK_SCHEDULER", "SAROTS_DASK_WORKERS"}
    plugin = plugin_package.classFactory(qgis_iface)
    plugin.initProcessing()
    try:
        assert {s.name for s in ProcessingConfig.getSettings()["SAR offset tracking"]} == names
    finally:
        plugin.unload()
    assert not names & set(ProcessingConfig.settings)
    assert "SAR offset tracking" not in ProcessingConfig.getSettings()


def test_processing_framework_sees_provider(loaded_plugin, qgis_processing) -> None:
    """With the Processing plugin initialised (as in QGIS desktop) the provider is still there."""
    assert QgsApplication.processingRegistry().providerById("sarots") is not None
    assert QgsApplication.processingRegistry().providerById("native") is not None


def test_core_resolves_to_the_shipped_copy(loaded_plugin, plugin_package) -> None:
    import processing_core

    shipped = Path(plugin_package.__file__).resolve().parent / "processing_core"
    assert Path(processing_core.__file__).resolve().parent == shipped
