"""Range-Doppler geometry of one scene: geo2rdr and rdr2geo.

geo2rdr solves the Doppler equation for the azimuth time of each ground point,

    g(t) = V(t) . (P - S(t)) - (lambda / 2) f_dc(R(t)) R(t) = 0,   R(t) = |P - S(t)|,

by Newton iteration (analytic derivative including the range dependence of the
Doppler centroid), vectorised over any number of points and started from one
Newton step about the scene centre or from a caller's seed (e.g. a coarse grid).
Points where Newton does not settle fall back to bisection over the orbit span.
Zero Doppler is the special case ``f_dc = 0``. rdr2geo intersects the range
sphere, the Doppler cone and the surface of given ellipsoidal height by a 3-D
Newton iteration on (|P-S|^2 - R^2, V.(P-S) - lambda f R / 2, h(P) - h).

References: Curlander & McDonough (1991), Synthetic Aperture Radar, ch. 8;
Small (2011), IEEE TGRS 49(8), doi:10.1109/TGRS.2011.2120616.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from processing_core.ellipsoid import ecef_to_geodetic, ellipsoid_normal, geodetic_to_ecef
from processing_core.orbit import Orbit
from processing_core.scene import Scene

_CHUNK = 32768


@dataclass(frozen=True)
class RadarCoordinates:
    """Radar coordinates of ground points; arrays share the input's shape, NaN where unsolved."""

    azimuth_time_s: np.ndarray
    """Azimuth time in seconds since :attr:`RadarGeometry.epoch`."""
    slant_range_m: np.ndarray
    """Slant range from the antenna phase centre, m."""
    line: np.ndarray
    """Fractional line index in the scene's radar grid."""
    sample: np.ndarray
    """Fractional sample index in the scene's radar grid."""


