"""Result rasters into the project, styled with the plugin's QML styles.

The styles live in ``resources/styles`` and are generic (the dock builds on them too):

- ``displacement_m.qml``: diverging ramp (red negative, white zero, blue positive), legend in m;
- ``rate_m_per_yr.qml``: the same ramp, legend in m/yr;
- ``snr.qml``: a sequential ramp for quality bands (SNR), from zero.

A QML fixes the ramp, the legend and its unit but not the data range, so a
:class:`StyledRasterPostProcessor` applies the QML once Processing has loaded the layer, selects
the band to show (by default the last: the newest date of a time series, the whole span of the
rates) and stretches the ramp over the band's 2-98 % range, symmetric about zero for the
diverging styles so that white stays at zero. This is display only; values are not touched.
"""

from __future__ import annotations

import math

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

#: style name -> the ramp is centred on zero
DIVERGING = {"displacement_m": True, "rate_m_per_yr": True, "snr": False}


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
