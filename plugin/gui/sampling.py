"""Read the displacement time series under a map click from a layer.

Two kinds of layers hold time series (DESIGN.md contracts):

* **time-series rasters** (``STACK/timeseries/los.tif``, ``azimuth.tif``, ``STACK/geocoded/*.tif``):
  one band per date, the date in the band metadata ``DATE=YYYY-MM-DD`` or the band description
  ``DYYYYMMDD``, NaN nodata, metres. The clicked file's partner component (``azimuth`` beside
  ``los`` and back, same suffix) and each file's ``<name>_std.tif`` are read too when they lie
  beside it on the same grid and dates.
* **point layers** with InSAR-Explorer style ``DYYYYMMDD`` attribute columns (and ``SYYYYMMDD``
  standard deviations, as ``processing_core.vector`` writes them); the component comes from the
  layer name (``points_azimuth`` -> azimuth, else LOS) and the other component from the sibling
  layer of the same GeoPackage (``points_los`` / ``points_azimuth``), matched by ``name``.

The click arrives in the canvas CRS and is transformed to the layer CRS; the pixel is the one
QGIS draws there (from the layer extent and resolution, so rasters without georeferencing, which
QGIS draws with y = -row, are sampled where they are seen). Values are read exactly with GDAL.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
from osgeo import gdal, ogr
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeatureRequest,
    QgsGeometry,
    QgsMapLayer,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
    QgsWkbTypes,
)

from .model import COMPONENTS, Series

gdal.UseExceptions()  # as the core does; errors become RuntimeError
ogr.UseExceptions()

DATE_FIELD = re.compile(r"^D(\d{8})$")
"""A point layer's displacement column for one date (InSAR Explorer)."""
STD_PREFIX = "S"
"""Prefix of the matching standard-deviation column (``S20150727``)."""
_DESCRIPTION = re.compile(r"^D(\d{4})(\d{2})(\d{2})$")


def layer_path(layer: QgsMapLayer) -> str:
    """The file behind a layer (its source without ``|layername=...`` options)."""
    return layer.source().split("|")[0]


def band_dates(path: str | Path) -> np.ndarray | None:
    """The date of every band (``DATE`` metadata, else a ``DYYYYMMDD`` description), or ``None``.

    ``None`` when the file cannot be opened or any band has no date.
    """
    try:
        ds = gdal.Open(str(path))
    except RuntimeError:
        return None
    if ds is None or ds.RasterCount == 0:
        return None
    dates = []
    for k in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(k)
        text = band.GetMetadataItem("DATE") or ""
        match = _DESCRIPTION.match(band.GetDescription() or "")
        if not text and match:
            text = "-".join(match.groups())
        try:
            dates.append(np.datetime64(text[:10], "D"))
        except ValueError:
            return None
    return np.asarray(dates, dtype="datetime64[D]")


def is_timeseries_raster(layer: QgsMapLayer | None) -> bool:
    """A GDAL raster layer whose bands all carry dates."""
    return (
        isinstance(layer, QgsRasterLayer)
        and layer.isValid()
        and layer.providerType() == "gdal"
        and band_dates(layer_path(layer)) is not None
    )


def date_fields(layer: QgsVectorLayer) -> list[tuple[np.datetime64, str]]:
    """``(date, field name)`` of the ``DYYYYMMDD`` columns, by date."""
    found = []
    for name in layer.fields().names():
        match = DATE_FIELD.match(name)
        if match:
            digits = match.group(1)
            try:
                found.append((np.datetime64(f"{digits[:4]}-{digits[4:6]}-{digits[6:]}", "D"), name))
            except ValueError:
                continue
    return sorted(found)


def is_timeseries_points(layer: QgsMapLayer | None) -> bool:
    """A point layer with at least one ``DYYYYMMDD`` column."""
    return (
        isinstance(layer, QgsVectorLayer)
        and layer.isValid()
        and layer.geometryType() == QgsWkbTypes.PointGeometry
        and bool(date_fields(layer))
    )


def is_timeseries_layer(layer: QgsMapLayer | None) -> bool:
    return is_timeseries_raster(layer) or is_timeseries_points(layer)


