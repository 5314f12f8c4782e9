"""A shift: officers record incidents, then dock their cameras and the footage uploads."""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from custody.camera.simulator import simulate_camera
from custody.camera.storage import CameraStorage


def record_shift(
    cameras: dict[str, Path],
    shift_end: datetime,
    rng: random.Random,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Each camera records a few incidents during the eight hours before `shift_end`."""
    made = 0
    for serial, camera_dir in cameras.items():
        count = rng.randint(1, 3)
        start = shift_end - timedelta(hours=8) + timedelta(minutes=rng.randint(5, 90))
        # Footage past the first ten seconds repeats encoded packets: long clips are cheap.
        officer = CameraStorage(camera_dir).device.officer_id
        simulate_camera(
            camera_dir,
            # Not the directory's name: once docked, a camera's directory is its bay.
            serial=serial,
            officer_id=officer,
            recordings=count,
            duration=rng.choice((45, 90, 180, 420)),
            start=start,
            gap=timedelta(minutes=rng.randint(40, 120)),
        )
        made += count
        if progress is not None:
            progress(count)
    return made


def dock_cameras(cameras: dict[str, Path], bays: list[Path]) -> list[tuple[str, Path]]:
    """Put cameras into free bays (a bay holds one camera directory); returns what was docked."""
    docked = []
    free = [bay for bay in bays if not (bay / "device.json").exists()]
    for (serial, camera_dir), bay in zip(list(cameras.items()), free, strict=False):
        if bay.exists():
            bay.rmdir()
        shutil.move(str(camera_dir), str(bay))
        cameras[serial] = bay
        docked.append((serial, bay))
    return docked
