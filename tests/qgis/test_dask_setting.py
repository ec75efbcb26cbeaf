"""The plugin-wide Dask scheduler: the provider's Processing settings and their precedence.

``sarots:run``, ``sarots:rectify``, ``sarots:offsets`` and ``sarots:invert`` run through
``processing.run`` with their core entry (``processing_core.chain.run_stack``, ...) replaced by a
recorder, so no cluster starts and no stack is computed: the tests check what the core is given.
"""

from __future__ import annotations

import importlib
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from osgeo import gdal, osr
from qgis.core import QgsProcessingException

pytestmark = pytest.mark.qgis

NAMES = ("SAROTS_DASK_SCHEDULER", "SAROTS_DASK_WORKERS")
DEFAULTS = {"SAROTS_DASK_SCHEDULER": "", "SAROTS_DASK_WORKERS": 0}


def _run(alg: str, params: dict) -> dict:
    import processing

    return processing.run(f"sarots:{alg}", params)


def _config() -> Any:
    from processing.core.ProcessingConfig import ProcessingConfig

    return ProcessingConfig


@pytest.fixture
def scheduler_module(plugin_package: ModuleType) -> ModuleType:
    return importlib.import_module(f"{plugin_package.__name__}.plugin.scheduler")


@pytest.fixture
def settings(provider) -> Any:
    """``set(scheduler=..., workers=...)`` writes the settings as the Options dialog does; reset after."""

    def assign(scheduler: str = "", workers: object = 0) -> None:
        _config().setSettingValue("SAROTS_DASK_SCHEDULER", scheduler)
        _config().setSettingValue("SAROTS_DASK_WORKERS", workers)

    yield SimpleNamespace(set=assign)
    for name, value in DEFAULTS.items():
        _config().setSettingValue(name, value)


