"""The README's main job on the bundled data (grows with the chain).

Today: the ``baige-like`` stack (28 PALSAR-1 and PALSAR-2 scenes with a landslide moving
about -60 m in LOS) is simulated over the bundled real SRTM DEM of Big Tujunga (San Gabriel
Mountains), then the step-i lookup tables of its final master are computed (DEM<->radar,
incidence, layover/shadow, simulated intensity), and an overview figure is drawn.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from osgeo import gdal

from processing_core.lookup import write_lookup_tables
from processing_core.progress import ProgressCallback, report, scaled
from processing_core.simulate import get_scenario, simulate_stack

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


def _read(path: Path, band: int = 1) -> np.ndarray:
    ds = gdal.Open(str(path))
    return ds.GetRasterBand(band).ReadAsArray()


def overview_figure(stack_dir: Path, master_id: str, first_id: str, dst: Path) -> Path | None:
    """Four panels: a PALSAR-1 and the final-master amplitude, the DEM-simulated intensity of the
    master, and the true LOS displacement at the last date. ``None`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    truth = gdal.Open(str(stack_dir / "truth" / "los.tif"))
    last = truth.GetRasterBand(truth.RasterCount)
    los = last.ReadAsArray()
    panels = [
        (_read(stack_dir / "scenes" / f"{first_id}.tif"), f"{first_id} amplitude", "gray"),
        (_read(stack_dir / "scenes" / f"{master_id}.tif"), f"{master_id} amplitude (final master)", "gray"),
        (_read(stack_dir / "lookup" / master_id / "simulated_intensity.tif"), "DEM-simulated intensity", "gray"),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(16, 6.5), constrained_layout=True)
    for ax, (data, title, cmap) in zip(axes, panels):
        ax.imshow(data, cmap=cmap, vmin=0, vmax=float(np.percentile(data, 98)), interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("range sample")
    axes[0].set_ylabel("azimuth line")
    limit = float(np.nanmax(np.abs(los))) or 1.0
    im = axes[3].imshow(los, cmap="RdBu", vmin=-limit, vmax=limit, interpolation="nearest")
    axes[3].set_title(f"true LOS displacement {last.GetMetadataItem('DATE')} (m)", fontsize=9)
    fig.colorbar(im, ax=axes[3], shrink=0.8, label="LOS (m), negative = away from the sensor")
    tmp = dst.with_name(f".{dst.stem}.partial.png")
    fig.savefig(tmp, dpi=70)
    plt.close(fig)
    os.replace(tmp, dst)
    return dst


def run_demo(
    out_dir: str | os.PathLike[str],
    *,
    dem_path: str | os.PathLike[str] | None = None,
    progress: ProgressCallback | None = None,
) -> list[Path]:
    """Run the demo into ``out_dir``; return the main files written."""
    out = Path(out_dir)
    dem = Path(dem_path) if dem_path is not None else DEFAULT_DEM
    stack_dir = out / "stack"
    stack = simulate_stack(get_scenario("baige-like"), dem, stack_dir, seed=0, progress=scaled(progress, 0.0, 0.7))
    master_id = str(stack.masters["final"])
    master = stack.root / next(s.sidecar for s in stack.scenes if s.id == master_id)
    written = [stack.path, stack_dir / "truth" / "truth.json"]
    written += write_lookup_tables(master, dem, stack_dir / "lookup" / master_id, progress=scaled(progress, 0.7, 0.97))
    written.append(quicklook_png(stack_dir / "scenes" / f"{master_id}.tif", out / "master_amplitude.png"))
    figure = overview_figure(stack_dir, master_id, stack.scenes[0].id, out / "overview.png")
    if figure is not None:
        written.append(figure)
    report(progress, 1.0, "demo done")
    return written
