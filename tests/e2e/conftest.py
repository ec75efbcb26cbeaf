"""Helpers for the end-to-end tier: a throw-away QGIS profile for qgis_process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

QGIS_PROCESS = "/usr/bin/qgis_process.bin"  # the /usr/bin/qgis_process wrapper adds an option 3.22 rejects
PLUGIN_NAME = "sar_offset_tracking"


def make_qgis_env(base: Path, plugin_source: Path) -> dict[str, str]:
    """Environment for qgis_process with a private profile and ``plugin_source`` as our plugin.

    QGIS_PLUGINPATH points at ``base/plugins`` holding the symlink
    ``sar_offset_tracking -> plugin_source``; QGIS_CUSTOM_CONFIG_PATH and HOME keep the
    profile and Qt settings inside ``base``.
    """
    plugins = base / "plugins"
    plugins.mkdir()
    (plugins / PLUGIN_NAME).symlink_to(plugin_source, target_is_directory=True)
    home = base / "home"
    home.mkdir()
    runtime = base / "runtime"
    runtime.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QGIS_", "PYTHON"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_RUNTIME_DIR=str(runtime),
        QGIS_CUSTOM_CONFIG_PATH=str(base / "profile"),
        QGIS_PLUGINPATH=str(plugins),
        QT_QPA_PLATFORM="offscreen",
    )
    return env


def run_qgis_process(env: dict[str, str], *args: str, timeout: int = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [QGIS_PROCESS, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def enable_plugin(env: dict[str, str]) -> None:
    """``qgis_process plugins enable``: writes ``[PythonPlugins] sar_offset_tracking=true``."""
    result = run_qgis_process(env, "plugins", "enable", PLUGIN_NAME)
    assert result.returncode == 0, result.stdout + result.stderr
    ini = Path(env["QGIS_CUSTOM_CONFIG_PATH"]) / "profiles" / "default" / "QGIS" / "QGIS3.ini"
    assert f"{PLUGIN_NAME}=true" in ini.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def qgis_env_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., dict[str, str]]:
    """``factory(plugin_source, enabled=True)`` -> environment for :func:`run_qgis_process`."""

    def factory(plugin_source: Path, enabled: bool = True) -> dict[str, str]:
        env = make_qgis_env(tmp_path_factory.mktemp("qgis_process"), plugin_source)
        if enabled:
            enable_plugin(env)
        return env

    return factory


@pytest.fixture(scope="session")
def qgis_process() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_qgis_process
