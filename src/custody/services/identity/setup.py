"""Making a new installation: schema, server key and the first administrator."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select

from custody.db.models import User
from custody.services.identity import users
from custody.services.system import System


@dataclass(frozen=True)
class InitResult:
    admin_created: bool
    admin_password: str | None


def ensure_admin(system: System, password: str | None = None) -> InitResult:
    """Create the user `admin` once; an existing admin is left alone."""
    with system.unit_of_work() as uow:
        exists = uow.session.scalar(select(User.id).where(User.username == "admin"))
    if exists is not None:
        return InitResult(False, None)
    password = password or secrets.token_urlsafe(12)
    users.create_user(
        system, "admin", "administrator", password=password, display_name="Administrator"
    )
    return InitResult(True, password)
