"""Cases with a disclosure schedule on a running server's data dir, for share tests that
drive `custody serve` over HTTP (e2e) and in Chromium (browser).

The schedule's lines are written straight into the installation's database, as the
schedule's own service keeps them: these tests are about what a share does with them.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from custody.bootstrap import build_system
from custody.config import Settings
from custody.db.models.disclosure import ScheduleItem
from custody.services.system import NoJobs


def open_case(
    url: str, token: str, reference: str, members: list[str], recordings: list[str]
) -> int:
    """A case opened over the API by an investigator, with these members and recordings."""
    auth = {"Authorization": f"Bearer {token}"}
    made = httpx.post(
        f"{url}/api/v1/cases",
        headers=auth,
        json={"reference": reference, "title": "Robbery, Mare Street", "members": members},
    )
    assert made.status_code == 201, made.text
    case_id: int = made.json()["id"]
    for rid in recordings:
        added = httpx.post(
            f"{url}/api/v1/cases/{case_id}/recordings", headers=auth, json={"recording_id": rid}
        )
        assert added.status_code == 201, added.text
    return case_id


def mark(
    data_dir: Path,
    case_id: int,
    recording_id: str,
    use: str,
    reference: str | None,
    description: str,
) -> int:
    """One line of the case's schedule; returns its id."""
    system = build_system(Settings(data_dir=data_dir), jobs=NoJobs())
    try:
        with system.unit_of_work() as uow:
            item = ScheduleItem(
                case_id=case_id,
                recording_id=recording_id,
                clip_id=None,
                use=use,
                reference=reference,
                description=description,
                marked_by="user:fran",
                marked_at=uow.now(),
            )
            uow.session.add(item)
            uow.commit()
            return item.id
    finally:
        system.engine.dispose()


def smtp_env(port: int) -> dict[str, str]:
    """A server's environment for mail to the test's SMTP server on 127.0.0.1."""
    return {
        "CUSTODY_SMTP_HOST": "127.0.0.1",
        "CUSTODY_SMTP_PORT": str(port),
        "CUSTODY_SMTP_TLS": "none",
        "CUSTODY_SMTP_FROM": "custody@met.example",
    }
