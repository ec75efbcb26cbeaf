"""Narrow, QGIS-free exception classes of the core.

Every error raised on bad input derives from :class:`SarError` and from the
builtin class that best describes it, so callers can catch either. Messages
name the offending file or value; the command line prints them on one line and
the QGIS plugin turns them into ``QgsProcessingException``.
"""

from __future__ import annotations


class SarError(Exception):
    """Base class of every error the core raises deliberately."""


class SceneFormatError(SarError, ValueError):
    """A scene sidecar or product is missing a key or holds an inconsistent value."""


class OrbitRangeError(SarError, ValueError):
    """A time lies outside the span covered by the orbit state vectors."""


class DemError(SarError, ValueError):
    """A DEM cannot be read, has no CRS, or does not cover the area asked for."""


class InputError(SarError, ValueError):
    """Any other bad user input (CSV columns, option values, ...)."""


class ProductError(InputError):
    """A SAR product (CEOS, SAFE, orbit file, raster + sidecar) is unknown, partial or corrupt.

    The message names the product or file and what is wrong with it, e.g. which file is
    missing or which record is short.
    """
