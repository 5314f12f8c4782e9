"""People: accounts, roles, passwords and API tokens.

A user need not have a password: people who sign in through the force's single
sign-on (OIDC, e.g. Microsoft Entra) carry an external issuer and subject instead.
Portal sign-in, sessions and throttling are in `custody.services.identity.signin`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update

from custody.db.models import ApiToken, Officer, User
from custody.db.models.users import UserSession
from custody.domain.access import ROLES
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
from custody.services.identity.tokens import USER_TOKEN_PREFIX, new_token, token_hash
from custody.services.system import System, UnitOfWork

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
MIN_PASSWORD = 10
# Long enough for any passphrase, short enough that hashing one is not a denial of service.
MAX_PASSWORD = 1024
MAX_TOKEN_DAYS = 3650
# Set by the test suite alone (tests/conftest.py): it hashes thousands of passwords, and at
# the real cost that was minutes of every run. A test proves that without it the cost is real.
CHEAP_TEST_HASHES = "CUSTODY_TEST_CHEAP_PASSWORD_HASHES"


def password_hasher(environ: Mapping[str, str] = os.environ) -> PasswordHasher:
    """Argon2id at argon2-cffi's defaults (RFC 9106's low-memory profile), unless in the tests."""
    if environ.get(CHEAP_TEST_HASHES) == "1":
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return PasswordHasher()


_hasher = password_hasher()

__all__ = ["ROLES", "Principal", "principal_of"]


def principal_of(user: User) -> Principal:
    return Principal(user.id, user.username, user.role, user.unit, user.officer_id)


@dataclass(frozen=True)
class UserInfo:
    """A user as administrators see one (never a password hash)."""

    username: str
    display_name: str
    role: str
    unit: str | None
    officer: str | None  # warrant number of the linked officer
    has_password: bool
    external_issuer: str | None
    created_at: datetime
    disabled_at: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role,
            "unit": self.unit,
            "officer": self.officer,
            "has_password": self.has_password,
            "single_sign_on": self.external_issuer is not None,
            "created_at": isoformat(self.created_at),
            "disabled_at": None if self.disabled_at is None else isoformat(self.disabled_at),
        }


def _info(user: User, warrant: str | None) -> UserInfo:
    return UserInfo(
        user.username,
        user.display_name,
        user.role,
        user.unit,
        warrant,
        user.password_hash is not None,
        user.external_issuer,
        user.created_at,
        user.disabled_at,
    )


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"a password has at least {MIN_PASSWORD} characters (and at most {MAX_PASSWORD})"
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of: {', '.join(ROLES)}")


def _officer_id(uow: UnitOfWork, warrant: str) -> Officer:
    found = uow.session.scalar(select(Officer).where(Officer.warrant_number == warrant))
    if found is None:
        raise NotFound(f"no officer with warrant number {warrant!r}")
    return found


def create_user(
    system: System,
    username: str,
    role: str,
    *,
    password: str | None = None,
    officer: str | None = None,
    unit: str | None = None,
    display_name: str = "",
    external_issuer: str | None = None,
    external_subject: str | None = None,
    actor: Actor | None = None,
) -> Principal:
    """Add a user. An officer's user is linked to the officer record whose footage is theirs."""
    if not USERNAME.match(username):
        raise InvalidInput("a username is letters, digits, '.', '_' or '-' (at most 120)")
    _check_role(role)
    if password is not None:
        _check_password(password)
    if (external_issuer is None) != (external_subject is None):
        raise InvalidInput("an external identity has both an issuer and a subject")
    with system.unit_of_work() as uow:
        session = uow.session
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise Conflict(f"user {username!r} exists already")
        officer_id = None
        if officer is not None:
            found = _officer_id(uow, officer)
            if session.scalar(select(User.id).where(User.officer_id == found.id)) is not None:
                raise Conflict(f"officer {officer} is linked to another user already")
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
            external_issuer=external_issuer,
            external_subject=external_subject,
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
        return principal_of(user)


def _user(uow: UnitOfWork, username: str) -> User:
    user = uow.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def _warrant(uow: UnitOfWork, user: User) -> str | None:
    if user.officer_id is None:
        return None
    return uow.session.scalar(select(Officer.warrant_number).where(Officer.id == user.officer_id))


