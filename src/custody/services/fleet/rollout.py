"""The phased roll-out: each borough's phase and target date, and how far it has come.

Figures per borough, each one GROUP BY over indexed columns (never a loop over rows in
Python), so the page stays quick for 22,000 cameras and their recordings:

- officers: officers whose unit is the borough;
- cameras issued: cameras in service (status `issued`) serving the borough, personal
  or pool;
- officers with a camera: officers who hold a camera now, or have taken a pool camera
  at least once (a carded pool user is equipped even between shifts);
- officers uploaded: officers with at least one recording on the server;
- cameras idle: cameras issued to the borough with no recording in the last
  `idle_days` days (default 7): bought, issued, and not being used.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Select, exists, func, or_, select

from custody.db.models import Camera, Officer
from custody.db.models.fleet import CameraAssignment, RolloutPhase
from custody.domain.access import SystemAction
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import InvalidInput, NotFound
from custody.domain.fleet import (
    PHASE_STATUSES,
    BoroughFigures,
    CameraStatus,
    IssueMode,
    PhaseProgress,
    progress,
)
from custody.domain.principal import Principal
from custody.services.access import require_role
from custody.services.fleet.answers import BoroughProgress, Rollout, RolloutTotals
from custody.services.fleet.registry import MAX_UNIT
from custody.services.system import System, UnitOfWork

DEFAULT_IDLE_DAYS = 7
MAX_PHASE = 100


def set_phase(
    system: System,
    principal: Principal,
    borough: str,
    *,
    phase: int,
    target_date: date,
    status: str | None = None,
    actor: Actor | None = None,
) -> None:
    """Put a borough in the plan, or change its phase, target date or status."""
    who = actor or principal.actor()
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.MANAGE_FLEET, who)
        borough = borough.strip()
        if not 0 < len(borough) <= MAX_UNIT:
            raise InvalidInput(f"a borough is 1 to {MAX_UNIT} characters")
        if not 1 <= phase <= MAX_PHASE:
            raise InvalidInput(f"a phase is numbered 1 to {MAX_PHASE}")
        if status is not None and status not in PHASE_STATUSES:
            raise InvalidInput(f"status must be one of: {', '.join(PHASE_STATUSES)}")
        row = uow.session.scalar(select(RolloutPhase).where(RolloutPhase.borough == borough))
        if row is None:
            row = RolloutPhase(borough=borough, status=status or "planned")
            uow.session.add(row)
        elif status is not None:
            row.status = status
        row.phase = phase
        row.target_date = target_date
        row.updated_at = uow.now()
        uow.audit(
            "fleet:rollout:phase",
            who,
            object_type="borough",
            object_id=borough[:80],
            details={"phase": phase, "target_date": target_date.isoformat(), "status": row.status},
        )
        uow.commit()


def remove_phase(
    system: System,
    principal: Principal,
    borough: str,
    *,
    actor: Actor | None = None,
) -> None:
    """Take a borough out of the plan (its officers and cameras stay)."""
    who = actor or principal.actor()
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.MANAGE_FLEET, who)
        row = uow.session.scalar(select(RolloutPhase).where(RolloutPhase.borough == borough))
        if row is None:
            raise NotFound(f"borough {borough!r} is not in the roll-out plan")
        uow.session.delete(row)
        uow.audit("fleet:rollout:remove", who, object_type="borough", object_id=borough[:80])
        uow.commit()


def _counts(uow: UnitOfWork, query: Select[str | None, int]) -> dict[str, int]:
    return {key: int(count) for key, count in uow.session.execute(query) if key is not None}


def borough_figures(uow: UnitOfWork, now: datetime, idle_days: int) -> dict[str, BoroughFigures]:
    """Every borough's figures, from five aggregate queries."""
    count = func.count()
    officers = _counts(uow, select(Officer.unit, count).group_by(Officer.unit))
    issued = Camera.status == CameraStatus.ISSUED
    cameras = _counts(uow, select(Camera.borough, count).where(issued).group_by(Camera.borough))
    equipped = exists().where(
        CameraAssignment.officer_id == Officer.id,
        or_(CameraAssignment.ended_at.is_(None), CameraAssignment.kind == IssueMode.POOL.value),
    )
    with_camera = _counts(uow, select(Officer.unit, count).where(equipped).group_by(Officer.unit))
    # Officers' earliest and cameras' latest footage are kept on their rows (models/ingest.py):
    # no probe of the recordings for each of 22,000 officers and cameras.
    uploaded = _counts(
        uow,
        select(Officer.unit, count)
        .where(Officer.first_recorded_at.is_not(None))
        .group_by(Officer.unit),
    )
    since = now - timedelta(days=idle_days)
    used = Camera.last_recorded_at >= since
    idle = _counts(
        uow,
        select(Camera.borough, count)
        .where(issued, or_(Camera.last_recorded_at.is_(None), ~used))
        .group_by(Camera.borough),
    )
    names = set(officers) | set(cameras)
    return {
        name: BoroughFigures(
            name,
            officers.get(name, 0),
            cameras.get(name, 0),
            with_camera.get(name, 0),
            uploaded.get(name, 0),
            idle.get(name, 0),
        )
        for name in names
    }


