"""Point time-series layers as GeoPackage (InSAR-Explorer style ``DYYYYMMDD`` columns).

One layer per component (``points_los``, ``points_azimuth``): a WGS84 point per named location
with its ``name``, the series' ``*_std_m`` at the last date where given, and one double column
per acquisition date, ``DYYYYMMDD``, holding the cumulative displacement in metres relative to
the first date (DESIGN.md sign conventions). Written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from osgeo import ogr, osr

ogr.UseExceptions()


def write_points_gpkg(
    path: str | os.PathLike[str],
    dates: Sequence[np.datetime64 | str],
    points: Sequence[tuple[str, float, float]],
    series: Mapping[str, Mapping[str, np.ndarray]],
) -> Path:
    """Write the point layers.

    Parameters
    ----------
    path
        The ``.gpkg`` file.
    dates
        Acquisition dates, one per value of each series.
    points
        ``(name, lon_deg, lat_deg)`` of each point.
    series
        ``series[name][component]``: array (n_dates,) in metres; components ``los`` and
        ``azimuth`` become layers, ``<component>_std`` (optional) becomes a std column per date
        named ``S<YYYYMMDD>``.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.partial.gpkg")
    if tmp.exists():
        tmp.unlink()
    columns = [np.datetime64(d, "D").astype(str).replace("-", "") for d in dates]
    wgs84 = osr.SpatialReference()
    wgs84.ImportFromEPSG(4326)
    wgs84.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(tmp))
    try:
        for comp in ("los", "azimuth"):
            layer = ds.CreateLayer(f"points_{comp}", wgs84, ogr.wkbPoint)
            layer.CreateField(ogr.FieldDefn("name", ogr.OFTString))
            for col in columns:
                layer.CreateField(ogr.FieldDefn(f"D{col}", ogr.OFTReal))
            with_std = any(f"{comp}_std" in series[name] for name, _, _ in points)
            if with_std:
                for col in columns:
                    layer.CreateField(ogr.FieldDefn(f"S{col}", ogr.OFTReal))
            for name, lon, lat in points:
                feature = ogr.Feature(layer.GetLayerDefn())
                feature.SetField("name", name)
                values = np.asarray(series[name][comp], dtype=float)
                std = series[name].get(f"{comp}_std")
                for k, col in enumerate(columns):
                    if np.isfinite(values[k]):
                        feature.SetField(f"D{col}", float(values[k]))
                    if with_std and std is not None and np.isfinite(std[k]):
                        feature.SetField(f"S{col}", float(std[k]))
                point = ogr.Geometry(ogr.wkbPoint)
                point.AddPoint_2D(float(lon), float(lat))
                feature.SetGeometry(point)
                layer.CreateFeature(feature)
    finally:
        ds = None  # closes the data source
    os.replace(tmp, out)
    return out
