"""The time-series inspector dock: clicks on known pixels plot exactly the raster's values.

A small stack is written per module: ``STACK/timeseries/los.tif`` (band k = k (row + 2 col)
0.1 m, one NaN), ``azimuth.tif`` (band k = -k (2 row + col) 0.05 m), ``los_std.tif`` (no
azimuth std: a plain line there), and ``stack.json`` with two platforms. The canvas is in
WGS84 while the rasters are in UTM 11N, so every click goes through the CRS transform.
"""

from __future__ import annotations

import csv
import importlib.util
import sys

import numpy as np
import pytest
from matplotlib.path import Path as MplPath
from osgeo import gdal
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsDateTimeRange,
    QgsFeature,
    QgsField,
    QgsGeometry,
    QgsPalettedRasterRenderer,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
    QgsSingleBandPseudoColorRenderer,
    QgsVectorLayer,
)
from qgis.gui import QgsMapMouseEvent, QgsMapTool
from qgis.PyQt.QtCore import QEvent, QPoint, QVariant
from qgis.PyQt.QtCore import Qt as QtNs
from qgis.PyQt.QtWidgets import QApplication, QDockWidget
from timeseries_writer import write_stack_json, write_timeseries

pytestmark = pytest.mark.qgis

DATES = np.array(
    ["2014-01-10", "2014-06-01", "2014-11-20", "2015-03-01", "2015-07-27", "2015-12-01"],
    dtype="datetime64[D]",
)
PLATFORMS = ["ALOS", "ALOS", "ALOS", "ALOS-2", "ALOS-2", "ALOS-2"]
ROWS, COLS = 8, 10
X0, Y0, PIXEL = 400000.0, 3800000.0, 30.0
UTM = QgsCoordinateReferenceSystem("EPSG:32611")
WGS84 = QgsCoordinateReferenceSystem("EPSG:4326")
NAN_PIXEL = (5, 6, 2)  # row, col, band index (0-based) set to NaN in los.tif


def _cube(scale: float, rows_factor: float, cols_factor: float) -> np.ndarray:
    k = np.arange(1, len(DATES) + 1)[:, None, None]
    r = np.arange(ROWS)[None, :, None]
    c = np.arange(COLS)[None, None, :]
    return (k * (rows_factor * r + cols_factor * c) * scale).astype(np.float32)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("STACK")
    folder = root / "timeseries"
    folder.mkdir()
    los = _cube(0.1, 1.0, 2.0)
    los[NAN_PIXEL[2], NAN_PIXEL[0], NAN_PIXEL[1]] = np.nan
    azimuth = _cube(-0.05, 2.0, 1.0)
    std = (
        0.01 * np.arange(1, len(DATES) + 1)[:, None, None] + 0.001 * np.arange(ROWS)[None, :, None]
    ) * np.ones((1, 1, COLS))
    std = std.astype(np.float32)
    for name, cube in (("los", los), ("azimuth", azimuth), ("los_std", std)):
        write_timeseries(folder / f"{name}.tif", DATES, cube, (X0, PIXEL, 0.0, Y0, 0.0, -PIXEL))
    write_stack_json(root, DATES, PLATFORMS)
    return {"root": root, "los": los, "azimuth": azimuth, "los_std": std, "path": folder / "los.tif"}


def centre_utm(row: int, col: int) -> QgsPointXY:
    return QgsPointXY(X0 + (col + 0.5) * PIXEL, Y0 - (row + 0.5) * PIXEL)


def to_canvas(point: QgsPointXY) -> QgsPointXY:
    return QgsCoordinateTransform(UTM, WGS84, QgsProject.instance()).transform(point)


@pytest.fixture
def layer(stack: dict, qgis_canvas) -> QgsRasterLayer:
    layer = QgsRasterLayer(str(stack["path"]), "LOS", "gdal")
    assert layer.isValid()
    QgsProject.instance().addMapLayer(layer)
    qgis_canvas.setDestinationCrs(WGS84)
    transform = QgsCoordinateTransform(UTM, WGS84, QgsProject.instance())
    qgis_canvas.setExtent(transform.transformBoundingBox(layer.extent()))
    yield layer
    QgsProject.instance().removeAllMapLayers()


