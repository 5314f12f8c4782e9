"""Making a new installation: schema, server key and the first administrator.

The first administrator is the one user nobody creates: every other user is added by
someone the access rules let manage users (`users.create_user`, through the one door),
and before the first there is nobody. So `first_administrator` adds one without asking
anyone, and only while the installation has no user at all: once anyone exists, users
come from an administrator, audited as theirs. `custody init` (`ensure_admin`) is its
caller, and tests build their worlds the same way.

The second administrator is the installation's too (`installation_administrator`, `custody
init --second-administrator NAME`): two administrators approve each other's wide grants only
if neither made the other (`domain.access.approval_refusal`), so one administrator cannot
make the second. It is allowed only while no administrator could approve another's request,
and it needs the server's database, whose holder could change anything anyway.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select

from custody.db.models import User
from custody.domain.access import FIRST_USER_ROLE, approvals_possible
from custody.domain.actor import Actor
from custody.domain.errors import Conflict
from custody.domain.principal import Principal
from custody.services.identity import reset_codes, roles, users
from custody.services.identity.answers import IssuedReset
from custody.services.system import System

ADMIN = "admin"


@dataclass(frozen=True)
class InitResult:
    admin_created: bool
    admin_password: str | None


def first_administrator(
    system: System,
    username: str = ADMIN,
    *,
    password: str | None = None,
    display_name: str = "Administrator",
) -> Principal:
    """The installation's first user, an administrator, made by the system itself (audited
    so); refused once any user exists."""
    with system.unit_of_work() as uow:
        # On SQLite the unit of work holds the write lock from here; on PostgreSQL a second
        # `custody init` racing this one fails on the unique username.
        if uow.session.scalar(select(User.id).limit(1)) is not None:
            raise Conflict("this installation has users already: an administrator adds others")
        user = users.insert_user(
            uow,
            username,
            FIRST_USER_ROLE,
            password=password,
            officer=None,
            unit=None,
            display_name=display_name,
            external_issuer=None,
            external_subject=None,
            actor=Actor.system(),
        )
        uow.commit()
        return users.principal_of(user)


def ensure_admin(system: System, password: str | None = None) -> InitResult:
    """Create the user `admin` on a new installation; one that has users is left alone."""
    with system.unit_of_work() as uow:
        exists = uow.session.scalar(select(User.id).limit(1))
    if exists is not None:
        return InitResult(False, None)
    password = password or secrets.token_urlsafe(12)
    first_administrator(system, ADMIN, password=password)
    return InitResult(True, password)


def installation_administrator(
    system: System, username: str, *, display_name: str = ""
) -> IssuedReset:
    """An administrator made by the installation, not by another administrator: refused while
    any administrator could approve another's request (then they ask, and a second approves).
    Answers the one-time code with which the person sets their own password."""
    with system.unit_of_work() as uow:
        present = list(
            uow.session.scalars(
                select(User).where(
                    User.role.in_(sorted(users.ADMINISTERING)), User.disabled_at.is_(None)
                )
            )
        )
        if not present:
            raise Conflict("no administrator yet: run custody init first")
        if approvals_possible([roles.standing(uow, user) for user in present]):
            raise Conflict(
                "two administrators here can approve each other's requests already: "
                "ask for the role (custody users request-role), for a second to approve"
            )
        user = users.insert_user(
            uow,
            username,
            FIRST_USER_ROLE,
            password=None,
            officer=None,
            unit=None,
            display_name=display_name,
            external_issuer=None,
            external_subject=None,
            actor=Actor.system(),
        )
        issued = reset_codes.issue_in(uow, user, reset_codes.INSTALLATION, Actor.system())
        uow.commit()
        return issued
