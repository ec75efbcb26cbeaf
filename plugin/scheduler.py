"""Where an algorithm's Dask tasks run: its own parameters, else the plugin-wide Processing settings.

The provider registers two Processing settings (Settings > Options > Processing > Providers >
SAR offset tracking), stored by QGIS under ``Processing/Configuration/<name>``:

- *Dask scheduler* (:data:`SCHEDULER_SETTING`): empty runs the tasks in QGIS, ``local`` starts a
  local cluster of worker processes, an address (``tcp://HOST:8786``) uses a running cluster;
- *Dask local workers* (:data:`WORKERS_SETTING`): worker processes of a local cluster (empty or
  0: one per core); ignored for a running cluster, whose workers are started with it.

An algorithm with the parameters ``SCHEDULER`` / ``DASK_WORKERS`` (:func:`add_scheduler_parameters`)
reads them with :func:`scheduler_of`: a parameter that is given wins, one left empty falls back to
the setting. The core checks the values (``processing_core.execution.check_scheduler``); a bad
setting is a ``QgsProcessingException`` naming the setting and where to change it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from qgis.core import QgsProcessingAlgorithm, QgsProcessingContext, QgsProcessingException, QgsSettings
from qgis.PyQt.QtGui import QIcon

from .corebridge import core_function

SCHEDULER = "SCHEDULER"
DASK_WORKERS = "DASK_WORKERS"

SCHEDULER_SETTING = "SAROTS_DASK_SCHEDULER"
WORKERS_SETTING = "SAROTS_DASK_WORKERS"
#: the settings' labels in the Options dialog, in the order they are listed
SETTING_LABELS = {
    SCHEDULER_SETTING: "Dask scheduler (empty: run in QGIS; local; or tcp://HOST:8786)",
    WORKERS_SETTING: "Dask local workers (worker processes of a local cluster; 0: one per core)",
}
#: where the settings are in QGIS (named in the errors about them)
SETTINGS_PLACE = "Settings > Options > Processing > Providers > SAR offset tracking"
#: key prefix of the Processing settings in ``QgsSettings``
QSETTINGS_PREFIX = "Processing/Configuration/"


def _processing_config() -> tuple[Any, Any] | None:
    """``(ProcessingConfig, Setting)`` of the Processing plugin, or None where it is not importable."""
    try:
        from processing.core.ProcessingConfig import ProcessingConfig, Setting
    except ImportError:
        return None
    return ProcessingConfig, Setting


def add_settings(group: str, icon: QIcon | None = None) -> bool:
    """Register the settings in Processing under ``group`` (the provider's name), with their saved values.

    Returns False (and registers nothing) where the Processing plugin cannot be imported; the
    algorithms then read the saved values from ``QgsSettings`` directly.
    """
    config = _processing_config()
    if config is None:
        return False
    processing_config, setting_class = config
    if icon is not None:
        processing_config.setGroupIcon(group, icon)
    rows = (
        (SCHEDULER_SETTING, "", setting_class.STRING),
        (WORKERS_SETTING, 0, setting_class.INT),
    )
    # The Options dialog inserts every setting of a group at the top: add them in reverse order.
    for name, default, kind in reversed(rows):
        setting = setting_class(group, name, SETTING_LABELS[name], default, valuetype=kind)
        setting.read()
        processing_config.addSetting(setting)
    return True


def remove_settings() -> None:
    """Unregister the settings (their saved values stay in ``QgsSettings`` for the next load)."""
    config = _processing_config()
    if config is None:
        return
    processing_config = config[0]
    for name in SETTING_LABELS:
        if name in processing_config.settings:
            processing_config.removeSetting(name)


def setting_value(name: str) -> Any:
    """The value of setting ``name``: Processing's when registered, else the one saved in QGIS."""
    config = _processing_config()
    if config is not None and name in config[0].settings:
        return config[0].getSetting(name)
    return QgsSettings().value(QSETTINGS_PREFIX + name, None)


def _setting_error(name: str, exc: Exception) -> QgsProcessingException:
    label = SETTING_LABELS[name].split(" (")[0]
    return QgsProcessingException(f"Processing setting '{label}' ({SETTINGS_PLACE}): {exc}")


def setting_scheduler() -> str | None:
    """The *Dask scheduler* setting: None (run here), ``local`` or an address; checked by the core."""
    value = setting_value(SCHEDULER_SETTING)
    scheduler = str(value).strip() if value is not None else ""
    if not scheduler:
        return None
    try:
        core_function("execution", "check_scheduler")(scheduler, None)
    except ValueError as exc:
        raise _setting_error(SCHEDULER_SETTING, exc) from exc
    return scheduler


def setting_workers() -> int | None:
    """The *Dask local workers* setting: None for empty or 0 (one per core), else an integer >= 1."""
    value = setting_value(WORKERS_SETTING)
    text = str(value).strip() if value is not None else ""
    if text in ("", "0"):
        return None
    try:
        workers = int(text)
    except ValueError as exc:
        raise _setting_error(WORKERS_SETTING, ValueError(f"expected an integer >= 0, got {text!r}")) from exc
    try:
        core_function("execution", "check_scheduler")(core_function("execution", "LOCAL"), workers)
    except ValueError as exc:
        raise _setting_error(WORKERS_SETTING, exc) from exc
    return workers


def resolve_scheduler(scheduler: str | None, workers: int | None) -> tuple[str | None, int | None]:
    """``(scheduler, workers)`` of an algorithm's parameters (None where left empty) and the settings.

    The scheduler parameter wins over the *Dask scheduler* setting. The workers parameter wins
    over the *Dask local workers* setting, which counts only for a ``local`` cluster. The result
    is not checked here: the core checks it (a workers parameter with a running cluster's address
    is an error there).
    """
    if scheduler is None:
        scheduler = setting_scheduler()
    if workers is None and scheduler == core_function("execution", "LOCAL"):
        workers = setting_workers()
    return scheduler, workers


def add_scheduler_parameters(alg: Any, what: str) -> None:
    """Advanced ``SCHEDULER`` and ``DASK_WORKERS`` parameters of ``alg`` (a ``SarAlgorithm``) for ``what``."""
    from qgis.core import QgsProcessingParameterString

    alg.add_advanced(
        QgsProcessingParameterString(
            SCHEDULER,
            alg.tr(
                f"Dask scheduler for {what} (empty: the plugin setting, else in QGIS; local; tcp://HOST:8786)"
            ),
            optional=True,
        )
    )
    alg.add_numbers(
        [
            (
                DASK_WORKERS,
                "Worker processes of a local Dask cluster (0: the plugin setting, else one per core)",
                0,
                0,
            )
        ],
        advanced=True,
    )


def scheduler_of(
    alg: QgsProcessingAlgorithm, parameters: dict, context: QgsProcessingContext
) -> tuple[str | None, int | None]:
    """``(scheduler, workers)`` for ``alg``'s run: its ``SCHEDULER`` / ``DASK_WORKERS``, else the settings."""
    scheduler = alg.parameterAsString(parameters, SCHEDULER, context).strip() or None
    workers = alg.parameterAsInt(parameters, DASK_WORKERS, context) or None
    return resolve_scheduler(scheduler, workers)


def executor_of(scheduler: str | None, workers: int | None) -> Any:
    """The core's executor of ``(scheduler, workers)``: None (run here) or a ``DaskExecutor``.

    ``QgsProcessingException`` with the core's message when the pair is not valid. The executor
    connects on its first task; the caller closes it.
    """
    try:
        core_function("execution", "check_scheduler")(scheduler, workers)
    except ValueError as exc:
        raise QgsProcessingException(str(exc)) from exc
    if scheduler is None:
        return None
    return core_function("execution", "DaskExecutor")(scheduler, workers)


@contextmanager
def scheduled(alg: QgsProcessingAlgorithm, parameters: dict, context: QgsProcessingContext) -> Iterator[Any]:
    """The executor of ``alg``'s scheduler (:func:`scheduler_of`), None to run here; closed on leaving."""
    executor = executor_of(*scheduler_of(alg, parameters, context))
    try:
        yield executor
    finally:
        if executor is not None:
            executor.close()
