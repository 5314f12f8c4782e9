"""What the fleet's use cases answer: officers, cameras, docks, who held which camera, the
roll-out and the alerts. The API sends these as they are (`response_model`), the portal and
`custody fleet` read them; times are UTC ISO 8601 strings (`When`), dates ISO 8601 days.
"""

from __future__ import annotations

from datetime import datetime

from custody.domain.clock import isoformat
from custody.services.answers import Answer, When


def when(moment: datetime | None) -> When | None:
    """A time as the answers carry it, or None."""
    return None if moment is None else isoformat(moment)


# --- officers ----------------------------------------------------------------------------


class OfficerView(Answer):
    """An officer as the fleet's lists show one, with the camera they hold now."""

    warrant_number: str
    name: str
    rank: str
    unit: str
    # The card's id is a credential of sorts: the answer says only whether there is one.
    has_card: bool
    camera: str | None
    created_at: When


class OfficerAdded(Answer):
    """An officer now on the register."""

    warrant_number: str


# --- cameras -----------------------------------------------------------------------------


class CameraView(Answer):
    """A camera and its health, as the docks last reported it."""

    serial: str
    model: str
    firmware: str
    status: str
    pool: bool
    borough: str | None
    officer: str | None  # the warrant number of whoever holds it now
    registered_at: When
    status_changed_at: When | None
    last_docked_at: When | None
    last_dock: str | None
    battery_percent: int | None
    free_bytes: int | None


class CameraRegistered(Answer):
    """A camera now on the register, with the key its manifests are signed with."""

    serial: str


class DockReport(Answer):
    """What a dock said about a camera in one of its bays."""

    dock: str
    bay: str
    reported_at: When
    battery_percent: int | None
    free_bytes: int | None
    firmware: str | None
    recordings_waiting: int


class Assignment(Answer):
    """One entry of a camera's history: who held it, from when until when, and why it ended."""

    id: int
    camera: str
    officer: str
    officer_name: str
    kind: str  # personal or pool
    started_at: When
    started_by: str
    dock: str | None  # where a pool camera was taken by card
    ended_at: When | None
    ended_by: str | None
    end_reason: str | None


class CameraDetail(CameraView):
    """One camera: its health, what docks said about it lately, and its whole history."""

    reports: list[DockReport]
    assignments: list[Assignment]


class StatusChange(Answer):
    """A change of a camera's status, as the audit log keeps it."""

    at: When
    by: str
    what: str
    from_status: str | None
    to_status: str | None
    reason: str | None


class CameraHistory(Answer):
    """A camera's whole story: its detail, its footage counted, its changes of status."""

    camera: CameraDetail
    recordings: int  # recordings it made that are still kept
    recordings_exact: bool
    changes: list[StatusChange]


class CameraHolder(Answer):
    """Who held a camera at a moment (the officer behind its footage then), if anyone."""

    camera: str
    at: When
    assignment: Assignment | None


class Issued(Answer):
    """A camera issued to one officer (personal issue)."""

    camera: str
    assignment: Assignment


class Pooled(Answer):
    """A camera put in a borough's pool, for carded officers to take at a dock."""

    camera: str
    pool: str


class Checkout(Answer):
    """The answer to a card at a dock: the camera is this officer's until it is docked again."""

    assignment_id: int
    camera: str
    officer: str
    # None when the officer is of another station than the dock's: a dock names no one else.
    officer_name: str | None
    started_at: When


# --- docks -------------------------------------------------------------------------------


class DockView(Answer):
    """A dock, when it was last heard from, and how many cameras it last saw."""

    name: str
    station: str
    bays: int
    created_at: When
    last_seen_at: When | None
    revoked: bool
    cameras_last_docked_here: int


class DockRegistered(Answer):
    """A new dock and its token: shown here once, never again (only its hash is kept)."""

    name: str
    token: str


class DockRevoked(Answer):
    """A dock whose token opens nothing any more."""

    name: str
    revoked_at: When


# --- the fleet as a whole ----------------------------------------------------------------


class ImportResult(Answer):
    """A CSV file imported whole: what it held, how many were created, the file's SHA-256."""

    kind: str  # officers or cameras
    created: int
    sha256: str


class RowFailure(Answer):
    """One problem of a CSV file: its row (1 is the header), its column if it has one, why."""

    row: int
    column: str | None
    why: str


class BoroughProgress(Answer):
    """A borough's phase of the roll-out and its figures."""

    borough: str
    phase: int | None
    target_date: str | None  # an ISO 8601 day
    status: str
    overdue: bool
    officers: int
    cameras_issued: int
    officers_with_camera: int
    officers_uploaded: int
    cameras_idle: int
    equipped_percent: int
    uploaded_percent: int


class RolloutTotals(Answer):
    """The whole force's figures, and its cameras by status."""

    officers: int
    cameras_issued: int
    officers_with_camera: int
    officers_uploaded: int
    cameras_idle: int
    boroughs_planned: int
    boroughs_complete: int
    boroughs_overdue: int
    cameras_by_status: dict[str, int]


class Rollout(Answer):
    """The roll-out plan: planned boroughs by phase, then the rest, and the totals."""

    as_of: When
    idle_days: int
    boroughs: list[BoroughProgress]
    totals: RolloutTotals


class AlertPolicy(Answer):
    """The thresholds the alerts were found with."""

    camera_idle_days: int
    dock_silent_hours: int


class FleetAlert(Answer):
    """Something about a camera or a dock that needs a person (`domain.fleet_health`)."""

    kind: str
    severity: str
    subject: str  # camera or dock
    name: str
    since: When | None
    message: str


class FleetAlerts(Answer):
    """The alerts that hold now, most severe first, with a count of each kind."""

    as_of: When
    policy: AlertPolicy
    counts: dict[str, int]
    total: int
    alerts: list[FleetAlert]
