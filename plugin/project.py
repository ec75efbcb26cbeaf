"""A QGIS project of a processed stack: ``STACK/project.qgz`` with the geocoded results styled.

Layers, top to bottom: the named points' time series (GeoPackage with DYYYYMMDD columns, from
the report), the whole-span LOS and azimuth rates, the cumulative LOS and azimuth displacement
at the last date, and the DEM as a hillshade. Paths are stored relative to the project, so the
stack folder can be moved or shared as a whole.
"""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsHillshadeRenderer,
    QgsLayerTreeGroup,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
)

from .layers import apply_style

#: (file under geocoded/, layer name, style, visible)
RASTERS = (
    ("los_rate.tif", "LOS rate (m/yr)", "rate_m_per_yr", True),
    ("azimuth_rate.tif", "Azimuth rate (m/yr)", "rate_m_per_yr", False),
    ("los.tif", "LOS displacement (m)", "displacement_m", False),
    ("azimuth.tif", "Azimuth displacement (m)", "displacement_m", False),
)


def write_project(stack_dir: str | Path, *, dem: str | Path | None = None) -> Path:
    """Write ``STACK/project.qgz``; return its path.

    Raises
    ------
    FileNotFoundError
        When the stack has no geocoded results (run ``geocode`` or ``run`` first).
    """
    root = Path(stack_dir).resolve()
    geocoded = root / "geocoded"
    if not (geocoded / "los_rate.tif").exists():
        raise FileNotFoundError(f"{geocoded / 'los_rate.tif'}: no geocoded results (run the chain first)")
    project = QgsProject()  # layer paths are stored relative to the project (the default)
    tree = project.layerTreeRoot()
    points = root / "report" / "points.gpkg"
    if points.exists():
        for comp in ("los", "azimuth"):
            layer = QgsVectorLayer(f"{points}|layername=points_{comp}", f"Points {comp} (m)", "ogr")
            if layer.isValid():
                project.addMapLayer(layer)
    group: QgsLayerTreeGroup = tree.addGroup("Results (geocoded)")
    crs: QgsCoordinateReferenceSystem | None = None
    for name, title, style, visible in RASTERS:
        path = geocoded / name
        if not path.exists():
            continue
        layer = QgsRasterLayer(str(path), title, "gdal")
        if not layer.isValid():
            raise RuntimeError(f"{path}: QGIS cannot read it")
        apply_style(layer, style)
        project.addMapLayer(layer, False)
        node = group.addLayer(layer)
        node.setItemVisibilityChecked(visible)
        crs = crs or layer.crs()
    dem_path = Path(dem) if dem is not None else _dem_of(root)
    if dem_path is not None and dem_path.exists():
        relief = QgsRasterLayer(str(dem_path), "DEM (hillshade)", "gdal")
        if relief.isValid():
            relief.setRenderer(QgsHillshadeRenderer(relief.dataProvider(), 1, 315.0, 45.0))
            project.addMapLayer(relief, False)
            tree.addLayer(relief)
    if crs is not None:
        project.setCrs(crs)
    out = root / "project.qgz"
    tmp = root / ".project.partial.qgz"
    if not project.write(str(tmp)):
        raise RuntimeError(f"{out}: QGIS could not write the project ({project.error()})")
    tmp.replace(out)
    return out


def _dem_of(root: Path) -> Path | None:
    """The DEM the stack was run with (``run.json``), if known."""
    import json

    try:
        return Path(json.loads((root / "run.json").read_text())["dem"])
    except (OSError, KeyError, ValueError):
        return None
