"""Run parameters of offset tracking: one validated dataclass shared by the API, files and CLI."""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields
from typing import Any

SELECTIONS = ("max_snr", "precision")
"""Window selection rules (see :func:`processing_core.offsets.track`)."""
PREFILTERS = ("none", "sqrt", "log", "db", "wallis", "highpass")
"""Speckle pre-filters (see :mod:`processing_core.offsets.prefilter`)."""


def _int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _float(name: str, value: Any, low: float, high: float = math.inf, *, open_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    v = float(value)
    if v < low or (open_low and v == low) or v > high:
        bracket = "(" if open_low else "["
        raise ValueError(f"{name} must be in {bracket}{low}, {high}], got {v}")
    return v


@dataclass(frozen=True)
class OffsetParameters:
    """Every option of an offset-tracking run, validated on construction (``ValueError``).

    Saved as JSON beside each output raster, so a rerun with the same parameters and inputs
    can skip the pair. Field meanings are those of :func:`processing_core.offsets.track`.
    """

    step_px: int
    """Grid spacing in reference pixels (rows and columns)."""
    search_px: int
    """Search radius in pixels around the prior (or zero): shifts in [-search_px, search_px]."""
    windows_px: tuple[int, ...] = (64, 96, 128)
    """Square chip sizes tried at every node, ascending; all even or all odd."""
    selection: str = "max_snr"
    """Window selection rule: ``max_snr`` or ``precision``."""
    target_sigma_px: float = 0.05
    """``precision`` selection: the predicted standard deviation a window must reach."""
    min_ncc: float = 0.05
    """Nodes whose peak NCC is below this are rejected."""
    min_snr: float = 20.0
    """Nodes whose SNR (peak NCC squared over the mean square off-peak NCC) is below this are rejected."""
    outlier_size: int = 5
    """Side of the node neighbourhood of the median/MAD consistency filter (odd; 0 disables it)."""
    outlier_threshold: float = 3.0
    """A node is an outlier if |v - median| > threshold * (1.4826 MAD + outlier_floor_px)."""
    outlier_floor_px: float = 0.1
    """Noise floor added to the robust spread, pixels (keeps the filter quiet on smooth fields)."""
    prefilter: str = "none"
    """Speckle pre-filter applied to both images: none, sqrt, log (= db), wallis or highpass."""
    prefilter_px: int = 32
    """Scale of the wallis (box side) and highpass (twice the Gaussian sigma) pre-filters, pixels."""
    smooth_px: float = 0.0
    """Sigma of a NaN-aware Gaussian low-pass applied to both images after the pre-filter, pixels
    (0: none); ~1 px averages speckle that decorrelates between the dates (see
    :func:`processing_core.offsets.prefilter.lowpass`)."""
    oversampling: float = 1.0
    """Pixels per speckle resolution cell (1 = critically sampled); only for the predicted std."""
    min_valid_fraction: float = 0.5
    """With no-data pixels: least fraction of a chip (and of its overlap at a shift) that must be valid."""
    window_agreement_px: int = 1
    """A window's integer peak must lie within this many pixels of another window's (0: no check)."""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "step_px", _int("step_px", self.step_px, 1))
        set_(self, "search_px", _int("search_px", self.search_px, 1))
        windows = self.windows_px
        if isinstance(windows, numbers.Integral) and not isinstance(windows, bool):
            windows = (windows,)
        try:
            windows = tuple(windows)
        except TypeError:
            raise ValueError(f"windows_px must be a sequence of integers, got {self.windows_px!r}") from None
        if not windows:
            raise ValueError("windows_px must hold at least one window size")
        windows = tuple(sorted(_int("windows_px", w, 8) for w in windows))
        if len(set(windows)) != len(windows):
            raise ValueError(f"windows_px must not repeat a size, got {self.windows_px!r}")
        if len({w % 2 for w in windows}) != 1:
            raise ValueError(f"windows_px must be all even or all odd (one chip centre), got {windows}")
        set_(self, "windows_px", windows)
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}, got {self.selection!r}")
        set_(self, "target_sigma_px", _float("target_sigma_px", self.target_sigma_px, 0.0, open_low=True))
        set_(self, "min_ncc", _float("min_ncc", self.min_ncc, -1.0, 1.0))
        set_(self, "min_snr", _float("min_snr", self.min_snr, 0.0))
        size = _int("outlier_size", self.outlier_size, 0)
        if size and (size < 3 or size % 2 == 0):
            raise ValueError(f"outlier_size must be 0 (off) or an odd integer >= 3, got {size}")
        set_(self, "outlier_size", size)
        set_(
            self, "outlier_threshold", _float("outlier_threshold", self.outlier_threshold, 0.0, open_low=True)
        )
        set_(self, "outlier_floor_px", _float("outlier_floor_px", self.outlier_floor_px, 0.0))
        if self.prefilter not in PREFILTERS:
            raise ValueError(f"prefilter must be one of {', '.join(PREFILTERS)}, got {self.prefilter!r}")
        set_(self, "prefilter_px", _int("prefilter_px", self.prefilter_px, 3))
        set_(self, "smooth_px", _float("smooth_px", self.smooth_px, 0.0, 8.0))
        set_(self, "oversampling", _float("oversampling", self.oversampling, 1.0))
        set_(self, "window_agreement_px", _int("window_agreement_px", self.window_agreement_px, 0))
        set_(
            self,
            "min_valid_fraction",
            _float("min_valid_fraction", self.min_valid_fraction, 0.0, 1.0, open_low=True),
        )

    @property
    def chip_offset(self) -> float:
        """Position of a chip's centre relative to its node pixel: -0.5 for even windows, 0 for odd."""
        return -0.5 if self.windows_px[0] % 2 == 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (``windows_px`` as a list)."""
        data = asdict(self)
        data["windows_px"] = list(self.windows_px)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OffsetParameters:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown offset parameter(s): {', '.join(unknown)}")
        return cls(**data)
