"""People: accounts, roles, passwords and API tokens.

A user need not have a password: people who sign in through the force's single
sign-on (OIDC, e.g. Microsoft Entra) carry an external issuer and subject instead.
Portal sign-in, sessions and throttling are in `custody.services.identity.signin`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update

from custody.db.models import ApiToken, Officer, User
from custody.db.models.users import UserSession
from custody.domain.access import ROLES, SystemAction, roles_that_may
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
from custody.services.access import require
from custody.services.identity.answers import IssuedToken, SessionsEnded, TokenView, UserView
from custody.services.identity.tokens import USER_TOKEN_PREFIX, new_token, token_hash
from custody.services.system import System, UnitOfWork

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
MIN_PASSWORD = 10
# Long enough for any passphrase, short enough that hashing one is not a denial of service.
MAX_PASSWORD = 1024
MAX_TOKEN_DAYS = 3650
_hasher = PasswordHasher()
# Who manages users: the last of them may not be removed, or nobody could.
ADMINISTERING = roles_that_may(SystemAction.MANAGE_USERS)

__all__ = ["ROLES", "Principal", "principal_of"]


def principal_of(user: User) -> Principal:
    return Principal(user.id, user.username, user.role, user.unit, user.officer_id)


def user_view(user: User, warrant: str | None) -> UserView:
    """A user as those who manage users see one; `warrant` is their officer's, if linked."""
    return UserView(
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        unit=user.unit,
        officer=warrant,
        has_password=user.password_hash is not None,
        single_sign_on=user.external_issuer is not None,
        created_at=isoformat(user.created_at),
        disabled_at=None if user.disabled_at is None else isoformat(user.disabled_at),
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
    principal: Principal,
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
) -> UserView:
    """An administrator adds a user. An officer's user is linked to the officer record whose
    footage is theirs."""
    who = actor or principal.actor()
    with system.unit_of_work() as uow:
        require(uow, principal, SystemAction.MANAGE_USERS, who)
        user = insert_user(
            uow,
            username,
            role,
            password=password,
            officer=officer,
            unit=unit,
            display_name=display_name,
            external_issuer=external_issuer,
            external_subject=external_subject,
            actor=who,
        )
        uow.commit()
        return user_view(user, officer)


def insert_user(
    uow: UnitOfWork,
    username: str,
    role: str,
    *,
    password: str | None,
    officer: str | None,
    unit: str | None,
    display_name: str,
    external_issuer: str | None,
    external_subject: str | None,
    actor: Actor,
) -> User:
    """Check and add a user and its audit event, in a unit of work whose use case has decided
    that this user may be added (`create_user`; `setup.first_administrator`, the bootstrap)."""
    if not USERNAME.match(username):
        raise InvalidInput("a username is letters, digits, '.', '_' or '-' (at most 120)")
    _check_role(role)
    if password is not None:
        _check_password(password)
    if (external_issuer is None) != (external_subject is None):
        raise InvalidInput("an external identity has both an issuer and a subject")
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
        actor,
        object_type="user",
        object_id=username,
        details={"role": role, "unit": unit, "officer": officer},
    )
    return user


def _user(uow: UnitOfWork, username: str) -> User:
    user = uow.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def _warrant(uow: UnitOfWork, user: User) -> str | None:
    if user.officer_id is None:
        return None
    return uow.session.scalar(select(Officer.warrant_number).where(Officer.id == user.officer_id))


def list_users(
    system: System, principal: Principal, *, role: str | None = None, actor: Actor | None = None
) -> list[UserView]:
    """Every user (of one role, if given), by username: for those who manage users."""
    query = (
        select(User, Officer.warrant_number)
        .outerjoin(Officer, Officer.id == User.officer_id)
        .order_by(User.username)
    )
    with system.unit_of_work() as uow:
        require(uow, principal, SystemAction.MANAGE_USERS, actor or principal.actor())
        if role is not None:
            _check_role(role)
            query = query.where(User.role == role)
        return [user_view(user, warrant) for user, warrant in uow.session.execute(query).all()]


def get_user(
    system: System, principal: Principal, username: str, *, actor: Actor | None = None
) -> UserView:
    """One user, as those who manage users see them."""
    with system.unit_of_work() as uow:
        require(uow, principal, SystemAction.MANAGE_USERS, actor or principal.actor())
        user = _user(uow, username)
        return user_view(user, _warrant(uow, user))