@pytest.fixture
def dock(plugin_package, gui_iface, layer):
    from sar_offset_tracking.plugin.gui.dock import TimeSeriesDock

    widget = TimeSeriesDock(gui_iface, gui_iface.mainWindow())
    widget.set_layer(layer)
    yield widget
    widget.cleanup()
    widget.deleteLater()


def click(tool, canvas, point: QgsPointXY, button=QtNs.LeftButton) -> None:
    """A real mouse release on the canvas at the screen pixel of ``point`` (canvas CRS)."""
    screen = canvas.getCoordinateTransform().transform(point)
    event = QgsMapMouseEvent(
        canvas, QEvent.MouseButtonRelease, QPoint(round(screen.x()), round(screen.y())), button
    )
    tool.canvasReleaseEvent(event)


def test_click_plots_the_pixel_values_with_error_bars(dock, stack, qgis_canvas) -> None:
    row, col = 3, 7
    dock.pick_action.setChecked(True)
    assert qgis_canvas.mapTool() is dock.point_tool
    click(dock.point_tool, qgis_canvas, to_canvas(centre_utm(row, col)))
    assert len(dock.series) == 1
    label = dock.series[0].label
    assert dock.series[0].info["row"] == row
    assert dock.series[0].info["col"] == col
    dates, y = dock.plot.curve("los", label)
    np.testing.assert_array_equal(dates, DATES)
    np.testing.assert_array_equal(y, stack["los"][:, row, col].astype(float))
    np.testing.assert_allclose(dock.plot.error_bars("los", label), stack["los_std"][:, row, col], rtol=1e-6)
    _, az = dock.plot.curve("azimuth", label)
    np.testing.assert_array_equal(az, stack["azimuth"][:, row, col].astype(float))
    assert dock.plot.error_bars("azimuth", label) is None  # no azimuth_std.tif
    assert len(dock.markers.items) == 1
    marker = dock.markers.items[0]
    assert marker.scene() is qgis_canvas.scene()


def test_nan_pixel_stays_missing(dock, stack) -> None:
    row, col, band = NAN_PIXEL
    series = dock.plot_at(to_canvas(centre_utm(row, col)))
    _, y = dock.plot.curve("los", series.label)
    assert np.isnan(y[band])
    assert np.count_nonzero(np.isnan(y)) == 1


def test_radar_geometry_raster_without_georeferencing(dock, tmp_path) -> None:
    """QGIS draws a raster without geotransform at x = col, y = -row; the click lands there."""
    cube = _cube(0.1, 3.0, 1.0)
    path = write_timeseries(tmp_path / "timeseries" / "los.tif", DATES, cube, None)
    radar = QgsRasterLayer(str(path), "radar LOS", "gdal")
    assert not radar.crs().isValid()
    QgsProject.instance().addMapLayer(radar)
    dock.set_layer(radar)
    series = dock.plot_at(QgsPointXY(7.5, -2.5))
    assert (series.info["row"], series.info["col"]) == (2, 7)
    np.testing.assert_array_equal(dock.plot.curve("los", series.label)[1], cube[:, 2, 7])
    assert "azimuth" not in series.values  # no azimuth.tif beside it


def test_click_outside_plots_nothing(dock) -> None:
    assert dock.plot_at(to_canvas(QgsPointXY(X0 - 100.0, Y0 + 100.0))) is None
    assert dock.series == []
    assert "No data" in dock.status.text()


