"""Programming a camera at the dock for the officer who takes it (`CameraStorage.assign`)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from custody.domain.errors import InvalidInput
from tests.unit.test_camera_storage import T0, make_camera


def test_assign_changes_only_the_officer_and_the_undocking(tmp_path: Path) -> None:
    camera = make_camera(tmp_path / "camera")
    before = json.loads((camera.root / "device.json").read_text())
    taken_at = T0 + timedelta(hours=3)
    device = camera.storage.assign("5678CD", taken_at)
    after = json.loads((camera.root / "device.json").read_text())
    assert (device.officer_id, device.undocked_at) == ("5678CD", taken_at)
    assert after == before | {"officer_id": "5678CD", "undocked_at": "2024-05-01T11:00:00Z"}
    assert camera.storage.device == device
    # Written atomically: no half-written file is left beside it.
    assert sorted(p.name for p in camera.root.iterdir() if p.name.startswith(".")) == [
        ".device-key"
    ]


def test_assign_can_clear_the_officer_and_refuses_a_blank_one(tmp_path: Path) -> None:
    camera = make_camera(tmp_path / "camera")
    assert camera.storage.assign(None, T0).officer_id is None
    with pytest.raises(InvalidInput):
        camera.storage.assign("  ", T0)
    assert camera.storage.device.officer_id is None
