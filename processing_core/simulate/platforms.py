"""Sensor and orbit parameters of the simulated platforms."""

from __future__ import annotations

from dataclasses import dataclass

from processing_core.scene import SPEED_OF_LIGHT_M_S


@dataclass(frozen=True)
class PlatformSpec:
    """Imaging parameters of one platform/mode."""

    platform: str
    """``platform`` key of the sidecar (``ALOS``, ``ALOS-2``)."""
    sensor: str
    """Instrument name."""
    mode: str
    """Acquisition mode."""
    wavelength_m: float
    """Radar wavelength, m."""
    off_nadir_deg: float
    """Off-nadir look angle at the scene centre, deg."""
    slant_range_spacing_m: float
    """Range sampling, m."""
    prf_hz: float
    """Line rate of the focused image, Hz."""
    altitude_m: float
    """Orbit altitude above the mean Earth radius, m."""
    inclination_deg: float
    """Orbit inclination, deg (sun-synchronous)."""
    repeat_days: int
    """Repeat cycle, days."""
    baseline_spread_m: float
    """Standard deviation of the cross-track orbit position between dates, m."""
    state_vector_interval_s: float
    """Spacing of the annotated state vectors, s."""

    @property
    def line_time_interval_s(self) -> float:
        """Azimuth time between lines, s."""
        return 1.0 / self.prf_hz


PALSAR1_FBS = PlatformSpec(
    platform="ALOS",
    sensor="PALSAR",
    mode="FBS",
    wavelength_m=SPEED_OF_LIGHT_M_S / 1.27e9,
    off_nadir_deg=34.3,
    slant_range_spacing_m=4.683,
    prf_hz=2159.827,
    altitude_m=691_650.0,
    inclination_deg=98.16,
    repeat_days=46,
    baseline_spread_m=600.0,
    state_vector_interval_s=60.0,
)
"""ALOS PALSAR-1 fine beam single polarisation (L-band, 1270 MHz)."""

PALSAR2_SM3 = PlatformSpec(
    platform="ALOS-2",
    sensor="PALSAR-2",
    mode="SM3",
    wavelength_m=SPEED_OF_LIGHT_M_S / 1.2575e9,
    off_nadir_deg=33.05,
    slant_range_spacing_m=4.29,
    prf_hz=2600.0,
    altitude_m=628_000.0,
    inclination_deg=97.92,
    repeat_days=14,
    baseline_spread_m=150.0,
    state_vector_interval_s=60.0,
)
"""ALOS-2 PALSAR-2 stripmap SM3 (L-band, 1257.5 MHz); its off-nadir angle puts it ~28 km
in perpendicular baseline from the PALSAR-1 track, as the paper's Figure 1 pair."""

PLATFORMS = {"ALOS": PALSAR1_FBS, "ALOS-2": PALSAR2_SM3}
