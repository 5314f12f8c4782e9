"""Portal sign-in: passwords checked with throttling, sessions that expire, sign-out.

Everything lives in the database (attempts, sessions), so every `custody serve`
node behind a load balancer throttles and expires alike. A session's secret is in
the person's cookie only; the database keeps its SHA-256. `start_session` is the
door a single sign-on (OIDC) callback will use once it has identified the person.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from custody.db.models import User
from custody.db.models.users import SignInAttempt, UserSession
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import CustodyError, NotAuthenticated
from custody.domain.principal import Principal
from custody.domain.sessions import (
    SessionPolicy,
    ThrottlePolicy,
    needs_touch,
    session_ends_at,
    session_expired,
    sign_in_throttle,
)
from custody.services.identity.answers import Me
from custody.services.identity.tokens import token_hash
from custody.services.identity.users import own_account, principal_of, verify_password
from custody.services.system import System

SESSION_PREFIX = "css_"
SESSION_POLICY = SessionPolicy()
THROTTLE_POLICY = ThrottlePolicy()
# Attempts older than this are of no use to the throttle and are pruned.
KEEP_ATTEMPTS = timedelta(days=1)


class TooManySignIns(CustodyError):
    """Too many recent failed sign-ins for this account or from this address."""

    code = "too_many_sign_ins"

    def __init__(self, retry_after: timedelta) -> None:
        minutes = max(1, int(retry_after.total_seconds() + 59) // 60)
        super().__init__(f"too many failed sign-ins: try again in {minutes} minute(s)")
        self.retry_after = retry_after


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


def _key(username: str) -> str:
    return username.strip().lower()[:120]


def _failures(
    system: System, key: str, address: str | None, now: datetime, policy: ThrottlePolicy
) -> tuple[list[datetime], list[datetime]]:
    since = now - policy.window
    with system.unit_of_work() as uow:
        session = uow.session
        recent = session.execute(
            select(SignInAttempt.at, SignInAttempt.outcome)
            .where(SignInAttempt.username == key, SignInAttempt.at > since)
            .order_by(SignInAttempt.at.desc())
            .limit(policy.per_account * 4)
        ).all()
        account: list[datetime] = []
        for at, outcome in recent:
            if outcome == "success":
                break  # a success wipes the slate for the account (not for the address)
            if outcome == "failure":
                account.append(at)
        by_address: list[datetime] = []
        if address is not None:
            by_address = list(
                session.scalars(
                    select(SignInAttempt.at)
                    .where(
                        SignInAttempt.address == address,
                        SignInAttempt.at > since,
                        SignInAttempt.outcome == "failure",
                    )
                    .order_by(SignInAttempt.at.desc())
                    .limit(policy.per_address)
                )
            )
    return account, by_address


def _refuse(
    system: System,
    key: str,
    address: str | None,
    user_agent: str | None,
    outcome: str,
    reason: str,
) -> None:
    with system.unit_of_work() as uow:
        now = uow.now()
        uow.session.add(SignInAttempt(username=key, address=address, at=now, outcome=outcome))
        uow.audit(
            "user:session:sign_in",
            Actor("anonymous", address, user_agent),
            object_type="user",
            object_id=key[:80],
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
    throttle: ThrottlePolicy = THROTTLE_POLICY,
    policy: SessionPolicy = SESSION_POLICY,
) -> SignedIn:
    """Check a password and open a session; every attempt, good or bad, is audited.

    Raises TooManySignIns (without checking the password at all) while the account or
    the address has failed too often lately, and NotAuthenticated for a wrong password.
    """
    key = _key(username)
    verdict = sign_in_throttle(
        *_failures(system, key, address, system.clock.now(), throttle), system.clock.now(), throttle
    )
    if not verdict.allowed:
        refusal = TooManySignIns(verdict.retry_after)
        _refuse(system, key, address, user_agent, "throttled", refusal.message)
        raise refusal
    try:
        # Checked outside any transaction: argon2 is slow on purpose, locks should not be.
        principal = verify_password(system, username.strip(), password)
    except NotAuthenticated:
        _refuse(system, key, address, user_agent, "failure", "wrong username or password")
        raise
    return start_session(
        system,
        principal,
        method="password",
        address=address,
        user_agent=user_agent,
        policy=policy,
        attempt_key=key,
    )


def start_session(
    system: System,
    principal: Principal,
    *,
    method: str,
    address: str | None = None,
    user_agent: str | None = None,
    policy: SessionPolicy = SESSION_POLICY,
    attempt_key: str | None = None,
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
        if attempt_key is not None:
            uow.session.add(
                SignInAttempt(username=attempt_key, address=address, at=now, outcome="success")
            )
        uow.session.execute(delete(SignInAttempt).where(SignInAttempt.at < now - KEEP_ATTEMPTS))
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
