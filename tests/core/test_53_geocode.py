"""Geocoding through the DEM lookup table: a radar raster holding a known function of lat/lon."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from geometry_helpers import BIGTUJUNGA, CENTRE, alos_scene
from osgeo import gdal

from processing_core.errors import InputError
from processing_core.geocode import geocode_raster, geocode_stack
from processing_core.lookup import write_lookup_tables
from processing_core.rasters import write_geotiff
from processing_core.scene import write_scene

pyproj = pytest.importorskip("pyproj")  # after processing_core, which points PROJ to its data in venvs

ROOT = Path(__file__).resolve().parents[2]
LAT0, LON0 = CENTRE


def _f(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Known field: 1 per ~111 m north, 0.5 per ~92 m east (values of order 10)."""
    return 1000.0 * (lat - LAT0) + 500.0 * (lon - LON0)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """A PALSAR-1-like scene covering part of a 6 km DEM crop, and its lookup tables."""
    folder = tmp_path_factory.mktemp("geocode")
    dem = folder / "dem.tif"
    src = gdal.Open(str(BIGTUJUNGA))
    gt = src.GetGeoTransform()
    x, y = pyproj.Transformer.from_crs("EPSG:4326", src.GetProjection(), always_xy=True).transform(LON0, LAT0)
    col, row = int((x - gt[0]) / gt[1]), int((y - gt[3]) / gt[5])
    gdal.Translate(str(dem), src, srcWin=[col - 100, row - 100, 200, 200])
    scene = alos_scene(lines=1100, samples=450)
    sidecar = write_scene(scene, folder / "scene.json")
    write_geotiff(folder / scene.image, [np.ones((1100, 450))], descriptions=["amplitude"])
    write_lookup_tables(sidecar, dem, folder / "geometry")
    ds = gdal.Open(str(folder / "geometry" / "ground_lut.tif"))
    lat, lon = ds.GetRasterBand(1).ReadAsArray(), ds.GetRasterBand(2).ReadAsArray()
    layover = gdal.Open(str(folder / "geometry" / "layover_shadow.tif")).ReadAsArray()
    return folder, lat, lon, layover


def _cell_lonlat(ds: gdal.Dataset) -> tuple[np.ndarray, np.ndarray]:
    gt = ds.GetGeoTransform()
    cols, rows = np.meshgrid(np.arange(ds.RasterXSize) + 0.5, np.arange(ds.RasterYSize) + 0.5)
    x, y = gt[0] + cols * gt[1], gt[3] + rows * gt[5]
    lon, lat = pyproj.Transformer.from_crs(ds.GetProjection(), "EPSG:4326", always_xy=True).transform(x, y)
    return np.asarray(lat), np.asarray(lon)


def _errors(out: Path, layover: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, gdal.Dataset]:
    ds = gdal.Open(str(out))
    values = ds.ReadAsArray().reshape(ds.RasterCount, ds.RasterYSize, ds.RasterXSize)
    lat, lon = _cell_lonlat(ds)
    return values, _f(lat, lon), ds


