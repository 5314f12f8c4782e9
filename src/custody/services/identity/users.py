"""People: accounts, roles and passwords.

Nobody sets another person's password: a person changes their own here, and an
administrator's help is a one-time reset the person completes (`services.identity.resets`).

A new user has no password until they set one with the one-time code their administrator
was given for them (`create_user`); single sign-on (OIDC) is not built, so nobody is added
without a way to sign in. The external issuer and subject columns wait for it.
Portal sign-in, sessions and throttling are in `custody.services.identity.signin`, API
tokens in `custody.services.identity.tokens`.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update

from custody.db.models import ApiToken, Officer, User
from custody.db.models.users import UserSession
from custody.domain.access import (
    ROLES,
    SystemAction,
    grant_needs_a_second_administrator,
    roles_that_may,
)
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    NotPermitted,
    TooManySignIns,
)
from custody.domain.principal import Principal
from custody.services.access import require_role
from custody.services.identity import reset_codes, throttle
from custody.services.identity.answers import CreatedUser, SessionsEnded, UserView
from custody.services.system import System, UnitOfWork

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
MIN_PASSWORD = 10
# Long enough for any passphrase, short enough that hashing one is not a denial of service.
MAX_PASSWORD = 1024
# Set by the test suite alone (tests/conftest.py): it hashes thousands of passwords, and at
# the real cost that was minutes of every run. A test proves that without it the cost is real.
CHEAP_TEST_HASHES = "CUSTODY_TEST_CHEAP_PASSWORD_HASHES"


# Argon2 takes 64 MiB for each hash it makes or checks. However many requests arrive at
# once, this process works on at most this many (the others queue here), so memory stays
# bounded; the database throttle decides which tries deserve a hash at all.
HASHES_AT_ONCE_ENV = "CUSTODY_PASSWORD_HASHES_AT_ONCE"


@functools.cache
def _hashing() -> threading.BoundedSemaphore:
    # Read from the environment when first needed, not on import: what the process runs
    # with decides, however early the module was imported.
    return threading.BoundedSemaphore(max(1, int(os.environ.get(HASHES_AT_ONCE_ENV, "2"))))


def password_hasher(environ: Mapping[str, str] = os.environ) -> PasswordHasher:
    """Argon2id at argon2-cffi's defaults (RFC 9106's low-memory profile), unless in the tests."""
    if environ.get(CHEAP_TEST_HASHES) == "1":
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return PasswordHasher()


_hasher = functools.cache(password_hasher)


def _hash(password: str) -> str:
    with _hashing():
        return _hasher().hash(password)


# Who manages users: the last of them may not be removed, or nobody could.
ADMINISTERING = roles_that_may(SystemAction.MANAGE_USERS)

__all__ = ["ROLES", "Principal", "principal_of"]


def principal_of(user: User) -> Principal:
    return Principal(user.id, user.username, user.role, user.unit, user.officer_id)


def user_view(
    user: User,
    warrant: str | None,
    *,
    reset_until: datetime | None = None,
    locked_until: datetime | None = None,
) -> UserView:
    """A user as those who manage users see one; `warrant` is their officer's, if linked;
    until when a reset code of theirs works, and sign-in to them is held back, if so."""
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
        reset_until=None if reset_until is None else isoformat(reset_until),
        locked_until=None if locked_until is None else isoformat(locked_until),
    )


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"a password has at least {MIN_PASSWORD} characters (and at most {MAX_PASSWORD})"
        )


def check_role(role: str) -> None:
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
    officer: str | None = None,
    unit: str | None = None,
    display_name: str = "",
    actor: Actor | None = None,
) -> CreatedUser:
    """An administrator adds a user, who sets their first password themselves: the answer
    carries a one-time reset code (shown once) for the administrator to hand over. Nobody
    chooses a password for another person, nor adds an account that cannot sign in.

    An officer's user is linked to the officer record whose footage is theirs. A role that
    sees footage force-wide is not given here: add the user with another and request it
    (`services.identity.roles`), for a second administrator."""
    who = actor or principal.actor()
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.MANAGE_USERS, who)
        _refuse_a_grant_alone(uow, role, username, who, "admin:user:create")
        user = insert_user(
            uow,
            username,
            role,
            password=None,
            officer=officer,
            unit=unit,
            display_name=display_name,
            external_issuer=None,
            external_subject=None,
            actor=who,
        )
        issued = reset_codes.issue_in(uow, user, principal.username, who)
        uow.commit()
        view = user_view(user, officer).model_copy(update={"reset_until": issued.expires_at})
        return CreatedUser(**view.model_dump(), reset=issued)


def _refuse_a_grant_alone(
    uow: UnitOfWork, role: str, username: str, actor: Actor, tag: str
) -> None:
    """Refuse (audited) to give a role that needs a second administrator's approval."""
    if not grant_needs_a_second_administrator(role):
        return
    reason = (
        f"the role {role} needs a second administrator's approval: "
        f"request it (POST /users/{username}/role-requests)"
    )
    uow.audit(
        tag,
        actor,
        object_type="user",
        object_id=username,
        allowed=False,
        reason=reason,
        details={"role": role},
    )
    uow.commit()
    raise NotPermitted(reason)


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
    check_role(role)
    if password is not None:
        check_password(password)
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
        password_hash=_hash(password) if password else None,
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


