"""The README's bad-input table, one test per row (issue 13): every bad input gives a one-line
error of the core (a :class:`SarError` subclass) naming the file or value and the problem, or a
documented warning, and what was already computed stays."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from ceos_writer import spec_from_scene, write_product
from geometry_helpers import BIGTUJUNGA
from osgeo import gdal, osr

from processing_core.chain import RunOptions, run_stack
from processing_core.dem import read_dem, require_coverage
from processing_core.errors import DemError, InputError, ProductError, SarError, SceneFormatError
from processing_core.geometry import RadarGeometry
from processing_core.inversion import sbas
from processing_core.lookup import scene_footprint
from processing_core.network import select_stack_pairs
from processing_core.offsets.field import BANDS
from processing_core.orbitgen import synthetic_scene
from processing_core.progress import Cancelled
from processing_core.rasters import write_geotiff
from processing_core.readers.importer import import_products
from processing_core.rectify import RectifyParameters, rectify_stack
from processing_core.rectify.sources import SceneImage
from processing_core.scene import read_scene
from processing_core.stack import load_stack
from processing_core.timeseries import invert_stack

gdal.UseExceptions()

# The small scenario's scenes are a few hundred pixels: the chain's small tie-point windows.
PARAMS = RectifyParameters(window_px=64, step_px=16)
FINAL = "PALSAR2_20160725"  # final master of the simulated stack (ALOS-2 platform master)
SLAVE = "PALSAR_20080712"  # a slave that is no platform master


def one_line(exc: pytest.ExceptionInfo, *needles: str) -> str:
    """The message is one line and names every needle (file, key, value, problem)."""
    message = str(exc.value)
    assert isinstance(exc.value, SarError)
    assert message
    assert "\n" not in message, message
    for needle in needles:
        assert needle in message, (needle, message)
    return message


@pytest.fixture(scope="module")
def simulated(small_simulation) -> Path:
    return small_simulation


@pytest.fixture
def stack(simulated, tmp_path) -> Path:
    root = tmp_path / "stack"
    shutil.copytree(simulated, root)
    return root


def _sidecar(root: Path, scene_id: str) -> tuple[Path, dict]:
    path = root / "scenes" / f"{scene_id}.json"
    return path, json.loads(path.read_text(encoding="utf-8"))


def _edit_raster(path: Path, array: np.ndarray) -> None:
    ds = gdal.Open(str(path), gdal.GA_Update)
    ds.GetRasterBand(1).WriteArray(array)
    ds = None


def _truncate(path: Path, fraction: float = 0.4) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


# -- scene sidecars ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["radar_grid", "orbit", "wavelength_m", "image", "radar_grid.lines"])
def test_sidecar_missing_key(stack, key):
    path, data = _sidecar(stack, SLAVE)
    holder = data["radar_grid"] if key.startswith("radar_grid.") else data
    del holder[key.split(".")[-1]]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SceneFormatError) as exc:
        read_scene(path)
    one_line(exc, str(path), f"key '{key}' is missing")
    with pytest.raises(SceneFormatError) as exc:  # the chain refuses the stack at its first step
        run_stack(stack, BIGTUJUNGA, steps=("pairs",))
    one_line(exc, path.name, key)


def test_sidecar_extra_keys_are_ignored(stack):
    path, data = _sidecar(stack, SLAVE)
    data["calibration_constant_db"] = -83.0
    data["radar_grid"]["ground_range_polynomial"] = [1.0, 2.0]
    path.write_text(json.dumps(data), encoding="utf-8")
    assert read_scene(path).id == SLAVE  # DESIGN.md: readers ignore keys they do not know


def test_orbit_not_covering_the_scene(stack):
    path, data = _sidecar(stack, SLAVE)
    first_line = np.datetime64(data["radar_grid"]["first_line_time"].rstrip("Z"))
    data["orbit"] = [sv for sv in data["orbit"] if np.datetime64(sv["time"].rstrip("Z")) < first_line]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SceneFormatError) as exc:
        read_scene(path)
    one_line(exc, str(path), "key 'orbit' covers", "not the scene's lines")


# -- DEM --------------------------------------------------------------------------------------------


def test_dem_not_covering_the_scene(stack, tmp_path):
    dem = tmp_path / "corner.tif"
    gdal.Translate(str(dem), str(BIGTUJUNGA), srcWin=[0, 0, 50, 50])
    with pytest.raises(DemError) as exc:
        run_stack(stack, dem, steps=("pairs", "rectify"))
    one_line(exc, str(dem), "does not cover", FINAL)
    assert load_stack(stack).pairs  # the pairs step before it is kept
    assert "stopped: " in (stack / "run.log").read_text()
    assert not list((stack / "rectified").glob("*.tif"))


def _relabelled(src: Path, out: Path, epsg: int | None) -> Path:
    ds = gdal.Translate(str(out), str(src))
    if epsg is None:
        ds.SetProjection("")
    else:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        ds.SetProjection(srs.ExportToWkt())
    ds = None
    return out


@pytest.mark.parametrize(
    ("case", "problem"),
    [("no CRS", "DEM has no coordinate reference system"), ("UTM 12 label on UTM 11 data", "does not cover")],
)
def test_dem_in_an_unexpected_crs(simulated, tmp_path, case, problem):
    dem = _relabelled(BIGTUJUNGA, tmp_path / "dem.tif", None if case == "no CRS" else 32612)
    master = load_stack(simulated).scene(FINAL)

    def check() -> None:
        d = read_dem(dem)
        lat, lon = scene_footprint(RadarGeometry(master), float(np.nanmedian(d.heights_m)))
        require_coverage(d, lat, lon, what=f"final master {FINAL}")

    with pytest.raises(DemError) as exc:
        check()
    one_line(exc, str(dem), problem)


def test_dem_in_a_geographic_crs_is_accepted(simulated, tmp_path):
    """Any CRS GDAL and PROJ know is fine: the DEM is sampled in its own CRS."""
    dem = tmp_path / "dem_4326.tif"
    gdal.Warp(str(dem), str(BIGTUJUNGA), dstSRS="EPSG:4326")
    d = read_dem(dem)
    lat, lon = scene_footprint(RadarGeometry(load_stack(simulated).scene(FINAL)), 1000.0)
    require_coverage(d, lat, lon)


def test_corrupted_dem(tmp_path):
    dem = tmp_path / "dem.tif"
    shutil.copy(BIGTUJUNGA, dem)
    _truncate(dem, 0.3)
    with pytest.raises(DemError) as exc:
        read_dem(dem)
    one_line(exc, str(dem), "cannot")


# -- images -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fill", "problem"), [(np.nan, "holds no valid pixel"), (7.0, "is constant (7)")])
def test_nan_filled_or_constant_master_image(stack, fill, problem):
    image = stack / "scenes" / f"{FINAL}.tif"
    shape = (gdal.Open(str(image)).RasterYSize, gdal.Open(str(image)).RasterXSize)
    _edit_raster(image, np.full(shape, fill, dtype=np.float32))
    with pytest.raises(InputError) as exc:
        rectify_stack(stack, BIGTUJUNGA, params=PARAMS)
    one_line(exc, str(image), f"scene {FINAL}", problem)
    assert not list((stack / "rectified").glob("*.tif"))  # refused before any work


def test_corrupted_scene_geotiff(stack):
    image = stack / "scenes" / f"{FINAL}.tif"
    _truncate(image)
    with pytest.raises(InputError) as exc:
        rectify_stack(stack, BIGTUJUNGA, params=PARAMS)
    one_line(exc, str(image), FINAL)


def test_raster_and_sidecar_sizes_disagree(stack):
    image = stack / "scenes" / f"{SLAVE}.tif"
    cropped = stack / "scenes" / "cropped.tif"
    gdal.Translate(str(cropped), str(image), srcWin=[0, 0, 40, 30])
    shutil.move(cropped, image)
    scene = load_stack(stack).scene(SLAVE)
    with pytest.raises(InputError) as exc:
        SceneImage(scene)
    one_line(exc, str(image), "raster is 30 x 40, sidecar says")


def test_slaves_of_other_sizes_and_a_constant_slave(stack):
    """A slave of another size is resampled into the master grid (NaN where it does not reach);
    a constant slave stops the step with an error naming it, and every other scene is kept."""
    small = "PALSAR2_20150727"  # cut to its first 3/4 lines: a different size
    path, data = _sidecar(stack, small)
    lines = data["radar_grid"]["lines"]
    keep = lines * 3 // 4
    image = stack / "scenes" / data["image"]
    gdal.Translate(str(stack / "cut.tif"), str(image), srcWin=[0, 0, data["radar_grid"]["samples"], keep])
    shutil.move(stack / "cut.tif", image)
    data["radar_grid"]["lines"] = keep
    path.write_text(json.dumps(data), encoding="utf-8")
    constant = "PALSAR2_20170724"  # the last slave: every other one has started when it fails
    flat = stack / "scenes" / f"{constant}.tif"
    ds = gdal.Open(str(flat))
    _edit_raster(flat, np.full((ds.RasterYSize, ds.RasterXSize), 3.0, dtype=np.float32))
    ds = None
    with pytest.raises(InputError) as exc:
        rectify_stack(stack, BIGTUJUNGA, params=PARAMS)
    one_line(exc, str(flat), constant, "no texture")
    master = load_stack(stack).scene(FINAL).radar_grid
    done = {p.stem for p in (stack / "rectified").glob("*.tif")}
    assert done == {s.id for s in load_stack(stack).scenes} - {constant}
    out = gdal.Open(str(stack / "rectified" / f"{small}.tif")).ReadAsArray()
    assert out.shape == (master.lines, master.samples)  # the master's grid, whatever the slave's
    assert np.isfinite(out).mean() > 0.3
    assert np.isnan(out).any()  # the master lines the cut slave does not reach
    for scene_id in done:  # every finished scene has its QC report
        assert (stack / "rectified" / f"{scene_id}.json").exists()


# -- pairs and network ------------------------------------------------------------------------------


def test_a_single_scene(stack):
    s = load_stack(stack)
    for entry in s.scenes[1:]:
        (stack / entry.sidecar).unlink()
    s.scenes, s.masters = s.scenes[:1], {}
    s.save()
    with pytest.raises(InputError) as exc:
        select_stack_pairs(stack)
    one_line(exc, str(stack / "stack.json"), "1 scene(s); pairs need at least two scenes")


def test_network_split_without_bridging_pairs(stack):
    """bridge=0 on a two-platform stack: a warning in run.log, and the inversion's minimum-norm
    answer across the gap (no motion assumed between the platforms' last and first dates)."""
    run_stack(stack, BIGTUJUNGA, steps=("pairs",), options=RunOptions(bridge=0))
    log = (stack / "run.log").read_text()
    assert "WARNING the pair network splits into 2 subsets" in log
    assert "minimum-norm" in log
    assert load_stack(stack).parameters["pairs"]["connected"] is False
    # The minimum-norm result: each subset's series is exact, the gap's velocity is zero.
    dates = [dt.date(2008, 1, 1) + dt.timedelta(days=100 * k) for k in range(6)]
    truth = np.array([0.0, 1.0, 2.5, 10.0, 11.0, 13.0])
    pairs = [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5)]
    obs = np.array([[truth[j] - truth[i]] for i, j in pairs])
    result = sbas(dates, pairs, obs)
    assert not result.connected[0]
    assert result.rank[0] == 4
    np.testing.assert_allclose(result.displacement[:3, 0], truth[:3], atol=1e-9)
    np.testing.assert_allclose(result.velocity[2, 0], 0.0, atol=1e-12)
    np.testing.assert_allclose(result.displacement[3:, 0] - result.displacement[3, 0], truth[3:] - truth[3])


