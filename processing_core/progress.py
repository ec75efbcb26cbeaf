"""Progress reporting and cancellation shared by the core, the CLI and the plugin.

Long loops in the core accept ``progress: ProgressCallback | None``. The callback
receives a fraction in [0, 1] and a short message, and returns ``False`` to ask
for cancellation (the QGIS plugin maps this to ``feedback.isCanceled()``).
"""

from __future__ import annotations

import sys
import time
from typing import Callable, Optional, TextIO

from processing_core.errors import SarError

ProgressCallback = Callable[[float, str], Optional[bool]]


class Cancelled(SarError):
    """Raised inside the core when the progress callback asked to stop."""


def report(progress: ProgressCallback | None, fraction: float, message: str = "") -> None:
    """Call ``progress`` if given and raise :class:`Cancelled` when it returns ``False``."""
    if progress is None:
        return
    if progress(min(max(fraction, 0.0), 1.0), message) is False:
        raise Cancelled(f"cancelled at {100 * fraction:.0f}%: {message}")


def scaled(progress: ProgressCallback | None, start: float, stop: float) -> ProgressCallback | None:
    """Return a callback mapping [0, 1] of a sub-step onto [start, stop] of ``progress``."""
    if progress is None:
        return None

    def sub(fraction: float, message: str) -> bool | None:
        return progress(start + (stop - start) * fraction, message)

    return sub


class TextProgressBar:
    """A dependency-free progress bar for terminals (silent when not a TTY unless forced)."""

    def __init__(self, label: str, *, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self._last = -1.0
        self._start = time.monotonic()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, fraction: float, message: str = "") -> bool:
        # Redraw at most every 1 % (TTY) or every 10 % (log files) to stay cheap.
        step = 0.01 if self._tty else 0.1
        if fraction < 1.0 and fraction - self._last < step:
            return True
        self._last = fraction
        filled = int(round(self.width * fraction))
        elapsed = time.monotonic() - self._start
        line = (
            f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
            f"{100 * fraction:5.1f}% {elapsed:6.1f}s {message}"
        )
        if self._tty:
            self.stream.write("\r" + line[:120].ljust(120))
            if fraction >= 1.0:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        return True
