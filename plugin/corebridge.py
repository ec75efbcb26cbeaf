"""Bridges between the core's conventions and QGIS Processing.

- :func:`core_errors` turns the core's deliberate errors (``processing_core.errors.SarError``)
  and I/O errors into ``QgsProcessingException`` carrying the core's one-line message, which
  already names the file and the problem.
- :class:`FeedbackProgress` is the core's ``progress(fraction, message) -> bool | None``
  callback (see ``processing_core.progress``) driving a ``QgsProcessingFeedback``: it sets
  the progress bar and text and returns ``False`` once the user pressed Cancel, which makes
  the core stop at its next report.
- :func:`require_file` and :func:`require_stack` check an input path (a file, a stack folder)
  before any core call, so a wrong path gives a clear message even before the core runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qgis.core import QgsProcessingException, QgsProcessingFeedback

from . import ensure_core_importable

ensure_core_importable()

from processing_core.errors import SarError  # noqa: E402 - needs ensure_core_importable()
from processing_core.progress import Cancelled  # noqa: E402


def message_of(exc: BaseException) -> str:
    """Return a one-line message for ``exc`` (the core's messages are one line already)."""
    if isinstance(exc, OSError) and exc.filename is not None and str(exc.filename) not in str(exc):
        text = f"{exc.filename}: {exc.strerror or exc}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


@contextmanager
def core_errors() -> Iterator[None]:
    """Re-raise the core's errors inside the block as ``QgsProcessingException``.

    Processing shows the exception's message in the log and the dialog, without a traceback.
    A cancellation asked through :class:`FeedbackProgress` surfaces as ``"Cancelled: ..."``.
    """
    try:
        yield
    except Cancelled as exc:
        raise QgsProcessingException(f"Cancelled: {message_of(exc)}") from exc
    except (SarError, OSError) as exc:
        raise QgsProcessingException(message_of(exc)) from exc


class FeedbackProgress:
    """The core's progress callback, reporting to a ``QgsProcessingFeedback``.

    Called as ``progress(fraction, message)`` with ``fraction`` in [0, 1]; returns False when
    the user cancelled, True otherwise. The message is shown as progress text when it changes.
    """

    def __init__(
        self, feedback: QgsProcessingFeedback | None, start: float = 0.0, stop: float = 100.0
    ) -> None:
        self.feedback = feedback
        self.start = start
        self.stop = stop
        self._last_message = ""

    def __call__(self, fraction: float, message: str = "") -> bool:
        if self.feedback is None:
            return True
        fraction = min(max(float(fraction), 0.0), 1.0)
        self.feedback.setProgress(self.start + (self.stop - self.start) * fraction)
        if message and message != self._last_message:
            self._last_message = message
            self.feedback.setProgressText(message)
        return not self.feedback.isCanceled()


def require_file(path: str, what: str) -> Path:
    """Return ``path`` as a Path, or raise ``QgsProcessingException`` naming it and ``what`` it is."""
    if not path:
        raise QgsProcessingException(f"No {what} given")
    p = Path(path)
    if not p.is_file():
        problem = "is a folder, not a file" if p.is_dir() else "not found"
        raise QgsProcessingException(f"{what} {problem}: {p}")
    return p


def require_stack(path: str) -> Path:
    """Return ``path`` as a Path if it is a stack folder (holds ``stack.json``), else raise
    ``QgsProcessingException`` naming it and saying what is wrong."""
    if not path:
        raise QgsProcessingException("No stack folder given")
    p = Path(path)
    if p.is_file():
        raise QgsProcessingException(
            f"Stack folder expected, got a file: {p} (give the folder that holds stack.json)"
        )
    if not p.is_dir():
        raise QgsProcessingException(f"Stack folder not found: {p}")
    if not (p / "stack.json").is_file():
        raise QgsProcessingException(
            f"Not a stack folder (no stack.json): {p} (create one with the import or simulate algorithm)"
        )
    return p


def core_function(module: str, name: str) -> Callable[..., Any]:
    """Import ``processing_core.<module>.<name>`` on first use (keeps plugin start-up light).

    A core that lacks it, or whose own imports (numpy, scipy, GDAL, pyproj) fail, gives a
    ``QgsProcessingException`` that says so instead of a traceback.
    """
    qualified = f"processing_core.{module}"
    try:
        return getattr(importlib.import_module(qualified), name)
    except (ImportError, AttributeError) as exc:
        raise QgsProcessingException(f"{qualified}.{name} cannot be loaded: {message_of(exc)}") from exc