# -- offsets and inversion --------------------------------------------------------------------------


def _synthetic_offsets(root: Path) -> list[Path]:
    """Pairs, and one small offsets GeoTIFF per pair (range offsets 0.1 px per 100 days)."""
    select_stack_pairs(root, plot=False)
    stack = load_stack(root)
    dates = {s.id: dt.date.fromisoformat(s.date) for s in stack.scenes}
    rng = np.random.default_rng(1)
    paths = []
    for p in stack.pairs:
        ref, sec = p["reference"], p["secondary"]
        days = (dates[sec] - dates[ref]).days
        shape = (5, 4)
        bands = [np.zeros(shape, np.float32) for _ in BANDS]
        bands[0] = rng.normal(0, 0.01, shape).astype(np.float32)
        bands[1] = np.full(shape, 0.001 * days, np.float32)
        paths.append(
            write_geotiff(
                root / "offsets" / f"{ref}__{sec}.tif",
                bands,
                descriptions=list(BANDS),
                metadata={"ROW0": "8", "COL0": "8", "STEP_PX": "16"},
            )
        )
    return paths


def _nan_out(path: Path) -> None:
    ds = gdal.Open(str(path), gdal.GA_Update)
    for k in range(1, ds.RasterCount + 1):
        ds.GetRasterBand(k).WriteArray(np.full((ds.RasterYSize, ds.RasterXSize), np.nan, np.float32))
    ds = None


