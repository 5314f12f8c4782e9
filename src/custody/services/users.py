"""People: accounts, roles, API tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import select

from custody.audit import Actor
from custody.db.models import ApiToken, Officer, User
from custody.domain.access import ROLES
from custody.domain.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from custody.services.system import System
from custody.services.tokens import USER_TOKEN_PREFIX, new_token, token_hash

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    """The signed-in person a request acts for."""

    user_id: int
    username: str
    role: str
    unit: str | None
    officer_id: int | None

    def actor(self, address: str | None = None, user_agent: str | None = None) -> Actor:
        return Actor(f"user:{self.username}", address, user_agent)


def _principal(user: User) -> Principal:
    return Principal(user.id, user.username, user.role, user.unit, user.officer_id)


def create_user(
    system: System,
    username: str,
    role: str,
    *,
    password: str | None = None,
    officer: str | None = None,
    unit: str | None = None,
    display_name: str = "",
    actor: Actor | None = None,
) -> Principal:
    """Add a user. An officer's user is linked to the officer record whose footage is theirs."""
    if not USERNAME.match(username):
        raise InvalidInput("a username is letters, digits, '.', '_' or '-' (at most 120)")
    if role not in ROLES:
        raise InvalidInput(f"role must be one of: {', '.join(ROLES)}")
    if password is not None and len(password) < 10:
        raise InvalidInput("a password has at least 10 characters")
    with system.unit_of_work() as uow:
        session = uow.session
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise Conflict(f"user {username!r} exists already")
        officer_id = None
        if officer is not None:
            found = session.scalar(select(Officer).where(Officer.warrant_number == officer))
            if found is None:
                raise NotFound(f"no officer with warrant number {officer!r}")
            officer_id = found.id
            unit = unit or found.unit
            display_name = display_name or found.name
        user = User(
            username=username,
            display_name=display_name or username,
            role=role,
            unit=unit,
            officer_id=officer_id,
            password_hash=_hasher.hash(password) if password else None,
            created_at=uow.now(),
        )
        session.add(user)
        session.flush()
        uow.audit(
            "admin:user:create",
            actor or Actor.system(),
            object_type="user",
            object_id=username,
            details={"role": role, "unit": unit, "officer": officer},
        )
        uow.commit()
        return _principal(user)


def issue_token(
    system: System,
    username: str,
    *,
    name: str = "",
    lifetime: timedelta | None = timedelta(days=90),
    actor: Actor | None = None,
) -> str:
    """A new API token for a user, returned once; only its hash is kept."""
    token = new_token(USER_TOKEN_PREFIX)
    with system.unit_of_work() as uow:
        user = uow.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user {username!r}")
        now = uow.now()
        uow.session.add(
            ApiToken(
                user_id=user.id,
                name=name,
                token_hash=token_hash(token),
                created_at=now,
                expires_at=None if lifetime is None else now + lifetime,
            )
        )
        uow.audit(
            "admin:token:issue",
            actor or Actor.system(),
            object_type="user",
            object_id=username,
            details={"name": name},
        )
        uow.commit()
    return token


def authenticate_token(system: System, token: str) -> Principal:
    """The user behind a bearer token; NotAuthenticated if it is unknown, revoked or expired."""
    if not token.startswith(USER_TOKEN_PREFIX):
        raise NotAuthenticated("not a user token")
    with system.unit_of_work() as uow:
        row = uow.session.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == token_hash(token))
        ).one_or_none()
        if row is None:
            raise NotAuthenticated("unknown token")
        api_token, user = row
        if _inactive(api_token.revoked_at, api_token.expires_at, uow.now()) or user.disabled_at:
            raise NotAuthenticated("token revoked or expired")
        return _principal(user)


def _inactive(revoked_at: datetime | None, expires_at: datetime | None, now: datetime) -> bool:
    return revoked_at is not None or (expires_at is not None and expires_at <= now)


def verify_password(system: System, username: str, password: str) -> Principal:
    """Check a password; NotAuthenticated without saying whether the user exists."""
    with system.unit_of_work() as uow:
        user = uow.session.scalar(select(User).where(User.username == username))
        if user is None or user.password_hash is None or user.disabled_at is not None:
            # Spend the same effort either way, so timing does not reveal usernames.
            _hasher.hash(password)
            raise NotAuthenticated("wrong username or password")
        try:
            _hasher.verify(user.password_hash, password)
        except Exception:
            raise NotAuthenticated("wrong username or password") from None
        return _principal(user)
