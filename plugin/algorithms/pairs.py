"""``sarots:pairs``: masters and offset pairs of a stack by the paper's rule."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputBoolean,
    QgsProcessingOutputFile,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterString,
)

from ..corebridge import core_function
from .base import StackAlgorithm


class SelectPairsAlgorithm(StackAlgorithm):
    MIN_DAYS_ALOS = "MIN_DAYS_ALOS"
    MIN_DAYS_ALOS2 = "MIN_DAYS_ALOS2"
    MIN_DAYS_OTHER = "MIN_DAYS_OTHER"
    BRIDGE = "BRIDGE"
    MIN_DAYS_PLATFORMS = "MIN_DAYS_PLATFORMS"
    MAX_DAYS_PLATFORMS = "MAX_DAYS_PLATFORMS"
    MAX_DAYS_OTHER = "MAX_DAYS_OTHER"
    MAX_BPERP_M = "MAX_BPERP_M"
    BRIDGE_MAX_DAYS = "BRIDGE_MAX_DAYS"
    PLOT = "PLOT"
    PAIRS = "PAIRS"
    PAIRS_CSV = "PAIRS_CSV"
    NETWORK_PLOT = "NETWORK_PLOT"
    CONNECTED = "CONNECTED"
    FINAL_MASTER = "FINAL_MASTER"

    NAME = "pairs"
    DISPLAY_NAME = "Select masters and offset pairs"
    GROUP_ID = "timeseries"
    HELP = (
        "Chooses the offset-tracking pairs of a stack by the rule of Liu et al. 2020: within each "
        "platform, every pair whose temporal baseline reaches a lower bound (300 days for ALOS "
        "PALSAR-1, 70 days for ALOS-2 PALSAR-2, chosen from the deformation rate), with no bound "
        "on the perpendicular baseline (ortho-rectification removes its effect); between "
        "consecutive platforms, bridging pairs joining the N last images of one platform to the "
        "N first of the next (N = 3). Perpendicular baselines are computed from the orbits "
        "relative to the final master (by default the master of the newest platform: the scene "
        "minimising the spread of temporal and perpendicular baselines and Doppler).<br><br>"
        "<b>Stack folder</b>: a folder with <code>stack.json</code> (from the import or simulate "
        "algorithms).<br>"
        "<b>Minimum temporal baselines</b> in days for ALOS, ALOS-2 and other platforms; "
        "<b>bridging images</b> each side of a platform change (0: none).<br>"
        "<b>Advanced</b>: bounds for other platforms as <code>PLATFORM=DAYS, ...</code>, optional "
        "maximum temporal baselines, an optional bound on |B_perp| in metres, the network plot.<br><br>"
        "<b>Output</b>: the pairs written to <code>stack.json</code>, the table "
        "<code>network/pairs.csv</code> (reference, secondary, days, B_perp in m, kind) and the "
        "plot <code>network/network.png</code>; the log says whether the network splits and "
        "where (a split network's time series is solved with minimum norm).<br><br>"
        "Same as the command line <code>python3 -m processing_core pairs</code>."
    )

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API
        network = core_function("network", "DEFAULT_MIN_DAYS")
        self.add_stack_parameter()
        self.add_numbers(
            [
                (
                    self.MIN_DAYS_ALOS,
                    "Minimum temporal baseline, ALOS PALSAR-1 pairs (days)",
                    network["ALOS"],
                    0.0,
                ),
                (
                    self.MIN_DAYS_ALOS2,
                    "Minimum temporal baseline, ALOS-2 PALSAR-2 pairs (days)",
                    network["ALOS-2"],
                    0.0,
                ),
                (
                    self.MIN_DAYS_OTHER,
                    "Minimum temporal baseline, other platforms (days)",
                    float(core_function("network", "GENERAL_MIN_DAYS")),
                    0.0,
                ),
                (
                    self.BRIDGE,
                    "Bridging images each side of a platform change (0: no bridging pairs)",
                    int(core_function("network", "DEFAULT_BRIDGE")),
                    0,
                ),
            ]
        )
        for name, label in (
            (self.MIN_DAYS_PLATFORMS, "Minimum temporal baselines of more platforms (PLATFORM=DAYS, ...)"),
            (self.MAX_DAYS_PLATFORMS, "Maximum temporal baselines per platform (PLATFORM=DAYS, ...)"),
        ):
            self.add_advanced(QgsProcessingParameterString(name, self.tr(label), optional=True))
        self.add_numbers(
            [
                (
                    self.MAX_DAYS_OTHER,
                    "Maximum temporal baseline, other platforms (days; empty: none)",
                    None,
                    0.0,
                ),
                (
                    self.MAX_BPERP_M,
                    "Maximum |perpendicular baseline| (m; empty: none, as the paper)",
                    None,
                    0.0,
                ),
                (
                    self.BRIDGE_MAX_DAYS,
                    "Maximum temporal baseline of bridging pairs (days; empty: none)",
                    None,
                    0.0,
                ),
            ],
            advanced=True,
        )
        self.add_flags([(self.PLOT, "Draw the network plot network/network.png", True)], advanced=True)
        self.add_stack_output("Stack folder (with pairs)")
        self.addOutput(QgsProcessingOutputNumber(self.PAIRS, self.tr("Number of pairs")))
        self.addOutput(QgsProcessingOutputFile(self.PAIRS_CSV, self.tr("Pair table (CSV)")))
        self.addOutput(QgsProcessingOutputFile(self.NETWORK_PLOT, self.tr("Network plot (PNG)")))
        self.addOutput(QgsProcessingOutputBoolean(self.CONNECTED, self.tr("One connected network")))
        self.addOutput(QgsProcessingOutputString(self.FINAL_MASTER, self.tr("Final master scene id")))

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict:
        stack = self.stack_path(parameters, context)
        min_days = {
            "ALOS": self.parameterAsDouble(parameters, self.MIN_DAYS_ALOS, context),
            "ALOS-2": self.parameterAsDouble(parameters, self.MIN_DAYS_ALOS2, context),
            **self.platform_days(parameters, self.MIN_DAYS_PLATFORMS, context),
        }
        rules = core_function("network", "PairRules")(
            min_days=min_days,
            default_min_days=self.parameterAsDouble(parameters, self.MIN_DAYS_OTHER, context),
            max_days=self.platform_days(parameters, self.MAX_DAYS_PLATFORMS, context),
            default_max_days=self.optional_number(parameters, self.MAX_DAYS_OTHER),
            max_bperp_m=self.optional_number(parameters, self.MAX_BPERP_M),
            bridge=self.parameterAsInt(parameters, self.BRIDGE, context),
            bridge_max_days=self.optional_number(parameters, self.BRIDGE_MAX_DAYS),
        )
        pairs, report, written = self.run_core(
            "network",
            "select_stack_pairs",
            str(stack),
            rules,
            plot=self.parameterAsBool(parameters, self.PLOT, context),
            feedback=feedback,
        )
        kinds: dict[str, int] = {}
        for pair in pairs:
            kinds[pair.kind] = kinds.get(pair.kind, 0) + 1
        feedback.pushInfo(f"{len(pairs)} pairs ({', '.join(f'{n} {kind}' for kind, n in kinds.items())})")
        for line in report.describe().splitlines():
            (feedback.pushInfo if report.connected else feedback.pushWarning)(line)
        by_name = {path.name: str(path) for path in written}
        final = core_function("stack", "load_stack")(stack).masters.get("final") or ""
        return {
            self.STACK: str(stack),
            self.PAIRS: len(pairs),
            self.PAIRS_CSV: by_name.get("pairs.csv", ""),
            self.NETWORK_PLOT: by_name.get("network.png", ""),
            self.CONNECTED: bool(report.connected),
            self.FINAL_MASTER: str(final),
        }
