"""Multi-platform SAR stack simulator with ground truth (test and demo data).

Scenes are imaged from a real DEM by forward-projecting textured DEM facets through each
acquisition's orbit (layover piles up, shadow stays dark), with speckle that decorrelates
over time and between platforms, a seasonal soil-moisture brightness term, and a landslide
whose displacement moves the ground (and its texture) before imaging.
"""

from processing_core.simulate.scenario import SCENARIOS, Scenario, get_scenario
from processing_core.simulate.stack_sim import simulate_stack

__all__ = ["SCENARIOS", "Scenario", "get_scenario", "simulate_stack"]
