"""The result of offset tracking: :class:`OffsetField` (**contract**) and its rejection flags."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from processing_core.offsets.params import OffsetParameters

NO_DATA = 1
"""No window could be evaluated (chips outside the image or mostly no-data)."""
LOW_NCC = 2
"""Peak NCC below ``min_ncc`` (or not positive)."""
LOW_SNR = 4
"""SNR below ``min_snr``."""
SEARCH_EDGE = 8
"""The integer peak lies on the edge of the search area (the true peak may be outside it)."""
OUTLIER = 16
"""Rejected by the median/MAD spatial consistency filter."""
DISAGREE = 32
"""No other window of the node put its integer peak within ``window_agreement_px`` (a false match)."""

FLAG_NAMES = {
    NO_DATA: "no_data",
    LOW_NCC: "low_ncc",
    LOW_SNR: "low_snr",
    SEARCH_EDGE: "search_edge",
    OUTLIER: "outlier",
    DISAGREE: "windows_disagree",
}

BANDS = ("azimuth_px", "range_px", "snr", "ncc", "window_px", "sigma_azimuth_px", "sigma_range_px", "flags")
"""Band order of offset GeoTIFFs (``flags`` is 0 where the node was kept)."""


@dataclass
class OffsetField:
    """Offsets on a regular grid of reference-image nodes (**contract**).

    A feature at (row, col) of the reference is at (row + azimuth_px, col + range_px) in the
    secondary. All 2-D arrays have shape ``(rows.size, cols.size)``, float32, and are NaN where
    the node was rejected; ``flags`` tells why.
    """

    rows: np.ndarray
    """Reference line of each node row, float64, pixel-centre coordinates (pixel i is at i): the
    centre of the node's chips, a half-integer for even windows (chip lines r-w/2 .. r+w/2-1)."""
    cols: np.ndarray
    """Reference sample of each node column, as ``rows``."""
    azimuth_px: np.ndarray
    """Offset along lines (azimuth), pixels; positive towards increasing line index."""
    range_px: np.ndarray
    """Offset along samples (slant range), pixels; positive towards increasing sample index."""
    snr: np.ndarray
    """Peak NCC squared over the mean squared NCC of the search area away from the peak
    (shifts more than 3 px from the integer peak, in the chebyshev sense), for the kept window."""
    ncc: np.ndarray
    """Normalised cross-correlation at the sub-pixel peak of the kept window, in [-1, 1]."""
    window_px: np.ndarray
    """Side of the chip whose estimate was kept, pixels."""
    sigma_azimuth_px: np.ndarray
    """Predicted standard deviation of ``azimuth_px``: De Zan (2014) for incoherent tracking with the
    coherence g = sqrt(ncc) and N = (window_px / oversampling)^2 independent samples, pixels."""
    sigma_range_px: np.ndarray
    """Predicted standard deviation of ``range_px``, pixels (as ``sigma_azimuth_px``)."""
    flags: np.ndarray
    """Bit set of rejection reasons per node, uint8: 1 no data, 2 low NCC, 4 low SNR, 8 peak on the
    search edge, 16 spatial outlier, 32 windows disagree; 0 where the node was kept."""
    parameters: OffsetParameters | None = field(default=None, compare=False)
    """The parameters of the run."""

    @property
    def shape(self) -> tuple[int, int]:
        """(node rows, node columns)."""
        return int(self.rows.size), int(self.cols.size)

    @property
    def step_px(self) -> float:
        """Node spacing in reference pixels."""
        if self.rows.size > 1:
            return float(self.rows[1] - self.rows[0])
        if self.cols.size > 1:
            return float(self.cols[1] - self.cols[0])
        return float(self.parameters.step_px) if self.parameters is not None else 1.0

    @property
    def valid(self) -> np.ndarray:
        """Boolean map of the kept nodes."""
        return np.isfinite(self.azimuth_px) & np.isfinite(self.range_px)

    def metadata(self) -> dict[str, str]:
        """Raster metadata ``ROW0``, ``COL0``, ``STEP_PX``: node (r, c) is reference pixel
        (ROW0 + r STEP_PX, COL0 + c STEP_PX) (see :class:`processing_core.radar_grids.SubGrid`)."""

        def fmt(v: float) -> str:
            return str(int(v)) if float(v).is_integer() else repr(float(v))

        return {"ROW0": fmt(self.rows[0]), "COL0": fmt(self.cols[0]), "STEP_PX": fmt(self.step_px)}

    def bands(self) -> list[np.ndarray]:
        """The arrays in :data:`BANDS` order (flags as float32)."""
        return [np.asarray(getattr(self, name), dtype=np.float32) for name in BANDS]

    def flag_counts(self) -> dict[str, int]:
        """How many nodes carry each rejection flag, plus ``kept`` and ``nodes``."""
        counts = {name: int(np.count_nonzero(self.flags & bit)) for bit, name in FLAG_NAMES.items()}
        counts["kept"] = int(np.count_nonzero(self.flags == 0))
        counts["nodes"] = int(self.flags.size)
        return counts
