"""Issue 12, point 2: a complaint holds its officer's footage docked after it was registered.

Surrey (IOPC, 2022) lost footage a complaint handler had watched because nobody marked it.
Here professional standards register a complaint today about tomorrow's shift; tomorrow
(the whole server's clock a day on) the officer docks, through the real dock agent, and
the footage is held from its first moment: the complaint lists it and its deletion date
is gone, while the officer's own view still shows the ordinary 31-day rule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from custody.camera.simulator import simulate_camera
from custody.domain.clock import SystemClock, isoformat
from tests.conftest import Installation, ServerProcess, free_port

DAY = timedelta(days=1)


def test_a_complaint_registered_today_holds_footage_docked_tomorrow(
    installation: Installation, tmp_path: Path
) -> None:
    assert (
        installation.run(
            "fleet", "add-officer", "5678CD", "--name", "B. Officer", "--unit", "Hackney"
        ).returncode
        == 0
    )
    pat = {"Authorization": f"Bearer {installation.viewer_token}"}
    now = datetime.now(UTC)
    registered = httpx.post(
        f"{installation.server.url}/api/v1/complaints",
        headers=pat,
        json={
            "reference": "CO-2026-0142",
            "officers": ["5678CD"],
            "since": isoformat(now + DAY / 2),
            "until": isoformat(now + DAY * 2),
            "place": "Mare Street, Hackney",
            "summary": "Alleged excessive force during an arrest",
        },
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["recordings_held"] == 0

    # Tomorrow: the same installation, its clock a day on, and the officer docks.
    installation.server.stop()
    tomorrow = ServerProcess(
        installation.data_dir,
        free_port(),
        {"CUSTODY_CLOCK_OFFSET_SECONDS": str(DAY.total_seconds())},
    )
    tomorrow.start()
    try:
        bay = tmp_path / "bay-1"
        made = simulate_camera(
            bay,
            serial="BWV-0142",
            officer_id="5678CD",
            recordings=2,
            duration=2,
            clock=SystemClock(DAY),
        )
        assert installation.run("fleet", "add-camera", "--from", str(bay)).returncode == 0
        docked = installation.run_process(
            "dock",
            "--server",
            tomorrow.url,
            "--token",
            installation.dock_token,
            "--bay",
            str(bay),
            "--once",
        )
        assert docked.returncode == 0, docked.stderr + docked.stdout
        ids = sorted(r.manifest.recording_id for r in made)

        detail = httpx.get(f"{tomorrow.url}/api/v1/complaints/CO-2026-0142", headers=pat)
        assert detail.status_code == 200, detail.text
        assert detail.json()["recordings_held"] == 2
        assert sorted(f["recording_id"] for f in detail.json()["footage"]) == ids
        for recording_id in ids:
            holds = httpx.get(
                f"{tomorrow.url}/api/v1/holds", headers=pat, params={"recording_id": recording_id}
            ).json()
            assert [(h["kind"], h["reason"]) for h in holds] == [
                ("complaint", "complaint CO-2026-0142")
            ]
            shown = httpx.get(f"{tomorrow.url}/api/v1/recordings/{recording_id}", headers=pat)
            assert shown.json()["delete_due_at"] is None, shown.text

        # Closed, the complaint lifts exactly its holds.
        closed = httpx.post(
            f"{tomorrow.url}/api/v1/complaints/CO-2026-0142/close",
            headers=pat,
            json={"reason": "Investigation concluded: no case to answer"},
        )
        assert closed.status_code == 200, closed.text
        assert closed.json()["recordings_held"] == 0
        for recording_id in ids:
            active = httpx.get(
                f"{tomorrow.url}/api/v1/holds", headers=pat, params={"recording_id": recording_id}
            ).json()
            assert active == []
    finally:
        tomorrow.stop()