def _lut_on(ds: gdal.Dataset, folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """line_px, sample_px and the layover/shadow bits of the output cells (DEM grid outputs)."""
    lut = gdal.Open(str(folder / "geometry" / "dem_lut.tif"))
    gt, lgt = ds.GetGeoTransform(), lut.GetGeoTransform()
    c0, r0 = int(round((gt[0] - lgt[0]) / lgt[1])), int(round((gt[3] - lgt[3]) / lgt[5]))
    win = (slice(r0, r0 + ds.RasterYSize), slice(c0, c0 + ds.RasterXSize))
    mask = gdal.Open(str(folder / "geometry" / "layover_shadow.tif")).ReadAsArray()[win]
    return lut.GetRasterBand(1).ReadAsArray()[win], lut.GetRasterBand(2).ReadAsArray()[win], mask


def test_full_grid_raster_equals_the_function_on_the_dem_grid(tables):
    folder, lat, lon, _ = tables
    field = _f(lat, lon)
    write_geotiff(folder / "field.tif", [field], descriptions=["field"])
    out = geocode_raster(
        folder / "field.tif", folder / "geometry" / "dem_lut.tif", folder / "geocoded" / "field.tif"
    )
    values, expected, ds = _errors(out)
    lut = gdal.Open(str(folder / "geometry" / "dem_lut.tif"))
    assert ds.GetProjection() == lut.GetProjection()
    assert ds.GetGeoTransform()[1] == lut.GetGeoTransform()[1]  # the DEM's spacing
    assert ds.GetRasterBand(1).GetDescription() == "field"
    got = values[0]
    ok = np.isfinite(got)
    assert ok.mean() > 0.3  # the scene covers part of the crop
    assert (~ok).sum() > 100  # ... and the rest is nodata
    line, sample, mask = _lut_on(ds, folder)
    inside = (
        (line >= -0.5) & (line <= field.shape[0] - 0.5) & (sample >= -0.5) & (sample <= field.shape[1] - 0.5)
    )
    np.testing.assert_array_equal(ok, inside)  # nodata exactly outside the radar grid
    # Bilinear interpolation puts the value inside the range of the four radar pixels around the
    # cell's position; the true value lies there too where the terrain does not fold (layover/
    # shadow). So the error is bounded by that range (plus the lookup tables' ~0.1 m, 1e-3 here).
    r0 = np.clip(np.floor(np.where(ok, line, 0)).astype(int), 0, field.shape[0] - 2)
    c0 = np.clip(np.floor(np.where(ok, sample, 0)).astype(int), 0, field.shape[1] - 2)
    corners = np.stack([field[r0, c0], field[r0 + 1, c0], field[r0, c0 + 1], field[r0 + 1, c0 + 1]])
    spread = corners.max(axis=0) - corners.min(axis=0)
    err = np.abs(got - expected)
    clean = ok & (mask == 0)
    assert np.mean(err[clean] <= spread[clean] + 1e-3) > 0.999
    assert np.median(err[clean] / spread[clean]) < 0.05
    assert np.median(err[ok]) < 0.003  # ~0.3 m on the ground


def test_a_field_linear_in_radar_coordinates_is_reproduced_exactly(tables):
    folder, lat, _, _ = tables
    lines, samples = np.indices(lat.shape, dtype=np.float64)
    write_geotiff(
        folder / "ramp.tif", [0.01 * lines - 0.02 * samples], descriptions=["ramp"], dtype=np.float64
    )
    out = geocode_raster(
        folder / "ramp.tif", folder / "geometry" / "dem_lut.tif", folder / "geocoded" / "ramp.tif"
    )
    ds = gdal.Open(str(out))
    got = ds.ReadAsArray().astype(np.float64)
    line, sample, _ = _lut_on(ds, folder)
    ok = np.isfinite(got)
    clipped_l = np.clip(line, 0, lat.shape[0] - 1)
    clipped_s = np.clip(sample, 0, lat.shape[1] - 1)
    np.testing.assert_allclose(got[ok], (0.01 * clipped_l - 0.02 * clipped_s)[ok], atol=1e-5)


def test_subgrid_multiband_keeps_band_names_and_nearest_counts(tables):
    folder, lat, lon, _ = tables
    row0, col0, step = 2, 3, 4
    sub = (slice(row0, None, step), slice(col0, None, step))
    field = _f(lat, lon)[sub]
    names = ["D20070107", "D20080225", "D20090415"]
    write_geotiff(
        folder / "series.tif",
        [field, 2 * field, -field],
        descriptions=names,
        band_metadata=[{"DATE": f"{n[1:5]}-{n[5:7]}-{n[7:]}"} for n in names],
        metadata={"ROW0": str(row0), "COL0": str(col0), "STEP_PX": str(step), "UNITS": "m"},
    )
    count = np.where(np.isfinite(field), (np.arange(field.size).reshape(field.shape) % 7), -1)
    write_geotiff(
        folder / "count.tif",
        [count],
        descriptions=["n_valid_pairs"],
        dtype=np.int16,
        nodata=-1,
        metadata={"ROW0": str(row0), "COL0": str(col0), "STEP_PX": str(step)},
    )
    written = geocode_stack(folder, [str(folder / "series.tif"), str(folder / "count.tif")])
    assert [p.name for p in written] == ["series.tif", "count.tif"]
    values, expected, ds = _errors(written[0])
    assert [ds.GetRasterBand(k + 1).GetDescription() for k in range(3)] == names
    assert ds.GetRasterBand(2).GetMetadataItem("DATE") == "2008-02-25"
    assert ds.GetMetadataItem("UNITS") == "m"
    assert ds.GetMetadataItem("SOURCE_STEP_PX") == "4"
    ok = np.isfinite(values[0])
    line, sample, mask = _lut_on(ds, folder)
    r = np.clip(np.floor(np.where(ok, (line - row0) / step, 0)).astype(int), 0, field.shape[0] - 2)
    c = np.clip(np.floor(np.where(ok, (sample - col0) / step, 0)).astype(int), 0, field.shape[1] - 2)
    corners = np.stack([field[r, c], field[r + 1, c], field[r, c + 1], field[r + 1, c + 1]])
    spread = corners.max(axis=0) - corners.min(axis=0)
    clean = ok & (mask == 0) & np.isfinite(spread)
    for k, factor in enumerate((1.0, 2.0, -1.0)):
        err = np.abs(values[k] - factor * expected)
        assert np.mean(err[clean] <= abs(factor) * spread[clean] + 1e-3) > 0.999
    counts = gdal.Open(str(written[1]))
    c = counts.ReadAsArray()
    assert counts.GetRasterBand(1).DataType == gdal.GDT_Int16
    assert counts.GetRasterBand(1).GetNoDataValue() == -1
    assert set(np.unique(c)) <= set(range(-1, 7))  # nearest: only source values


def test_other_crs_via_the_dem_grid(tables):
    folder, lat, lon, _ = tables
    write_geotiff(folder / "field.tif", [_f(lat, lon)], descriptions=["field"])
    out = geocode_raster(
        folder / "field.tif",
        folder / "geometry" / "dem_lut.tif",
        folder / "geocoded" / "field_4326.tif",
        epsg=4326,
        resolution=0.0003,
    )
    values, expected, ds = _errors(out)
    assert pyproj.CRS.from_wkt(ds.GetProjection()).to_epsg() == 4326
    ok = np.isfinite(values[0])
    assert ok.sum() > 1000
    err = np.abs(values[0] - expected)[ok]
    assert np.percentile(err, 95) < 0.01


def test_bad_inputs(tables):
    folder, _, _, _ = tables
    with pytest.raises(InputError, match="line_px"):
        geocode_raster(folder / "field.tif", folder / "field.tif", folder / "x.tif")
    with pytest.raises(InputError, match="resolution"):
        geocode_raster(folder / "field.tif", folder / "geometry" / "dem_lut.tif", folder / "x.tif", epsg=4326)
    far = folder / "far.tif"
    write_geotiff(
        far, [np.zeros((5, 5))], descriptions=["x"], metadata={"ROW0": "90000", "COL0": "0", "STEP_PX": "1"}
    )
    with pytest.raises(InputError, match="does not overlap"):
        geocode_raster(far, folder / "geometry" / "dem_lut.tif", folder / "x.tif")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "processing_core",
            "geocode",
            "--stack",
            str(folder),
            "--input",
            str(folder / "field.tif"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert (folder / "geocoded" / "field.tif").exists()


def test_rerun_keeps_an_up_to_date_output_and_redoes_a_changed_one(tables):
    folder, lat, _, _ = tables
    src = folder / "skip.tif"
    lut = folder / "geometry" / "dem_lut.tif"
    out = folder / "geocoded" / "skip.tif"
    write_geotiff(src, [np.full(lat.shape, 2.0)], descriptions=["two"])
    geocode_raster(src, lut, out)
    stamp = out.stat().st_mtime_ns
    geocode_raster(src, lut, out)
    assert out.stat().st_mtime_ns == stamp  # same source, table and options: kept
    geocode_raster(src, lut, out, resampling="nearest")
    assert out.stat().st_mtime_ns != stamp  # other options: redone
    stamp = out.stat().st_mtime_ns
    write_geotiff(src, [np.full(lat.shape, 3.0)], descriptions=["three"])
    geocode_raster(src, lut, out, resampling="nearest")
    assert out.stat().st_mtime_ns != stamp  # new source: redone
    values = gdal.Open(str(out)).ReadAsArray()
    assert np.nanmax(values) == 3.0
