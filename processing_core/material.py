"""SBAS in the material (Lagrangian) frame: the series of the ground that was at a node on the first date.

A pair's offset field is measured at fixed reference pixels: at node x it says where the
feature that is *at x on the pair's first date i* went by date j. When the ground has moved
by many pixels, that is no longer the ground that was at x on the stack's first date, and an
SBAS of the pairs as measured (:func:`processing_core.inversion.sbas`, the Eulerian frame)
sums motions of different pieces of ground. Where the motion changes along the slope (a
landslide's head and toe), the difference is of order gradient x displacement^2 / 2: metres
after tens of metres of motion.

Here the displacement u_k(x) of the ground that was at node x on date 0 satisfies, for every
pair, ``u_j(x) - u_i(x) = o_ij(x + u_i(x))``: each pair's offsets are read where that ground
is on the pair's first date. It is solved by fixed-point iteration from the Eulerian solution
(u = 0 on the right-hand side): resample every pair's offsets at the current positions
(bilinear over the finite nodes), invert, repeat until the positions change by less than a
tolerance. The iteration contracts by the displacement gradient (a few per cent), so it takes a
few rounds. Pairs from the first date are read at the nodes themselves (u_0 = 0).

The positions use both components, in pixels of the grid the offsets are on (the final
master's): azimuth displacement moves a node along rows, LOS displacement along columns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from processing_core.inversion import SbasResult, sbas

MIN_WEIGHT = 0.5
"""Least total bilinear weight of the finite nodes around a position for a resampled offset."""


@dataclass(frozen=True)
class MaterialSbas:
    """Result of :func:`material_sbas`."""

    los: SbasResult
    """LOS series of the block's rows (m), in the material frame."""
    azimuth: SbasResult
    """Azimuth series of the block's rows (m), in the material frame."""
    iterations: int
    """Rounds of resampling and inversion after the Eulerian solution (0: nothing moved)."""
    last_change_px: float
    """Largest change of a position in the last round, pixels (below the tolerance when converged)."""
    reach_rows: int
    """Largest row distance, in grid rows, between a node and where its ground was read; the
    halo of rows the offsets must extend above and below the block."""


