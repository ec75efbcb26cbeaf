"""Test writer: byte-level ALOS PALSAR-1 / PALSAR-2 CEOS Level 1.1 products with known values.

Written from the JAXA format descriptions (PALSAR-1: NEB-070062, 412-byte processed data
record prefix; PALSAR-2: ALOS-2 CEOS SAR Product Format Description, 544-byte prefix), field
by field at 1-based byte positions, independently of the reader under test. The values come
from a :class:`ProductSpec` so a test knows exactly what the reader must give back.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

C_M_S = 299_792_458.0


@dataclass
class ProductSpec:
    """Everything the writer puts into a product (SI units unless the name says otherwise)."""

    platform: str  # "ALOS" or "ALOS-2"
    stem: str
    first_line_time: np.datetime64  # time of the earliest line
    prf_hz: float
    range_sampling_rate_hz: float
    slant_range_first_m: int  # range of the nearest sample (integer metres, as the product)
    wavelength_m: float
    orbit_t0: np.datetime64
    orbit_interval_s: float
    positions_m: np.ndarray  # (n, 3)
    velocities_m_s: np.ndarray  # (n, 3)
    slc: dict[str, np.ndarray]  # polarisation -> complex (lines, pixels), rows in increasing time
    doppler: tuple[float, ...] = (0.0, 0.0, 0.0)  # PALSAR-1: Hz, Hz/px, Hz/px^2; PALSAR-2: Hz, Hz/km
    clock_angle_deg: float = 90.0
    line_direction: str = "ASCEND"  # "DESCEND": records stored latest line first
    pixel_direction: str = "INCREASE"  # "DECREASE": samples stored far range first
    frame: str = "ECR"  # "ECI": the writer rotates the (Earth-fixed) vectors to inertial
    gmha_deg: float = 0.0  # Greenwich mean hour angle at the first vector (inertial frames)
    velocity_unit: float = 1.0  # written velocity = m/s * velocity_unit (1000 for mm/s)
    prefix_bytes: int = field(default=0)

    def __post_init__(self) -> None:
        if not self.prefix_bytes:
            self.prefix_bytes = 412 if self.platform == "ALOS" else 544

    @property
    def lines(self) -> int:
        return next(iter(self.slc.values())).shape[0]

    @property
    def pixels(self) -> int:
        return next(iter(self.slc.values())).shape[1]


def earth_fixed_to_inertial(
    pos: np.ndarray, vel: np.ndarray, gmha_deg: float, interval_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate ECEF vectors (one every ``interval_s``) into the inertial frame of hour angle ``gmha_deg``."""
    omega = 7.2921151467e-5
    theta = np.radians(gmha_deg) + omega * interval_s * np.arange(len(pos))
    c, s = np.cos(theta), np.sin(theta)
    v_rot = vel + np.cross([0.0, 0.0, omega], pos)  # inertial velocity, still in Earth-fixed axes
    rot = np.stack(
        [np.stack([c, -s, 0 * c], -1), np.stack([s, c, 0 * c], -1), np.stack([0 * c, 0 * c, 1 + 0 * c], -1)],
        1,
    )
    return np.einsum("nij,nj->ni", rot, pos), np.einsum("nij,nj->ni", rot, v_rot)


def spec_from_scene(scene, platform: str, stem: str, slc: dict[str, np.ndarray], **kwargs) -> ProductSpec:
    """A spec whose orbit, timing, range and wavelength are those of a synthetic scene."""
    grid = scene.radar_grid
    return ProductSpec(
        platform=platform,
        stem=stem,
        first_line_time=grid.first_line_time,
        prf_hz=1.0 / grid.line_time_interval_s,
        range_sampling_rate_hz=C_M_S / (2.0 * grid.slant_range_spacing_m),
        slant_range_first_m=int(round(grid.slant_range_first_m)),
        wavelength_m=scene.wavelength_m,
        orbit_t0=scene.orbit[0].time,
        orbit_interval_s=float((scene.orbit[1].time - scene.orbit[0].time) / np.timedelta64(1, "s")),
        positions_m=np.array([sv.position_m for sv in scene.orbit]),
        velocities_m_s=np.array([sv.velocity_m_s for sv in scene.orbit]),
        slc=slc,
        **kwargs,
    )


def _header(seq: int, sub1: int, code: int, sub2: int, sub3: int, length: int) -> bytes:
    return struct.pack(">IBBBBI", seq, sub1, code, sub2, sub3, length)


