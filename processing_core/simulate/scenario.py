"""Simulation scenarios: acquisitions, scene extent, landslide and its displacement history."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from processing_core.errors import InputError
from processing_core.simulate.platforms import PALSAR1_FBS, PALSAR2_SM3, PlatformSpec


@dataclass(frozen=True)
class RatePeriod:
    """A period of constant LOS displacement rate at the most active point (P2)."""

    start: str
    """First day of the period, ``YYYY-MM-DD``."""
    rate_m_per_day: float
    """LOS rate, m/day; negative = away from the sensor."""


@dataclass(frozen=True)
class Scenario:
    """Everything that defines a simulated stack, apart from the DEM and the random seed."""

    name: str
    """Scenario key."""
    acquisitions: tuple[tuple[PlatformSpec, str], ...]
    """(platform, UTC date ``YYYY-MM-DD``) of every scene."""
    extent_m: tuple[float, float]
    """Ground extent of every scene (along track, across track), m."""
    body_m: tuple[float, float]
    """Landslide body length (downslope) and width, m."""
    history: tuple[RatePeriod, ...]
    """LOS rate periods at P2; the displacement is zero at the first acquisition."""
    palsar1_doppler: bool = True
    """Non-zero Doppler centroids for PALSAR-1 (as its Level 1.1 products)."""
    pass_direction: str = "ascending"
    """Orbit direction of every acquisition (right-looking): ``ascending`` or ``descending``."""
    timing_error_px: float = 1.5
    """Standard deviation of the annotated azimuth and range timing errors, pixels."""
    orbit_error_m: float = 2.0
    """Standard deviation of the annotated orbit position error (constant per scene), m."""
    speckle_memory_days: float = 600.0
    """Decorrelation time of the speckle on stable ground, days."""
    landslide_speckle_memory_days: float = 60.0
    """Decorrelation time of the speckle on the landslide, days."""

    def __post_init__(self) -> None:
        if self.pass_direction not in ("ascending", "descending"):
            raise ValueError(
                f"pass_direction must be 'ascending' or 'descending', got {self.pass_direction!r}"
            )
        if len(self.acquisitions) < 2:
            raise ValueError("a scenario needs at least two acquisitions")
        if min(self.extent_m) <= 2 * max(self.body_m) * 0.5:
            raise ValueError(f"scene extent {self.extent_m} m too small for a {self.body_m} m landslide")

    def dates(self) -> list[np.datetime64]:
        """Acquisition dates (``datetime64[D]``) in scenario order."""
        return [np.datetime64(d, "D") for _, d in self.acquisitions]

    def los_at_p2_m(self, dates: np.ndarray) -> np.ndarray:
        """Cumulative LOS displacement at P2 on ``dates`` (m), zero on the first acquisition."""
        return _cumulative(self.history, np.asarray(dates, dtype="datetime64[D]")) - _cumulative(
            self.history, np.array([min(self.dates())], dtype="datetime64[D]")
        )


def _cumulative(history: tuple[RatePeriod, ...], dates: np.ndarray) -> np.ndarray:
    """Integral of the piecewise-constant rate from the first period start to each date."""
    starts = np.array([np.datetime64(p.start, "D") for p in history])
    rates = np.array([p.rate_m_per_day for p in history])
    out = np.zeros(dates.shape)
    for i, (start, rate) in enumerate(zip(starts, rates)):
        end = starts[i + 1] if i + 1 < len(starts) else np.datetime64("9999-01-01", "D")
        days = (np.minimum(dates, end) - start).astype(np.float64)
        out += rate * np.clip(days, 0.0, None)
    return out


def _repeat_dates(anchor: str, repeat_days: int, cycles: list[int]) -> list[str]:
    base = np.datetime64(anchor, "D")
    return [str(base + np.timedelta64(repeat_days * k, "D")) for k in cycles]


# Creep history of the Baige landslide at P2 (paper, section 5.1 and Figure S7b): LOS rates.
BAIGE_HISTORY = (
    RatePeriod("2007-01-01", -0.006),
    RatePeriod("2010-01-10", -0.010),
    RatePeriod("2015-07-27", -0.017),
    RatePeriod("2016-10-03", -0.035),
    RatePeriod("2018-05-28", -0.092),
)

# Dates on each platform's repeat cycle, anchored on the paper's Figure 1 pair
# (PALSAR-1 2010-02-25, PALSAR-2 2015-07-27): 12 PALSAR-1 dates from 2007-01-07 to 2011-02-28
# and 16 PALSAR-2 dates from 2014-10-06 to 2018-08-06.
_P1 = _repeat_dates("2010-02-25", PALSAR1_FBS.repeat_days, [-25, -22, -19, -16, -13, -9, -6, -3, 0, 3, 6, 8])
_P2 = _repeat_dates(
    "2015-07-27", PALSAR2_SM3.repeat_days, [-21, -14, -7, 0, 7, 13, 20, 27, 33, 40, 46, 53, 59, 66, 72, 79]
)

BAIGE_LIKE = Scenario(
    name="baige-like",
    acquisitions=tuple((PALSAR1_FBS, d) for d in _P1) + tuple((PALSAR2_SM3, d) for d in _P2),
    extent_m=(5000.0, 5000.0),
    body_m=(2200.0, 1100.0),
    history=BAIGE_HISTORY,
)
"""The paper's stack: 28 dates, PALSAR-1 2007-2011 and PALSAR-2 2014-2018, ~-60 m LOS at P2."""

SMALL = Scenario(
    name="small",
    acquisitions=(
        (PALSAR1_FBS, "2008-07-12"),
        (PALSAR1_FBS, "2009-07-15"),
        (PALSAR1_FBS, "2010-02-25"),
        (PALSAR2_SM3, "2015-07-27"),
        (PALSAR2_SM3, "2016-07-25"),
        (PALSAR2_SM3, "2017-07-24"),
    ),
    extent_m=(1200.0, 1500.0),
    body_m=(700.0, 380.0),
    history=BAIGE_HISTORY,
)
"""Six scenes a few hundred pixels a side, for fast tests."""

SCENARIOS = {s.name: s for s in (BAIGE_LIKE, SMALL)}


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``.

    Raises
    ------
    InputError
        Naming the known scenarios when ``name`` is not one.
    """
    try:
        return SCENARIOS[name]
    except KeyError:
        raise InputError(f"unknown scenario '{name}'; choose one of {', '.join(SCENARIOS)}") from None
