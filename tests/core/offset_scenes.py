"""Test scenes for offset tracking with known sub-pixel motion (De Zan's speckle model).

A scene is a complex reflectivity on a grid of resolution cells: a real texture (the square
root of a backscatter map) times circular Gaussian speckle. The two dates share the texture;
their speckle has complex coherence g (z2 = g z1 + sqrt(1 - g^2) n). As a SAR processor would
before detection, the complex images are oversampled by 2 (zero-padded spectrum, so one cell
is 2 x 2 pixels), the secondary is moved (a Fourier phase ramp for a rigid shift, band-limited
interpolation along a displacement field otherwise), and both are detected to amplitude.
These are the assumptions of De Zan (2014, IEEE GRSL 11(1)), whose bound for incoherent
(amplitude) tracking is sigma = sqrt(3/(10N)) sqrt(2 + 5g^2 - 7g^4) / (pi g^2) cells, N the
number of independent cells in the window: for a w-pixel chip N = (w/2)^2 and one cell is 2 px.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from osgeo import gdal
from scipy.ndimage import map_coordinates

REPO = Path(__file__).resolve().parents[2]
DEM = REPO / "resources" / "dem" / "bigtujunga_srtm30m_utm11.tif"


def dezan_bound_px(window_px: int, g: float, oversampling: float = 2.0) -> float:
    """De Zan's standard deviation for a ``window_px`` chip of x``oversampling`` data, pixels."""
    n = (window_px / oversampling) ** 2
    return oversampling * np.sqrt(3.0 / (10.0 * n)) * np.sqrt(2 + 5 * g**2 - 7 * g**4) / (np.pi * g**2)


def _embed(spectrum: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Zero-pad a centred-band FFT to a larger grid (band-limited upsampling)."""
    h, w = spectrum.shape
    out = np.zeros(shape, dtype=complex)
    hy, hx = h // 2, w // 2
    out[:hy, :hx] = spectrum[:hy, :hx]
    out[:hy, -hx:] = spectrum[:hy, -hx:]
    out[-hy:, :hx] = spectrum[-hy:, :hx]
    out[-hy:, -hx:] = spectrum[-hy:, -hx:]
    return out


def _speckle(texture: np.ndarray, g: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    shape = texture.shape
    z1 = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)
    n = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)
    return texture * z1, texture * (g * z1 + np.sqrt(1 - g * g) * n)


def shifted_pair(
    texture: np.ndarray, g: float, shift_px: tuple[float, float], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Amplitudes (2h, 2w) float32 of a scene and of the same scene moved by ``shift_px`` (rigid)."""
    f1, f2 = _speckle(texture, g, rng)
    h, w = texture.shape
    big = (2 * h, 2 * w)
    fy = np.fft.fftfreq(big[0])[:, None]
    fx = np.fft.fftfreq(big[1])[None, :]
    ramp = np.exp(-2j * np.pi * (fy * shift_px[0] + fx * shift_px[1]))
    a = np.abs(np.fft.ifft2(_embed(np.fft.fft2(f1), big)) * 4)
    b = np.abs(np.fft.ifft2(_embed(np.fft.fft2(f2), big) * ramp) * 4)
    return a.astype(np.float32), b.astype(np.float32)


def warped_pair(
    texture: np.ndarray,
    g: float,
    field: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Amplitudes of a scene and of the scene deformed by ``field``.

    ``field(row, col)`` gives the displacement (azimuth, range) in pixels of the ground at
    reference pixel (row, col): that point appears at (row + az, col + rg) in the secondary.
    The secondary is the band-limited complex image evaluated at the inverse map, found by
    fixed-point iteration, then detected.
    """
    f1, f2 = _speckle(texture, g, rng)
    h, w = texture.shape
    a = np.abs(np.fft.ifft2(_embed(np.fft.fft2(f1), (2 * h, 2 * w))) * 4)
    fine = np.fft.ifft2(_embed(np.fft.fft2(f2), (4 * h, 4 * w))) * 16  # half-pixel grid
    q_r, q_c = np.indices((2 * h, 2 * w), dtype=np.float64)
    p_r, p_c = q_r.copy(), q_c.copy()
    for _ in range(8):
        d_r, d_c = field(p_r, p_c)
        p_r, p_c = q_r - d_r, q_c - d_c
    coords = np.stack([2 * p_r, 2 * p_c])
    re = map_coordinates(fine.real, coords, order=3, mode="grid-wrap")
    im = map_coordinates(fine.imag, coords, order=3, mode="grid-wrap")
    return a.astype(np.float32), np.hypot(re, im).astype(np.float32)


def grace_hopper() -> np.ndarray:
    """Real optical texture: matplotlib's sample photograph (512 x 600), grey level 0-255."""
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    rgb = gdal.Open(str(path)).ReadAsArray().astype(np.float64)
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def hillshade() -> np.ndarray:
    """Hillshade of the real SRTM 30 m DEM of Big Tujunga (sun at 315 deg, 45 deg), 643 x 1197."""
    z = gdal.Open(str(DEM)).ReadAsArray().astype(np.float64)
    gy, gx = np.gradient(z, 30.0)
    slope = np.arctan(np.hypot(gx, gy))
    aspect = np.arctan2(-gx, gy)
    az, alt = np.radians(315.0), np.radians(45.0)
    shade = np.sin(alt) * np.cos(slope) + np.cos(alt) * np.sin(slope) * np.cos(az - aspect)
    return np.clip(shade, 0.02, None)


def as_amplitude_texture(backscatter: np.ndarray) -> np.ndarray:
    """Amplitude texture (unit mean square) from a backscatter (intensity) map."""
    t = np.sqrt(np.maximum(backscatter, 0.0))
    return t / np.sqrt(np.mean(t * t))
