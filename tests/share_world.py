"""Cases with a disclosure schedule on a running server's data dir, for share tests that
drive `custody serve` over HTTP (e2e) and in Chromium (browser).

The schedule's lines are marked through the schedule's own API, as a disclosure officer
marks them.
"""

from __future__ import annotations

import httpx


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
    url: str,
    token: str,
    case_id: int,
    recording_id: str,
    use: str,
    reference: str | None,
    description: str,
) -> int:
    """Mark one recording on the case's schedule through its API, as a disclosure officer
    does; returns the schedule line's id."""
    marked = httpx.put(
        f"{url}/api/v1/cases/{case_id}/schedule/recordings/{recording_id}",
        headers={"Authorization": f"Bearer {token}"},
        json={"use": use, "reference": reference, "description": description},
    )
    assert marked.status_code == 200, marked.text
    item_id: int = marked.json()["item_id"]
    return item_id


def smtp_env(port: int) -> dict[str, str]:
    """A server's environment for mail to the test's SMTP server on 127.0.0.1."""
    return {
        "CUSTODY_SMTP_HOST": "127.0.0.1",
        "CUSTODY_SMTP_PORT": str(port),
        "CUSTODY_SMTP_TLS": "none",
        "CUSTODY_SMTP_FROM": "custody@met.example",
    }
