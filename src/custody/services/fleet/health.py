"""Fleet health alerts over the database: SQL finds the candidates, `domain.fleet_health`
decides and words each alert, by the clock every other decision uses."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    Subquery,
    and_,
    case,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from custody.db.models import Camera, CameraReport, Dock, Officer
from custody.domain.access import SystemAction
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import InvalidInput
from custody.domain.fleet import OUT_OF_SERVICE, CameraStatus, is_behind, newest_versions
from custody.domain.fleet_health import (
    Alert,
    AlertKind,
    CameraFacts,
    DockFacts,
    HealthPolicy,
    camera_alerts,
    dock_silent,
    not_docked_cutoff,
    ordered,
    silent_cutoff,
)
from custody.domain.principal import Principal
from custody.services.access import permit
from custody.services.fleet.answers import AlertPolicy, FleetAlert, FleetAlerts, when
from custody.services.system import System

MAX_ALERTS = 1000


def policy_for(
    system: System, camera_idle_days: int | None = None, dock_silent_hours: int | None = None
) -> HealthPolicy:
    """The configured thresholds, or the ones asked for."""
    settings = system.settings
    try:
        return HealthPolicy(
            camera_idle_days or settings.camera_idle_alert_days,
            dock_silent_hours or settings.dock_silent_alert_hours,
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _last_report() -> ColumnElement[Any]:
    """The newest dock report about the camera (its (camera, time) index answers it)."""
    return (
        select(func.max(CameraReport.reported_at))
        .where(CameraReport.camera_id == Camera.id)
        .correlate(Camera)
        .scalar_subquery()
    )


def _behind(session: Session) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The newest firmware of each model in service, and the older versions of each."""
    in_service = Camera.status.not_in([s.value for s in OUT_OF_SERVICE])
    seen = session.execute(select(Camera.model, Camera.firmware).where(in_service).distinct()).all()
    newest = newest_versions([(model, firmware) for model, firmware in seen])
    # Firmware strings are few: decide "behind" in Python, then select by exact value.
    behind: dict[str, list[str]] = {}
    for model, firmware in seen:
        if is_behind(firmware, newest.get(model)):
            behind.setdefault(model, []).append(firmware)
    return newest, behind


def _alerting(
    now: datetime,
    policy: HealthPolicy,
    behind: dict[str, list[str]],
    among: tuple[Sequence[str], Sequence[str]] | None = None,
) -> Subquery:
    """Every alert that holds now, one row each, as SQL: its kind, severity rank (0 is
    critical), since when, and the camera's or dock's id and name to order by. The same
    conditions as `domain.fleet_health` decides one camera or dock by, so that the page
    counts every kind and reads only the alerts it shows, whatever the fleet's size."""
    critical, warning = literal(0), literal(1)
    since = func.coalesce(Camera.last_docked_at, Camera.status_changed_at)
    severe = since < now - timedelta(days=2 * policy.camera_idle_days)
    last_report = _last_report()
    lost = Camera.status == CameraStatus.LOST.value
    cameras: list[Select[str, int, datetime | None, str, str, int]] = [
        select(
            literal(AlertKind.CAMERA_NOT_DOCKED.value).label("kind"),
            case((severe, critical), else_=warning).label("rank"),
            since.label("since"),
            literal("camera").label("subject"),
            Camera.serial.label("name"),
            Camera.id.label("id"),
        ).where(
            Camera.status == CameraStatus.ISSUED.value,
            # `since` before the cutoff, said so that (status, last docked) answers by range.
            or_(
                Camera.last_docked_at < not_docked_cutoff(now, policy),
                and_(
                    Camera.last_docked_at.is_(None),
                    Camera.status_changed_at < not_docked_cutoff(now, policy),
                ),
            ),
        ),
        select(
            case(
                (lost, literal(AlertKind.REPORTED_WHILE_LOST.value)),
                else_=literal(AlertKind.REPORTED_WHILE_RETIRED.value),
            ).label("kind"),
            critical.label("rank"),
            last_report.label("since"),
            literal("camera").label("subject"),
            Camera.serial.label("name"),
            Camera.id.label("id"),
        ).where(
            Camera.status.in_([s.value for s in OUT_OF_SERVICE]),
            last_report > func.coalesce(Camera.status_changed_at, Camera.registered_at),
        ),
    ]
    if behind:
        cameras.append(
            select(
                literal(AlertKind.FIRMWARE_BEHIND.value).label("kind"),
                warning.label("rank"),
                null().label("since"),
                literal("camera").label("subject"),
                Camera.serial.label("name"),
                Camera.id.label("id"),
            ).where(
                Camera.status.not_in([s.value for s in OUT_OF_SERVICE]),
                or_(
                    *(
                        and_(Camera.model == model, Camera.firmware.in_(versions))
                        for model, versions in behind.items()
                    )
                ),
            )
        )
    docks = select(
        literal(AlertKind.DOCK_SILENT.value).label("kind"),
        warning.label("rank"),
        func.coalesce(Dock.last_seen_at, Dock.created_at).label("since"),
        literal("dock").label("subject"),
        Dock.name.label("name"),
        Dock.id.label("id"),
    ).where(
        Dock.revoked_at.is_(None),
        func.coalesce(Dock.last_seen_at, Dock.created_at) < silent_cutoff(now, policy),
    )
    if among is not None:
        # Only these cameras (by serial) and docks (by name): a page's rows.
        serials, names = among
        cameras = [part.where(Camera.serial.in_(serials)) for part in cameras]
        docks = docks.where(Dock.name.in_(names))
    return union_all(*cameras, docks).subquery("alerting")


