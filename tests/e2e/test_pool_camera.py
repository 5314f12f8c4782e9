"""Pool cameras over real HTTP: a card at the dock → the camera is the officer's → footage
recorded on shift → docked again → the recordings carry that officer, and the
assignment has ended."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from custody.camera.simulator import simulate_camera
from custody.camera.storage import CameraStorage
from custody.dock.agent import DockAgent
from tests.conftest import Installation


def _ok(result: Any) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return str(result.stdout)


def _shift(bay: Path, serial: str, count: int) -> list[str]:
    """The officer goes out with the camera and records; it is programmed with their number."""
    device = CameraStorage(bay).device
    assert device.undocked_at is not None
    # Footage begins after the camera left the dock, as it would on a real shift.
    start = device.undocked_at + timedelta(seconds=1)
    made = simulate_camera(
        bay,
        serial=serial,
        officer_id=device.officer_id,
        recordings=count,
        duration=1.5,
        start=start,
        gap=timedelta(seconds=0.5),
    )
    # The dock sees the camera again only once the shift's last recording has begun.
    last = made[-1].manifest.started_at
    while datetime.now(UTC) <= last + timedelta(seconds=0.5):
        time.sleep(0.1)
    return [r.manifest.recording_id for r in made]


def test_a_pool_camera_taken_by_card_carries_its_officer(
    installation: Installation, tmp_path: Path
) -> None:
    server = installation.server.url
    admin = {"Authorization": f"Bearer {installation.admin_token}"}
    viewer = {"Authorization": f"Bearer {installation.viewer_token}"}
    _ok(
        installation.run(
            "fleet",
            "add-officer",
            "5678CD",
            "--name",
            "B. Okafor",
            "--unit",
            "Hackney",
            "--card",
            "04AABBCC",
        )
    )
    _ok(installation.run("fleet", "card", "1234AB", "04DDEEFF"))
    bay = tmp_path / "Hackney-1" / "bay-4"
    simulate_camera(bay, serial="POOL-7", officer_id=None, recordings=0, duration=1)
    _ok(
        installation.run(
            "fleet", "add-camera", "--from", str(bay), "--pool", "--borough", "Hackney"
        )
    )

    # An unknown card is refused at the dock and the camera is left as it was.
    refused = installation.run(
        "dock-checkout",
        "--server",
        server,
        "--token",
        installation.dock_token,
        "--bay",
        str(bay),
        "--card",
        "99999999",
    )
    assert refused.returncode == 1 and "no officer" in refused.stderr
    assert CameraStorage(bay).device.officer_id is None

    # Officer 5678CD presents their card (the reader gives lower case; the server does not mind).
    taken = _ok(
        installation.run(
            "dock-checkout",
            "--server",
            server,
            "--token",
            installation.dock_token,
            "--bay",
            str(bay),
            "--card",
            "04aabbcc",
        )
    )
    assert "5678CD" in taken
    device = CameraStorage(bay).device
    assert device.officer_id == "5678CD" and device.undocked_at is not None
    camera = httpx.get(f"{server}/api/v1/cameras/POOL-7", headers=admin).json()
    assert camera["officer"] == "5678CD" and camera["pool"] is True
    assert camera["assignments"][0]["started_at"].startswith(device.undocked_at.isoformat()[:19])

    first_shift = _shift(bay, "POOL-7", 2)
    # The dock agent runs as the dock PC runs it: a process of its own.
    _ok(
        installation.run_process(
            "dock",
            "--server",
            server,
            "--token",
            installation.dock_token,
            "--bay",
            str(bay),
            "--once",
        )
    )
    assert CameraStorage(bay).recordings() == []
    for recording_id in first_shift:
        detail = httpx.get(f"{server}/api/v1/recordings/{recording_id}", headers=viewer).json()
        assert (detail["officer"], detail["camera"]) == ("5678CD", "POOL-7")
    camera = httpx.get(f"{server}/api/v1/cameras/POOL-7", headers=admin).json()
    assert camera["officer"] is None
    [ended] = camera["assignments"]
    assert (ended["officer"], ended["end_reason"], ended["dock"]) == (
        "5678CD",
        "docked",
        "Hackney-1",
    )

    # The next shift, through the agent's own method: officer 1234AB takes the same camera.
    with DockAgent(server, installation.dock_token, [bay]) as agent:
        answer = agent.checkout("04DDEEFF", bay)
        assert answer.officer == "1234AB"
        assert CameraStorage(bay).device.officer_id == "1234AB"
        # The same agent looks at its bays again before the officer has walked away: it
        # stays quiet about the camera just taken, whose report would read as its return.
        assert agent.run_once().ok
    held = httpx.get(f"{server}/api/v1/cameras/POOL-7", headers=admin).json()
    assert held["officer"] == "1234AB"
    second_shift = _shift(bay, "POOL-7", 1)
    with DockAgent(server, installation.dock_token, [bay]) as agent:
        assert agent.run_once().ok
    listing = httpx.get(
        f"{server}/api/v1/recordings", params={"camera": "POOL-7"}, headers=viewer
    ).json()
    officers = {item["id"]: item["officer"] for item in listing["items"]}
    assert officers == {
        **dict.fromkeys(first_shift, "5678CD"),
        **dict.fromkeys(second_shift, "1234AB"),
    }
    history = httpx.get(f"{server}/api/v1/cameras/POOL-7", headers=admin).json()["assignments"]
    assert [(a["officer"], a["end_reason"]) for a in history] == [
        ("1234AB", "docked"),
        ("5678CD", "docked"),
    ]
    # Nothing was flagged: every manifest named the officer the history holds.
    holder = httpx.get(
        f"{server}/api/v1/cameras/POOL-7/holder",
        params={"at": history[1]["started_at"]},
        headers=admin,
    ).json()
    assert holder["assignment"]["officer"] == "5678CD"