def component_of(name: str) -> str:
    """``azimuth`` when the name says so, else ``los``."""
    return "azimuth" if "azimuth" in name.lower() else "los"


def to_layer_crs(
    layer: QgsMapLayer, point: QgsPointXY, canvas_crs: QgsCoordinateReferenceSystem
) -> QgsPointXY:
    """``point`` (canvas CRS) in the layer CRS; unchanged when either CRS is unknown or they agree."""
    if not (canvas_crs.isValid() and layer.crs().isValid()) or canvas_crs == layer.crs():
        return QgsPointXY(point)
    transform = QgsCoordinateTransform(canvas_crs, layer.crs(), QgsProject.instance())
    return transform.transform(point)


def geometry_to_layer_crs(
    layer: QgsMapLayer, geometry: QgsGeometry, canvas_crs: QgsCoordinateReferenceSystem
) -> QgsGeometry:
    out = QgsGeometry(geometry)
    if canvas_crs.isValid() and layer.crs().isValid() and canvas_crs != layer.crs():
        out.transform(QgsCoordinateTransform(canvas_crs, layer.crs(), QgsProject.instance()))
    return out


# -- rasters -------------------------------------------------------------------------------------
def raster_family(path: str | Path) -> dict[str, Path]:
    """Files of the series under ``path``: component -> file and ``<component>_std`` -> file.

    ``los<suffix>.tif`` brings ``azimuth<suffix>.tif`` and back; each gets its
    ``<name>_std.tif`` when present. Any other raster is one component named by
    :func:`component_of`.
    """
    path = Path(path)
    stem = path.stem
    found: dict[str, Path] = {}
    prefix = next((c for c in COMPONENTS if stem.lower().startswith(c)), None)
    if prefix is None:
        found[component_of(stem)] = path
    else:
        rest = stem[len(prefix) :]
        for comp in COMPONENTS:
            candidate = path if comp == prefix else path.with_name(f"{comp}{rest}{path.suffix}")
            if candidate.is_file():
                found[comp] = candidate
    for comp in [c for c in COMPONENTS if c in found]:
        std = found[comp].with_name(f"{found[comp].stem}_std{found[comp].suffix}")
        if std.is_file():
            found[f"{comp}_std"] = std
    return found


def _grid_of(layer: QgsRasterLayer) -> tuple[float, float, float, float]:
    extent = layer.extent()
    return extent.xMinimum(), extent.yMaximum(), layer.rasterUnitsPerPixelX(), layer.rasterUnitsPerPixelY()


def pixel_of(layer: QgsRasterLayer, point: QgsPointXY) -> tuple[int, int] | None:
    """``(row, col)`` of the pixel QGIS draws at ``point`` (layer CRS), ``None`` outside."""
    x0, y0, dx, dy = _grid_of(layer)
    col = math.floor((point.x() - x0) / dx)
    row = math.floor((y0 - point.y()) / dy)
    if 0 <= row < layer.height() and 0 <= col < layer.width():
        return row, col
    return None


def pixel_centre(layer: QgsRasterLayer, row: int, col: int) -> QgsPointXY:
    """The centre of pixel ``(row, col)`` in the layer CRS (the inverse of :func:`pixel_of`)."""
    x0, y0, dx, dy = _grid_of(layer)
    return QgsPointXY(x0 + (col + 0.5) * dx, y0 - (row + 0.5) * dy)


def read_window(path: str | Path, row: int, col: int, rows: int = 1, cols: int = 1) -> np.ndarray:
    """Bands x rows x cols as float64, nodata as NaN."""
    ds = gdal.Open(str(path))
    data = np.asarray(ds.ReadAsArray(col, row, cols, rows), dtype=np.float64).reshape(
        ds.RasterCount, rows, cols
    )
    for k in range(ds.RasterCount):
        nodata = ds.GetRasterBand(k + 1).GetNoDataValue()
        if nodata is not None and not math.isnan(nodata):
            data[k][data[k] == nodata] = np.nan
    return data