def test_hold_compares_points_and_clear_removes_markers(dock, stack, qgis_canvas) -> None:
    dock.hold_action.setChecked(True)
    first = dock.plot_at(to_canvas(centre_utm(1, 1)))
    second = dock.plot_at(to_canvas(centre_utm(6, 8)))
    assert [s.label for s in dock.series] == [first.label, second.label]
    np.testing.assert_array_equal(dock.plot.curve("los", second.label)[1], stack["los"][:, 6, 8])
    colors = {m.color().name() for m in dock.markers.items}
    assert len(colors) == 2
    dock.hold_action.setChecked(False)
    third = dock.plot_at(to_canvas(centre_utm(2, 2)))
    assert [s.label for s in dock.series] == [third.label]
    assert len(dock.markers.items) == 1
    dock.clear()
    assert dock.series == []
    assert dock.markers.items == []
    assert not [i for i in qgis_canvas.scene().items() if type(i).__name__ == "QgsVertexMarker"]


def test_reference_point_is_subtracted(dock, stack, qgis_canvas) -> None:
    ref_row, ref_col, row, col = 0, 1, 4, 5
    dock.reference_action.setChecked(True)
    click(dock.reference_tool, qgis_canvas, to_canvas(centre_utm(ref_row, ref_col)))
    assert dock.reference is not None
    assert qgis_canvas.mapTool() is dock.point_tool  # back to picking after the reference
    series = dock.plot_at(to_canvas(centre_utm(row, col)))
    shown = dock.displayed_series()[0].label
    expected = stack["los"][:, row, col].astype(float) - stack["los"][:, ref_row, ref_col]
    np.testing.assert_allclose(dock.plot.curve("los", shown)[1], expected, rtol=0, atol=1e-12)
    expected_az = stack["azimuth"][:, row, col].astype(float) - stack["azimuth"][:, ref_row, ref_col]
    np.testing.assert_allclose(dock.plot.curve("azimuth", shown)[1], expected_az, rtol=0, atol=1e-12)
    std = np.hypot(stack["los_std"][:, row, col], stack["los_std"][:, ref_row, ref_col])
    np.testing.assert_allclose(dock.plot.error_bars("los", shown), std, rtol=1e-6)
    assert shown != series.label
    assert dock.reference.label in dock.plot.figure.texts[0].get_text()
    dock.clear_reference()
    np.testing.assert_array_equal(dock.plot.curve("los", series.label)[1], stack["los"][:, row, col])


def test_polygon_average_equals_numpy(dock, stack, qgis_canvas) -> None:
    # an irregular pentagon (UTM) holding the NaN pixel; drawn with the polygon tool
    vertices = [
        (X0 + 95, Y0 - 40),
        (X0 + 260, Y0 - 70),
        (X0 + 250, Y0 - 215),
        (X0 + 150, Y0 - 230),
        (X0 + 80, Y0 - 130),
    ]
    dock.polygon_action.setChecked(True)
    assert qgis_canvas.mapTool() is dock.polygon_tool
    canvas_vertices = [to_canvas(QgsPointXY(x, y)) for x, y in vertices]
    for point in canvas_vertices:
        click(dock.polygon_tool, qgis_canvas, point)
    click(dock.polygon_tool, qgis_canvas, canvas_vertices[-1], QtNs.RightButton)
    assert len(dock.series) == 1
    series = dock.series[0]
    # independent: which pixel centres lie inside the polygon as drawn (screen-rounded vertices)
    polygon = QgsGeometry.fromWkt(series.polygon_wkt)
    polygon.transform(QgsCoordinateTransform(WGS84, UTM, QgsProject.instance()))
    ring = np.array([(p.x(), p.y()) for p in polygon.asPolygon()[0]])
    rr, cc = np.mgrid[0:ROWS, 0:COLS]
    centres = np.column_stack([(X0 + (cc.ravel() + 0.5) * PIXEL), (Y0 - (rr.ravel() + 0.5) * PIXEL)])
    inside = MplPath(ring).contains_points(centres).reshape(ROWS, COLS)
    assert inside[NAN_PIXEL[0], NAN_PIXEL[1]]
    assert 10 < inside.sum() < 40
    assert series.info["pixels"] == inside.sum()
    pixels = stack["los"][:, inside].astype(float)
    np.testing.assert_allclose(
        dock.plot.curve("los", series.label)[1], np.nanmean(pixels, axis=1), rtol=1e-12
    )
    np.testing.assert_allclose(
        dock.plot.error_bars("los", series.label), np.nanstd(pixels, axis=1, ddof=1), rtol=1e-9
    )
    azimuth = stack["azimuth"][:, inside].astype(float).mean(axis=1)
    np.testing.assert_allclose(dock.plot.curve("azimuth", series.label)[1], azimuth, rtol=1e-12)
    assert len(dock.markers.items) == 1
    assert type(dock.markers.items[0]).__name__ == "QgsRubberBand"


