"""Layer 0: small files are written atomically (a failed write keeps the previous file, leaves no temporary)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from processing_core import atomic


def test_write_json_round_trip(tmp_path):
    path = atomic.write_json(tmp_path / "a.json", {"x": np.float32(1.5)}, default=float)
    assert json.loads(path.read_text(encoding="utf-8")) == {"x": 1.5}
    assert path.read_text(encoding="utf-8").endswith("}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = atomic.write_text(tmp_path / "a.json", "old\n")
    with pytest.raises(TypeError):
        atomic.write_json(path, {"x": object()})  # not serialisable: nothing is written
    assert path.read_text(encoding="utf-8") == "old\n"

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space"):
        atomic.write_text(path, "new\n")
    assert path.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]  # the temporary is gone