class RadarGeometry:
    """Range-Doppler geometry of a scene (orbit, wavelength, Doppler centroid, grid)."""

    def __init__(self, scene: Scene, *, orbit_window: int = 4) -> None:
        self.scene = scene
        self.grid = scene.radar_grid
        self.orbit = Orbit(scene.orbit, window=orbit_window)
        self.epoch = self.orbit.epoch
        self.wavelength_m = scene.wavelength_m
        self.side = 1.0 if scene.look_side == "right" else -1.0
        self.first_line_s = float(self.orbit.seconds(self.grid.first_line_time))
        self._doppler = np.asarray(scene.doppler_centroid_hz, dtype=np.float64)
        # d f / d s; a constant Doppler has derivative zero (polyval of an empty array fails).
        self._doppler_d = (
            (self._doppler[1:] * np.arange(1, len(self._doppler))) if len(self._doppler) > 1 else np.zeros(1)
        )
        self.zero_doppler = not np.any(self._doppler)

    # -- radar grid ---------------------------------------------------------------------------
    def line_of_time(self, t_s: np.ndarray) -> np.ndarray:
        """Fractional line index of azimuth times (s since :attr:`epoch`)."""
        return (np.asarray(t_s) - self.first_line_s) / self.grid.line_time_interval_s

    def time_of_line(self, line: np.ndarray) -> np.ndarray:
        """Azimuth time (s since :attr:`epoch`) of fractional line indices."""
        return self.first_line_s + np.asarray(line, dtype=np.float64) * self.grid.line_time_interval_s

    def doppler_hz(self, slant_range_m: np.ndarray) -> np.ndarray:
        """Doppler centroid at the given slant ranges (polynomial in the sample index)."""
        s = self.grid.sample_of_range(slant_range_m)
        return np.polynomial.polynomial.polyval(s, self._doppler)

    def _doppler_term(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lambda/2) f(R) R and its derivative with respect to R."""
        half = 0.5 * self.wavelength_m
        s = self.grid.sample_of_range(r)
        f = np.polynomial.polynomial.polyval(s, self._doppler)
        df = np.polynomial.polynomial.polyval(s, self._doppler_d) / self.grid.slant_range_spacing_m
        return half * f * r, half * (df * r + f)

    # -- geo2rdr ------------------------------------------------------------------------------
    def geo2rdr(
        self,
        lat_deg: np.ndarray,
        lon_deg: np.ndarray,
        height_m: np.ndarray,
        *,
        t_init_s: np.ndarray | None = None,
    ) -> RadarCoordinates:
        """Radar coordinates of geodetic points (deg, deg, ellipsoidal m)."""
        return self.geo2rdr_ecef(geodetic_to_ecef(lat_deg, lon_deg, height_m), t_init_s=t_init_s)

    def geo2rdr_ecef(
        self,
        xyz_m: np.ndarray,
        *,
        t_init_s: np.ndarray | None = None,
        tol_s: float = 1e-9,
        max_iter: int = 12,
    ) -> RadarCoordinates:
        """Radar coordinates of ECEF points of shape (..., 3).

        Parameters
        ----------
        xyz_m
            Ground points, ECEF metres, shape (..., 3).
        t_init_s
            Optional first guess of the azimuth time (s since :attr:`epoch`), shape (...).
        tol_s
            Newton stops when every update is below this, s.
        max_iter
            Newton iterations before the bisection fallback takes the unsettled points.

        Notes
        -----
        On one orbit piece S(u) = sum_d c_d u^d, the Doppler equation and the squared
        range are scalar polynomials in u whose point-dependent coefficients are the
        dot products c_d . P; Newton then runs on scalars only, which is several times
        faster than interpolating 3-vectors at every iteration.
        """
        xyz = np.asarray(xyz_m, dtype=np.float64)
        shape = xyz.shape[:-1]
        p = xyz.reshape(-1, 3)
        n = p.shape[0]
        t = np.full(n, self.time_of_line(0.5 * (self.grid.lines - 1)))
        if t_init_s is not None:
            seed = np.asarray(t_init_s, dtype=np.float64).reshape(-1)
            t = np.where(np.isfinite(seed), seed, t)
        r = np.empty(n)
        # Chunks that stay in cache, solved on all cores (numpy releases the GIL).
        bounds = [(i, min(i + _CHUNK, n)) for i in range(0, n, _CHUNK)]

        def work(b: tuple[int, int]) -> None:
            t[b[0] : b[1]], r[b[0] : b[1]] = self._geo2rdr_block(
                p[b[0] : b[1]], t[b[0] : b[1]], tol_s, max_iter
            )

        if len(bounds) > 1:
            with ThreadPoolExecutor(max_workers=min(len(bounds), os.cpu_count() or 1)) as pool:
                list(pool.map(work, bounds))
        elif bounds:
            work(bounds[0])
        t = t.reshape(shape)
        r = r.reshape(shape)
        return RadarCoordinates(t, r, self.line_of_time(t), self.grid.sample_of_range(r))

    def _geo2rdr_block(
        self, p: np.ndarray, t: np.ndarray, tol_s: float, max_iter: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Solve one chunk of points; returns azimuth times and slant ranges (NaN if unsolved)."""
        n = p.shape[0]
        t_lo, t_hi = self.orbit.start_s, self.orbit.end_s
        t = np.clip(t, t_lo, t_hi)
        r = np.full(n, np.nan)
        settled = np.zeros(n, dtype=bool)
        piece = self.orbit.piece_index(t)
        todo = np.ones(n, dtype=bool)
        for _ in range(3):  # a point whose root lies on another piece is solved again there
            for k in np.unique(piece[todo]):
                mask = todo & (piece == k)
                sel = slice(None) if mask.all() else np.flatnonzero(mask)
                t[sel], r[sel], settled[sel] = self._newton_on_piece(int(k), p[sel], t[sel], tol_s, max_iter)
            new_piece = self.orbit.piece_index(t)
            todo = settled & (new_piece != piece) & (t > t_lo) & (t < t_hi)
            piece = new_piece
            if not todo.any():
                break
        inside = (t > t_lo) & (t < t_hi)
        bad = ~(settled & inside & np.isfinite(t))
        if bad.any():
            t[bad] = self._bisect(p[bad], t_lo, t_hi, tol_s)
            ok = bad & np.isfinite(t)
            r[ok] = np.linalg.norm(p[ok] - self.orbit.interpolate(t[ok]).position_m, axis=-1)
            r[bad & ~ok] = np.nan
        return t, r

    def _newton_on_piece(
        self, k: int, p: np.ndarray, t: np.ndarray, tol_s: float, max_iter: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Newton on the Doppler equation with the scalar polynomials of orbit piece ``k``."""
        coef, centre, scale = self.orbit.piece(k)
        deg = coef.shape[0] - 1
        beta = np.zeros(2 * deg + 1)  # S.S(u) = sum beta_m u^m
        for d in range(deg + 1):
            beta[d : d + deg + 1] += coef @ coef[d]
        dbeta = np.arange(1, 2 * deg + 1) * beta[1:]  # d(S.S)/du
        ddbeta = np.arange(1, 2 * deg) * dbeta[1:]
        alpha = p @ coef.T  # (n, deg+1): c_d . P
        d1 = np.arange(1, deg + 1)
        dalpha = alpha[:, 1:] * d1  # d(S.P)/du coefficients
        ddalpha = dalpha[:, 1:] * d1[:-1]
        pp = np.einsum("ij,ij->i", p, p)
        u = (t - centre) / scale
        # Keep Newton on the stretch where this piece is exact (one interval beyond its own).
        u_lo = (self.orbit.start_s - centre) / scale
        u_hi = (self.orbit.end_s - centre) / scale
        u_min, u_max = max(-1.5, u_lo), min(1.5, u_hi)
        settled = np.zeros(u.shape, dtype=bool)
        for _ in range(max_iter):
            sp_d = _horner_rows(dalpha, u)
            ss_d = _horner(dbeta, u)
            # g = V.(P - S) with V = dS/du / scale; dg/du from the second derivatives.
            g = (sp_d - 0.5 * ss_d) / scale
            dg = (_horner_rows(ddalpha, u) - 0.5 * _horner(ddbeta, u)) / scale
            if not self.zero_doppler:
                r2 = pp - 2.0 * _horner_rows(alpha, u) + _horner(beta, u)
                rr = np.sqrt(np.maximum(r2, 0.0))
                term, dterm_dr = self._doppler_term(rr)
                dr_du = -g * scale / rr  # dR/dt = -V.(P-S)/R and dt/du = scale
                g = g - term
                dg = dg - dterm_dr * dr_du
            step = g / dg  # Newton in u: g is in m^2/s and dg = dg/du
            u = np.clip(u - step, u_min, u_max)
            settled = np.abs(step) * scale < tol_s
            if settled.all():
                break
        r2 = pp - 2.0 * _horner_rows(alpha, u) + _horner(beta, u)
        return centre + u * scale, np.sqrt(np.maximum(r2, 0.0)), settled

    def _doppler_equation(self, p: np.ndarray, t: np.ndarray) -> np.ndarray:
        """g(t) = V.(P - S) - (lambda/2) f_dc(R) R for points ``p`` (n, 3) at times ``t`` (n,)."""
        st = self.orbit.interpolate(t, check=False)
        d = p - st.position_m
        g = np.einsum("ij,ij->i", st.velocity_m_s, d)
        if not self.zero_doppler:
            g = g - self._doppler_term(np.sqrt(np.einsum("ij,ij->i", d, d)))[0]
        return g

    def _bisect(self, p: np.ndarray, t_lo: float, t_hi: float, tol_s: float) -> np.ndarray:
        """Bracketing fallback: bisection of g over the orbit span; NaN where no root lies inside."""
        lo = np.full(p.shape[0], t_lo)
        hi = np.full(p.shape[0], t_hi)
        g_lo = self._doppler_equation(p, lo)
        g_hi = self._doppler_equation(p, hi)
        ok = (g_lo > 0) & (g_hi < 0)  # g decreases through the root as the satellite passes
        n_iter = int(np.ceil(np.log2(max(t_hi - t_lo, tol_s) / tol_s))) + 1
        for _ in range(n_iter):
            mid = 0.5 * (lo + hi)
            positive = self._doppler_equation(p, mid) > 0
            lo = np.where(positive, mid, lo)
            hi = np.where(positive, hi, mid)
        out = 0.5 * (lo + hi)
        out[~ok] = np.nan
        return out

    # -- rdr2geo ------------------------------------------------------------------------------
    def rdr2geo(
        self,
        azimuth_time_s: np.ndarray,
        slant_range_m: np.ndarray,
        height_m: np.ndarray,
        *,
        tol_m: float = 1e-5,
        max_iter: int = 20,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ground point at azimuth time, slant range and ellipsoidal height.

        Returns
        -------
        lat_deg, lon_deg : numpy.ndarray
            Geodetic coordinates, shape of the broadcast inputs; NaN where unsolved.
        xyz_m : numpy.ndarray
            ECEF positions, shape (..., 3).
        """
        t, r, h = np.broadcast_arrays(
            np.asarray(azimuth_time_s, dtype=np.float64),
            np.asarray(slant_range_m, dtype=np.float64),
            np.asarray(height_m, dtype=np.float64),
        )
        shape = t.shape
        t, r, h = t.ravel(), r.ravel(), h.ravel()
        st = self.orbit.interpolate(t)
        s, v = st.position_m, st.velocity_m_s
        k = self._doppler_term(r)[0] if not self.zero_doppler else np.zeros_like(r)
        p = self._rdr2geo_seed(s, v, r, h)
        for _ in range(max_iter):
            lat, lon, hp = ecef_to_geodetic(p)
            d = p - s
            f = np.stack(
                [np.einsum("ij,ij->i", d, d) - r * r, np.einsum("ij,ij->i", v, d) - k, hp - h], axis=-1
            )
            jac = np.stack([2.0 * d, v, ellipsoid_normal(lat, lon)], axis=-2)
            dp = _solve3(jac, f)
            p = p - dp
            if np.nanmax(np.abs(dp), initial=0.0) < tol_m:
                break
        lat, lon, _ = ecef_to_geodetic(p)
        return lat.reshape(shape), lon.reshape(shape), p.reshape(shape + (3,))

    def _rdr2geo_seed(self, s: np.ndarray, v: np.ndarray, r: np.ndarray, h: np.ndarray) -> np.ndarray:
        """First guess on a sphere of the local Earth radius, in the zero-Doppler plane."""
        s_norm = np.linalg.norm(s, axis=-1)
        up = s / s_norm[:, None]
        lat_n, lon_n, _ = ecef_to_geodetic(s)
        radius = np.linalg.norm(geodetic_to_ecef(lat_n, lon_n, 0.0), axis=-1) + h
        v_hat = v / np.linalg.norm(v, axis=-1)[:, None]
        down = -(up - np.einsum("ij,ij->i", up, v_hat)[:, None] * v_hat)
        down /= np.linalg.norm(down, axis=-1)[:, None]
        across = np.cross(v_hat, up)
        across /= np.linalg.norm(across, axis=-1)[:, None]
        cos_look = np.clip((s_norm**2 + r**2 - radius**2) / (2.0 * s_norm * r), -1.0, 1.0)
        sin_look = np.sqrt(1.0 - cos_look**2)
        return s + r[:, None] * (cos_look[:, None] * down + self.side * sin_look[:, None] * across)

    def look_vector(self, xyz_m: np.ndarray, azimuth_time_s: np.ndarray) -> np.ndarray:
        """Unit vectors from ground points towards the antenna at their azimuth times, (..., 3)."""
        s = self.orbit.interpolate(azimuth_time_s, check=False).position_m
        d = s - np.asarray(xyz_m)
        return d / np.linalg.norm(d, axis=-1, keepdims=True)


def _horner(coef: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Evaluate the polynomial sum_d coef[d] u^d (constant coefficients) in place-friendly Horner form."""
    out = np.full(u.shape, coef[-1])
    for c in coef[-2::-1]:
        out *= u
        out += c
    return out


def _horner_rows(coef: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Evaluate per-row polynomials sum_d coef[i, d] u[i]^d."""
    out = coef[:, -1].copy()
    for d in range(coef.shape[1] - 2, -1, -1):
        out *= u
        out += coef[:, d]
    return out


def _solve3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve many 3x3 systems a @ x = b by Cramer's rule; a (n, 3, 3), b (n, 3)."""
    c0 = np.cross(a[:, 1], a[:, 2])
    det = np.einsum("ij,ij->i", a[:, 0], c0)
    c1 = np.cross(a[:, 2], a[:, 0])
    c2 = np.cross(a[:, 0], a[:, 1])
    # x = adj(a) @ b / det; the columns of adj(a) are c0, c1, c2.
    x = (c0 * b[:, 0:1] + c1 * b[:, 1:2] + c2 * b[:, 2:3]) / det[:, None]
    return x
