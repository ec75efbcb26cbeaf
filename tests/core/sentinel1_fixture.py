"""Independent parsing of the real Sentinel-1 annotation in ../shared/fixtures (test helper).

Kept separate from the product reader under test: it builds the scene sidecar and
ESA's geolocation grid straight from the XML with ElementTree.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[3] / "shared"
SAFE = (
    SHARED
    / "fixtures"
    / "sentinel1"
    / "S1B_IW_GRDH_1SDV_20211223T051122_20211223T051147_030148_039993_5371.SAFE"
)
ANNOTATION = SAFE / "annotation" / "s1b-iw-grd-vv-20211223t051122-20211223t051147-030148-039993-001.xml"
C_M_S = 299_792_458.0


@dataclass
class GeolocationGrid:
    """ESA's geolocation grid points (one entry per point)."""

    azimuth_time: np.ndarray  # datetime64[ns]
    slant_range_m: np.ndarray
    line: np.ndarray
    pixel: np.ndarray
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    height_m: np.ndarray


def _t(text: str) -> str:
    return text.strip() + "Z"


def scene_dict() -> dict:
    """The annotation as a ``sar-scene/1`` dictionary (zero-Doppler, GRD timing)."""
    root = ET.parse(ANNOTATION).getroot()
    info = root.find("imageAnnotation/imageInformation")
    wavelength = C_M_S / float(root.find("generalAnnotation/productInformation/radarFrequency").text)
    orbit = []
    for o in root.findall("generalAnnotation/orbitList/orbit"):
        orbit.append(
            {
                "time": _t(o.find("time").text),
                "position_m": [float(o.find(f"position/{a}").text) for a in "xyz"],
                "velocity_m_s": [float(o.find(f"velocity/{a}").text) for a in "xyz"],
            }
        )
    return {
        "format": "sar-scene/1",
        "id": "S1B_20211223",
        "platform": "Sentinel-1B",
        "sensor": "C-SAR",
        "mode": root.find("adsHeader/mode").text,
        "polarization": root.find("adsHeader/polarisation").text,
        "pass_direction": root.find("generalAnnotation/productInformation/pass").text.lower(),
        "look_side": "right",
        "wavelength_m": wavelength,
        "radar_grid": {
            "first_line_time": _t(info.find("productFirstLineUtcTime").text),
            "line_time_interval_s": float(info.find("azimuthTimeInterval").text),
            "slant_range_first_m": float(info.find("slantRangeTime").text) * C_M_S / 2,
            "slant_range_spacing_m": float(info.find("rangePixelSpacing").text),
            "lines": int(info.find("numberOfLines").text),
            "samples": int(info.find("numberOfSamples").text),
        },
        "doppler_centroid_hz": [0.0],
        "orbit": orbit,
        "image": "measurement.tiff",
    }


def geolocation_grid() -> GeolocationGrid:
    """ESA's 210-point geolocation grid of the annotation."""
    root = ET.parse(ANNOTATION).getroot()
    pts = root.findall("geolocationGrid/geolocationGridPointList/geolocationGridPoint")

    def col(tag: str) -> np.ndarray:
        return np.array([float(p.find(tag).text) for p in pts])

    return GeolocationGrid(
        azimuth_time=np.array([p.find("azimuthTime").text.strip() for p in pts], dtype="datetime64[ns]"),
        slant_range_m=col("slantRangeTime") * C_M_S / 2,
        line=col("line"),
        pixel=col("pixel"),
        lat_deg=col("latitude"),
        lon_deg=col("longitude"),
        height_m=col("height"),
    )