def resample_nodes(field: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bilinear samples of node fields at fractional node positions, over the finite nodes.

    Parameters
    ----------
    field
        (n, R, C) values on the node grid; NaN = missing.
    rows, cols
        (...) fractional positions in node units (0 = first row / column).

    Returns
    -------
    numpy.ndarray
        (n, ...): the weights of the finite nodes among the four around each position
        renormalised; NaN where they add up to less than :data:`MIN_WEIGHT` (at most one node
        of a gap is bridged). Positions off the grid take the value at its edge (ground that
        moved out of the grid by noise or motion keeps its pairs). At a node itself the value
        is the node's.
    """
    n_rows, n_cols = field.shape[1:]
    rows = np.clip(rows, 0.0, n_rows - 1.0)
    cols = np.clip(cols, 0.0, n_cols - 1.0)
    r0 = np.floor(rows).astype(np.intp)
    c0 = np.floor(cols).astype(np.intp)
    fr, fc = rows - r0, cols - c0
    total = np.zeros((field.shape[0], *rows.shape))
    weight = np.zeros_like(total)
    for dr, dc, w in (
        (0, 0, (1 - fr) * (1 - fc)),
        (0, 1, (1 - fr) * fc),
        (1, 0, fr * (1 - fc)),
        (1, 1, fr * fc),
    ):
        r, c = r0 + dr, c0 + dc
        inside = (r >= 0) & (r < n_rows) & (c >= 0) & (c < n_cols) & (w > 0)
        values = field[:, np.clip(r, 0, n_rows - 1), np.clip(c, 0, n_cols - 1)]
        ok = inside & np.isfinite(values)
        total += np.where(ok, w * values, 0.0)
        weight += np.where(ok, w, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight >= MIN_WEIGHT - 1e-12, total / weight, np.nan)


def material_sbas(
    dates: Sequence[dt.date],
    pairs: Sequence[tuple[int, int]],
    range_px: np.ndarray,
    azimuth_px: np.ndarray,
    *,
    first_row: int,
    rows: int,
    step_px: float,
    los_m_per_px: np.ndarray,
    azimuth_m_per_px: np.ndarray,
    los_m_per_grid_px: float,
    azimuth_m_per_grid_px: np.ndarray,
    sigma_range_px: np.ndarray | None = None,
    sigma_azimuth_px: np.ndarray | None = None,
    robust: bool = False,
    max_iterations: int = 10,
    tolerance_px: float = 0.001,
    workers: int | None = None,
) -> MaterialSbas:
    """LOS and azimuth SBAS of a block of node rows in the material frame (see the module notes).

    Parameters
    ----------
    dates, pairs
        As for :func:`processing_core.inversion.sbas`.
    range_px, azimuth_px
        (n_pairs, R, C) offsets in pixels on the node grid, for the block's rows and a halo of
        rows above and below (NaN = missing).
    first_row
        Row of these arrays that is the block's first row.
    rows
        Rows in the block (``first_row + rows <= R``).
    step_px
        Node spacing, pixels.
    los_m_per_px
        (n_pairs,) metres of LOS per range pixel in each pair's geometry (negative: a farther
        range is motion away from the sensor).
    azimuth_m_per_px
        (n_pairs, rows, C) metres per azimuth pixel at the block's nodes in each pair's
        geometry (the offsets are converted at the node they are assigned to).
    los_m_per_grid_px, azimuth_m_per_grid_px
        The same for the grid's own geometry (scalar; (rows, C)), to turn displacements back
        into positions.
    sigma_range_px, sigma_azimuth_px
        Optional (n_pairs, R, C) standard deviations, resampled like the offsets; the inversion
        is then weighted.
    robust
        Robust inversion (:func:`processing_core.inversion.sbas`).
    max_iterations
        Rounds at most after the Eulerian solution.
    tolerance_px
        Stop when no position changes by more than this, pixels.
    workers
        Threads of the inversion.

    Raises
    ------
    ValueError
        For inconsistent shapes, a block outside the arrays, or a non-positive step or tolerance.
    """
    n_pairs, n_rows, n_cols = range_px.shape
    if azimuth_px.shape != range_px.shape:
        raise ValueError(f"range_px {range_px.shape} and azimuth_px {azimuth_px.shape} differ")
    if not (0 <= first_row and rows > 0 and first_row + rows <= n_rows):
        raise ValueError(f"block rows {first_row}:{first_row + rows} outside the {n_rows} rows given")
    if step_px <= 0 or tolerance_px <= 0 or max_iterations < 0:
        raise ValueError(f"step_px {step_px}, tolerance_px {tolerance_px}, max_iterations {max_iterations}")
    if np.shape(azimuth_m_per_px) != (n_pairs, rows, n_cols) or np.shape(los_m_per_px) != (n_pairs,):
        raise ValueError("los_m_per_px must be (n_pairs,) and azimuth_m_per_px (n_pairs, rows, C)")
    weighted = sigma_range_px is not None and sigma_azimuth_px is not None
    ref = np.array([i for i, _ in pairs], dtype=np.intp)
    node_r = np.arange(first_row, first_row + rows, dtype=np.float64)[:, None] + np.zeros(n_cols)
    node_c = np.zeros((rows, 1)) + np.arange(n_cols, dtype=np.float64)
    los_f = np.asarray(los_m_per_px, dtype=np.float64)[:, None, None]
    az_f = np.asarray(azimuth_m_per_px, dtype=np.float64)

    state: dict[str, np.ndarray] = {}

    def solve(shift_r: np.ndarray | None, shift_c: np.ndarray | None) -> tuple[SbasResult, SbasResult]:
        allowed = state.get("allowed")
        fields = [range_px, azimuth_px] + ([sigma_range_px, sigma_azimuth_px] if weighted else [])
        if shift_r is None or shift_c is None:
            sampled = [np.asarray(f[:, first_row : first_row + rows], dtype=np.float64) for f in fields]
        else:
            sampled = [np.empty((n_pairs, rows, n_cols)) for _ in fields]
            for i in np.unique(ref):
                q = np.flatnonzero(ref == i)
                at_r, at_c = node_r + shift_r[i], node_c + shift_c[i]
                for out, f in zip(sampled, fields):
                    out[q] = resample_nodes(f[q], at_r, at_c)
            # An observation dropped once stays dropped: a pattern of valid pairs that can only
            # shrink settles, and then the iteration is a smooth contraction (without it, a node
            # near a gap can flip a pair in and out for ever).
            kept = np.isfinite(sampled[0]) & np.isfinite(sampled[1])
            if allowed is not None:
                kept &= allowed
            for out in sampled:
                out[~kept] = np.nan
            state["allowed"] = kept
        los, az = (
            sbas(
                dates,
                pairs,
                sampled[k] * factor,
                std=sampled[k + 2] * np.abs(factor) if weighted else None,
                robust=robust,
                workers=workers,
            )
            for k, factor in enumerate((los_f, az_f))
        )
        return los, az

    def shifts(los: SbasResult, az: SbasResult) -> tuple[np.ndarray, np.ndarray]:
        """Node-unit positions of the ground on every date relative to its node (0 where unsolved)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.nan_to_num(az.displacement / np.asarray(azimuth_m_per_grid_px)) / step_px
            c = np.nan_to_num(los.displacement / float(los_m_per_grid_px)) / step_px
        return r, c

    los, az = solve(None, None)
    shift_r, shift_c = shifts(los, az)
    iterations, change = 0, float(np.max(np.abs(shift_r), initial=0.0) + np.max(np.abs(shift_c), initial=0.0))
    farthest = 0.0  # rows between a node and where its ground was read, in any round
    while iterations < max_iterations and change * step_px > tolerance_px:
        farthest = max(farthest, float(np.max(np.abs(shift_r), initial=0.0)))
        los, az = solve(shift_r, shift_c)
        new_r, new_c = shifts(los, az)
        change = float(
            max(np.max(np.abs(new_r - shift_r), initial=0.0), np.max(np.abs(new_c - shift_c), initial=0.0))
        )
        shift_r, shift_c = new_r, new_c
        iterations += 1
    reach = int(np.ceil(max(farthest, float(np.max(np.abs(shift_r), initial=0.0))))) + 1
    return MaterialSbas(los, az, iterations, change * step_px, reach)
