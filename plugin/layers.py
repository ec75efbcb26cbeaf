"""Result rasters into the project, styled with the plugin's QML styles.

The styles live in ``resources/styles`` and are generic (the dock builds on them too):

- ``displacement_m.qml``: diverging ramp (red negative, white zero, blue positive), legend in m;
- ``rate_m_per_yr.qml``: the same ramp, legend in m/yr;
- ``snr.qml``: a sequential ramp for quality bands (SNR), from zero;
- ``ncc.qml``: a sequential ramp for the normalised cross-correlation, 0 to 1;
- ``std_m.qml``: a sequential ramp from zero for standard deviations and residuals, legend in m;
- ``mask.qml``: a paletted mask (layover 1, shadow 2, both 3), value 0 fully transparent.

:func:`style_for_name` picks the style from a raster's file name (``los.tif`` -> displacement,
``los_rate.tif`` -> rate, ...); :func:`apply_style_by_name` applies it (the dock uses it on the
layers it opens).

A QML fixes the ramp, the legend and its unit but not the data range, so a
:class:`StyledRasterPostProcessor` applies the QML once Processing has loaded the layer, selects
the band to show (by default the last: the newest date of a time series, the whole span of the
rates) and stretches the ramp over the band's 2-98 % range, symmetric about zero for the
diverging styles so that white stays at zero. This is display only; values are not touched.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from qgis.core import (
    QgsMapLayer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
    QgsSingleBandPseudoColorRenderer,
)

from . import RESOURCES

STYLES = RESOURCES / "styles"

#: style name -> the ramp is centred on zero (the mask is paletted: no ramp)
DIVERGING = {
    "displacement_m": True,
    "rate_m_per_yr": True,
    "snr": False,
    "ncc": False,
    "std_m": False,
    "mask": False,
}

#: (pattern on the lower-case file stem, style), the first match wins
NAME_STYLES: tuple[tuple[str, str], ...] = (
    (r"mask|layover|shadow", "mask"),
    (r"_std$|std_|residual", "std_m"),
    (r"rate", "rate_m_per_yr"),
    (r"snr", "snr"),
    (r"ncc", "ncc"),
    (r"^(los|azimuth|range)(_m)?$|displacement", "displacement_m"),
)


def style_path(style: str) -> str:
    """``resources/styles/<style>.qml`` (KeyError for a style the plugin does not ship)."""
    if style not in DIVERGING:
        raise KeyError(f"no style '{style}'; known: {', '.join(DIVERGING)}")
    return str(STYLES / f"{style}.qml")


def display_range(layer: QgsRasterLayer, band: int, symmetric: bool) -> tuple[float, float]:
    """The 2-98 % range of ``band``; ``(-m, m)`` with m the larger magnitude when ``symmetric``."""
    low, high = layer.dataProvider().cumulativeCut(band, 0.02, 0.98)
    if not (math.isfinite(low) and math.isfinite(high)):
        low, high = (-1.0, 1.0) if symmetric else (0.0, 1.0)
    if symmetric:
        limit = max(abs(low), abs(high)) or 1.0
        return -limit, limit
    return (low, high) if high > low else (low, low + 1.0)


def apply_style(layer: QgsRasterLayer, style: str, band: int | None = None) -> None:
    """Apply ``style`` to ``layer``, show ``band`` (default: the last) over its data range."""
    message, ok = layer.loadNamedStyle(style_path(style), categories=QgsMapLayer.Symbology)
    if not ok:
        raise RuntimeError(f"{style_path(style)}: {message}")
    renderer = layer.renderer()
    if not isinstance(renderer, QgsSingleBandPseudoColorRenderer):
        return
    band = band or layer.bandCount()
    low, high = display_range(layer, band, DIVERGING[style])
    renderer.setBand(band)
    renderer.setClassificationMin(low)
    renderer.setClassificationMax(high)
    shader = renderer.shader()
    shader.setMinimumValue(low)
    shader.setMaximumValue(high)
    ramp = shader.rasterShaderFunction()
    ramp.setMinimumValue(low)
    ramp.setMaximumValue(high)
    ramp.classifyColorRamp(0, band, layer.extent(), layer.dataProvider())
    layer.triggerRepaint()


def style_for_name(path_or_name: str | Path) -> str | None:
    """The style for a raster by its file name (:data:`NAME_STYLES`), ``None`` if none fits.

    ``los.tif``/``azimuth.tif`` -> ``displacement_m``, ``*_rate`` -> ``rate_m_per_yr``,
    ``*_std``/``*_residual`` -> ``std_m``, ``snr``/``ncc`` -> sequential, ``*mask*``/layover ->
    ``mask``.
    """
    stem = Path(str(path_or_name).split("|")[0]).stem.lower()
    for pattern, style in NAME_STYLES:
        if re.search(pattern, stem):
            return style
    return None


def apply_style_by_name(layer: QgsRasterLayer, band: int | None = None) -> str | None:
    """Apply the style :func:`style_for_name` picks for the layer's file; return it (or ``None``)."""
    style = style_for_name(layer.source())
    if style is not None:
        apply_style(layer, style, band)
    return style


class StyledRasterPostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Styles a result raster after Processing loaded it into the project."""

    #: Processing holds these by a C++ pointer only; Python must keep them alive meanwhile.
    _alive: list[StyledRasterPostProcessor] = []

    def __init__(self, style: str, band: int | None = None) -> None:
        super().__init__()
        self.style = style
        self.band = band

    @classmethod
    def create(cls, style: str, band: int | None = None) -> StyledRasterPostProcessor:
        processor = cls(style, band)
        cls._alive.append(processor)
        return processor

    def postProcessLayer(  # noqa: N802 - QGIS API
        self, layer: QgsMapLayer, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        if isinstance(layer, QgsRasterLayer):
            apply_style(layer, self.style, self.band)
        if self in self._alive:
            self._alive.remove(self)


def load_styled_raster(
    context: QgsProcessingContext,
    path: str,
    name: str,
    style: str,
    *,
    band: int | None = None,
    output_name: str = "",
) -> None:
    """Ask Processing to load ``path`` as layer ``name`` when the algorithm ends, then style it.

    Nothing is loaded under ``processing.run`` or ``qgis_process``: only the toolbox, the Model
    Builder and ``processing.runAndLoadResults`` load the layers they are asked to load.
    """
    details = QgsProcessingContext.LayerDetails(name, context.project(), output_name)
    details.forceName = True
    details.setPostProcessor(StyledRasterPostProcessor.create(style, band))
    context.addLayerToLoadOnCompletion(path, details)
