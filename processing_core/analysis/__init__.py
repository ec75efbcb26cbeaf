"""Landslide analysis of a stack's time series (DESIGN.md step 8).

Pure array functions are separate from the file I/O, so the QGIS plugin and the command line
share them:

* :mod:`~processing_core.analysis.series`: the point time series (CSV **contract**
  ``date,los_m,azimuth_m`` + optional ``los_std_m,azimuth_std_m``) and its I/O.
* :mod:`~processing_core.analysis.points`: a point's series from ``STACK/timeseries/*.tif`` at a
  longitude/latitude (geo2rdr on the final master, SubGrid node, optional radius mean).
* :mod:`~processing_core.analysis.stages`: continuous piecewise-linear segmentation with an
  automatic number of stages (exact dynamic programme with a BIC penalty), break-date intervals,
  stage rates, primary / secondary / tertiary creep (Saito 1969) and the acceleration onset.
* :mod:`~processing_core.analysis.forecast`: inverse-velocity failure time (Fukuzono 1985) with a
  Fieller confidence interval and the first date a warning was possible.
* :mod:`~processing_core.analysis.covariates`: monthly precipitation (CSV or GPM IMERG files)
  and backscatter of the rectified amplitudes.
* :mod:`~processing_core.analysis.correlate`: lagged correlation of the displacement rate with
  precipitation or backscatter, with block-permutation significance.
* :mod:`~processing_core.analysis.plots`: PNG figures (matplotlib, Agg canvas).

Reference: Liu, X., Zhao, C., Zhang, Q., Lu, Z., & Li, Z. (2020), Deformation of the Baige
landslide, Tibet, China, revealed through the integration of cross-platform ALOS/PALSAR-1 and
ALOS/PALSAR-2 SAR observations, GRL 47, e2019GL086142, doi:10.1029/2019GL086142 (section 5).
"""
