"""ALOS PALSAR-1 / PALSAR-2 Level 1.5 (map-projected amplitude) into a slant-range grid.

A Level 1.5 product is already on a map grid (UTM here; the map projection record gives
the projection and the map coordinates of the image corners). The interchange format wants
radar geometry, so the amplitude is resampled into a zero-Doppler slant-range grid computed
from the leader's orbit:

- the grid spans the azimuth times and slant ranges at which the four image corners are
  seen (zero-Doppler geo2rdr at the leader's average terrain height);
- its line interval is an integer number of PRIs and its range spacing an integer number of
  range-sampling cells, chosen to match the map pixel spacing on the ground (PALSAR-2 FBD
  6.25 m: 2 PRIs and 1 cell, the product's nominal looks);
- every radar pixel is located on the ground by rdr2geo at that height (on a coarse grid of
  nodes, bilinear in between), projected to the map and sampled bilinearly in the image.

The resampled amplitude therefore has the geometry of a zero-Doppler slant-range image seen
from the real orbit over a flat terrain at the product's projection height, which is how the
processor projected it (Level 1.5 is not terrain corrected). No-data (DN 0) becomes NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from processing_core.errors import ProductError, SarError
from processing_core.progress import ProgressCallback, report
from processing_core.readers.alos import CeosProduct, Leader, MapProjection
from processing_core.readers.base import multilook_grid, multilook_power
from processing_core.readers.palsar import base_sidecar, read_image_descriptor, read_lines
from processing_core.scene import SPEED_OF_LIGHT_M_S, scene_from_dict
from processing_core.timeutil import add_seconds, format_utc

_NODE_STEP = 32
_ROWS_PER_BLOCK = 512


def map_affine(mp: MapProjection, lines: int, pixels: int) -> np.ndarray:
    """(2, 3) matrix A with [E, N] = A @ [1, line, pixel], fitted to the four corners (m)."""
    corner_px = np.array([[0, 0], [0, pixels - 1], [lines - 1, pixels - 1], [lines - 1, 0]], dtype=float)
    design = np.column_stack([np.ones(4), corner_px])
    coef, *_ = np.linalg.lstsq(design, mp.corners_map_m, rcond=None)
    return coef.T


def map_transformer(mp: MapProjection, source: str):
    """pyproj transformer from (lon, lat) WGS84 to the product's map coordinates (m)."""
    from pyproj import Transformer

    if "UTM" not in mp.projection.upper() or mp.utm_zone is None:
        raise ProductError(f"{source}: map projection {mp.projection!r} is not supported (UTM only)")
    south = " +south" if mp.false_northing_m > 0 else ""
    return Transformer.from_crs(
        "EPSG:4326", f"+proj=utm +zone={mp.utm_zone}{south} +ellps=GRS80 +units=m +no_defs", always_xy=True
    )