def user_named(uow: UnitOfWork, username: str) -> User:
    user = uow.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def _warrant(uow: UnitOfWork, user: User) -> str | None:
    if user.officer_id is None:
        return None
    return uow.session.scalar(select(Officer.warrant_number).where(Officer.id == user.officer_id))


def _views(uow: UnitOfWork, rows: Sequence[tuple[User, str | None]]) -> list[UserView]:
    """Users as those who manage users see them, with their pending resets and locks."""
    resets = reset_codes.pending_until(uow, [user.id for user, _ in rows])
    locks = throttle.locked_until(uow, [user.username for user, _ in rows])
    return [
        user_view(
            user,
            warrant,
            reset_until=resets.get(user.id),
            locked_until=locks.get(user.username),
        )
        for user, warrant in rows
    ]


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
        require_role(uow, principal, SystemAction.MANAGE_USERS, actor or principal.actor())
        if role is not None:
            check_role(role)
            query = query.where(User.role == role)
        rows = [(user, warrant) for user, warrant in uow.session.execute(query).all()]
        return _views(uow, rows)


def get_user(
    system: System, principal: Principal, username: str, *, actor: Actor | None = None
) -> UserView:
    """One user, as those who manage users see them."""
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.MANAGE_USERS, actor or principal.actor())
        user = user_named(uow, username)
        return _views(uow, [(user, _warrant(uow, user))])[0]


def unlock_user(
    system: System, principal: Principal, username: str, *, actor: Actor | None = None
) -> UserView:
    """Let a person whose sign-ins are held back after failed tries sign in again at once
    (once they have said who they are to the administrator); audited, whether or not the
    account was held back. Nothing else changes: their password, sessions and tokens stay."""
    who = actor or principal.actor()
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.MANAGE_USERS, who)
        user = user_named(uow, username)
        was_locked = throttle.unlock(uow, user.username)
        uow.audit(
            "admin:user:unlock",
            who,
            object_type="user",
            object_id=username,
            details={"was_locked": was_locked},
        )
        uow.commit()
        return _views(uow, [(user, _warrant(uow, user))])[0]


def own_account(uow: UnitOfWork, principal: Principal) -> UserView:
    """The signed-in person's own user (anyone may know who they are signed in as)."""
    user = own_user(uow, principal)
    return user_view(user, _warrant(uow, user))


def own_user(uow: UnitOfWork, principal: Principal) -> User:
    """The principal's own user row: by id, so that a renamed account stays theirs."""
    user = uow.session.get(User, principal.user_id)
    if user is None:
        raise NotAuthenticated("this account no longer exists")
    return user


