"""The README's main job on the bundled data (grows with the chain).

Today: a PALSAR-1-like scene is imaged over the bundled real SRTM DEM of Big Tujunga
(San Gabriel Mountains): orbit, sidecar, a DEM-simulated amplitude image as its raster,
then the step-i lookup tables (DEM<->radar, incidence, layover/shadow) and quick-looks.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from osgeo import gdal

from processing_core.lookup import write_lookup_tables
from processing_core.orbitgen import synthetic_scene
from processing_core.progress import ProgressCallback, report, scaled
from processing_core.rasters import write_geotiff
from processing_core.scene import write_scene

gdal.UseExceptions()

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEM = PACKAGE_ROOT / "resources" / "dem" / "bigtujunga_srtm30m_utm11.tif"
"""Real SRTM 30 m DEM (EGM96 heights) of Big Tujunga, UTM 11N, bundled with the plugin."""


def quicklook_png(src: Path, dst: Path, *, band: int = 1, percent: float = 99.0) -> Path:
    """8-bit PNG of one band, stretched from 0 to the given percentile (GDAL only)."""
    ds = gdal.Open(str(src))
    data = ds.GetRasterBand(band).ReadAsArray().astype(np.float64)
    finite = data[np.isfinite(data)]
    top = float(np.percentile(finite, percent)) if finite.size else 1.0
    scaled_data = np.clip(np.nan_to_num(data) / (top or 1.0) * 255.0, 0, 255).astype(np.uint8)
    mem = gdal.GetDriverByName("MEM").Create("", data.shape[1], data.shape[0], 1, gdal.GDT_Byte)
    mem.GetRasterBand(1).WriteArray(scaled_data)
    tmp = dst.with_name(f".{dst.stem}.partial.png")
    gdal.GetDriverByName("PNG").CreateCopy(str(tmp), mem)
    aux = Path(str(tmp) + ".aux.xml")
    if aux.exists():
        aux.unlink()
    os.replace(tmp, dst)
    return dst


def run_demo(
    out_dir: str | os.PathLike[str],
    *,
    dem_path: str | os.PathLike[str] | None = None,
    progress: ProgressCallback | None = None,
) -> list[Path]:
    """Run the demo into ``out_dir``; return the files written."""
    out = Path(out_dir)
    dem = Path(dem_path) if dem_path is not None else DEFAULT_DEM
    scenes = out / "scenes"
    scenes.mkdir(parents=True, exist_ok=True)
    scene = synthetic_scene(
        scene_id="ALOS_20080115",
        centre_lat_deg=34.32,
        centre_lon_deg=-118.15,
        centre_height_m=1000.0,
        centre_time=np.datetime64("2008-01-15T06:12:00"),
        lines=3000,
        samples=1600,
    )
    sidecar = write_scene(scene, scenes / f"{scene.id}.json")
    report(progress, 0.02, f"scene {scene.id} written")
    lookup_dir = out / "lookup" / scene.id
    written = [sidecar]
    written += write_lookup_tables(sidecar, dem, lookup_dir, progress=scaled(progress, 0.02, 0.95))
    # The simulated intensity is this scene's amplitude image until the simulator adds speckle.
    intensity = gdal.Open(str(lookup_dir / "simulated_intensity.tif")).ReadAsArray()
    written.append(
        write_geotiff(
            scenes / scene.image,
            [np.sqrt(intensity)],
            descriptions=["amplitude"],
            metadata={"SCENE_ID": scene.id, "SOURCE": "DEM-simulated"},
        )
    )
    written.append(quicklook_png(scenes / scene.image, out / "amplitude_quicklook.png"))
    written.append(quicklook_png(lookup_dir / "dem_lut.tif", out / "local_incidence_quicklook.png", band=4))
    report(progress, 1.0, "demo done")
    return written