def _bilinear(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``image`` (uint/float) at fractional positions; NaN outside or at DN 0."""
    r0 = np.floor(rows)
    c0 = np.floor(cols)
    inside = (r0 >= 0) & (c0 >= 0) & (r0 < image.shape[0] - 1) & (c0 < image.shape[1] - 1)
    r0 = np.where(inside, r0, 0).astype(np.intp)
    c0 = np.where(inside, c0, 0).astype(np.intp)
    fr = np.where(inside, rows - r0, 0.0).astype(np.float32)
    fc = np.where(inside, cols - c0, 0.0).astype(np.float32)
    a = image[r0, c0].astype(np.float32)
    b = image[r0, c0 + 1].astype(np.float32)
    c = image[r0 + 1, c0].astype(np.float32)
    d = image[r0 + 1, c0 + 1].astype(np.float32)
    out = (a * (1 - fc) + b * fc) * (1 - fr) + (c * (1 - fc) + d * fc) * fr
    bad = ~inside | (a == 0) | (b == 0) | (c == 0) | (d == 0)
    out[bad] = np.nan
    return out


def _interp_nodes(nodes: np.ndarray, node_rows: np.ndarray, node_cols: np.ndarray, rows, cols) -> np.ndarray:
    """Bilinear interpolation of a (nr, nc) node table at output rows x cols (separable)."""
    ir = np.clip(np.searchsorted(node_rows, rows, side="right") - 1, 0, len(node_rows) - 2)
    ic = np.clip(np.searchsorted(node_cols, cols, side="right") - 1, 0, len(node_cols) - 2)
    wr = ((rows - node_rows[ir]) / (node_rows[ir + 1] - node_rows[ir]))[:, None]
    wc = ((cols - node_cols[ic]) / (node_cols[ic + 1] - node_cols[ic]))[None, :]
    top = nodes[ir][:, ic] * (1 - wc) + nodes[ir][:, ic + 1] * wc
    bottom = nodes[ir + 1][:, ic] * (1 - wc) + nodes[ir + 1][:, ic + 1] * wc
    return top * (1 - wr) + bottom * wr


def read_level15(
    product: CeosProduct, leader: Leader, pol: str, looks: tuple[int, int], progress: ProgressCallback | None
) -> tuple[np.ndarray, dict[str, Any], list[float]]:
    """Amplitude, zero-Doppler slant-range grid and Doppler ``[0.0]`` of a Level 1.5 image."""
    from processing_core.geometry import RadarGeometry

    files, name = product.files, product.images[pol]
    label = files.label(name)
    mp = leader.map_projection
    if mp is None:
        raise ProductError(
            f"{files.label(product.leader or '')}: Level 1.5 leader has no map projection record"
        )
    desc = read_image_descriptor(files, name)
    if (mp.lines, mp.pixels) != (desc.lines, desc.pixels):
        raise ProductError(
            f"{label}: {desc.lines} x {desc.pixels} pixels, the map projection record says {mp.lines} x {mp.pixels}"
        )
    transformer = map_transformer(mp, label)
    s = leader.summary
    height = s.terrain_height_m
    cell_t, cell_r = 1.0 / s.prf_hz, SPEED_OF_LIGHT_M_S / (2.0 * s.range_sampling_rate_hz)
    # A provisional grid on the orbit (one line) to solve geo2rdr for the corners.
    probe = base_sidecar(
        product,
        leader,
        pol,
        {
            "first_line_time": format_utc(s.centre_time, digits=9),
            "line_time_interval_s": cell_t,
            "slant_range_first_m": 1.0,
            "slant_range_spacing_m": cell_r,
            "lines": 1,
            "samples": 1,
        },
    )
    probe.update(doppler_centroid_hz=[0.0], image="none")
    try:
        geometry = RadarGeometry(scene_from_dict(probe, source=label))
    except (SarError, ValueError) as exc:
        raise ProductError(f"{label}: the leader's orbit is unusable ({exc})") from None
    lat, lon = mp.corners_lat_lon_deg[:, 0], mp.corners_lat_lon_deg[:, 1]
    rc = geometry.geo2rdr(lat, lon, np.full(4, height))
    if not np.isfinite(rc.azimuth_time_s).all():
        raise ProductError(f"{label}: the leader's orbit does not cover the image corners")
    state = geometry.orbit.interpolate(float(np.mean(rc.azimuth_time_s)))
    radius = float(np.linalg.norm(state.position_m))
    ground_speed = float(np.linalg.norm(state.velocity_m_s)) * 6.371e6 / radius
    incidence = np.radians(s.incidence_deg if np.isfinite(s.incidence_deg) else 35.0)
    k_t = max(1, int(round(mp.line_spacing_m / (ground_speed * cell_t))))
    k_r = max(1, int(round(mp.pixel_spacing_m * np.sin(incidence) / cell_r)))
    dt, dr = k_t * cell_t, k_r * cell_r
    t0, r0 = float(rc.azimuth_time_s.min()), float(rc.slant_range_m.min())
    lines = int((rc.azimuth_time_s.max() - t0) / dt) + 1
    samples = int((rc.slant_range_m.max() - r0) / dr) + 1
    if lines * samples > 4 * desc.lines * desc.pixels:
        raise ProductError(
            f"{label}: the orbit puts the image corners {lines} lines x {samples} samples apart in radar "
            f"geometry, far more than its {desc.lines} x {desc.pixels} map pixels: leader inconsistent"
        )
    grid = {
        "first_line_time": format_utc(add_seconds(geometry.epoch, t0), digits=9),
        "line_time_interval_s": dt,
        "slant_range_first_m": r0,
        "slant_range_spacing_m": dr,
        "lines": lines,
        "samples": samples,
    }
    # Map pixel (row, col) of every radar node.
    node_rows = np.unique(np.append(np.arange(0, lines, _NODE_STEP), lines - 1)).astype(float)
    node_cols = np.unique(np.append(np.arange(0, samples, _NODE_STEP), samples - 1)).astype(float)
    tt, rr = np.meshgrid(t0 + node_rows * dt, r0 + node_cols * dr, indexing="ij")
    try:
        nlat, nlon, _ = geometry.rdr2geo(tt, rr, np.full(tt.shape, height))
    except SarError as exc:
        raise ProductError(f"{label}: cannot locate the radar grid on the ground ({exc})") from None
    east, north = transformer.transform(nlon, nlat)
    affine = map_affine(mp, desc.lines, desc.pixels)
    inverse = np.linalg.inv(affine[:, 1:])
    offset = np.stack([east - affine[0, 0], north - affine[1, 0]], axis=-1)
    img_rc = offset @ inverse.T
    image, _ = read_lines(files, name, desc, None)
    report(progress, 0.5, f"resampling {pol} to slant range")
    az, rg = looks
    out = np.empty((lines // az, samples // rg), dtype=np.float32)
    cols = np.arange(samples, dtype=float)
    block = max(az, (_ROWS_PER_BLOCK // az) * az)
    for row in range(0, (lines // az) * az, block):
        rows = np.arange(row, min(row + block, (lines // az) * az), dtype=float)
        prow = _interp_nodes(img_rc[..., 0], node_rows, node_cols, rows, cols)
        pcol = _interp_nodes(img_rc[..., 1], node_rows, node_cols, rows, cols)
        with np.errstate(over="ignore", invalid="ignore"):
            amp = _bilinear(image, prow, pcol)
            out[row // az : row // az + len(rows) // az] = np.sqrt(
                multilook_power(amp.astype(np.float64) ** 2, looks)
            )
        report(progress, 0.5 + 0.5 * (row + len(rows)) / lines, f"resampling {pol} to slant range")
    return out, multilook_grid(grid, looks), [0.0]
