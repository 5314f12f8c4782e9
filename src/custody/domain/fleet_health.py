"""Fleet health alerts, decided from what the docks reported and the time now. No I/O.

- A camera in service that has not been docked for more than `camera_idle_days`: the
  footage it holds has not reached the server, and its 31 days are running.
- A dock that has stopped reporting for more than `dock_silent_hours`.
- A camera whose firmware is older than the newest seen for its model.
- A camera that a dock reported after it was retired or reported lost.

The service asks the database only for the candidates (with `not_docked_cutoff` and
`silent_cutoff`, so the rule and the query agree) and these functions word the alerts.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from custody.domain.clock import as_utc
from custody.domain.fleet import CameraStatus, is_behind


class AlertKind(enum.StrEnum):
    CAMERA_NOT_DOCKED = "camera_not_docked"
    DOCK_SILENT = "dock_silent"
    FIRMWARE_BEHIND = "firmware_behind"
    REPORTED_WHILE_RETIRED = "reported_while_retired"
    REPORTED_WHILE_LOST = "reported_while_lost"


class Severity(enum.StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class HealthPolicy:
    camera_idle_days: int = 3
    dock_silent_hours: int = 24

    def __post_init__(self) -> None:
        if self.camera_idle_days < 1 or self.dock_silent_hours < 1:
            raise ValueError("alert thresholds are at least one day / one hour")


@dataclass(frozen=True)
class CameraFacts:
    serial: str
    model: str
    firmware: str
    status: str
    pool: bool
    officer: str | None  # warrant number of the current holder
    borough: str | None
    last_docked_at: datetime | None
    # When the camera went into its current status (issue, loss, retirement).
    status_changed_at: datetime | None
    # The newest dock report about it, whatever its status.
    last_reported_at: datetime | None = None


@dataclass(frozen=True)
class DockFacts:
    name: str
    station: str
    created_at: datetime
    last_seen_at: datetime | None
    revoked: bool = False


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    severity: Severity
    subject: str  # "camera" or "dock"
    name: str  # serial or dock name
    since: datetime | None
    message: str


def not_docked_cutoff(now: datetime, policy: HealthPolicy) -> datetime:
    """A camera in service last docked before this has been out too long."""
    return now - timedelta(days=policy.camera_idle_days)


def silent_cutoff(now: datetime, policy: HealthPolicy) -> datetime:
    """A dock last heard from before this has stopped reporting."""
    return now - timedelta(hours=policy.dock_silent_hours)


def _moment(when: datetime) -> str:
    """A time as a message shows it: to the minute, in UTC."""
    return as_utc(when).strftime("%Y-%m-%d %H:%M UTC")


def _days(span: timedelta) -> str:
    days = span.days
    return "1 day" if days == 1 else f"{days} days"


def camera_not_docked(camera: CameraFacts, now: datetime, policy: HealthPolicy) -> Alert | None:
    """An issued camera out of its dock too long (never docked counts from its issue)."""
    if camera.status != CameraStatus.ISSUED:
        return None
    since = camera.last_docked_at or camera.status_changed_at
    if since is None or since >= not_docked_cutoff(now, policy):
        return None
    holder = f" (held by {camera.officer})" if camera.officer else ""
    if camera.last_docked_at is None:
        what = f"camera {camera.serial}{holder} has not been docked since it was issued"
    else:
        what = f"camera {camera.serial}{holder} has not been docked for {_days(now - since)}"
    # Two idle periods without a dock is a week for the default: its footage is in real danger.
    severe = now - since > timedelta(days=2 * policy.camera_idle_days)
    return Alert(
        AlertKind.CAMERA_NOT_DOCKED,
        Severity.CRITICAL if severe else Severity.WARNING,
        "camera",
        camera.serial,
        since,
        f"{what}: footage recorded since {_moment(since)} is not on the server "
        "and its 31 days are running",
    )


def firmware_behind(camera: CameraFacts, newest: dict[str, str]) -> Alert | None:
    """A camera in service running older firmware than the newest seen for its model."""
    if camera.status in (CameraStatus.RETIRED, CameraStatus.LOST):
        return None
    latest = newest.get(camera.model)
    if not is_behind(camera.firmware, latest):
        return None
    return Alert(
        AlertKind.FIRMWARE_BEHIND,
        Severity.WARNING,
        "camera",
        camera.serial,
        None,
        f"camera {camera.serial} ({camera.model}) runs firmware {camera.firmware}; "
        f"{latest} is the newest in the fleet",
    )


def reported_out_of_service(camera: CameraFacts) -> Alert | None:
    """A dock saw a camera after it was retired or reported lost."""
    if camera.status not in (CameraStatus.RETIRED, CameraStatus.LOST):
        return None
    if camera.last_reported_at is None or (
        camera.status_changed_at is not None and camera.last_reported_at <= camera.status_changed_at
    ):
        return None
    lost = camera.status == CameraStatus.LOST
    return Alert(
        AlertKind.REPORTED_WHILE_LOST if lost else AlertKind.REPORTED_WHILE_RETIRED,
        Severity.CRITICAL,
        "camera",
        camera.serial,
        camera.last_reported_at,
        f"camera {camera.serial} was {'reported lost' if lost else 'retired'} but was docked "
        f"at {_moment(camera.last_reported_at)}: find out who holds it",
    )


def dock_silent(dock: DockFacts, now: datetime, policy: HealthPolicy) -> Alert | None:
    """A dock in service that has not been heard from for too long."""
    if dock.revoked:
        return None
    since = dock.last_seen_at or dock.created_at
    if since >= silent_cutoff(now, policy):
        return None
    heard = "has never reported" if dock.last_seen_at is None else "has stopped reporting"
    hours = int((now - since).total_seconds() // 3600)
    span = _days(now - since) if hours >= 48 else f"{hours} hours"
    return Alert(
        AlertKind.DOCK_SILENT,
        Severity.WARNING,
        "dock",
        dock.name,
        since,
        f"dock {dock.name} at {dock.station} {heard} for {span}: cameras docked there "
        "may not be uploading",
    )


def camera_alerts(
    camera: CameraFacts, newest: dict[str, str], now: datetime, policy: HealthPolicy
) -> list[Alert]:
    """Every alert that holds for one camera."""
    found = (
        reported_out_of_service(camera),
        camera_not_docked(camera, now, policy),
        firmware_behind(camera, newest),
    )
    return [alert for alert in found if alert is not None]


SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.WARNING: 1}


def ordered(alerts: list[Alert]) -> list[Alert]:
    """Most severe first, then the longest-standing, then by name."""
    return sorted(
        alerts,
        key=lambda a: (
            SEVERITY_ORDER[a.severity],
            a.since.timestamp() if a.since is not None else float("inf"),
            a.subject,
            a.name,
            a.kind.value,
        ),
    )