class _Rec:
    """A record buffer written at 1-based byte positions."""

    def __init__(self, length: int, seq: int, codes: tuple[int, int, int, int]) -> None:
        self.buf = bytearray(b" " * length)
        self.buf[0:12] = _header(seq, *codes, length)

    def a(self, start: int, width: int, text: str) -> None:  # left-justified ASCII
        self.buf[start - 1 : start - 1 + width] = text.ljust(width)[:width].encode("ascii")

    def i(self, start: int, width: int, value: int) -> None:  # right-justified integer
        self.buf[start - 1 : start - 1 + width] = str(int(value)).rjust(width).encode("ascii")

    def f(self, start: int, width: int, value: float, fmt: str = ".7f") -> None:
        self.buf[start - 1 : start - 1 + width] = format(value, fmt).rjust(width)[:width].encode("ascii")

    def b(self, start: int, width: int, value: int) -> None:  # big-endian binary
        self.buf[start - 1 : start - 1 + width] = int(value).to_bytes(width, "big", signed=True)


def _volume(spec: ProductSpec) -> bytes:
    recs = []
    v = _Rec(360, 1, (192, 192, 18, 18))
    v.a(13, 2, "A")
    v.a(17, 12, "CEOS-SAR")
    recs.append(v)
    classes = [("SARLEADER FILE", "SARL")] + [("IMAGERY OPTIONS FILE", "IMOP")] * len(spec.slc)
    for k, (cls, code) in enumerate([*classes, ("SARTRAILER FILE", "SART")]):
        p = _Rec(360, k + 2, (219, 192, 18, 18))
        p.a(13, 2, "A")
        p.i(17, 4, k + 1)
        p.a(37, 28, cls)
        p.a(65, 4, code)
        recs.append(p)
    t = _Rec(360, len(recs) + 1, (18, 192, 18, 18))
    t.a(17, 40, f"PRODUCT:{spec.stem}")
    recs.append(t)
    return b"".join(bytes(r.buf) for r in recs)


def _ymdhms(t: np.datetime64) -> str:
    text = np.datetime_as_string(np.datetime64(t, "ms"), unit="ms")
    return text.replace("-", "").replace("T", "").replace(":", "").replace(".", "")


def _leader(spec: ProductSpec) -> bytes:
    n = len(spec.positions_m)
    fd = _Rec(720, 1, (11, 192, 18, 18))
    fd.a(13, 2, "A")
    fd.a(17, 12, "CEOS-SAR")
    # File descriptor table: DSS, map projection (none for L1.1), platform position, attitude,
    # radiometric, radiometric compensation (none), data quality summary.
    for k, (count, length) in enumerate(
        [(1, 4096), (0, 0), (1, 4680), (1, 8192), (1, 9860), (0, 0), (1, 1620)]
    ):
        fd.i(181 + 12 * k, 6, count)
        fd.i(187 + 12 * k, 6, length)
    for k in range(7, 15):
        fd.i(181 + 12 * k, 6, 0)
        fd.i(187 + 12 * k, 6, 0)

    dss = _Rec(4096, 2, (18, 10, 18, 20))
    mid = spec.first_line_time + np.timedelta64(int(0.5 * spec.lines / spec.prf_hz * 1e9), "ns")
    dss.i(13, 4, 1)
    dss.a(21, 32, spec.stem.split("-")[0])
    dss.a(69, 32, _ymdhms(mid))
    dss.f(117, 16, 34.3)
    dss.f(133, 16, -118.2)
    dss.a(397, 16, "ALOS" if spec.platform == "ALOS" else "ALOS2")
    dss.a(413, 32, "PALSAR" if spec.platform == "ALOS" else "ALOS2 -L -0315-")
    dss.f(477, 8, spec.clock_angle_deg, ".3f")
    dss.f(485, 8, 38.7, ".3f")
    dss.f(501, 16, spec.wavelength_m)
    dss.f(711, 16, spec.range_sampling_rate_hz / 1e6)
    dss.f(743, 16, 27.0)
    dss.f(935, 16, spec.prf_hz * 1e3)
    dss.a(1095, 16, "1.1")
    dss.a(1111, 32, "SLANT RANGE SINGLE LOOK COMPLEX")
    dss.f(1175, 16, 1.0)
    dss.f(1191, 16, 1.0)
    if spec.platform == "ALOS":
        for k in range(3):
            dss.f(1479 + 16 * k, 16, spec.doppler[k], ".9e")
    else:
        dss.f(1735, 16, spec.doppler[0])
        dss.f(1751, 16, spec.doppler[1])
        dss.f(1839, 16, 32.5)
    dss.a(1527, 8, spec.pixel_direction)
    dss.a(1535, 8, spec.line_direction)
    dss.f(1687, 16, 3.2)
    dss.f(1703, 16, C_M_S / (2 * spec.range_sampling_rate_hz))

    ppr = _Rec(4680, 3, (18, 30, 18, 20))
    ppr.a(13, 32, "2")
    ppr.i(141, 4, n)
    t0 = np.datetime64(spec.orbit_t0, "ns")
    day = t0.astype("datetime64[D]")
    year, month, dom = (int(x) for x in str(day).split("-"))
    ppr.i(145, 4, year)
    ppr.i(149, 4, month)
    ppr.i(153, 4, dom)
    ppr.i(157, 4, int((day - day.astype("datetime64[Y]")).astype(int)) + 1)
    ppr.f(161, 22, (t0 - day).astype(np.int64) * 1e-9, ".15E")
    ppr.f(183, 22, spec.orbit_interval_s, ".15E")
    ppr.a(205, 64, spec.frame)
    ppr.f(269, 22, spec.gmha_deg, ".15E")
    pos, vel = spec.positions_m, spec.velocities_m_s
    if spec.frame.startswith("ECI"):
        pos, vel = earth_fixed_to_inertial(pos, vel, spec.gmha_deg, spec.orbit_interval_s)
    for i in range(n):
        values = [*pos[i], *(vel[i] * spec.velocity_unit)]
        for k, value in enumerate(values):
            ppr.f(387 + 132 * i + 22 * k, 22, value, ".15E")
    others = [
        _Rec(8192, 4, (18, 40, 18, 20)),
        _Rec(9860, 5, (18, 50, 18, 20)),
        _Rec(1620, 6, (18, 60, 18, 20)),
    ]
    return b"".join(bytes(r.buf) for r in [fd, dss, ppr, *others])


