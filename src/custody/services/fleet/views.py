"""What fleet managers and supervisors read: officers, cameras and docks, paged and filtered
in SQL, and one camera with its health, its history and its docks' recent reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVarTuple, cast

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import InstrumentedAttribute, aliased

from custody.db.models import Camera, CameraReport, Dock, Officer
from custody.domain.access import SystemAction
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import InvalidInput
from custody.domain.fleet import CAMERA_STATUSES
from custody.domain.principal import Principal
from custody.services import cursors
from custody.services.access import require_role
from custody.services.answers import MAX_OFFSET, Page, Paged
from custody.services.fleet import assignments
from custody.services.fleet.answers import (
    CameraDetail,
    CameraView,
    DockReport,
    DockView,
    OfficerView,
    when,
)
from custody.services.fleet.registry import camera_by_serial
from custody.services.system import System, UnitOfWork

RECENT_REPORTS = 20
Ts = TypeVarTuple("Ts")


def _count(uow: UnitOfWork, counted: Select[Any]) -> int:
    return uow.session.scalar(select(func.count()).select_from(counted.subquery())) or 0


@dataclass(frozen=True)
class _Listed(Generic[*Ts]):
    """A page of a fleet list's rows, how many rows the list has, and the cursor after it."""

    rows: list[Row[*Ts]]
    total: int
    next_cursor: str | None


def _paged(
    uow: UnitOfWork,
    query: Select[*Ts],
    counted: Select[Any],
    page: Page,
    order: InstrumentedAttribute[str],
) -> _Listed[*Ts]:
    """One page of a query's rows in `order` (a unique name: a serial, a dock's name, a
    warrant number), from its start, its offset or the row a cursor names, and how many rows
    there are in all (`counted`: the same filter on the table alone, which its index answers
    without the joins that only describe each row).

    The fleet is the force's size, not its footage's (22,000 cameras at the Met), so its
    total is exact; a page past the first thousand rows is asked for by cursor."""
    cursors.no_deeper_than(page.offset, MAX_OFFSET)
    if page.after is not None:
        (last,) = cursors.decode(page.after, str)
        query = query.where(order > last)
    rows = list(
        uow.session.execute(query.order_by(order).limit(page.limit + 1).offset(page.offset)).all()
    )
    shown = rows[: page.limit]
    more = len(rows) > page.limit
    # A first page that holds the whole list (the docks, a borough's cameras) is its count.
    whole = page.after is None and page.offset == 0 and not more
    total = len(shown) if whole else _count(uow, counted)
    after = cursors.encode(getattr(cast(Any, shown[-1])[0], order.key)) if more and shown else None
    return _Listed(shown, total, after)


def list_officers(
    system: System,
    principal: Principal,
    *,
    unit: str | None = None,
    page: Page | None = None,
    actor: Actor | None = None,
) -> Paged[OfficerView]:
    """Officers by warrant number, with the camera each holds now (if any)."""
    page = page or Page()
    holding = (
        select(func.min(Camera.serial))
        .where(Camera.officer_id == Officer.id)
        .correlate(Officer)
        .scalar_subquery()
    )
    query = select(Officer, holding)
    counted = select(Officer.id)
    if unit:
        query = query.where(Officer.unit == unit)
        counted = counted.where(Officer.unit == unit)
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.VIEW_FLEET, actor or principal.actor())
        listed = _paged(uow, query, counted, page, Officer.warrant_number)
    return Paged[OfficerView](
        items=[
            OfficerView(
                warrant_number=officer.warrant_number,
                name=officer.name,
                rank=officer.rank,
                unit=officer.unit,
                has_card=officer.card_id is not None,
                camera=serial,
                created_at=isoformat(officer.created_at),
            )
            for officer, serial in listed.rows
        ],
        total=listed.total,
        limit=page.limit,
        offset=page.offset,
        cursor=page.after,
        next_cursor=listed.next_cursor,
    )


def _camera_view(camera: Camera, warrant: str | None, dock: str | None) -> CameraView:
    return CameraView(
        serial=camera.serial,
        model=camera.model,
        firmware=camera.firmware,
        status=camera.status,
        pool=camera.pool,
        borough=camera.borough,
        officer=warrant,
        registered_at=isoformat(camera.registered_at),
        status_changed_at=when(camera.status_changed_at),
        last_docked_at=when(camera.last_docked_at),
        last_dock=dock,
        battery_percent=camera.battery_percent,
        free_bytes=camera.free_bytes,
    )


def _camera_query() -> Select[Camera, str | None, str | None]:
    dock = aliased(Dock)
    return (
        select(Camera, Officer.warrant_number, dock.name)
        .outerjoin(Officer, Officer.id == Camera.officer_id)
        .outerjoin(dock, dock.id == Camera.last_dock_id)
    )