def _worded(
    session: Session,
    rows: list[Row[Any]],
    newest: dict[str, str],
    now: datetime,
    policy: HealthPolicy,
) -> list[Alert]:
    """The alerts of these rows, each worded by `domain.fleet_health` from its camera's or
    dock's facts (read in one query each, however many alerts are shown)."""
    cameras = {row.id for row in rows if row.subject == "camera"}
    docks = {row.id for row in rows if row.subject == "dock"}
    facts: dict[int, CameraFacts] = {}
    if cameras:
        for camera, warrant, reported in session.execute(
            select(Camera, Officer.warrant_number, _last_report())
            .outerjoin(Officer, Officer.id == Camera.officer_id)
            .where(Camera.id.in_(sorted(cameras)))
        ):
            facts[camera.id] = CameraFacts(
                serial=camera.serial,
                model=camera.model,
                firmware=camera.firmware,
                status=camera.status,
                pool=camera.pool,
                officer=warrant,
                borough=camera.borough,
                last_docked_at=camera.last_docked_at,
                status_changed_at=camera.status_changed_at,
                last_reported_at=reported,
            )
    silent: dict[int, DockFacts] = {}
    if docks:
        for dock in session.scalars(select(Dock).where(Dock.id.in_(sorted(docks)))):
            silent[dock.id] = DockFacts(dock.name, dock.station, dock.created_at, dock.last_seen_at)
    found: list[Alert] = []
    for row in rows:
        if row.subject == "dock":
            alert = dock_silent(silent[row.id], now, policy)
            found += [alert] if alert is not None else []
        else:
            found += [
                a for a in camera_alerts(facts[row.id], newest, now, policy) if a.kind == row.kind
            ]
    return ordered(found)


def _find_alerts(
    session: Session,
    now: datetime,
    policy: HealthPolicy,
    kind: str | None,
    limit: int,
    seen: tuple[dict[str, str], dict[str, list[str]]],
) -> tuple[Counter[str], list[Alert]]:
    """How many alerts of each kind hold now, and the first `limit` of them (of `kind`),
    most severe and longest-standing first: counted and ordered in SQL."""
    newest, behind = seen
    alerting = _alerting(now, policy, behind)
    counts: Counter[str] = Counter(
        {
            found_kind: int(number)
            for found_kind, number in session.execute(
                select(alerting.c.kind, func.count()).group_by(alerting.c.kind)
            )
        }
    )
    first = select(alerting).order_by(
        alerting.c.rank,
        alerting.c.since.nulls_last(),
        alerting.c.subject,
        alerting.c.name,
        alerting.c.kind,
    )
    if kind is not None:
        first = first.where(alerting.c.kind == kind)
    rows = list(session.execute(first.limit(limit)).all())
    return counts, _worded(session, rows, newest, now, policy)


