"""Fleet health alerts over the database: SQL finds the candidates, `domain.fleet_health`
decides and words each alert, by the clock every other decision uses."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import and_, func, or_, select

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


def _find_alerts(system: System, policy: HealthPolicy) -> list[Alert]:
    """Every alert that holds now, most severe and longest-standing first."""
    with system.unit_of_work() as uow:
        session = uow.session
        now = uow.now()
        in_service = Camera.status.not_in([s.value for s in OUT_OF_SERVICE])
        seen = session.execute(
            select(Camera.model, Camera.firmware).where(in_service).distinct()
        ).all()
        newest = newest_versions([(model, firmware) for model, firmware in seen])
        # Firmware strings are few: decide "behind" in Python, then select by exact value.
        behind: dict[str, list[str]] = {}
        for model, firmware in seen:
            if is_behind(firmware, newest.get(model)):
                behind.setdefault(model, []).append(firmware)
        last_report = (
            select(func.max(CameraReport.reported_at))
            .where(CameraReport.camera_id == Camera.id)
            .correlate(Camera)
            .scalar_subquery()
        )
        since = func.coalesce(Camera.last_docked_at, Camera.status_changed_at)
        candidates = [
            and_(
                Camera.status == CameraStatus.ISSUED,
                since < not_docked_cutoff(now, policy),
            ),
            and_(
                Camera.status.in_([s.value for s in OUT_OF_SERVICE]),
                last_report > func.coalesce(Camera.status_changed_at, Camera.registered_at),
            ),
        ]
        candidates += [
            and_(in_service, Camera.model == model, Camera.firmware.in_(versions))
            for model, versions in behind.items()
        ]
        rows = session.execute(
            select(Camera, Officer.warrant_number, last_report)
            .outerjoin(Officer, Officer.id == Camera.officer_id)
            .where(or_(*candidates))
            .order_by(Camera.serial)
        ).all()
        docks = session.scalars(
            select(Dock).where(
                Dock.revoked_at.is_(None),
                func.coalesce(Dock.last_seen_at, Dock.created_at) < silent_cutoff(now, policy),
            )
        ).all()
        found: list[Alert] = []
        for camera, warrant, reported in rows:
            facts = CameraFacts(
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
            found += camera_alerts(facts, newest, now, policy)
        for dock in docks:
            alert = dock_silent(
                DockFacts(dock.name, dock.station, dock.created_at, dock.last_seen_at), now, policy
            )
            if alert is not None:
                found.append(alert)
    return ordered(found)


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
    found = _find_alerts(system, policy)
    if kind is not None:
        found = [alert for alert in found if alert.kind == kind]
    counts = Counter(alert.kind.value for alert in found)
    return FleetAlerts(
        as_of=isoformat(system.clock.now()),
        policy=AlertPolicy(
            camera_idle_days=policy.camera_idle_days,
            dock_silent_hours=policy.dock_silent_hours,
        ),
        counts={k.value: counts.get(k.value, 0) for k in AlertKind},
        total=len(found),
        alerts=[_alert(alert) for alert in found[:limit]],
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
