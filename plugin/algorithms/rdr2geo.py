"""``sarots:rdr2geo``: latitude and longitude of radar pixels at given heights."""

from __future__ import annotations

from .base import PointsCsvAlgorithm


class Rdr2GeoAlgorithm(PointsCsvAlgorithm):
    NAME = "rdr2geo"
    DISPLAY_NAME = "Ground coordinates of radar pixels (rdr2geo)"
    ICON = "rdr2geo"
    CORE_FUNCTION = "rdr2geo_csv"
    POINTS_DESCRIPTION = "Radar pixels CSV (columns line, sample, height)"
    OUTPUT_DESCRIPTION = "Ground coordinates CSV"
    HELP = (
        "Locates radar pixels on the ground: intersects the range sphere and the Doppler cone of "
        "each pixel with the WGS84 ellipsoid raised by the given height.<br><br>"
        "<b>Scene sidecar</b>: the scene's JSON sidecar in the sar-scene/1 interchange format.<br>"
        "<b>Radar pixels CSV</b>: columns <code>line,sample,height</code> (pixel coordinates in "
        "the scene raster, fractional allowed, and metres above the WGS84 ellipsoid); other "
        "columns are kept.<br>"
        "<b>Output</b>: the input columns plus <code>lat,lon</code> in degrees (WGS84).<br><br>"
        "Same as the command line <code>python3 -m processing_core rdr2geo</code>."
    )