@pytest.fixture(scope="module")
def stack_and_dem(tmp_path_factory) -> dict:
    """A folder with a stack.json (the core entry is replaced, so its content is not read) and a tiny DEM."""
    root = tmp_path_factory.mktemp("dask_setting")
    stack = root / "stack"
    stack.mkdir()
    (stack / "stack.json").write_text("{}", encoding="utf-8")
    dem = root / "dem.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(dem), 4, 4, 1, gdal.GDT_Float32)
    ds.SetGeoTransform((400000.0, 30.0, 0.0, 3800000.0, 0.0, -30.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32611)
    ds.SetProjection(srs.ExportToWkt())
    ds.GetRasterBand(1).Fill(100.0)
    ds = None
    return {"stack": str(stack), "dem": str(dem)}


@pytest.fixture
def chain_calls(monkeypatch) -> list:
    """The ``RunOptions`` each ``run_stack`` call got (nothing runs)."""
    import processing_core.chain

    calls: list = []

    def fake_run_stack(stack: str, dem: object, *, options: Any, **kwargs: Any) -> SimpleNamespace:
        calls.append(options)
        return SimpleNamespace(seconds={}, report=None, outputs={})

    monkeypatch.setattr(processing_core.chain, "run_stack", fake_run_stack)
    return calls


#: (algorithm, core module, core entry, what the recorder returns) of the steps that take a scheduler
STEP_ENTRIES = {
    "rectify": (
        "processing_core.rectify",
        "rectify_stack",
        SimpleNamespace(scenes=[], masters={"final": "M"}),
    ),
    "offsets": ("processing_core.offsets", "track_stack", []),
    "invert": (
        "processing_core.timeseries",
        "invert_stack",
        {
            "skipped_run": True,
            "grid": {"rows": 1, "cols": 1, "step_px": 1},
            "dates": [],
            "pairs_used": [],
            "pairs_skipped_no_offsets": [],
        },
    ),
}


@pytest.fixture(params=sorted(STEP_ENTRIES))
def step_calls(request, monkeypatch) -> SimpleNamespace:
    """A step algorithm whose core entry records the ``executor`` of each call (nothing runs)."""
    module, entry, returned = STEP_ENTRIES[request.param]
    calls: list = []

    def recorder(*args: Any, executor: Any = None, **kwargs: Any) -> Any:
        calls.append(executor)
        return returned

    monkeypatch.setattr(importlib.import_module(module), entry, recorder)
    return SimpleNamespace(alg=request.param, calls=calls)


def _chain(stack_and_dem: dict, calls: list, **params: object) -> tuple[str | None, int | None]:
    _run("run", {"STACK": stack_and_dem["stack"], "DEM": stack_and_dem["dem"], **params})
    options = calls[-1]
    return options.scheduler, options.workers


def test_provider_registers_the_settings(provider) -> None:
    """Both settings are in Processing's configuration under the provider's name (its Options group)."""
    groups = _config().getSettings()
    mine = {s.name: s for s in groups[provider.name()]}
    assert set(mine) == set(NAMES)
    assert mine["SAROTS_DASK_SCHEDULER"].description.startswith("Dask scheduler")
    assert mine["SAROTS_DASK_WORKERS"].description.startswith("Dask local workers")
    assert {name: mine[name].default for name in NAMES} == DEFAULTS


def test_run_uses_the_setting_when_the_parameter_is_empty(settings, stack_and_dem, chain_calls) -> None:
    assert _chain(stack_and_dem, chain_calls) == (None, None)  # nothing set: in QGIS
    settings.set("tcp://10.0.0.5:8786")
    assert _chain(stack_and_dem, chain_calls) == ("tcp://10.0.0.5:8786", None)
    settings.set(" local ", 3)
    assert _chain(stack_and_dem, chain_calls) == ("local", 3)
    settings.set("local", "0")  # 0: one per core, left to the core
    assert _chain(stack_and_dem, chain_calls) == ("local", None)


def test_run_parameters_win_over_the_setting(settings, stack_and_dem, chain_calls) -> None:
    settings.set("local", 3)
    assert _chain(stack_and_dem, chain_calls, SCHEDULER="tcp://10.0.0.5:8786") == (
        "tcp://10.0.0.5:8786",
        None,
    )
    assert _chain(stack_and_dem, chain_calls, DASK_WORKERS=2) == ("local", 2)
    settings.set("tcp://10.0.0.5:8786", 3)  # the workers setting counts only for a local cluster
    assert _chain(stack_and_dem, chain_calls) == ("tcp://10.0.0.5:8786", None)
    assert _chain(stack_and_dem, chain_calls, SCHEDULER="local") == ("local", 3)


@pytest.mark.parametrize(
    ("scheduler", "workers", "message"),
    [
        (
            "my cluster",
            0,
            r"setting 'Dask scheduler' \(Settings > Options > Processing > Providers > SAR offset tracking\).*'my cluster'",
        ),
        ("local", -2, r"setting 'Dask local workers' \(Settings > Options.*workers must be an integer >= 1"),
        ("local", "many", r"setting 'Dask local workers'.*expected an integer >= 0, got 'many'"),
    ],
)
def test_a_bad_setting_names_itself(
    settings, stack_and_dem, chain_calls, scheduler: str, workers: object, message: str
) -> None:
    settings.set(scheduler)
    # QgsSettings may hold what the dialog's validator refuses (edited by hand, another version)
    _config().settings["SAROTS_DASK_WORKERS"].value = workers
    with pytest.raises(QgsProcessingException, match=message):
        _chain(stack_and_dem, chain_calls)
    assert chain_calls == []
    # a parameter that is given does not read the bad setting
    assert _chain(stack_and_dem, chain_calls, SCHEDULER="tcp://10.0.0.5:8786") == (
        "tcp://10.0.0.5:8786",
        None,
    )


def test_steps_run_on_the_setting_or_their_parameter(settings, stack_and_dem, step_calls) -> None:
    """rectify / offsets / invert: an executor of the setting, or of the parameters, reaches the core entry."""
    from processing_core.execution import DaskExecutor

    calls = step_calls.calls
    base = {"STACK": stack_and_dem["stack"]}
    if step_calls.alg == "rectify":
        base["DEM"] = stack_and_dem["dem"]
    _run(step_calls.alg, base)
    assert calls[-1] is None  # in QGIS
    settings.set("local", 3)
    _run(step_calls.alg, base)
    executor = calls[-1]
    assert isinstance(executor, DaskExecutor)
    assert (executor.address, executor.workers) == (None, 3)  # None: the local cluster
    _run(step_calls.alg, {**base, "SCHEDULER": "tcp://10.0.0.5:8786"})
    assert calls[-1].address == "tcp://10.0.0.5:8786"
    settings.set("nowhere at all")
    with pytest.raises(QgsProcessingException, match=r"setting 'Dask scheduler'"):
        _run(step_calls.alg, base)
    settings.set("")
    with pytest.raises(QgsProcessingException, match=r"workers sets the size of a local Dask cluster"):
        _run(step_calls.alg, {**base, "DASK_WORKERS": 2})
    assert len(calls) == 3


def test_saved_value_is_read_without_the_processing_plugin(settings, scheduler_module) -> None:
    """Where Processing's configuration lacks the setting, the value saved in QGIS is used."""
    from qgis.core import QgsSettings

    settings.set("tcp://10.0.0.5:8786")  # saved under Processing/Configuration/
    setting = _config().settings.pop("SAROTS_DASK_SCHEDULER")
    try:
        assert QgsSettings().value("Processing/Configuration/SAROTS_DASK_SCHEDULER") == "tcp://10.0.0.5:8786"
        assert scheduler_module.setting_scheduler() == "tcp://10.0.0.5:8786"
    finally:
        _config().addSetting(setting)


def test_unload_removes_the_settings(provider, plugin_package) -> None:
    """The provider's unload() (called by the registry on removal) takes its settings out; load() puts them back."""
    provider_module = importlib.import_module(f"{plugin_package.__name__}.plugin.provider")
    other = provider_module.SarOffsetTrackingProvider()  # not registered: load/unload by hand
    other.unload()
    assert not set(NAMES) & set(_config().settings)
    assert provider.name() not in _config().getSettings()
    assert other.load()
    assert set(NAMES) <= set(_config().settings)


def test_saved_values_survive_unload_and_load(settings, plugin_package) -> None:
    provider_module = importlib.import_module(f"{plugin_package.__name__}.plugin.provider")
    settings.set("local", 4)
    other = provider_module.SarOffsetTrackingProvider()
    other.unload()
    assert other.load()  # reads the values QGIS saved
    assert _config().getSetting("SAROTS_DASK_SCHEDULER") == "local"
    assert str(_config().getSetting("SAROTS_DASK_WORKERS")) == "4"
