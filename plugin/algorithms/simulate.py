"""``sarots:simulate``: a simulated multi-platform stack with a moving landslide and its truth."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputRasterLayer,
    QgsProcessingOutputString,
    QgsProcessingParameterFolderDestination,
)

from ..corebridge import core_function
from .base import DEM_VERTICAL_OPTIONS, StackAlgorithm

#: (core scenario name, label) in the order of the enum parameter
SCENARIO_OPTIONS: tuple[tuple[str, str], ...] = (
    ("baige-like", "baige-like: 12 PALSAR-1 + 16 PALSAR-2 scenes, 2007-2018, 5 x 5 km (the paper's stack)"),
    ("small", "small: 3 PALSAR-1 + 3 PALSAR-2 scenes of a few hundred pixels (seconds; for tests)"),
)
#: (core value of ``pass_direction`` or "" for the scenario's, label)
PASS_OPTIONS: tuple[tuple[str, str], ...] = (
    ("", "as the scenario (ascending)"),
    ("ascending", "ascending"),
    ("descending", "descending"),
)


class SimulateStackAlgorithm(StackAlgorithm):
    SCENARIO = "SCENARIO"
    DEM = "DEM"
    DEM_VERTICAL = "DEM_VERTICAL"
    SEED = "SEED"
    ALONG_M = "EXTENT_ALONG_M"
    ACROSS_M = "EXTENT_ACROSS_M"
    PASS = "PASS"
    NO_DOPPLER = "NO_DOPPLER"
    OUTPUT = "OUTPUT"
    SCENES = "SCENES"
    FINAL_MASTER = "FINAL_MASTER"
    TRUTH_LOS = "TRUTH_LOS"

    NAME = "simulate"
    DISPLAY_NAME = "Simulate a SAR stack with a moving landslide"
    GROUP_ID = "simulation"
    HELP = (
        "Simulates a multi-platform SAR amplitude stack over a real DEM, with a landslide that "
        "moves along its slope following the Baige creep history of Liu et al. 2020 (LOS rates "
        "from 6 to 92 mm/day), and writes it as a stack folder that the other algorithms read. "
        "Use it to try the chain, or to test it against a known answer.<br><br>"
        "<b>Scenario</b>: <i>baige-like</i> is the paper's network (28 scenes, PALSAR-1 2007-2011 "
        "and PALSAR-2 2014-2018, about 28 km apart in perpendicular baseline); <i>small</i> has "
        "six small scenes and runs in seconds.<br>"
        "<b>DEM</b>: the terrain imaged (optional; default: the bundled SRTM 30 m DEM of Big "
        "Tujunga, San Gabriel Mountains). The landslide is placed on a slope facing away from "
        "the sensor.<br>"
        "<b>Advanced</b>: random seed (same seed, same stack), ground extent of the scenes in "
        "metres, orbit direction, zero-Doppler PALSAR-1 scenes.<br><br>"
        "<b>Output stack folder</b>: <code>stack.json</code>, <code>scenes/</code> (amplitude "
        "GeoTIFF + sar-scene/1 sidecar per scene) and <code>truth/</code>: true LOS and azimuth "
        "displacement in the final master's geometry in metres (one band per date, "
        "<code>DYYYYMMDD</code>), and the true time series of the points P1-P4 "
        "(<code>truth/P2.csv</code>: <code>date,los_m,azimuth_m,...</code>).<br><br>"
        "Same as the command line <code>python3 -m processing_core simulate</code>."
    )

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API
        self.add_enum(self.SCENARIO, "Scenario", SCENARIO_OPTIONS)
        self.add_dem_parameter(
            self.DEM,
            optional=True,
            description="DEM to image (optional; default: bundled SRTM of Big Tujunga)",
        )
        self.add_enum(self.DEM_VERTICAL, "DEM heights", DEM_VERTICAL_OPTIONS, advanced=True)
        self.add_numbers(
            [
                (self.SEED, "Random seed", 0, 0),
                (self.ALONG_M, "Scene extent along track, m (0: the scenario's)", 0.0, 0.0),
                (self.ACROSS_M, "Scene extent across track, m (0: the scenario's)", 0.0, 0.0),
            ],
            advanced=True,
        )
        self.add_enum(self.PASS, "Orbit direction", PASS_OPTIONS, advanced=True)
        self.add_flags(
            [(self.NO_DOPPLER, "Zero-Doppler PALSAR-1 scenes (default: squinted, as Level 1.1)", False)],
            advanced=True,
        )
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT, self.tr("Stack folder")))
        self.add_stack_output()
        self.addOutput(QgsProcessingOutputNumber(self.SCENES, self.tr("Number of scenes")))
        self.addOutput(QgsProcessingOutputString(self.FINAL_MASTER, self.tr("Final master scene id")))
        self.addOutput(
            QgsProcessingOutputRasterLayer(
                self.TRUTH_LOS, self.tr("True LOS displacement (m, one band per date)")
            )
        )

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict:
        from dataclasses import replace

        scenario = core_function("simulate", "get_scenario")(
            self.enum_value(parameters, self.SCENARIO, SCENARIO_OPTIONS, context)
        )
        pass_direction = self.enum_value(parameters, self.PASS, PASS_OPTIONS, context)
        if pass_direction:
            scenario = replace(scenario, pass_direction=pass_direction)
        if self.parameterAsBool(parameters, self.NO_DOPPLER, context):
            scenario = replace(scenario, palsar1_doppler=False)
        along = self.parameterAsDouble(parameters, self.ALONG_M, context)
        across = self.parameterAsDouble(parameters, self.ACROSS_M, context)
        if (along > 0) != (across > 0):
            raise QgsProcessingException("Give both scene extents (along and across track), or neither")
        dem = self.dem_path(parameters, context, self.DEM) or str(core_function("demo", "DEFAULT_DEM"))
        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        stack = self.run_core(
            "simulate",
            "simulate_stack",
            scenario,
            dem,
            out,
            seed=self.parameterAsInt(parameters, self.SEED, context),
            extent_m=(along, across) if along > 0 else None,
            dem_vertical=self.enum_value(parameters, self.DEM_VERTICAL, DEM_VERTICAL_OPTIONS, context),
            feedback=feedback,
        )
        final = str(stack.masters["final"])
        feedback.pushInfo(f"{len(stack.scenes)} scenes, final master {final}, truth in {out}/truth")
        return {
            self.OUTPUT: out,
            self.STACK: out,
            self.SCENES: len(stack.scenes),
            self.FINAL_MASTER: final,
            self.TRUTH_LOS: str(stack.root / "truth" / "los.tif"),
        }