def _flagged(
    session: Session,
    now: datetime,
    policy: HealthPolicy,
    behind: dict[str, list[str]],
    cameras: Sequence[str],
    docks: Sequence[str],
) -> set[tuple[str, str]]:
    alerting = _alerting(now, policy, behind, among=(cameras, docks))
    found = session.execute(select(alerting.c.subject, alerting.c.name).distinct())
    return {(str(subject), str(name)) for subject, name in found}


def flagged(
    system: System,
    principal: Principal,
    *,
    cameras: Sequence[str],
    docks: Sequence[str],
    actor: Actor | None = None,
) -> set[tuple[str, str]]:
    """Which of these cameras (serials) and docks (names) have an alert now, as ("camera",
    serial) and ("dock", name): the rows a page shows, flagged in one query."""
    permit(system, principal, SystemAction.VIEW_FLEET, actor or principal.actor())
    policy = policy_for(system)
    with system.unit_of_work() as uow:
        _, behind = _behind(uow.session)
        return _flagged(uow.session, uow.now(), policy, behind, cameras, docks)


def page_health(
    system: System,
    principal: Principal,
    *,
    cameras: Sequence[str],
    docks: Sequence[str],
    limit: int,
    actor: Actor | None = None,
) -> tuple[FleetAlerts, set[tuple[str, str]]]:
    """A fleet page's health in one transaction: the first `limit` alerts with a count of
    each kind (`alerts`), and which of the cameras and docks it lists have one (`flagged`),
    the firmware in service read once for both."""
    permit(system, principal, SystemAction.VIEW_FLEET, actor or principal.actor())
    if not 1 <= limit <= MAX_ALERTS:
        raise InvalidInput(f"limit must be 1 to {MAX_ALERTS}")
    policy = policy_for(system)
    with system.unit_of_work() as uow:
        now = uow.now()
        seen = _behind(uow.session)
        counts, found = _find_alerts(uow.session, now, policy, None, limit, seen)
        rows = _flagged(uow.session, now, policy, seen[1], cameras, docks)
    return _answer(system, policy, counts, found), rows


def alerts(
    system: System,
    principal: Principal,
    *,
    camera_idle_days: int | None = None,
    dock_silent_hours: int | None = None,
    kind: str | None = None,
    limit: int = MAX_ALERTS,
    actor: Actor | None = None,
) -> FleetAlerts:
    """The fleet's alerts, with a count of each kind and the thresholds used."""
    # Asked before any work starts: finding the alerts reads the whole fleet.
    permit(system, principal, SystemAction.VIEW_FLEET, actor or principal.actor())
    if kind is not None and kind not in {k.value for k in AlertKind}:
        raise InvalidInput(f"kind must be one of: {', '.join(k.value for k in AlertKind)}")
    if not 1 <= limit <= MAX_ALERTS:
        raise InvalidInput(f"limit must be 1 to {MAX_ALERTS}")
    policy = policy_for(system, camera_idle_days, dock_silent_hours)
    with system.unit_of_work() as uow:
        seen = _behind(uow.session)
        counts, found = _find_alerts(uow.session, uow.now(), policy, kind, limit, seen)
    if kind is not None:
        counts = Counter({kind: counts.get(kind, 0)})
    return _answer(system, policy, counts, found)


def _answer(
    system: System, policy: HealthPolicy, counts: Counter[str], found: list[Alert]
) -> FleetAlerts:
    return FleetAlerts(
        as_of=isoformat(system.clock.now()),
        policy=AlertPolicy(
            camera_idle_days=policy.camera_idle_days,
            dock_silent_hours=policy.dock_silent_hours,
        ),
        counts={k.value: counts.get(k.value, 0) for k in AlertKind},
        total=sum(counts.values()),
        alerts=[_alert(alert) for alert in found],
    )


def _alert(alert: Alert) -> FleetAlert:
    return FleetAlert(
        kind=alert.kind.value,
        severity=alert.severity.value,
        subject=alert.subject,
        name=alert.name,
        since=when(alert.since),
        message=alert.message,
    )