def _image(spec: ProductSpec, pol: str) -> bytes:
    slc = spec.slc[pol]
    lines, pixels = slc.shape
    prefix = spec.prefix_bytes
    record_length = prefix + 8 * pixels
    fd = _Rec(720, 1, (50, 192, 18, 18))
    fd.a(13, 2, "A")
    fd.a(17, 12, "CEOS-SAR")
    fd.i(181, 6, lines)
    fd.i(187, 6, record_length)
    fd.i(217, 4, 32)
    fd.i(221, 4, 2)
    fd.i(225, 4, 8)
    fd.i(233, 4, 1)
    fd.i(237, 8, lines)
    fd.i(245, 4, 0)
    fd.i(249, 8, pixels)
    fd.i(257, 4, 0)
    fd.i(261, 4, 0)
    fd.i(265, 4, 0)
    fd.a(269, 4, "BSQ")
    fd.i(273, 2, 1)
    fd.i(275, 2, 1)
    fd.i(277, 4, prefix)
    fd.i(281, 8, 8 * pixels)
    fd.i(289, 4, 0)
    fd.a(401, 28, "COMPLEX*8")
    fd.a(429, 4, "C*8")
    out = [bytes(fd.buf)]
    order = range(lines) if spec.line_direction == "ASCEND" else range(lines - 1, -1, -1)
    t0 = np.datetime64(spec.first_line_time, "ns")
    day0 = t0.astype("datetime64[D]")
    tx, rx = ("HV".index(pol[0]), "HV".index(pol[1]))
    for k, row in enumerate(order):
        t_ns = (t0 - day0).astype(np.int64) + int(round(row / spec.prf_hz * 1e9))
        rec = _Rec(record_length, k + 2, (50, 11, 18, 20))
        rec.buf[12:prefix] = bytes(prefix - 12)
        rec.b(13, 4, k + 1)
        rec.b(17, 4, 1)
        rec.b(21, 4, 0)
        rec.b(25, 4, pixels)
        rec.b(29, 4, 0)
        rec.b(37, 4, int(str(day0)[:4]))
        rec.b(41, 4, int((day0 - day0.astype("datetime64[Y]")).astype(int)) + 1)
        rec.b(45, 4, t_ns // 1_000_000)
        rec.b(53, 2, tx)
        rec.b(55, 2, rx)
        rec.b(57, 4, int(round(spec.prf_hz * 1e3)))
        if spec.platform == "ALOS-2":
            rec.b(85, 8, t_ns // 1000)
        far = spec.slant_range_first_m + round((pixels - 1) * C_M_S / (2 * spec.range_sampling_rate_hz))
        rec.b(117, 4, spec.slant_range_first_m if spec.pixel_direction == "INCREASE" else far)
        line = slc[row] if spec.pixel_direction == "INCREASE" else slc[row, ::-1]
        rec.buf[prefix:] = np.asarray(line, dtype=">c8").tobytes()
        out.append(bytes(rec.buf))
    return b"".join(out)


def _trailer() -> bytes:
    fd = _Rec(720, 1, (63, 192, 18, 18))
    fd.a(17, 12, "CEOS-SAR")
    return bytes(fd.buf)


def write_product(spec: ProductSpec, folder: Path, *, zip_name: str | None = None) -> Path:
    """Write VOL, LED, IMG-<pol> and TRL files into ``folder`` (or a zip there); return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {f"VOL-{spec.stem}": _volume(spec), f"LED-{spec.stem}": _leader(spec)}
    for pol in spec.slc:
        files[f"IMG-{pol}-{spec.stem}"] = _image(spec, pol)
    files[f"TRL-{spec.stem}"] = _trailer()
    if zip_name is None:
        for name, data in files.items():
            (folder / name).write_bytes(data)
        return folder
    path = folder / zip_name
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(f"{spec.stem}/{name}", data)
    return path