def own_account(uow: UnitOfWork, principal: Principal) -> UserView:
    """The signed-in person's own user (anyone may know who they are signed in as)."""
    user = _own(uow, principal)
    return user_view(user, _warrant(uow, user))


def _own(uow: UnitOfWork, principal: Principal) -> User:
    """The principal's own user row: by id, so that a renamed account stays theirs."""
    user = uow.session.get(User, principal.user_id)
    if user is None:
        raise NotAuthenticated("this account no longer exists")
    return user


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
            .where(User.role.in_(sorted(ADMINISTERING)), User.disabled_at.is_(None))
        )
        or 0
    )


def update_user(
    system: System,
    principal: Principal,
    username: str,
    *,
    role: str | None = None,
    unit: str | None = None,
    display_name: str | None = None,
    disabled: bool | None = None,
    actor: Actor | None = None,
) -> UserView:
    """Change a user's role, unit or name, or disable or re-enable them; each change audited.

    Disabling ends the user's portal sessions at once (their tokens stop working while
    they are disabled). The last active administrator cannot be demoted or disabled.
    """
    who = actor or principal.actor()
    with system.unit_of_work() as uow:
        require(uow, principal, SystemAction.MANAGE_USERS, who)
        if role is not None:
            _check_role(role)
        user = _user(uow, username)
        # Lock the user row: two administrators demoting each other cannot both win.
        uow.session.refresh(user, with_for_update=True)
        changes: dict[str, object] = {}
        was_admin = user.role in ADMINISTERING and user.disabled_at is None
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
                who,
                object_type="user",
                object_id=username,
                details={"changes": changes},
            )
        uow.commit()
        return user_view(user, _warrant(uow, user))


def _end_sessions(uow: UnitOfWork, user_id: int, now: datetime) -> int:
    result = uow.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def end_sessions(
    system: System, principal: Principal, username: str, *, actor: Actor | None = None
) -> SessionsEnded:
    """Sign a user out everywhere; the answer says how many sessions ended."""
    who = actor or principal.actor()
    with system.unit_of_work() as uow:
        require(uow, principal, SystemAction.MANAGE_USERS, who)
        user = _user(uow, username)
        ended = _end_sessions(uow, user.id, uow.now())
        uow.audit(
            "admin:session:revoke",
            who,
            object_type="user",
            object_id=username,
            details={"sessions": ended},
        )
        uow.commit()
        return SessionsEnded(ended=ended)


def set_password(
    system: System,
    principal: Principal,
    username: str,
    password: str,
    *,
    actor: Actor | None = None,
) -> None:
    """An administrator sets a user's password; every session of theirs ends."""
    who = actor or principal.actor()
    with system.unit_of_work() as uow:
        require(uow, principal, SystemAction.MANAGE_USERS, who)
        _check_password(password)
        user = _user(uow, username)
        _new_password(uow, user, password, "admin:user:password", who)
        uow.commit()


def change_my_password(
    system: System,
    principal: Principal,
    current: str,
    password: str,
    *,
    actor: Actor | None = None,
) -> None:
    """A person changes their own password, knowing the present one; their other sessions
    end (whoever knew the old password is signed out)."""
    _check_password(password)
    with system.unit_of_work() as uow:
        user = _own(uow, principal)
        if user.password_hash is None or not _matches(user.password_hash, current):
            raise NotPermitted("the current password is not right")
        _new_password(uow, user, password, "user:password:change", actor or principal.actor())
        uow.commit()


def _new_password(uow: UnitOfWork, user: User, password: str, tag: str, actor: Actor) -> None:
    user.password_hash = _hasher.hash(password)
    _end_sessions(uow, user.id, uow.now())
    uow.audit(tag, actor, object_type="user", object_id=user.username)


def create_token(
    system: System,
    principal: Principal,
    username: str,
    *,
    name: str = "",
    lifetime: timedelta | None = timedelta(days=90),
    actor: Actor | None = None,
) -> IssuedToken:
    """An administrator issues a user an API token; only its hash is kept."""
    who = actor or principal.actor()
    with system.unit_of_work() as uow:
        require(uow, principal, SystemAction.MANAGE_USERS, who)
        issued = _issue(uow, _user(uow, username), name, lifetime, who, "admin:token:issue")
        uow.commit()
        return issued


