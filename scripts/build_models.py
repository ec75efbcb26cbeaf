"""Write the Model Builder model(s) in resources/models/ with QGIS's own serialisation.

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 scripts/build_models.py

``offset_tracking_chain.model3`` chains, on a folder of SAR products (or sar-scene/1 sidecars)
and a DEM: import -> pairs -> rectify -> offsets -> invert -> geocode. The import writes a new
stack folder (the model's destination ``import:STACK``); each later step takes the stack folder
from the previous step's ``STACK`` output, so the Model Builder runs them in this order. The
provider ``sarots`` adds the model to its algorithms (``sarots:offset_tracking_chain``).

Edit this script, run it, and commit the regenerated .model3.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

# Qt orders XML attributes by a seeded hash: a fixed seed gives the same file on every run.
os.environ.setdefault("QT_HASH_SEED", "0")

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "resources" / "models" / "offset_tracking_chain.model3"

HELP = (
    "The offset-tracking chain of Liu et al. 2020 as one model: import SAR products into a stack "
    "folder, select masters and pairs (paper's temporal bounds and bridging pairs), ortho-rectify every "
    "scene into the final master's geometry through the DEM (improved method), track offsets of "
    "every pair, invert them into LOS and azimuth time series (SBAS) and geocode the results to "
    "the DEM's grid.\n\n"
    "Products: a folder of SAR products (ALOS CEOS folders or zips, Sentinel-1 SAFE, or "
    "sar-scene/1 *.json sidecars such as a simulated stack's scenes/ folder), searched three "
    "levels deep; multilook as AZxRG looks.\n"
    "Stack folder: where the stack is written (a folder holding a stack already is added to).\n"
    "DEM: a raster layer covering the scenes (e.g. SRTM 30 m).\n"
    "Grid spacing, window sizes and search radius of the offset tracking, in pixels.\n\n"
    "Outputs: the stack folder with its timeseries/ (metres, one band per date DYYYYMMDD) and the "
    "geocoded folder (default STACK/geocoded). Every step is resumable: a rerun recomputes only "
    "what changed. Open the model in the Model Builder to change any other option."
)

STEPS = (
    # child id, algorithm, description, {parameter: ("model", name) | ("child", child id) | ("value", v)}
    (
        "import",
        "sarots:import",
        "Import SAR products",
        {"FOLDER": ("model", "INPUT"), "MULTILOOK": ("model", "MULTILOOK")},
    ),
    ("pairs", "sarots:pairs", "Select masters and offset pairs", {"STACK": ("child", "import")}),
    (
        "rectify",
        "sarots:rectify",
        "Ortho-rectify stack",
        {"STACK": ("child", "pairs"), "DEM": ("model", "DEM"), "METHOD": ("value", 0)},
    ),
    (
        "offsets",
        "sarots:offsets",
        "Offset tracking",
        {
            "STACK": ("child", "rectify"),
            "STEP_PX": ("model", "STEP_PX"),
            "WINDOWS": ("model", "WINDOWS"),
            "SEARCH_PX": ("model", "SEARCH_PX"),
        },
    ),
    ("invert", "sarots:invert", "Time-series inversion", {"STACK": ("child", "offsets")}),
    ("geocode", "sarots:geocode", "Geocode time series", {"STACK": ("child", "invert")}),
)


#: child id -> (model output name, the child's destination parameter, description, mandatory)
OUTPUTS = {
    "import": ("STACK", "OUTPUT", "Stack folder", True),
    "geocode": ("GEOCODED", "OUTPUT", "Geocoded folder (empty: STACK/geocoded)", False),
}


def _load_plugin() -> object:
    """Register the provider from this checkout; returns the plugin, which must stay referenced
    (its Python objects back the provider's algorithms)."""
    from qgis.core import QgsApplication

    plugins = Path(tempfile.mkdtemp(prefix="sarots-models-"))
    (plugins / "sar_offset_tracking").symlink_to(ROOT, target_is_directory=True)
    sys.path.insert(0, str(plugins))
    import sar_offset_tracking

    plugin = sar_offset_tracking.classFactory(None)
    plugin.initProcessing()
    assert QgsApplication.processingRegistry().providerById("sarots") is not None
    return plugin


def build() -> object:
    from qgis.core import (
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelChildParameterSource,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterFile,
        QgsProcessingParameterNumber,
        QgsProcessingParameterRasterLayer,
        QgsProcessingParameterString,
    )
    from qgis.PyQt.QtCore import QPointF

    model = QgsProcessingModelAlgorithm("offset_tracking_chain", "Models", "models")
    model.setHelpContent({"ALG_DESC": HELP, "ALG_CREATOR": "SAR Offset Tracking developers"})
    inputs = (
        QgsProcessingParameterFile(
            "INPUT",
            "Folder of SAR products (CEOS, SAFE, zips, sar-scene/1 sidecars)",
            QgsProcessingParameterFile.Folder,
        ),
        QgsProcessingParameterString("MULTILOOK", "Multilook, azimuth x range looks (AZxRG)", "1x1"),
        QgsProcessingParameterRasterLayer("DEM", "DEM (raster layer, heights in metres)"),
        QgsProcessingParameterNumber(
            "STEP_PX", "Offset grid spacing (px)", QgsProcessingParameterNumber.Integer, 8, minValue=1
        ),
        QgsProcessingParameterString("WINDOWS", "Offset window sizes (px, comma separated)", "64,96,128"),
        QgsProcessingParameterNumber(
            "SEARCH_PX", "Offset search radius (px)", QgsProcessingParameterNumber.Integer, 32, minValue=1
        ),
    )
    for k, definition in enumerate(inputs):
        component = QgsProcessingModelParameter(definition.name())
        component.setPosition(QPointF(120, 80 + 90 * k))
        model.addModelParameter(definition, component)
    for k, (child_id, alg_id, description, sources) in enumerate(STEPS):
        child = QgsProcessingModelChildAlgorithm(alg_id)
        child.setChildId(child_id)
        child.setDescription(description)
        child.setPosition(QPointF(420, 80 + 120 * k))
        for parameter, (kind, value) in sources.items():
            if kind == "model":
                source = QgsProcessingModelChildParameterSource.fromModelParameter(value)
            elif kind == "child":
                source = QgsProcessingModelChildParameterSource.fromChildOutput(value, "STACK")
            else:
                source = QgsProcessingModelChildParameterSource.fromStaticValue(value)
            child.addParameterSources(parameter, [source])
        # As the Model Builder does: every other input at its default, so the model shows and
        # saves the values it runs with (and a user edits them in the child's dialog).
        for definition in child.algorithm().parameterDefinitions():
            if definition.isDestination() or definition.name() in sources:
                continue
            if definition.defaultValue() is not None:
                static = QgsProcessingModelChildParameterSource.fromStaticValue(definition.defaultValue())
                child.addParameterSources(definition.name(), [static])
        if child_id in OUTPUTS:
            name, destination, title, mandatory = OUTPUTS[child_id]
            output = QgsProcessingModelOutput(name, title)
            output.setChildId(child_id)
            output.setChildOutputName(destination)
            output.setMandatory(mandatory)
            output.setPosition(QPointF(700, 80 + 120 * k))
            child.setModelOutputs({name: output})
        model.addChildAlgorithm(child)
    model.updateDestinationParameters()
    return model


def main() -> int:
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    plugin = _load_plugin()
    model = build()
    ok, errors = model.validate()
    if not ok:
        print("\n".join(errors), file=sys.stderr)
        return 1
    MODEL.parent.mkdir(parents=True, exist_ok=True)
    if not model.toFile(str(MODEL)):
        print(f"error: cannot write {MODEL}", file=sys.stderr)
        return 1
    print(MODEL)
    plugin.unload()
    return 0


if __name__ == "__main__":
    sys.exit(main())