def test_exports_csv_png_svg(dock, stack, tmp_path) -> None:
    dock.hold_action.setChecked(True)
    a = dock.plot_at(to_canvas(centre_utm(2, 3)))
    b = dock.plot_at(to_canvas(centre_utm(NAN_PIXEL[0], NAN_PIXEL[1])))
    dock.export_csv(str(tmp_path / "series.csv"))
    with open(tmp_path / "series.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["name", "date", "los_m", "azimuth_m", "los_std_m", "azimuth_std_m"]
    assert len(rows) == 2 * len(DATES)
    for series, (row, col) in ((a, (2, 3)), (b, NAN_PIXEL[:2])):
        mine = [r for r in rows if r["name"] == series.label]
        assert [r["date"] for r in mine] == [str(d) for d in DATES]
        los = np.array([float(r["los_m"]) if r["los_m"] else np.nan for r in mine])
        np.testing.assert_array_equal(los, stack["los"][:, row, col])
        np.testing.assert_array_equal([float(r["azimuth_m"]) for r in mine], stack["azimuth"][:, row, col])
        np.testing.assert_array_equal([float(r["los_std_m"]) for r in mine], stack["los_std"][:, row, col])
        assert all(r["azimuth_std_m"] == "" for r in mine)
    for suffix, magic in (("png", b"\x89PNG"), ("svg", b"<svg")):
        path = tmp_path / f"plot.{suffix}"
        dock.export_plot(str(path))
        assert path.stat().st_size > 1000
        assert magic in path.read_bytes()[:400]


def test_platform_periods_are_shaded(dock) -> None:
    dock.plot_at(to_canvas(centre_utm(1, 2)))
    assert dock.plot.spans() == [
        ("ALOS", DATES[0], DATES[2]),
        ("ALOS-2", DATES[3], DATES[5]),
    ]


def test_flip_azimuth_for_display(dock, stack, tmp_path) -> None:
    series = dock.plot_at(to_canvas(centre_utm(5, 2)))
    dock.flip_check.setChecked(True)
    np.testing.assert_array_equal(dock.plot.curve("azimuth", series.label)[1], -stack["azimuth"][:, 5, 2])
    assert "flipped" in dock.plot.axes["azimuth"].get_ylabel()
    assert "flipped" in dock.flip_check.text().lower() or "flip" in dock.flip_check.text().lower()
    dock.export_csv(str(tmp_path / "s.csv"))  # data keep the contract sign
    with open(tmp_path / "s.csv", encoding="utf-8") as fh:
        first = next(csv.DictReader(fh))
    assert float(first["azimuth_m"]) == stack["azimuth"][0, 5, 2]


def test_precipitation_bars(dock, tmp_path) -> None:
    path = tmp_path / "precip.csv"
    path.write_text("month,precip_mm\n2014-02,12.5\n2014-01,3\n2014-03,40.25\n", encoding="utf-8")
    dock.precipitation_widget.setFilePath(str(path))
    np.testing.assert_array_equal(dock.plot.bars(), [3.0, 12.5, 40.25])
    assert "precipitation" in dock.plot.axes
    dock.precipitation_widget.setFilePath("")
    assert dock.plot.bars().size == 0


def test_creep_stages_from_the_core(dock, stack) -> None:
    stages = pytest.importorskip("processing_core.analysis.stages")
    assert dock.stages_check.isEnabled()
    assert dock.stages_check.isChecked()
    row, col = 6, 9
    dock.plot_at(to_canvas(centre_utm(row, col)))
    result = stages.detect_stages(DATES, stack["los"][:, row, col].astype(float))
    expected = [f"{s.kind} {s.rate_mm_per_day:+.1f} mm/day" for s in result.stages]
    assert dock.plot.stage_labels() == expected
    dock.stages_check.setChecked(False)
    assert dock.plot.stage_labels() == []


def _points_layer() -> QgsVectorLayer:
    layer = QgsVectorLayer("Point?crs=EPSG:32611", "Points LOS", "memory")
    fields = [QgsField("name", QVariant.String)]
    fields += [QgsField("D" + str(d).replace("-", ""), QVariant.Double) for d in DATES]
    fields += [QgsField("S" + str(d).replace("-", ""), QVariant.Double) for d in DATES]
    layer.dataProvider().addAttributes(fields)
    layer.updateFields()
    for k, (row, col) in enumerate([(1, 1), (4, 6)]):
        feature = QgsFeature(layer.fields())
        feature.setGeometry(QgsGeometry.fromPointXY(centre_utm(row, col)))
        feature.setAttributes(
            [f"P{k}", *[0.5 * (k + 1) * j for j in range(len(DATES))], *[0.01 * j for j in range(6)]]
        )
        layer.dataProvider().addFeature(feature)
    return layer


def test_point_layer_click_gives_its_attributes(dock, qgis_canvas) -> None:
    points = _points_layer()
    QgsProject.instance().addMapLayer(points)
    dock.set_layer(points)
    near = centre_utm(4, 6)
    click(dock.point_tool, qgis_canvas, to_canvas(QgsPointXY(near.x() + 5.0, near.y() - 4.0)))
    series = dock.series[0]
    assert series.label == "Points LOS: P1"
    np.testing.assert_array_equal(dock.plot.curve("los", series.label)[1], [1.0 * j for j in range(6)])
    np.testing.assert_allclose(dock.plot.error_bars("los", series.label), [0.01 * j for j in range(6)])
    assert "azimuth" not in series.values


def test_geopackage_points_bring_both_components(dock, tmp_path, qgis_canvas) -> None:
    from processing_core.vector import write_points_gpkg

    lon_lat = to_canvas(centre_utm(2, 2))
    series = {"A": {"los": np.arange(6) * -0.2, "azimuth": np.arange(6) * 0.3}}
    path = write_points_gpkg(
        tmp_path / "report" / "points.gpkg", DATES, [("A", lon_lat.x(), lon_lat.y())], series
    )
    layer = QgsVectorLayer(f"{path}|layername=points_azimuth", "Points azimuth (m)", "ogr")
    QgsProject.instance().addMapLayer(layer)
    dock.set_layer(layer)
    plotted = dock.plot_at(lon_lat)
    np.testing.assert_allclose(dock.plot.curve("azimuth", plotted.label)[1], series["A"]["azimuth"])
    np.testing.assert_allclose(dock.plot.curve("los", plotted.label)[1], series["A"]["los"])


def test_temporal_controller_switches_the_band(dock, layer, qgis_canvas) -> None:
    from sar_offset_tracking.plugin.gui.temporal import to_qdatetime
    from sar_offset_tracking.plugin.layers import apply_style

    apply_style(layer, "displacement_m")
    assert layer.renderer().band() == len(DATES)
    dock.temporal_action.setChecked(True)
    assert layer.temporalProperties().isActive()
    for k, date in enumerate(DATES, start=1):  # a frame from the date to the next day
        qgis_canvas.setTemporalRange(
            QgsDateTimeRange(to_qdatetime(date), to_qdatetime(date + 1), True, False)
        )
        assert layer.renderer().band() == k
    qgis_canvas.setTemporalRange(QgsDateTimeRange(to_qdatetime(DATES[3] + 10), to_qdatetime(DATES[4] - 1)))
    assert layer.renderer().band() == 4  # the latest date at or before the range end
    qgis_canvas.setTemporalRange(QgsDateTimeRange(to_qdatetime(DATES[0] - 30), to_qdatetime(DATES[0] - 1)))
    assert layer.renderer().band() == 1
    dock.temporal_action.setChecked(False)
    assert not layer.temporalProperties().isActive()
    assert layer.renderer().band() == len(DATES)  # the band shown before
    qgis_canvas.setTemporalRange(QgsDateTimeRange(to_qdatetime(DATES[1]), to_qdatetime(DATES[1] + 1)))
    assert layer.renderer().band() == len(DATES)  # disconnected


def test_styles_by_name(plugin_package, stack, tmp_path) -> None:
    from sar_offset_tracking.plugin.layers import style_for_name

    names = {
        "los.tif": "displacement_m",
        "geocoded/azimuth.tif": "displacement_m",
        "los_rate.tif": "rate_m_per_yr",
        "azimuth_std.tif": "std_m",
        "los_residual.tif": "std_m",
        "snr.tif": "snr",
        "pair_ncc.tif": "ncc",
        "layover_shadow.tif": "mask",
        "water_mask.tif": "mask",
        "los_count.tif": None,
    }
    assert {n: style_for_name(n) for n in names} == names


def test_open_raster_styles_diverging_and_mask_transparent(dock, stack, tmp_path) -> None:
    opened = dock.open_raster(str(stack["path"]))
    assert dock.current_layer() is opened
    renderer = opened.renderer()
    assert isinstance(renderer, QgsSingleBandPseudoColorRenderer)
    assert renderer.band() == len(DATES)
    assert renderer.classificationMin() == -renderer.classificationMax() < 0  # centred on zero
    mask_path = tmp_path / "layover_shadow.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(mask_path), 4, 3, 1, gdal.GDT_Byte)
    ds.SetGeoTransform((X0, PIXEL, 0.0, Y0, 0.0, -PIXEL))
    ds.GetRasterBand(1).WriteArray(np.array([[0, 1, 2, 3]] * 3, dtype=np.uint8))
    ds = None
    mask = dock.open_raster(str(mask_path))
    assert isinstance(mask.renderer(), QgsPalettedRasterRenderer)
    alpha = {c.value: c.color.alpha() for c in mask.renderer().classes()}
    assert alpha[0] == 0
    assert all(alpha[v] > 0 for v in (1, 2, 3))


def test_plugin_action_shows_dock_and_unload_removes_everything(
    plugin_package, gui_iface, qgis_canvas, layer
) -> None:
    from sar_offset_tracking.plugin.main import INSPECTOR_TEXT

    plugin = plugin_package.classFactory(gui_iface)
    plugin.initGui()
    try:
        assert [a.text() for _, a in gui_iface.menu_actions] == [INSPECTOR_TEXT]
        assert gui_iface.toolbar_actions == [plugin.inspector_action]
        plugin.inspector_action.trigger()
        dock = plugin.dock
        assert dock is not None
        assert dock.parent() is gui_iface.mainWindow()
        assert dock.current_layer() is layer  # the time-series layer of the project
        dock.pick_action.setChecked(True)
        dock.plot_at(to_canvas(centre_utm(1, 1)))
        dock.temporal_action.setChecked(True)
        assert qgis_canvas.mapTool() is dock.point_tool
    finally:
        plugin.unload()
    assert plugin.dock is None
    assert plugin.inspector_action is None
    assert gui_iface.menu_actions == []
    assert gui_iface.toolbar_actions == []
    assert qgis_canvas.mapTool() is None
    assert not [
        i for i in qgis_canvas.scene().items() if type(i).__name__ in ("QgsVertexMarker", "QgsRubberBand")
    ]
    assert not layer.temporalProperties().isActive()
    qgis_canvas.setTemporalRange(
        QgsDateTimeRange(to_qdatetime_str("2014-01-10"), to_qdatetime_str("2014-01-11"))
    )
    QApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    assert not [
        t
        for t in qgis_canvas.findChildren(QgsMapTool)
        if type(t).__name__ in ("PointPickTool", "PolygonTool")
    ]
    docks = [
        d for d in gui_iface.mainWindow().findChildren(QDockWidget) if "SarOffsetTracking" in d.objectName()
    ]
    assert docks == []


def to_qdatetime_str(text: str):
    from sar_offset_tracking.plugin.gui.temporal import to_qdatetime

    return to_qdatetime(np.datetime64(text))


BACKENDS = ["matplotlib", *(["pyqtgraph"] if importlib.util.find_spec("pyqtgraph") else [])]


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_available_backend_draws_the_same(dock, stack, tmp_path, backend) -> None:
    """The adapter contract on each plotting library present (pyqtgraph only where installed)."""
    dock.set_backend(backend)
    assert dock.plot.name == backend
    path = tmp_path / "precip.csv"
    path.write_text("month,precip_mm\n2014-01,3\n2014-02,12.5\n", encoding="utf-8")
    dock.set_precipitation(str(path))
    dock.hold_action.setChecked(True)
    a = dock.plot_at(to_canvas(centre_utm(3, 4)))
    b = dock.plot_at(to_canvas(centre_utm(6, 1)))
    for series, (row, col) in ((a, (3, 4)), (b, (6, 1))):
        dates, y = dock.plot.curve("los", series.label)
        np.testing.assert_array_equal(dates, DATES)
        np.testing.assert_array_equal(y, stack["los"][:, row, col])
        np.testing.assert_allclose(
            dock.plot.error_bars("los", series.label), stack["los_std"][:, row, col], rtol=1e-6
        )
        np.testing.assert_array_equal(
            dock.plot.curve("azimuth", series.label)[1], stack["azimuth"][:, row, col]
        )
    assert dock.plot.spans() == [("ALOS", DATES[0], DATES[2]), ("ALOS-2", DATES[3], DATES[5])]
    np.testing.assert_array_equal(dock.plot.bars(), [3.0, 12.5])
    if dock.stages_check.isChecked():
        assert all(text.endswith("mm/day") for text in dock.plot.stage_labels())
        assert len(dock.plot.stage_labels()) >= 1
    dock.flip_check.setChecked(True)
    np.testing.assert_array_equal(dock.plot.curve("azimuth", a.label)[1], -stack["azimuth"][:, 3, 4])
    for suffix in ("png", "svg"):
        dock.export_plot(str(tmp_path / f"plot.{suffix}"))
        assert (tmp_path / f"plot.{suffix}").stat().st_size > 1000


def test_without_the_stages_module_the_plot_has_no_stages(
    plugin_package, gui_iface, layer, monkeypatch
) -> None:
    """The hook draws stages only when processing_core.analysis.stages imports."""
    from sar_offset_tracking.plugin.gui.dock import TimeSeriesDock
    from sar_offset_tracking.plugin.gui.model import stages_available

    monkeypatch.setitem(sys.modules, "processing_core.analysis.stages", None)  # import fails
    assert not stages_available()
    widget = TimeSeriesDock(gui_iface, gui_iface.mainWindow())
    try:
        widget.set_layer(layer)
        assert not widget.stages_check.isEnabled()
        assert not widget.stages_check.isChecked()
        widget.stages_check.setChecked(True)  # even when forced on
        series = widget.plot_at(to_canvas(centre_utm(6, 9)))
        assert widget.plot.curve("los", series.label) is not None
        assert widget.plot.stage_labels() == []
    finally:
        widget.cleanup()
        widget.deleteLater()