def _progress(item: PhaseProgress) -> BoroughProgress:
    f = item.figures
    return BoroughProgress(
        borough=item.borough,
        phase=item.phase,
        target_date=None if item.target_date is None else item.target_date.isoformat(),
        status=item.status,
        overdue=item.overdue,
        officers=f.officers,
        cameras_issued=f.cameras_issued,
        officers_with_camera=f.officers_with_camera,
        officers_uploaded=f.officers_uploaded,
        cameras_idle=f.cameras_idle,
        equipped_percent=item.equipped_percent,
        uploaded_percent=item.uploaded_percent,
    )


def rollout(
    system: System,
    principal: Principal,
    *,
    idle_days: int = DEFAULT_IDLE_DAYS,
    actor: Actor | None = None,
) -> Rollout:
    """The plan with every borough's figures: planned boroughs by phase, then the rest."""
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.VIEW_FLEET, actor or principal.actor())
        if not 1 <= idle_days <= 366:
            raise InvalidInput("idle_days must be 1 to 366")
        now = uow.now()
        figures = borough_figures(uow, now, idle_days)
        phases = uow.session.scalars(select(RolloutPhase)).all()
        stock = _counts(uow, select(Camera.status, func.count()).group_by(Camera.status))
    today = now.date()
    items = []
    planned = set()
    for row in phases:
        planned.add(row.borough)
        empty = BoroughFigures(row.borough, 0, 0, 0, 0, 0)
        items.append(
            progress(
                row.borough,
                row.phase,
                row.target_date,
                row.status,
                figures.get(row.borough, empty),
                today,
            )
        )
    for name, found in figures.items():
        if name not in planned:
            items.append(progress(name, None, None, "unplanned", found, today))
    items.sort(
        key=lambda p: (
            p.phase is None,
            p.phase or 0,
            p.target_date or date.max,
            p.borough,
        )
    )
    return Rollout(
        as_of=isoformat(now),
        idle_days=idle_days,
        boroughs=[_progress(p) for p in items],
        totals=RolloutTotals(
            officers=sum(p.figures.officers for p in items),
            cameras_issued=sum(p.figures.cameras_issued for p in items),
            officers_with_camera=sum(p.figures.officers_with_camera for p in items),
            officers_uploaded=sum(p.figures.officers_uploaded for p in items),
            cameras_idle=sum(p.figures.cameras_idle for p in items),
            boroughs_planned=len(planned),
            boroughs_complete=sum(1 for p in items if p.status == "complete"),
            boroughs_overdue=sum(1 for p in items if p.overdue),
            cameras_by_status={status.value: stock.get(status, 0) for status in CameraStatus},
        ),
    )