def test_no_valid_offsets_in_a_pair(stack):
    paths = _synthetic_offsets(stack)
    _nan_out(paths[0])
    result = invert_stack(stack)
    assert result["pairs_skipped_no_valid_offsets"] == [paths[0].stem]
    assert paths[0].stem not in result["pairs_used"]
    assert len(result["pairs_used"]) == len(paths) - 1
    for path in paths[1:]:
        _nan_out(path)
    with pytest.raises(InputError) as exc:
        invert_stack(stack)
    one_line(exc, str(stack / "offsets"), f"no valid offset in any of the {len(paths)} pairs")


def test_corrupted_offsets_geotiff_of_one_pair(stack):
    paths = _synthetic_offsets(stack)
    bad = paths[len(paths) // 2]
    _truncate(bad, 0.5)
    others = {p: p.read_bytes() for p in paths if p != bad}
    with pytest.raises(InputError) as exc:
        invert_stack(stack)
    one_line(exc, str(bad), "cannot be read")
    assert {p: p.read_bytes() for p in others} == others  # the other pairs' files remain as they were
    assert not (stack / "timeseries" / "los.tif").exists()


# -- products and the output folder -----------------------------------------------------------------


def test_truncated_ceos_file(tmp_path):
    """The readers' fuzz tests (test_18_readers_fuzz.py) cut every CEOS file at random; here one
    cut image file through import_products, into a stack that already holds a scene."""

    def product(time: str, stem: str) -> Path:
        truth = synthetic_scene(
            scene_id="t", centre_lat_deg=34.32, centre_lon_deg=-118.15, centre_height_m=1000.0,
            centre_time=np.datetime64(time), lines=48, samples=36,
        )  # fmt: skip
        rng = np.random.default_rng(5)
        slc = (rng.normal(size=(48, 36)) + 1j * rng.normal(size=(48, 36))).astype(np.complex64)
        return write_product(spec_from_scene(truth, "ALOS-2", stem, {"HH": slc}), tmp_path / stem)

    good = product("2015-07-27T05:12:33", "ALOS2065432100-150727-FBDR1.1__A")
    bad = product("2016-07-25T05:12:33", "ALOS2115432100-160725-FBDR1.1__A")
    image = bad / "IMG-HH-ALOS2115432100-160725-FBDR1.1__A"
    _truncate(image, 0.5)
    root = tmp_path / "stack"
    import_products([good], root)
    with pytest.raises(ProductError) as exc:
        import_products([bad], root)
    one_line(exc, image.name)
    assert len(load_stack(root).scenes) == 1  # the scene imported before is kept


def test_output_folder_without_room_is_refused_before_work(stack, monkeypatch):
    import shutil as shutil_module

    usage = shutil_module.disk_usage(stack)
    monkeypatch.setattr(shutil_module, "disk_usage", lambda path: usage._replace(free=3 * 2**20))
    with pytest.raises(InputError) as exc:
        run_stack(stack, BIGTUJUNGA)
    message = one_line(exc, str(stack), "the run needs about", "only 3.0 MB free")
    assert float(message.split("about ")[1].split(" MB")[0]) > 3.0
    assert not (stack / "run.json").exists()  # nothing written
    assert not (stack / "network").exists()


def test_cancel_during_rectify_stops_promptly_and_keeps_a_consistent_stack(stack, monkeypatch):
    """A cancel from QGIS (the progress callback returns False) while slaves are rectified two at
    a time: the running ones finish, the queued ones never start (``Executor.map`` cancels its
    pending futures when its iterator is dropped), and a rerun completes."""
    import time

    import processing_core.rectify.chain as rectify_chain

    calls: list[str] = []

    def fake_slave(slave, image, reference, ground, params, terrain=None, **tracking):
        calls.append(slave.id)
        time.sleep(0.05 if slave.id == SLAVE else 1.0)
        return np.zeros(ground.shape, np.float32), slave, {"tie_points": 0}, None

    monkeypatch.setattr(rectify_chain, "rectify_slave", fake_slave)
    slaves = ["PALSAR_20080712", "PALSAR_20100225", "PALSAR2_20150727", "PALSAR2_20170724"]

    def cancel_after_first_slave(fraction, message):
        return message != f"rectified {SLAVE}"

    with pytest.raises(Cancelled):
        rectify_stack(stack, BIGTUJUNGA, params=PARAMS, progress=cancel_after_first_slave)
    assert slaves[-1] not in calls  # queued when the cancel came: never started
    done = {p.stem for p in (stack / "rectified").glob("*.tif")}
    assert done == {FINAL, "PALSAR_20090715", *calls}  # the running ones finished, atomically
    assert not list((stack / "rectified").glob(".*partial*"))
    rectify_stack(stack, BIGTUJUNGA, params=PARAMS)
    assert {p.stem for p in (stack / "rectified").glob("*.tif")} == {s.id for s in load_stack(stack).scenes}
    assert calls.count(SLAVE) == 1  # finished scenes are not redone


# -- the single-step commands' pre-flight: a read-only folder, a full disk ---------------------------


def _read_only(monkeypatch) -> None:
    """As if the stack's file system were mounted read-only (root ignores chmod): the pre-flight's
    probe write fails as it would there (tests/e2e/test_output_folder.py does it for real)."""
    import errno

    write_text = Path.write_text

    def refuse(self, *args, **kwargs):
        if self.name == ".write-test":
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", refuse)


def _full_disk(monkeypatch, free: int = 2**16) -> None:
    import shutil as shutil_module

    usage = shutil_module.disk_usage("/")
    monkeypatch.setattr(shutil_module, "disk_usage", lambda path: usage._replace(free=free))


def _command(capsys, *args: str) -> str:
    from processing_core.cli import main

    assert main(list(args)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines  # one line, no traceback
    return lines[0]


def test_rectify_command_refuses_a_full_disk_before_work(stack, monkeypatch, capsys):
    _full_disk(monkeypatch)
    line = _command(capsys, "rectify", "--stack", str(stack), "--dem", str(BIGTUJUNGA))
    assert f"{stack}: the run needs about" in line
    assert "only 0.1 MB free" in line
    assert not (stack / "rectified").exists()
    assert not (stack / "geometry").exists()


def test_offsets_command_refuses_a_full_disk_and_a_read_only_output(stack, monkeypatch, capsys):
    _full_disk(monkeypatch)
    line = _command(capsys, "offsets", "--stack", str(stack))
    assert f"{stack}: the run needs about" in line
    assert not (stack / "offsets").exists()
    monkeypatch.undo()
    _read_only(monkeypatch)
    scene = stack / "scenes" / f"{FINAL}.tif"
    out = stack / "pair" / "offsets.tif"
    line = _command(
        capsys, "offsets", "--reference", str(scene), "--secondary", str(scene), "--out", str(out)
    )
    assert f"{out.parent}: output folder is not writable (Read-only file system)" in line


def test_invert_command_refuses_a_read_only_stack_folder(stack, monkeypatch, capsys):
    _read_only(monkeypatch)
    before = sorted(p.name for p in stack.iterdir())
    line = _command(capsys, "invert", "--stack", str(stack))
    assert f"{stack}: stack folder is not writable (Read-only file system)" in line
    assert sorted(p.name for p in stack.iterdir()) == before  # nothing written


def test_geocode_command_refuses_a_read_only_output_folder(stack, monkeypatch, capsys, tmp_path):
    _read_only(monkeypatch)
    out = tmp_path / "maps" / "geocoded"
    line = _command(capsys, "geocode", "--stack", str(stack), "--out", str(out))
    assert f"{out}: output folder is not writable (Read-only file system)" in line
    assert not out.exists()
    line = _command(capsys, "geocode", "--stack", str(stack))
    assert f"{stack / 'geocoded'}: output folder is not writable (Read-only file system)" in line