def create_my_token(
    system: System,
    principal: Principal,
    *,
    name: str = "",
    lifetime: timedelta | None = timedelta(days=90),
    actor: Actor | None = None,
) -> IssuedToken:
    """A new API token for the signed-in person themselves; only its hash is kept."""
    with system.unit_of_work() as uow:
        user = _own(uow, principal)
        issued = _issue(uow, user, name, lifetime, actor or principal.actor(), "user:token:issue")
        uow.commit()
        return issued


def _issue(
    uow: UnitOfWork,
    user: User,
    name: str,
    lifetime: timedelta | None,
    actor: Actor,
    tag: str,
) -> IssuedToken:
    if lifetime is not None and not timedelta(0) < lifetime <= timedelta(days=MAX_TOKEN_DAYS):
        raise InvalidInput(f"a token lives between a moment and {MAX_TOKEN_DAYS} days")
    if len(name) > 120:
        raise InvalidInput("a token's name is at most 120 characters")
    secret = new_token(USER_TOKEN_PREFIX)
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
        actor,
        object_type="user",
        object_id=user.username,
        details={"name": name, "token": row.id},
    )
    return IssuedToken(**_token_view(row, user.username, now).model_dump(), token=secret)


def issue_token(
    system: System,
    principal: Principal,
    username: str,
    *,
    name: str = "",
    lifetime: timedelta | None = timedelta(days=90),
    actor: Actor | None = None,
) -> str:
    """An administrator issues a user an API token, returned once; only its hash is kept."""
    return create_token(
        system, principal, username, name=name, lifetime=lifetime, actor=actor
    ).token


def _token_view(token: ApiToken, username: str, now: datetime) -> TokenView:
    return TokenView(
        id=token.id,
        username=username,
        name=token.name,
        created_at=isoformat(token.created_at),
        expires_at=None if token.expires_at is None else isoformat(token.expires_at),
        revoked_at=None if token.revoked_at is None else isoformat(token.revoked_at),
        active=not _inactive(token.revoked_at, token.expires_at, now),
    )


def _tokens(uow: UnitOfWork, user_id: int | None) -> list[TokenView]:
    query = (
        select(ApiToken, User.username)
        .join(User, User.id == ApiToken.user_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    now = uow.now()
    return [_token_view(t, name, now) for t, name in uow.session.execute(query).all()]


def list_tokens(
    system: System,
    principal: Principal,
    username: str | None = None,
    *,
    actor: Actor | None = None,
) -> list[TokenView]:
    """API tokens (of one user, if given), newest first; never their secrets."""
    with system.unit_of_work() as uow:
        require(uow, principal, SystemAction.MANAGE_USERS, actor or principal.actor())
        return _tokens(uow, None if username is None else _user(uow, username).id)


def my_tokens(system: System, principal: Principal) -> list[TokenView]:
    """The signed-in person's own API tokens, newest first; never their secrets."""
    with system.unit_of_work() as uow:
        return _tokens(uow, _own(uow, principal).id)


def revoke_token(
    system: System,
    principal: Principal,
    token_id: int,
    *,
    username: str | None = None,
    actor: Actor | None = None,
) -> TokenView:
    """An administrator revokes a token at once; with `username`, only a token of that user."""
    who = actor or principal.actor()
    with system.unit_of_work() as uow:
        require(uow, principal, SystemAction.MANAGE_USERS, who)
        revoked = _revoke(uow, token_id, username, who, "admin:token:revoke")
        uow.commit()
        return revoked


def revoke_my_token(
    system: System, principal: Principal, token_id: int, *, actor: Actor | None = None
) -> TokenView:
    """The signed-in person revokes one of their own tokens; anyone else's is "no token"."""
    with system.unit_of_work() as uow:
        owner = _own(uow, principal).username
        revoked = _revoke(uow, token_id, owner, actor or principal.actor(), "user:token:revoke")
        uow.commit()
        return revoked


def _revoke(
    uow: UnitOfWork, token_id: int, username: str | None, actor: Actor, tag: str
) -> TokenView:
    """Revoke a token (of `username`, if given; else NotFound), audited once."""
    row = uow.session.execute(
        select(ApiToken, User.username)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.id == token_id)
    ).one_or_none()
    if row is None or (username is not None and row[1] != username):
        raise NotFound(f"no token {token_id}" + (f" of {username}" if username else ""))
    token, owner = row
    now = uow.now()
    if token.revoked_at is None:
        token.revoked_at = now
        uow.audit(
            tag,
            actor,
            object_type="user",
            object_id=owner,
            details={"token": token_id, "name": token.name},
        )
    return _token_view(token, owner, now)


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
