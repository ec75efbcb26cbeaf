"""Fuzzing the CEOS and SAFE parsers (hypothesis): truncated and corrupted real inputs give a
clear one-line error of the core (SarError, mostly ProductError) or a result, never a crash
from deep inside (IndexError, struct.error, ZeroDivisionError, a numpy warning ...) or a hang."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from ceos_writer import spec_from_scene, write_product
from geometry_helpers import SHARED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safe_copy import azimuth_cut, copy_safe
from sentinel1_fixture import ANNOTATION, SAFE

from processing_core.errors import SarError
from processing_core.orbitgen import synthetic_scene
from processing_core.readers.alos import parse_leader, volume_file_counts
from processing_core.readers.base import ReadOptions
from processing_core.readers.ceos import parse_image_descriptor, read_records
from processing_core.readers.palsar import PalsarReader
from processing_core.readers.safe import parse_annotation, parse_manifest, parse_orbit_file
from processing_core.readers.sentinel1 import Sentinel1Reader

ZIP = next((SHARED / "alos2").glob("*.zip"))
STEM = "ALOS2015976960-140909-FBDR1.5GUA"
_ARCHIVE = zipfile.ZipFile(ZIP)
LEADER = _ARCHIVE.read(f"LED-{STEM}")
VOLUME = _ARCHIVE.read(f"VOL-{STEM}")
IMAGE_DESCRIPTOR = _ARCHIVE.read(f"IMG-HH-{STEM}")
# The annotation without its long noise, antenna and attitude lists (what the readers skip anyway).
_TEXT = ANNOTATION.read_text(encoding="utf-8")
for _tag in ("noiseList", "antennaPatternList", "attitudeList", "dcEstimateList"):
    _a, _b = _TEXT.index(f"<{_tag}"), _TEXT.index(f"</{_tag}>") + len(f"</{_tag}>")
    _TEXT = _TEXT[:_a] + _TEXT[_b:]
ANNOTATION_BYTES = _TEXT.encode()
MANIFEST = (SAFE / "manifest.safe").read_bytes()

FUZZ = settings(
    max_examples=60,
    deadline=2000,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _check(call, *args) -> None:
    """``call(*args)`` returns, or raises a SarError with a one-line message."""
    try:
        call(*args)
    except SarError as exc:
        message = str(exc)
        assert message
        assert "\n" not in message
    # Any other exception (IndexError, struct.error, ValueError, RuntimeWarning ...) fails the test.


@st.composite
def corrupted(draw, data: bytes, hot: int | None = None):
    """``data`` cut at a random length and/or with a few bytes replaced (in the first ``hot`` bytes)."""
    out = bytearray(data)
    limit = min(len(out), hot or len(out))
    for _ in range(draw(st.integers(0, 8))):
        out[draw(st.integers(0, limit - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        out = out[: draw(st.integers(0, len(out)))]
    return bytes(out)


@FUZZ
@given(corrupted(LEADER, hot=11200))
def test_leader_parser(data):
    _check(parse_leader, data, "LED-fuzz")


@FUZZ
@given(st.one_of(corrupted(IMAGE_DESCRIPTOR), st.binary(max_size=800)))
def test_image_descriptor_parser(data):
    _check(parse_image_descriptor, data, "IMG-fuzz")


@FUZZ
@given(st.one_of(corrupted(VOLUME), st.binary(max_size=400)))
def test_volume_and_record_parsers(data):
    _check(volume_file_counts, data, "VOL-fuzz")
    _check(read_records, data, "TRL-fuzz")


@FUZZ
@given(corrupted(ANNOTATION_BYTES))
def test_annotation_parser(data):
    _check(parse_annotation, data, "s1-fuzz.xml")


_NUMBERS = [m for m in range(len(_TEXT)) if _TEXT.startswith("e+0", m) or _TEXT.startswith("e-0", m)]


@FUZZ
@given(st.sampled_from(_NUMBERS), st.text(alphabet="0123456789.-+eEinfaINFAN x", max_size=6))
def test_annotation_values(position, text):
    """A number's exponent replaced by junk: a named element error or a parse, never a crash."""
    _check(parse_annotation, (_TEXT[:position] + text + _TEXT[position + 4 :]).encode(), "s1-fuzz.xml")


@FUZZ
@given(st.one_of(corrupted(MANIFEST), st.binary(max_size=200)))
def test_manifest_and_orbit_file_parsers(data):
    _check(parse_manifest, data, "manifest.safe")
    _check(parse_orbit_file, data, "fuzz.EOF")


# -- whole products: corrupted files inside a product, read end to end --------------------------------


@pytest.fixture(scope="module")
def ceos_product(tmp_path_factory) -> Path:
    truth = synthetic_scene(
        scene_id="f",
        centre_lat_deg=34.32,
        centre_lon_deg=-118.15,
        centre_height_m=0.0,
        centre_time=np.datetime64("2015-07-27T05:12:33"),
        lines=24,
        samples=16,
    )
    rng = np.random.default_rng(7)
    slc = (rng.normal(size=(24, 16)) + 1j * rng.normal(size=(24, 16))).astype(np.complex64)
    stem = "ALOS2065432100-150727-FBDR1.1__A"
    return write_product(
        spec_from_scene(truth, "ALOS-2", stem, {"HH": slc}), tmp_path_factory.mktemp("ceos") / "p"
    )


@st.composite
def product_damage(draw, folder: Path):
    """(file name, corrupted bytes) for one file of a product folder."""
    names = sorted(p.name for p in folder.iterdir())
    name = draw(st.sampled_from(names))
    data = (folder / name).read_bytes()
    return name, draw(corrupted(data, hot=12000))


@settings(FUZZ, max_examples=40, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_ceos_product_end_to_end(ceos_product, data):
    name, damaged = data.draw(product_damage(ceos_product))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "p"
        shutil.copytree(ceos_product, folder)
        (folder / name).write_bytes(damaged)
        _check(PalsarReader().read, folder, Path(tmp) / "out")


@pytest.fixture(scope="module")
def safe_product(tmp_path_factory) -> Path:
    return copy_safe(tmp_path_factory.mktemp("safe"), azimuth_cut(6), ramp=True)


@settings(FUZZ, max_examples=15, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_safe_product_end_to_end(safe_product, data):
    annotation = next((safe_product / "annotation").glob("*.xml"))
    text = annotation.read_text(encoding="utf-8")
    position = data.draw(st.sampled_from([m for m in range(len(text)) if text.startswith("e+0", m)]))
    junk = data.draw(st.text(alphabet="0123456789.-+e", max_size=5))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / safe_product.name
        shutil.copytree(safe_product, folder)
        (folder / "annotation" / annotation.name).write_text(
            text[:position] + junk + text[position + 4 :], encoding="utf-8"
        )
        _check(
            lambda: Sentinel1Reader().read(folder, Path(tmp) / "out", options=ReadOptions(multilook=(2, 8)))
        )
