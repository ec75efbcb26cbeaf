"""GUI of the plugin: the time-series inspector dock, its map tools, plotting and temporal view.

* :mod:`.dock`: the dock widget (toolbar, options, plot) and its public slots;
* :mod:`.maptool`: point and polygon map tools, markers of the plotted locations;
* :mod:`.sampling`: a layer's time series under a map point or inside a polygon;
* :mod:`.model`: the plotted data (series, platform periods, creep stages, precipitation);
* :mod:`.plotting`: the plotting adapter (matplotlib always, pyqtgraph when importable);
* :mod:`.temporal`: a time-series raster stepping through its dates with the temporal controller.
"""
