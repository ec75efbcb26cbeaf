"""Forward imaging of textured, possibly displaced DEM facets into a radar grid.

Every DEM quad is cut into ``fa x fb`` sub-facets (at most ~0.6 pixel apart in the
finest grid of the stack). A sub-facet scatters a complex amplitude

    T_k * sqrt(sigma0(local incidence) * area * moisture) * a_k(t) * exp(-i 4 pi R_k / lambda)

where T_k is a persistent log-normal texture attached to the ground (it moves with the
landslide), a_k(t) a unit complex Gaussian scatterer state that decorrelates over time
(AR(1) from date to date), and R_k the true slant range. Summing the sub-facets that fall
in a pixel gives speckle that changes with baseline and wavelength as it should; layover
piles up, shadow stays dark. Lambert's law (cos^2) is the backscatter model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from processing_core.dem import Dem
from processing_core.ellipsoid import enu_basis, geodetic_to_ecef
from processing_core.geometry import RadarGeometry
from processing_core.lookup import SHADOW, dem_to_radar

TEXTURE_SIGMA = 0.8
"""Standard deviation of the log-amplitude texture."""
TEXTURE_CORRELATION = 1.5
"""Correlation length of the texture, in sub-facets (a few metres on the ground)."""


@dataclass
class Terrain:
    """A DEM cut into textured sub-facets, shared by every scene of a stack."""

    dem: Dem
    """The DEM (already cropped to the stack's area)."""
    xyz: np.ndarray
    """ECEF of the cell centres, (rows, cols, 3), m."""
    basis: tuple[np.ndarray, np.ndarray, np.ndarray]
    """East, north, up unit vectors of every cell, each (rows, cols, 3)."""
    fa: int
    """Sub-facets per quad along DEM rows."""
    fb: int
    """Sub-facets per quad along DEM columns."""
    texture: np.ndarray
    """Persistent amplitude texture, (fa, fb, quads), float32, mean square 1."""

    @property
    def quads(self) -> int:
        """Number of DEM quads."""
        return (self.dem.shape[0] - 1) * (self.dem.shape[1] - 1)


def make_terrain(dem: Dem, *, fa: int, fb: int, rng: np.random.Generator) -> Terrain:
    """Cut ``dem`` into sub-facets and draw their texture (spatially correlated log-normal)."""
    rows, cols = dem.shape
    lon, lat = dem.lonlat()
    xyz = geodetic_to_ecef(lat, lon, dem.heights_m)
    field = rng.standard_normal(((rows - 1) * fa, (cols - 1) * fb), dtype=np.float32)
    field = gaussian_filter(field, TEXTURE_CORRELATION)
    field *= TEXTURE_SIGMA / field.std()
    amp = np.exp(field)
    amp /= np.sqrt(np.mean(amp * amp))
    texture = amp.reshape(rows - 1, fa, cols - 1, fb).transpose(1, 3, 0, 2).reshape(fa, fb, -1)
    return Terrain(dem, xyz, enu_basis(lat, lon), fa, fb, np.ascontiguousarray(texture))


def _quad(a: np.ndarray) -> list[np.ndarray]:
    """The four corners (00, 01, 10, 11) of every quad of a (rows, cols) array, flattened."""
    return [a[:-1, :-1].ravel(), a[:-1, 1:].ravel(), a[1:, :-1].ravel(), a[1:, 1:].ravel()]


def image_scene(
    geometry: RadarGeometry,
    terrain: Terrain,
    displacement_enu_m: np.ndarray,
    scatterers: np.ndarray,
    *,
    moisture: float = 1.0,
) -> np.ndarray:
    """Intensity image of one acquisition in its (true) radar grid, (lines, samples) float32.

    Parameters
    ----------
    geometry
        The true geometry of the acquisition (orbit, grid, Doppler).
    terrain
        The stack's textured sub-facets.
    displacement_enu_m
        Ground displacement of every DEM cell (rows, cols, 3) east/north/up, m.
    scatterers
        Complex scatterer state (fa, fb, quads) of this date.
    moisture
        Brightness factor of the soil-moisture term (1 = dry season).
    """
    grid = geometry.grid
    lut = dem_to_radar(geometry, terrain.dem)
    sigma = np.cos(np.radians(lut.local_incidence_deg)) ** 2 * lut.area_m2 * moisture
    sigma[(lut.local_incidence_deg >= 90.0) | ((lut.mask & SHADOW) > 0)] = 0.0
    east, north, up = terrain.basis
    d = displacement_enu_m
    moved = terrain.xyz + d[..., 0:1] * east + d[..., 1:2] * north + d[..., 2:3] * up
    rc = geometry.geo2rdr_ecef(moved, t_init_s=lut.azimuth_time_s)
    l4 = _quad(rc.line)
    s4 = _quad(rc.sample)
    # A sub-facet's scattering strength: its share of the quad's mean sigma0 * area.
    strength = np.sqrt(np.nan_to_num(0.25 * sum(_quad(sigma)), nan=0.0) / (terrain.fa * terrain.fb)).astype(
        np.float32
    )
    ok = np.isfinite(sum(l4)) & np.isfinite(sum(s4))
    strength[~ok] = 0.0
    l4 = [np.nan_to_num(q) for q in l4]
    s4 = [np.nan_to_num(q) for q in s4]
    size = grid.lines * grid.samples
    real = np.zeros(size)
    imag = np.zeros(size)
    k = 4.0 * np.pi / geometry.wavelength_m
    b = ((np.arange(terrain.fb) + 0.5) / terrain.fb)[:, None]
    for ia in range(terrain.fa):
        a = (ia + 0.5) / terrain.fa
        w = ((1 - a) * (1 - b), (1 - a) * b, a * (1 - b), a * b)
        lq = w[0] * l4[0] + w[1] * l4[1] + w[2] * l4[2] + w[3] * l4[3]
        sq = w[0] * s4[0] + w[1] * s4[1] + w[2] * s4[2] + w[3] * s4[3]
        li = np.rint(lq).astype(np.intp)
        si = np.rint(sq).astype(np.intp)
        keep = (li >= 0) & (li < grid.lines) & (si >= 0) & (si < grid.samples) & (strength > 0)
        phase = k * grid.range_of_sample(sq[keep])
        amp = (terrain.texture[ia] * strength)[keep] * scatterers[ia][keep]
        field = amp * (np.cos(phase) - 1j * np.sin(phase))
        index = li[keep] * grid.samples + si[keep]
        real += np.bincount(index, weights=field.real, minlength=size)
        imag += np.bincount(index, weights=field.imag, minlength=size)
    return (real * real + imag * imag).reshape(grid.lines, grid.samples).astype(np.float32)


def evolve_scatterers(
    state: np.ndarray | None,
    shape: tuple[int, int, int],
    memory: np.ndarray,
    days: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Next scatterer state: AR(1) with correlation exp(-days / memory) per quad (memory in days)."""
    fresh = (
        rng.standard_normal(shape, dtype=np.float32) + 1j * rng.standard_normal(shape, dtype=np.float32)
    ) / np.sqrt(np.float32(2.0))
    if state is None:
        return fresh.astype(np.complex64)
    keep = np.exp(-abs(days) / memory).astype(np.float32)
    return (keep * state + np.sqrt(1.0 - keep * keep) * fresh).astype(np.complex64)
