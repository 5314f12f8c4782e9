"""Role requests: no administrator alone gives anyone a role that sees footage force-wide.

Which roles those are comes from the rule table (`grant_needs_a_second_administrator`):
those that list or view any footage, and those that manage users. An administrator
requests such a role for a person; a second, different administrator approves or refuses
it, and only an approval changes the role. The administrator who asked cannot approve, nor
can the person it concerns; every step, and every refusal, is audited.

Two administrators must be two people: neither may have put the other in post, and nobody
may be able to act as both, having issued the reset codes their passwords descend from
(`domain.access.approval_refusal`). So a
lone administrator cannot make a second who approves their requests: the first two come
from the installation (`custody init`, and `custody init --second-administrator` while no
administrator could approve another's request: `setup.installation_administrator`), run by
the server's operator, who holds the database anyway.
"""

from __future__ import annotations

from sqlalchemy import select

from custody.db.models import User
from custody.db.models.users import RoleRequest
from custody.domain.access import (
    Standing,
    SystemAction,
    approval_refusal,
    grant_needs_a_second_administrator,
)
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    NotPermitted,
)
from custody.domain.principal import Principal
from custody.services.access import require_role
from custody.services.identity.answers import RoleRequestView
from custody.services.identity.users import (
    ADMINISTERING,
    active_administrators,
    check_role,
    user_named,
)
from custody.services.system import System, UnitOfWork

APPROVED = "approved"
REFUSED = "refused"


def _view(row: RoleRequest, username: str) -> RoleRequestView:
    return RoleRequestView(
        id=row.id,
        username=username,
        role=row.role,
        requested_by=row.requested_by,
        requested_at=isoformat(row.requested_at),
        outcome=row.outcome,
        decided_by=row.decided_by,
        decided_at=None if row.decided_at is None else isoformat(row.decided_at),
    )


def request_role(
    system: System,
    principal: Principal,
    username: str,
    role: str,
    *,
    actor: Actor | None = None,
) -> RoleRequestView:
    """An administrator asks to give `username` a role that needs a second administrator."""
    who = actor or principal.actor()
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.MANAGE_USERS, who)
        check_role(role)
        if not grant_needs_a_second_administrator(role):
            raise InvalidInput(f"the role {role} needs no approval: change it directly")
        user = user_named(uow, username)
        uow.session.refresh(user, with_for_update=True)
        if user.role == role:
            raise Conflict(f"{username} has the role {role} already")
        pending = uow.session.scalar(
            select(RoleRequest.id).where(
                RoleRequest.user_id == user.id, RoleRequest.outcome.is_(None)
            )
        )
        if pending is not None:
            raise Conflict(f"a role request for {username} is pending already ({pending})")
        now = uow.now()
        row = RoleRequest(
            user_id=user.id, role=role, requested_by=principal.username, requested_at=now
        )
        uow.session.add(row)
        uow.session.flush()
        uow.audit(
            "admin:role:request",
            who,
            object_type="user",
            object_id=username,
            details={"request": row.id, "role": [user.role, role]},
        )
        uow.commit()
        return _view(row, username)


def decide_role_request(
    system: System,
    principal: Principal,
    request_id: int,
    *,
    approve: bool,
    actor: Actor | None = None,
) -> RoleRequestView:
    """A second administrator approves or refuses a pending role request."""
    who = actor or principal.actor()
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.MANAGE_USERS, who)
        row = uow.session.get(RoleRequest, request_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no role request {request_id}")
        user = uow.session.get(User, row.user_id, with_for_update=True)
        if user is None:  # pragma: no cover - a foreign key holds it
            raise NotFound(f"no role request {request_id}")
        if row.outcome is not None:
            raise Conflict(f"role request {request_id} was {row.outcome} already")
        reason = None
        if approve:
            approver = uow.session.get(User, principal.user_id)
            if approver is None:  # pragma: no cover - the door found them a moment ago
                raise NotAuthenticated("this account no longer exists")
            requester = uow.session.scalar(select(User).where(User.username == row.requested_by))
            reason = approval_refusal(
                standing(uow, approver),
                standing(uow, requester) if requester else Standing(row.requested_by),
                user.username,
            )
        if reason is not None:
            uow.audit(
                "admin:role:approve",
                who,
                object_type="user",
                object_id=user.username,
                allowed=False,
                reason=reason,
                details={"request": row.id, "role": row.role},
            )
            uow.commit()
            raise NotPermitted(reason)
        _grant(uow, row, user, APPROVED if approve else REFUSED, principal.username, who)
        if active_administrators(uow) == 0:
            raise Conflict("that would leave no active administrator")
        uow.commit()
        return _view(row, user.username)


def standing(uow: UnitOfWork, user: User) -> Standing:
    """How `user` came to manage users and to hold their password (`domain.access.Standing`)."""
    appointed_by = uow.session.scalar(
        select(RoleRequest.requested_by)
        .where(
            RoleRequest.user_id == user.id,
            RoleRequest.outcome == APPROVED,
            RoleRequest.role.in_(sorted(ADMINISTERING)),
        )
        .order_by(RoleRequest.decided_at.desc(), RoleRequest.id.desc())
        .limit(1)
    )
    # Whoever issued the code of their password, whoever issued that issuer's, and so on.
    holders: set[str] = set()
    issuer = user.password_from
    while issuer is not None and issuer not in holders and issuer != user.username:
        holders.add(issuer)
        issuer = uow.session.scalar(select(User.password_from).where(User.username == issuer))
    return Standing(user.username, appointed_by, frozenset(holders))


def _grant(
    uow: UnitOfWork,
    row: RoleRequest,
    user: User,
    outcome: str,
    decided_by: str,
    actor: Actor,
) -> None:
    before = user.role
    row.outcome, row.decided_by, row.decided_at = outcome, decided_by, uow.now()
    if outcome == APPROVED:
        user.role = row.role
    uow.session.flush()
    details: dict[str, object] = {
        "request": row.id,
        "role": [before, row.role],
        "requested_by": row.requested_by,
    }
    uow.audit(
        "admin:role:approve" if outcome == APPROVED else "admin:role:refuse",
        actor,
        object_type="user",
        object_id=user.username,
        details=details,
    )


def list_role_requests(
    system: System,
    principal: Principal,
    *,
    pending: bool = True,
    actor: Actor | None = None,
) -> list[RoleRequestView]:
    """Role requests, newest first (only those pending, unless `pending` is False)."""
    query = (
        select(RoleRequest, User.username)
        .join(User, User.id == RoleRequest.user_id)
        .order_by(RoleRequest.requested_at.desc(), RoleRequest.id.desc())
    )
    if pending:
        query = query.where(RoleRequest.outcome.is_(None))
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.MANAGE_USERS, actor or principal.actor())
        return [_view(row, name) for row, name in uow.session.execute(query).all()]
