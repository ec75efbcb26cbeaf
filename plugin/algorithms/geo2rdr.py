"""``sarots:geo2rdr``: radar coordinates (azimuth time, slant range, line, sample) of ground points."""

from __future__ import annotations

from .base import PointsCsvAlgorithm


class Geo2RdrAlgorithm(PointsCsvAlgorithm):
    NAME = "geo2rdr"
    DISPLAY_NAME = "Radar coordinates of ground points (geo2rdr)"
    ICON = "geo2rdr"
    CORE_FUNCTION = "geo2rdr_csv"
    POINTS_DESCRIPTION = "Ground points CSV (columns lat, lon, height)"
    OUTPUT_DESCRIPTION = "Radar coordinates CSV"
    HELP = (
        "Finds where ground points appear in a SAR scene by solving the Range-Doppler equations "
        "against the scene's orbit (zero or known Doppler centroid).<br><br>"
        "<b>Scene sidecar</b>: the scene's JSON sidecar in the sar-scene/1 interchange format "
        "(orbit state vectors, timing, slant-range grid).<br>"
        "<b>Ground points CSV</b>: columns <code>lat,lon,height</code> in degrees (WGS84) and "
        "metres above the WGS84 ellipsoid; other columns are kept.<br>"
        "<b>Output</b>: the input columns plus <code>azimuth_time</code> (ISO-8601 UTC), "
        "<code>slant_range_m</code>, <code>line</code> and <code>sample</code> (fractional pixel "
        "coordinates in the scene raster).<br><br>"
        "Same as the command line <code>python3 -m processing_core geo2rdr</code>."
    )
