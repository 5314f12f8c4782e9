"""Portal sign-in: passwords checked with throttling, sessions that expire, sign-out.

Everything lives in the database (the throttle, sessions), so every `custody serve`
node behind a load balancer throttles and expires alike. A session's secret is in
the person's cookie only; the database keeps its SHA-256. `start_session` is the
door a single sign-on (OIDC) callback will use once it has identified the person.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature
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
DEVICE_PREFIX = "cdv_"
# How long a browser is remembered as one its person signs in from.
DEVICE_LIFETIME = timedelta(days=365)
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
    # For a password sign-in: the device cookie that lets this browser past the account's
    # throttle next time (signed by the server; it names no one and opens nothing).
    device: str | None = None


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
    device: str | None = None,
    policy: SessionPolicy = SESSION_POLICY,
) -> SignedIn:
    """Check a password and open a session; every attempt, good or bad, is audited.

    Raises TooManySignIns (without checking the password at all) while the account (or,
    with the device cookie of a browser it signed in from, that browser) or the address has
    failed too often lately, and NotAuthenticated for a wrong password.
    """
    known = device_of(system, device, username)
    try:
        ticket = throttle.claim(system, username, address, device=known)
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
    signed = start_session(
        system,
        principal,
        method="password",
        address=address,
        user_agent=user_agent,
        policy=policy,
    )
    return replace(signed, device=device_cookie(system, username))


def _device_message(username: str, nonce: str) -> bytes:
    return f"custody device cookie|{account_key(username)}|{nonce}".encode()


def device_cookie(system: System, username: str) -> str:
    """A new device cookie for a browser `username` has just signed in from."""
    nonce = secrets.token_urlsafe(16)
    signature = system.server_key.sign(_device_message(username, nonce))
    return f"{DEVICE_PREFIX}{nonce}.{base64.urlsafe_b64encode(signature).decode()}"


def device_of(system: System, cookie: str | None, username: str) -> str | None:
    """The device's id, if `cookie` is a device cookie this server gave a browser that
    `username` signed in from; None for anything else (forged, another person's, none)."""
    if not cookie or not cookie.startswith(DEVICE_PREFIX) or len(cookie) > 200:
        return None
    nonce, _, signature = cookie.removeprefix(DEVICE_PREFIX).partition(".")
    try:
        system.server_key.public_key().verify(
            base64.urlsafe_b64decode(signature.encode("ascii")), _device_message(username, nonce)
        )
    except (InvalidSignature, ValueError, binascii.Error):
        return None
    return nonce


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
    # What administrators see of an account (pending resets, locks) is not the person's.
    own = account.model_dump(exclude={"reset_until", "locked_until"})
    if session is None:
        return Me(**own)
    return Me(
        **own,
        csrf_token=session.csrf_token,
        session_ends_at=isoformat(session.ends_at),
    )
