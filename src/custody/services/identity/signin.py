"""Portal sign-in: passwords checked with throttling, sessions that expire, sign-out.

Everything lives in the database (the throttle, sessions), so every `custody serve`
node behind a load balancer throttles and expires alike. A session's secret is in
the person's cookie only; the database keeps its SHA-256. `start_session` is the
door a single sign-on (OIDC) callback will use once it has identified the person.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from custody.db.models import User
from custody.db.models.users import UserSession
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import NotAuthenticated, TooManySignIns
from custody.domain.principal import Principal
from custody.domain.sessions import (
    SessionPolicy,
    needs_touch,
    session_ends_at,
    session_expired,
)
from custody.services.identity import throttle
from custody.services.identity.answers import Me
from custody.services.identity.throttle import account_key
from custody.services.identity.tokens import token_hash
from custody.services.identity.users import own_account, principal_of, verify_password
from custody.services.system import System

SESSION_PREFIX = "css_"
SESSION_POLICY = SessionPolicy()


@dataclass(frozen=True)
class PortalSession:
    """A live portal session: who it is for and the token its forms must carry."""

    session_id: int
    principal: Principal
    csrf_token: str
    ends_at: datetime


@dataclass(frozen=True)
class SignedIn:
    """A new session; `secret` goes into the cookie and nowhere else."""

    secret: str
    session: PortalSession


def _refuse(
    system: System, username: str, address: str | None, user_agent: str | None, reason: str
) -> None:
    with system.unit_of_work() as uow:
        uow.audit(
            "user:session:sign_in",
            Actor("anonymous", address, user_agent),
            object_type="user",
            object_id=account_key(username).removeprefix("account:")[:80],
            allowed=False,
            reason=reason,
        )
        uow.commit()


def sign_in(
    system: System,
    username: str,
    password: str,
    *,
    address: str | None = None,
    user_agent: str | None = None,
    policy: SessionPolicy = SESSION_POLICY,
) -> SignedIn:
    """Check a password and open a session; every attempt, good or bad, is audited.

    Raises TooManySignIns (without checking the password at all) while the account or
    the address has failed too often lately, and NotAuthenticated for a wrong password.
    """
    try:
        ticket = throttle.claim(system, username, address)
    except TooManySignIns as refusal:
        _refuse(system, username, address, user_agent, refusal.message)
        raise
    try:
        # Checked outside any transaction: argon2 is slow on purpose, locks should not be.
        principal = verify_password(system, username.strip(), password)
    except NotAuthenticated:
        _refuse(system, username, address, user_agent, "wrong username or password")
        raise
    throttle.succeeded(system, ticket)
    return start_session(
        system,
        principal,
        method="password",
        address=address,
        user_agent=user_agent,
        policy=policy,
    )


def start_session(
    system: System,
    principal: Principal,
    *,
    method: str,
    address: str | None = None,
    user_agent: str | None = None,
    policy: SessionPolicy = SESSION_POLICY,
) -> SignedIn:
    """Open a portal session for someone already identified (by password, or by OIDC)."""
    secret = SESSION_PREFIX + secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with system.unit_of_work() as uow:
        now = uow.now()
        row = UserSession(
            user_id=principal.user_id,
            token_hash=token_hash(secret),
            csrf_token=csrf,
            method=method,
            created_at=now,
            last_seen_at=now,
            address=address,
            user_agent=(user_agent or None) and user_agent[:300],
        )
        uow.session.add(row)
        uow.session.flush()
        uow.audit(
            "user:session:sign_in",
            principal.actor(address, user_agent),
            object_type="user",
            object_id=principal.username,
            details={"method": method, "session": row.id},
        )
        uow.commit()
        ends = session_ends_at(now, now, policy)
        return SignedIn(secret, PortalSession(row.id, principal, csrf, ends))


def authenticate_session(
    system: System, secret: str, policy: SessionPolicy = SESSION_POLICY
) -> PortalSession:
    """The live session behind a cookie's secret; NotAuthenticated once it has ended."""
    if not secret.startswith(SESSION_PREFIX):
        raise NotAuthenticated("not a session")
    with system.unit_of_work() as uow:
        row = uow.session.execute(
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.token_hash == token_hash(secret))
        ).one_or_none()
        if row is None:
            raise NotAuthenticated("unknown session: sign in")
        session_row, user = row
        now = uow.now()
        if session_row.revoked_at is not None or user.disabled_at is not None:
            raise NotAuthenticated("you have been signed out: sign in again")
        if session_expired(session_row.created_at, session_row.last_seen_at, now, policy):
            raise NotAuthenticated("your session has expired: sign in again")
        if needs_touch(session_row.last_seen_at, now, policy):
            session_row.last_seen_at = now
            uow.commit()
        ends = session_ends_at(session_row.created_at, session_row.last_seen_at, policy)
        return PortalSession(session_row.id, principal_of(user), session_row.csrf_token, ends)


def sign_out(system: System, secret: str, actor: Actor | None = None) -> bool:
    """End the session behind a cookie's secret; False if there was none live."""
    with system.unit_of_work() as uow:
        row = uow.session.execute(
            select(UserSession, User.username)
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.token_hash == token_hash(secret))
        ).one_or_none()
        if row is None or row[0].revoked_at is not None:
            return False
        session_row, username = row
        session_row.revoked_at = uow.now()
        uow.audit(
            "user:session:sign_out",
            actor or Actor(f"user:{username}"),
            object_type="user",
            object_id=username,
            details={"session": session_row.id},
        )
        uow.commit()
        return True


def my_account(system: System, principal: Principal, session: PortalSession | None) -> Me:
    """Who a person is signed in as; with the portal session their request rode on (if it
    did), that session's CSRF token and when it ends, for the portal's own scripts."""
    with system.unit_of_work() as uow:
        account = own_account(uow, principal)
    if session is None:
        return Me(**account.model_dump())
    return Me(
        **account.model_dump(),
        csrf_token=session.csrf_token,
        session_ends_at=isoformat(session.ends_at),
    )
