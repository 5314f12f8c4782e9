"""Making a new installation: schema, server key and the first administrator.

The first administrator is the one user nobody creates: every other user is added by
someone the access rules let manage users (`users.create_user`, through the one door),
and before the first there is nobody. So `first_administrator` adds one without asking
anyone, and only while the installation has no user at all: once anyone exists, users
come from an administrator, audited as theirs. `custody init` (`ensure_admin`) is its
caller, and tests build their worlds the same way.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select

from custody.db.models import User
from custody.domain.access import FIRST_USER_ROLE
from custody.domain.actor import Actor
from custody.domain.errors import Conflict
from custody.domain.principal import Principal
from custody.services.identity import users
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