def list_cameras(
    system: System,
    principal: Principal,
    *,
    status: str | None = None,
    borough: str | None = None,
    pool: bool | None = None,
    officer: str | None = None,
    page: Page | None = None,
    actor: Actor | None = None,
) -> Paged[CameraView]:
    """Cameras by serial with their health as last reported, filtered as asked."""
    page = page or Page()
    if status is not None and status not in CAMERA_STATUSES:
        raise InvalidInput(f"status must be one of: {', '.join(CAMERA_STATUSES)}")
    where: list[ColumnElement[bool]] = []
    if status is not None:
        where.append(Camera.status == status)
    if borough:
        where.append(Camera.borough == borough)
    if pool is not None:
        where.append(Camera.pool.is_(pool))
    if officer:
        held = select(Officer.id).where(Officer.warrant_number == officer)
        where.append(Camera.officer_id.in_(held.scalar_subquery()))
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.VIEW_FLEET, actor or principal.actor())
        listed = _paged(
            uow, _camera_query().where(*where), select(Camera.id).where(*where), page, Camera.serial
        )
    return Paged[CameraView](
        items=[_camera_view(camera, warrant, dock) for camera, warrant, dock in listed.rows],
        total=listed.total,
        limit=page.limit,
        offset=page.offset,
        cursor=page.after,
        next_cursor=listed.next_cursor,
    )


def get_camera(
    system: System,
    principal: Principal,
    serial: str,
    *,
    actor: Actor | None = None,
) -> CameraDetail:
    """One camera: its health, its assignment history and what docks said about it lately."""
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.VIEW_FLEET, actor or principal.actor())
        return camera_detail(uow, serial)


def camera_detail(uow: UnitOfWork, serial: str) -> CameraDetail:
    """One camera's detail, for a use case that has asked the door."""
    found = camera_by_serial(uow, serial)
    camera, warrant, dock = uow.session.execute(_camera_query().where(Camera.id == found.id)).one()
    reports = uow.session.execute(
        select(CameraReport, Dock.name)
        .join(Dock, Dock.id == CameraReport.dock_id)
        .where(CameraReport.camera_id == camera.id)
        .order_by(CameraReport.reported_at.desc(), CameraReport.id.desc())
        .limit(RECENT_REPORTS)
    ).all()
    return CameraDetail(
        # The detail is the camera as the lists show it, and more.
        **_camera_view(camera, warrant, dock).model_dump(),
        reports=[
            DockReport(
                dock=dock_name,
                bay=report.bay,
                reported_at=isoformat(report.reported_at),
                battery_percent=report.battery_percent,
                free_bytes=report.free_bytes,
                firmware=report.firmware,
                recordings_waiting=report.recordings_waiting,
            )
            for report, dock_name in reports
        ],
        assignments=assignments.assignments_of(uow, camera=serial, limit=1000),
    )


def list_docks(
    system: System,
    principal: Principal,
    *,
    station: str | None = None,
    page: Page | None = None,
    actor: Actor | None = None,
) -> Paged[DockView]:
    """Docks by name, with when each was last heard from and how many cameras sit there."""
    page = page or Page()
    query = select(Dock)
    counted = select(Dock.id)
    if station:
        query = query.where(Dock.station == station)
        counted = counted.where(Dock.station == station)
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.VIEW_FLEET, actor or principal.actor())
        listed = _paged(uow, query, counted, page, Dock.name)
        docked = _cameras_docked_at(uow, [dock.id for (dock,) in listed.rows])
    return Paged[DockView](
        items=[
            DockView(
                name=dock.name,
                station=dock.station,
                bays=dock.bays,
                created_at=isoformat(dock.created_at),
                last_seen_at=when(dock.last_seen_at),
                revoked=dock.revoked_at is not None,
                cameras_last_docked_here=docked.get(dock.id, 0),
            )
            for (dock,) in listed.rows
        ],
        total=listed.total,
        limit=page.limit,
        offset=page.offset,
        cursor=page.after,
        next_cursor=listed.next_cursor,
    )


def _cameras_docked_at(uow: UnitOfWork, dock_ids: list[int]) -> dict[int, int]:
    """How many cameras last docked at each of these docks: the page's docks only, counted
    in one statement along the cameras' last-dock index (a count beside every dock of the
    list read each dock's cameras, shown or not)."""
    if not dock_ids:
        return {}
    found = uow.session.execute(
        select(Camera.last_dock_id, func.count())
        .where(Camera.last_dock_id.in_(dock_ids))
        .group_by(Camera.last_dock_id)
    )
    return {int(dock_id): int(count) for dock_id, count in found if dock_id is not None}