def principal_named(system: System, username: str) -> Principal:
    """The person with this username, to act as (for tools run by that person)."""
    with system.unit_of_work() as uow:
        user = user_named(uow, username)
        if user.disabled_at is not None:
            raise NotPermitted(f"user {username!r} is disabled")
        return principal_of(user)


def active_administrators(uow: UnitOfWork) -> int:
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

    Disabling ends the user's portal sessions and revokes their API tokens at once; enabling
    them again brings neither back. The last active administrator cannot be demoted or
    disabled.
    """
    who = actor or principal.actor()
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.MANAGE_USERS, who)
        if role is not None:
            check_role(role)
        user = user_named(uow, username)
        # Lock the user row: two administrators demoting each other cannot both win.
        uow.session.refresh(user, with_for_update=True)
        if role is not None and role != user.role:
            _refuse_a_grant_alone(uow, role, username, who, "admin:user:update")
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
            _end_tokens(uow, user.id, now)
        elif disabled is False and user.disabled_at is not None:
            changes["disabled"] = [True, False]
            user.disabled_at = None
        uow.session.flush()
        if was_admin and active_administrators(uow) == 0:
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


def _end_tokens(uow: UnitOfWork, user_id: int, now: datetime) -> int:
    """Revoke every live API token of a user: for good, whatever happens to the user next."""
    result = uow.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def end_sessions(
    system: System, principal: Principal, username: str, *, actor: Actor | None = None
) -> SessionsEnded:
    """Sign a user out everywhere; the answer says how many sessions ended."""
    who = actor or principal.actor()
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.MANAGE_USERS, who)
        user = user_named(uow, username)
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


def change_my_password(
    system: System,
    principal: Principal,
    current: str,
    password: str,
    *,
    actor: Actor | None = None,
) -> None:
    """A person changes their own password, knowing the present one; their sessions end and
    their API tokens are revoked (whoever knew the old password is shut out).

    The present password is a guess like any sign-in's: throttled with the account's and
    the address's sign-ins (TooManySignIns, nothing hashed) and every refusal audited.
    """
    who = actor or principal.actor()
    check_password(password)
    with system.unit_of_work() as uow:
        user = own_user(uow, principal)
        username, present = user.username, user.password_hash
    try:
        ticket = throttle.claim(system, username, who.address)
    except TooManySignIns as refusal:
        _refuse_change(system, username, who, refusal.message)
        raise
    if present is None or not _matches(present, current[: MAX_PASSWORD + 1]):
        reason = "the current password is not right"
        _refuse_change(system, username, who, reason)
        raise NotPermitted(reason)
    throttle.succeeded(system, ticket)
    with system.unit_of_work() as uow:
        user = own_user(uow, principal)
        new_password(uow, user, password, "user:password:change", who)
        uow.commit()


def _refuse_change(system: System, username: str, actor: Actor, reason: str) -> None:
    with system.unit_of_work() as uow:
        uow.audit(
            "user:password:change",
            actor,
            object_type="user",
            object_id=username,
            allowed=False,
            reason=reason,
        )
        uow.commit()


def new_password(uow: UnitOfWork, user: User, password: str, tag: str, actor: Actor) -> None:
    user.password_hash = _hash(password)
    now = uow.now()
    _end_sessions(uow, user.id, now)
    revoked = _end_tokens(uow, user.id, now)
    uow.audit(tag, actor, object_type="user", object_id=user.username, details={"tokens": revoked})


def _matches(password_hash: str, password: str) -> bool:
    try:
        with _hashing():
            return bool(_hasher().verify(password_hash, password))
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
        _hash(password[:MAX_PASSWORD])
        raise NotAuthenticated("wrong username or password")
    if not _matches(user.password_hash, password):
        raise NotAuthenticated("wrong username or password")
    return principal_of(user)