def list_users(system: System, *, role: str | None = None) -> list[UserInfo]:
    """Every user (of one role, if given), by username."""
    query = (
        select(User, Officer.warrant_number)
        .outerjoin(Officer, Officer.id == User.officer_id)
        .order_by(User.username)
    )
    if role is not None:
        _check_role(role)
        query = query.where(User.role == role)
    with system.unit_of_work() as uow:
        return [_info(user, warrant) for user, warrant in uow.session.execute(query).all()]


def get_user(system: System, username: str) -> UserInfo:
    with system.unit_of_work() as uow:
        user = _user(uow, username)
        return _info(user, _warrant(uow, user))


def principal_named(system: System, username: str) -> Principal:
    """The person with this username, to act as (for tools run by that person)."""
    with system.unit_of_work() as uow:
        user = _user(uow, username)
        if user.disabled_at is not None:
            raise NotPermitted(f"user {username!r} is disabled")
        return principal_of(user)


def _active_administrators(uow: UnitOfWork) -> int:
    return (
        uow.session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == "administrator", User.disabled_at.is_(None))
        )
        or 0
    )


def update_user(
    system: System,
    username: str,
    *,
    role: str | None = None,
    unit: str | None = None,
    display_name: str | None = None,
    disabled: bool | None = None,
    actor: Actor | None = None,
) -> UserInfo:
    """Change a user's role, unit or name, or disable or re-enable them; each change audited.

    Disabling ends the user's portal sessions at once (their tokens stop working while
    they are disabled). The last active administrator cannot be demoted or disabled.
    """
    if role is not None:
        _check_role(role)
    with system.unit_of_work() as uow:
        user = _user(uow, username)
        # Lock the user row: two administrators demoting each other cannot both win.
        uow.session.refresh(user, with_for_update=True)
        changes: dict[str, object] = {}
        was_admin = user.role == "administrator" and user.disabled_at is None
        if role is not None and role != user.role:
            changes["role"] = [user.role, role]
            user.role = role
        if unit is not None and unit != user.unit:
            changes["unit"] = [user.unit, unit or None]
            user.unit = unit or None
        if display_name is not None and display_name != user.display_name:
            changes["display_name"] = [user.display_name, display_name]
            user.display_name = display_name
        now = uow.now()
        if disabled is True and user.disabled_at is None:
            changes["disabled"] = [False, True]
            user.disabled_at = now
            _end_sessions(uow, user.id, now)
        elif disabled is False and user.disabled_at is not None:
            changes["disabled"] = [True, False]
            user.disabled_at = None
        uow.session.flush()
        if was_admin and _active_administrators(uow) == 0:
            raise Conflict("that would leave no active administrator")
        if changes:
            tag = "admin:user:update"
            if set(changes) == {"disabled"}:
                tag = "admin:user:disable" if disabled else "admin:user:enable"
            uow.audit(
                tag,
                actor or Actor.system(),
                object_type="user",
                object_id=username,
                details={"changes": changes},
            )
        uow.commit()
        return _info(user, _warrant(uow, user))


def _end_sessions(uow: UnitOfWork, user_id: int, now: datetime) -> int:
    result = uow.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def end_sessions(system: System, username: str, *, actor: Actor | None = None) -> int:
    """Sign a user out everywhere; returns how many sessions ended."""
    with system.unit_of_work() as uow:
        user = _user(uow, username)
        ended = _end_sessions(uow, user.id, uow.now())
        uow.audit(
            "admin:session:revoke",
            actor or Actor.system(),
            object_type="user",
            object_id=username,
            details={"sessions": ended},
        )
        uow.commit()
        return ended


def set_password(
    system: System,
    username: str,
    password: str,
    *,
    current: str | None = None,
    actor: Actor | None = None,
) -> None:
    """Set a user's password; with `current`, only if it is their present one (a change by them).

    Every other session of theirs ends: whoever knew the old password is signed out.
    """
    _check_password(password)
    with system.unit_of_work() as uow:
        user = _user(uow, username)
        if current is not None and (
            user.password_hash is None or not _matches(user.password_hash, current)
        ):
            raise NotPermitted("the current password is not right")
        user.password_hash = _hasher.hash(password)
        _end_sessions(uow, user.id, uow.now())
        tag = "user:password:change" if current is not None else "admin:user:password"
        uow.audit(tag, actor or Actor.system(), object_type="user", object_id=username)
        uow.commit()


