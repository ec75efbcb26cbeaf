"""One module per Processing algorithm of the ``sarots`` provider."""

from __future__ import annotations

from qgis.core import QgsProcessingAlgorithm


def algorithm_classes() -> list[type[QgsProcessingAlgorithm]]:
    """Return the algorithm classes the provider registers, in toolbox order."""
    from .correlate import CorrelationAlgorithm
    from .geo2rdr import Geo2RdrAlgorithm
    from .geocode import GeocodeAlgorithm
    from .importer import ImportProductsAlgorithm
    from .invert import InvertTimeSeriesAlgorithm
    from .lookup import LookupTablesAlgorithm
    from .offsets import OffsetTrackingAlgorithm
    from .pairs import SelectPairsAlgorithm
    from .point import PointSeriesAlgorithm
    from .rdr2geo import Rdr2GeoAlgorithm
    from .rectify import RectifyStackAlgorithm
    from .run import RunChainAlgorithm
    from .simulate import SimulateStackAlgorithm
    from .stages import CreepStagesAlgorithm

    return [
        ImportProductsAlgorithm,
        RunChainAlgorithm,
        Geo2RdrAlgorithm,
        Rdr2GeoAlgorithm,
        LookupTablesAlgorithm,
        SimulateStackAlgorithm,
        SelectPairsAlgorithm,
        RectifyStackAlgorithm,
        OffsetTrackingAlgorithm,
        InvertTimeSeriesAlgorithm,
        GeocodeAlgorithm,
        PointSeriesAlgorithm,
        CreepStagesAlgorithm,
        CorrelationAlgorithm,
    ]
