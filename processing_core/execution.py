"""Where the core's independent tasks run: in this process, or on a Dask cluster.

An :class:`Executor` maps a picklable top-level function over picklable items (paths and
parameter dictionaries, never arrays of a whole scene) and returns the results in input order.
:class:`SerialExecutor` runs them one after the other here; :class:`DaskExecutor` sends them to a
``dask.distributed`` scheduler, either a running cluster (``address``, e.g.
``tcp://10.0.0.5:8786``) or a local cluster of worker processes started on first use
(``address=None`` or ``"local"``) and stopped when the executor is closed. Both give identical
results: every task computes the same thing whichever process runs it, and the results come back
in the order of the items.

Dask is imported only when a :class:`DaskExecutor` first connects, so the core works without it;
asking for a scheduler without ``distributed`` installed is an :class:`InputError`.

The workers of a remote cluster must import ``processing_core`` (``PYTHONPATH`` pointing at the
plugin folder) and see the stack folder at the same path (a shared file system).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TypeVar

from processing_core.errors import InputError
from processing_core.progress import Cancelled, ProgressCallback, report

T = TypeVar("T")
R = TypeVar("R")
E = TypeVar("E", bound="_Closing")

LOCAL = "local"
"""The ``scheduler`` value that starts a local cluster of worker processes."""

_ADDRESS = re.compile(r"^(?:[a-z][a-z0-9+.-]*://\S+|[^\s:/]+:\d+)$", re.IGNORECASE)


def check_scheduler(scheduler: str | None, workers: int | None) -> None:
    """``ValueError`` unless ``scheduler`` is None, ``"local"`` or an address, and ``workers`` fits.

    ``workers`` (worker processes of the local cluster) needs ``scheduler="local"``: the
    workers of a running cluster are started with it.
    """
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        if scheduler != LOCAL:
            raise ValueError(
                "workers sets the size of a local Dask cluster: give it with scheduler 'local' "
                f"(got scheduler {scheduler!r})"
            )
    if scheduler is None or scheduler == LOCAL:
        return
    if not isinstance(scheduler, str) or not _ADDRESS.match(scheduler):
        raise ValueError(
            f"scheduler must be 'local' or a dask scheduler address such as tcp://HOST:8786, got {scheduler!r}"
        )


class Executor(Protocol):
    """Runs independent tasks; ``map`` returns their results in the order of ``items``."""

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        progress: ProgressCallback | None = None,
        describe: Callable[[T], str] | None = None,
    ) -> list[R]:
        """``[fn(item) for item in items]``; ``progress`` is told after every finished task and may
        cancel (:class:`Cancelled`, pending tasks dropped)."""
        ...

    def close(self) -> None:
        """Release what the executor holds (a no-op for the serial one)."""
        ...


def _message(describe: Callable[[Any], str] | None, item: Any) -> str:
    return describe(item) if describe is not None else "task done"


class _Closing:
    """``with executor: ...`` closes it on leaving the block."""

    def close(self) -> None:
        pass

    def __enter__(self: E) -> E:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class SerialExecutor(_Closing):
    """Every task here, one after the other, in input order."""

    workers = 1

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        progress: ProgressCallback | None = None,
        describe: Callable[[T], str] | None = None,
    ) -> list[R]:
        todo = list(items)
        results = []
        for k, item in enumerate(todo):
            results.append(fn(item))
            report(progress, (k + 1) / len(todo), _message(describe, item))
        return results


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise InputError(
            "a Dask scheduler was asked for, but dask.distributed is not installed "
            "(Debian: apt install python3-distributed; elsewhere: pip install distributed)"
        ) from None
    return distributed


def worker_interpreter() -> str:
    """The Python that a local cluster's worker processes must run: this very interpreter.

    ``multiprocessing`` starts them with ``sys.executable``, which an application embedding
    Python does not set to itself: inside QGIS on Linux it is whatever ``python3`` comes first on
    ``PATH`` (measured on this project's machine: a pyenv shim of another Python, without GDAL),
    so the workers would not import the core. ``sys.executable`` is kept when it is a Python of
    this installation or of its virtual environment (under ``sys.prefix`` or
    ``sys.base_prefix``); otherwise the interpreter of ``sys.base_exec_prefix`` is returned.
    """
    running = Path(sys.executable).resolve() if sys.executable else None
    if running is not None and running.name.lower().startswith("python"):
        prefixes = {
            Path(p).resolve() for p in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix)
        }
        if any(running.is_relative_to(prefix) for prefix in prefixes):
            return sys.executable
    base = Path(sys.base_exec_prefix)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    names = ("python.exe",) if os.name == "nt" else (f"bin/python{version}", "bin/python3")
    for name in names:
        if (base / name).is_file():
            return str(base / name)
    return sys.executable


def _local_cluster(distributed: Any, workers: int) -> Any:
    """A local cluster of single-threaded worker processes.

    distributed's nannies start workers with ``MALLOC_TRIM_THRESHOLD_=65536``; setting it turns off
    glibc's dynamic mmap threshold, so that every large numpy buffer is mapped and unmapped anew:
    offset tracking then runs 1.6 times slower (measured, benchmarks/bench_dask.py). The workers
    here start without it (their memory is bounded by ``memory_mb``); and the nannies, which run
    in this process, leave its environment (inherited by later subprocesses) as it was.
    """
    import multiprocessing

    import dask

    python = worker_interpreter()
    if python != sys.executable:
        multiprocessing.set_executable(python)
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    keys = {*environ, "MALLOC_TRIM_THRESHOLD_"}
    saved = {k: os.environ.get(k) for k in keys}
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
            return distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # no fixed port: never "port 8787 is already in use"
                silence_logs=logging.ERROR,
            )
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class DaskExecutor(_Closing):
    """Tasks on a ``dask.distributed`` cluster: a running one at ``address``, else a local one.

    The local cluster has ``workers`` single-threaded worker processes (default: one per CPU
    core); it is started on the first :meth:`map` and stopped by :meth:`close` (or on leaving
    the ``with`` block). Each task runs in one worker process, so a task should use one thread.
    """

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        address = None if address == LOCAL else address
        check_scheduler(LOCAL if address is None else address, workers)
        self.address = address
        self._workers = workers
        self._client: Any = None
        self._cluster: Any = None

    @property
    def workers(self) -> int:
        """Worker processes (of the local cluster, or connected to the scheduler now)."""
        if self._client is None:
            return self._workers or os.cpu_count() or 1
        return max(1, len(self._client.scheduler_info().get("workers", {})))

    def client(self) -> Any:
        """The ``distributed.Client``, connecting (or starting the local cluster) on first use."""
        if self._client is not None:
            return self._client
        distributed = _distributed()
        if self.address is None:
            self._cluster = _local_cluster(distributed, self._workers or os.cpu_count() or 1)
            self._client = distributed.Client(self._cluster)
        else:
            try:
                self._client = distributed.Client(self.address, timeout=30)
            except (OSError, TimeoutError) as exc:
                raise InputError(f"cannot reach the dask scheduler at {self.address} ({exc})") from None
        return self._client

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        progress: ProgressCallback | None = None,
        describe: Callable[[T], str] | None = None,
    ) -> list[R]:
        todo = list(items)
        if not todo:
            return []
        distributed = _distributed()
        client = self.client()
        futures = client.map(fn, todo, pure=False)
        position = {future.key: k for k, future in enumerate(futures)}
        results: list[Any] = [None] * len(todo)
        done = 0
        try:
            for future in distributed.as_completed(futures):
                k = position[future.key]
                results[k] = future.result()  # a task's exception is raised here, as it was raised
                done += 1
                report(progress, done / len(todo), _message(describe, todo[k]))
        except BaseException:
            client.cancel(futures)
            raise
        return results

    def close(self) -> None:
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def executor_for(scheduler: str | None, workers: int | None = None) -> SerialExecutor | DaskExecutor:
    """The executor of a ``scheduler`` option: serial for None, else a :class:`DaskExecutor`."""
    check_scheduler(scheduler, workers)
    if scheduler is None:
        return SerialExecutor()
    return DaskExecutor(scheduler, workers)


__all__ = [
    "LOCAL",
    "Cancelled",
    "DaskExecutor",
    "Executor",
    "SerialExecutor",
    "check_scheduler",
    "executor_for",
    "worker_interpreter",
]
