"""Keep OpenBLAS to one thread while the core runs its own thread pool over small matrices.

numpy's batched linear algebra (``np.linalg.inv`` on stacks of 27 x 27 matrices, say) calls
LAPACK once per matrix. With a multi-threaded OpenBLAS, every such call may wake OpenBLAS's
own threads; from two Python threads at once they fight over the cores and the work runs up
to ten times slower than on one thread. :func:`single_threaded_blas` sets OpenBLAS to one
thread for the duration of a block (the core's pool then provides the parallelism) and
restores the previous setting afterwards; nested and concurrent uses share one setting.

Only OpenBLAS loaded in this process is touched (found through ``/proc/self/maps`` on Linux);
elsewhere the block runs unchanged.
"""

from __future__ import annotations

import ctypes
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_saved: list[tuple[object, int]] = []
_libraries: list[tuple[object, object]] | None = None


def _openblas() -> list[tuple[object, object]]:
    """(get, set) thread-count functions of every OpenBLAS loaded in this process."""
    global _libraries
    if _libraries:
        return _libraries
    found: list[tuple[object, object]] = []
    seen: set[int | None] = set()
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            paths = sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", fh.read())))
    except OSError:
        paths = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for suffix in ("", "64_"):
            get = getattr(lib, f"openblas_get_num_threads{suffix}", None)
            put = getattr(lib, f"openblas_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                get.restype = ctypes.c_int
                put.argtypes = [ctypes.c_int]
                address = ctypes.cast(get, ctypes.c_void_p).value
                if address not in seen:
                    seen.add(address)
                    found.append((get, put))
                break
    _libraries = found  # an empty result is looked up again next time (numpy may load later)
    return found


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with OpenBLAS on one thread (no-op where OpenBLAS is not found)."""
    global _depth
    with _lock:
        if _depth == 0:
            _saved.clear()
            for get, put in _openblas():
                _saved.append((put, int(get())))  # type: ignore[operator]
                put(1)  # type: ignore[operator]
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for put, n in _saved:
                    put(n)  # type: ignore[operator]
                _saved.clear()