@dataclass(frozen=True)
class TokenInfo:
    id: int
    username: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def active(self, now: datetime) -> bool:
        return not _inactive(self.revoked_at, self.expires_at, now)

    def as_dict(self, now: datetime) -> dict[str, object]:
        return {
            "id": self.id,
            "username": self.username,
            "name": self.name,
            "created_at": isoformat(self.created_at),
            "expires_at": None if self.expires_at is None else isoformat(self.expires_at),
            "revoked_at": None if self.revoked_at is None else isoformat(self.revoked_at),
            "active": self.active(now),
        }


@dataclass(frozen=True)
class IssuedToken:
    """A new token: the secret is shown once, here, and never again."""

    info: TokenInfo
    secret: str


def create_token(
    system: System,
    username: str,
    *,
    name: str = "",
    lifetime: timedelta | None = timedelta(days=90),
    actor: Actor | None = None,
    tag: str = "admin:token:issue",
) -> IssuedToken:
    """A new API token for a user; only its hash is kept."""
    if lifetime is not None and not timedelta(0) < lifetime <= timedelta(days=MAX_TOKEN_DAYS):
        raise InvalidInput(f"a token lives between a moment and {MAX_TOKEN_DAYS} days")
    if len(name) > 120:
        raise InvalidInput("a token's name is at most 120 characters")
    secret = new_token(USER_TOKEN_PREFIX)
    with system.unit_of_work() as uow:
        user = _user(uow, username)
        now = uow.now()
        row = ApiToken(
            user_id=user.id,
            name=name,
            token_hash=token_hash(secret),
            created_at=now,
            expires_at=None if lifetime is None else now + lifetime,
        )
        uow.session.add(row)
        uow.session.flush()
        uow.audit(
            tag,
            actor or Actor.system(),
            object_type="user",
            object_id=username,
            details={"name": name, "token": row.id},
        )
        uow.commit()
        return IssuedToken(
            TokenInfo(row.id, username, name, row.created_at, row.expires_at, None), secret
        )


def issue_token(
    system: System,
    username: str,
    *,
    name: str = "",
    lifetime: timedelta | None = timedelta(days=90),
    actor: Actor | None = None,
) -> str:
    """A new API token for a user, returned once; only its hash is kept."""
    return create_token(system, username, name=name, lifetime=lifetime, actor=actor).secret


def list_tokens(system: System, username: str | None = None) -> list[TokenInfo]:
    """API tokens (of one user, if given), newest first; never their secrets."""
    query = (
        select(ApiToken, User.username)
        .join(User, User.id == ApiToken.user_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    with system.unit_of_work() as uow:
        if username is not None:
            query = query.where(ApiToken.user_id == _user(uow, username).id)
        return [
            TokenInfo(t.id, name, t.name, t.created_at, t.expires_at, t.revoked_at)
            for t, name in uow.session.execute(query).all()
        ]


def revoke_token(
    system: System,
    token_id: int,
    *,
    username: str | None = None,
    actor: Actor | None = None,
    tag: str = "admin:token:revoke",
) -> TokenInfo:
    """Revoke a token at once; with `username`, only a token of that user (else NotFound)."""
    with system.unit_of_work() as uow:
        row = uow.session.execute(
            select(ApiToken, User.username)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.id == token_id)
        ).one_or_none()
        if row is None or (username is not None and row[1] != username):
            raise NotFound(f"no token {token_id}" + (f" of {username}" if username else ""))
        token, owner = row
        if token.revoked_at is None:
            token.revoked_at = uow.now()
            uow.audit(
                tag,
                actor or Actor.system(),
                object_type="user",
                object_id=owner,
                details={"token": token_id, "name": token.name},
            )
        uow.commit()
        return TokenInfo(
            token.id, owner, token.name, token.created_at, token.expires_at, token.revoked_at
        )


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
        return principal_of(user)


def _inactive(revoked_at: datetime | None, expires_at: datetime | None, now: datetime) -> bool:
    return revoked_at is not None or (expires_at is not None and expires_at <= now)


def _matches(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def verify_password(system: System, username: str, password: str) -> Principal:
    """Check a password; NotAuthenticated without saying whether the user exists."""
    with system.unit_of_work() as uow:
        user = uow.session.scalar(select(User).where(User.username == username))
    if (
        user is None
        or user.password_hash is None
        or user.disabled_at is not None
        or len(password) > MAX_PASSWORD
    ):
        # Spend the same effort either way, so timing does not reveal usernames.
        _hasher.hash(password[:MAX_PASSWORD])
        raise NotAuthenticated("wrong username or password")
    if not _matches(user.password_hash, password):
        raise NotAuthenticated("wrong username or password")
    return principal_of(user)