def _family_windows(
    layer: QgsRasterLayer, window: tuple[int, int, int, int]
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, Path]]:
    """Dates and the window ``(row, col, rows, cols)`` of every file of the layer's family.

    Files whose size or dates differ from the clicked layer's are left out.
    """
    path = Path(layer_path(layer))
    dates = band_dates(path)
    assert dates is not None
    out: dict[str, np.ndarray] = {}
    files: dict[str, Path] = {}
    for key, file in raster_family(path).items():
        ds = gdal.Open(str(file))
        if (ds.RasterXSize, ds.RasterYSize) != (layer.width(), layer.height()):
            continue
        other = band_dates(file)
        if other is None or other.shape != dates.shape or np.any(other != dates):
            continue
        out[key] = read_window(file, *window)
        files[key] = file
    return dates, out, files


def sample_raster(
    layer: QgsRasterLayer, point: QgsPointXY, canvas_crs: QgsCoordinateReferenceSystem
) -> Series | None:
    """The series at the pixel under ``point`` (canvas CRS); ``None`` outside the raster."""
    pixel = pixel_of(layer, to_layer_crs(layer, point, canvas_crs))
    if pixel is None:
        return None
    row, col = pixel
    dates, windows, files = _family_windows(layer, (row, col, 1, 1))
    values = {c: windows[c][:, 0, 0] for c in COMPONENTS if c in windows}
    std = {c: windows[f"{c}_std"][:, 0, 0] for c in values if f"{c}_std" in windows}
    return Series(
        label=f"{layer.name()} (row {row}, col {col})",
        dates=dates,
        values=values,
        std=std,
        source=layer_path(layer),
        location=(point.x(), point.y()),
        info={"layer": layer.name(), "row": row, "col": col, "files": {k: str(v) for k, v in files.items()}},
    )


def polygon_mask(layer: QgsRasterLayer, polygon: QgsGeometry) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """The pixel window ``(row, col, rows, cols)`` around ``polygon`` (layer CRS) and the mask of
    the pixels whose centre lies inside it (GDAL rasterisation)."""
    x0, y0, dx, dy = _grid_of(layer)
    box = polygon.boundingBox()
    c0 = max(0, math.floor((box.xMinimum() - x0) / dx))
    c1 = min(layer.width(), math.ceil((box.xMaximum() - x0) / dx))
    r0 = max(0, math.floor((y0 - box.yMaximum()) / dy))
    r1 = min(layer.height(), math.ceil((y0 - box.yMinimum()) / dy))
    if c1 <= c0 or r1 <= r0:
        return (0, 0, 0, 0), np.zeros((0, 0), dtype=bool)
    target = gdal.GetDriverByName("MEM").Create("", c1 - c0, r1 - r0, 1, gdal.GDT_Byte)
    target.SetGeoTransform((x0 + c0 * dx, dx, 0.0, y0 - r0 * dy, 0.0, -dy))
    source = ogr.GetDriverByName("Memory").CreateDataSource("polygon")
    shapes = source.CreateLayer("polygon")
    feature = ogr.Feature(shapes.GetLayerDefn())
    feature.SetGeometry(ogr.CreateGeometryFromWkt(polygon.asWkt()))
    shapes.CreateFeature(feature)
    gdal.RasterizeLayer(target, [1], shapes, burn_values=[1])
    return (r0, c0, r1 - r0, c1 - c0), target.ReadAsArray().astype(bool)


def _mean_and_spread(window: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per band: mean of the finite pixels inside ``mask`` and their sample standard deviation."""
    values = window[:, mask]
    finite = np.isfinite(values)
    count = finite.sum(axis=1)
    total = np.where(finite, values, 0.0).sum(axis=1)
    mean = np.divide(total, count, out=np.full(len(count), np.nan), where=count > 0)
    squares = np.where(finite, (values - mean[:, None]) ** 2, 0.0).sum(axis=1)
    spread = np.sqrt(np.divide(squares, count - 1, out=np.full(len(count), np.nan), where=count > 1))
    return mean, spread


def polygon_mean(
    layer: QgsRasterLayer,
    polygon: QgsGeometry,
    canvas_crs: QgsCoordinateReferenceSystem,
    label: str = "polygon",
) -> Series | None:
    """Mean series of the pixels inside ``polygon`` (canvas CRS), ``None`` when none is inside.

    Each date averages the finite pixels of that date; the error bars are the spatial spread
    (sample standard deviation of those pixels), as the core's disc mean does.
    """
    window, mask = polygon_mask(layer, geometry_to_layer_crs(layer, polygon, canvas_crs))
    if not mask.any():
        return None
    dates, windows, _ = _family_windows(layer, window)
    values: dict[str, np.ndarray] = {}
    std: dict[str, np.ndarray] = {}
    for comp in COMPONENTS:
        if comp in windows:
            values[comp], std[comp] = _mean_and_spread(windows[comp], mask)
    n = int(mask.sum())
    return Series(
        label=f"{label} ({n} px)",
        dates=dates,
        values=values,
        std=std,
        source=layer_path(layer),
        polygon_wkt=polygon.asWkt(),
        info={"layer": layer.name(), "pixels": n, "window": window, "std": "spatial spread"},
    )


# -- point layers --------------------------------------------------------------------------------
def _attribute_series(feature: object, fields: list[tuple[np.datetime64, str]], names: set[str]):
    def number(name: str) -> float:
        value = feature[name]  # type: ignore[index]
        try:
            return float(value) if value is not None else math.nan
        except (TypeError, ValueError):  # NULL QVariant
            return math.nan

    values = np.asarray([number(f) for _, f in fields])
    std_names = [STD_PREFIX + f[1:] for _, f in fields]
    std = np.asarray([number(s) for s in std_names]) if all(s in names for s in std_names) else None
    return values, std


def _sibling(layer: QgsVectorLayer, component: str) -> QgsVectorLayer | None:
    """The other component's layer of the same GeoPackage (``points_los`` <-> ``points_azimuth``)."""
    source = layer.source()
    match = re.search(r"layername=points_(los|azimuth)", source)
    if layer.providerType() != "ogr" or match is None:
        return None
    other = "azimuth" if component == "los" else "los"
    sibling = QgsVectorLayer(source.replace(match.group(0), f"layername=points_{other}"), other, "ogr")
    return sibling if sibling.isValid() and date_fields(sibling) else None


def sample_points(
    layer: QgsVectorLayer,
    point: QgsPointXY,
    canvas_crs: QgsCoordinateReferenceSystem,
    tolerance: float,
) -> Series | None:
    """The series of the feature nearest ``point`` within ``tolerance`` (canvas units), or ``None``."""
    box = QgsRectangle(
        point.x() - tolerance, point.y() - tolerance, point.x() + tolerance, point.y() + tolerance
    )
    if canvas_crs.isValid() and layer.crs().isValid() and canvas_crs != layer.crs():
        box = QgsCoordinateTransform(canvas_crs, layer.crs(), QgsProject.instance()).transformBoundingBox(box)
    here = QgsGeometry.fromPointXY(to_layer_crs(layer, point, canvas_crs))
    candidates = list(layer.getFeatures(QgsFeatureRequest().setFilterRect(box)))
    if not candidates:
        return None
    feature = min(candidates, key=lambda f: f.geometry().distance(here))
    fields = date_fields(layer)
    names = set(layer.fields().names())
    component = component_of(f"{layer.name()} {layer.source()}")
    values, std = _attribute_series(feature, fields, names)
    dates = np.asarray([d for d, _ in fields], dtype="datetime64[D]")
    name = str(feature["name"]) if "name" in names and feature["name"] is not None else f"fid {feature.id()}"
    series = Series(
        label=f"{layer.name()}: {name}",
        dates=dates,
        values={component: values},
        std={component: std} if std is not None else {},
        source=layer_path(layer),
        location=(point.x(), point.y()),
        info={"layer": layer.name(), "fid": feature.id(), "name": name},
    )
    sibling = _sibling(layer, component)
    if sibling is not None and "name" in names:
        other = "azimuth" if component == "los" else "los"
        match = next((f for f in sibling.getFeatures() if str(f["name"]) == name), None)
        sibling_fields = date_fields(sibling)
        if match is not None and [d for d, _ in sibling_fields] == [d for d, _ in fields]:
            v, s = _attribute_series(match, sibling_fields, set(sibling.fields().names()))
            series.values[other] = v
            if s is not None:
                series.std[other] = s
    return series
