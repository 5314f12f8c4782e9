"""The sign-in throttle: a try on a password is claimed in the database before it is hashed.

Each try locks the throttle's rows for its account and its address (`SELECT … FOR UPDATE`
on PostgreSQL; SQLite's transactions take the write lock at their start), decides by
`domain.sessions.claim_try`, and counts itself as a failure in the same transaction. So
thirty parallel wrong passwords against a limit of five get five hashed and twenty-five
refused, on one node or many, and no memory is spent on the refused. A try that succeeds
gives its claim back (`succeeded`). Used by portal sign-in and by a password change, and
(`claim_keys`) by a share's recipient: "share:<id>" for wrong one-time codes, and
"share-mail:<id>" for codes sent, each counted and never given back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from custody.db.models.users import SignInThrottle
from custody.domain.errors import TooManySignIns
from custody.domain.sessions import (
    ACCOUNT_THROTTLE,
    ADDRESS_THROTTLE,
    ThrottlePolicy,
    ThrottleState,
    claim_try,
    forgive,
)
from custody.domain.shares import CODE_MAIL_THROTTLE, CODE_THROTTLE
from custody.services.system import System, UnitOfWork


@dataclass(frozen=True)
class Ticket:
    """A claimed try: the throttle rows it counted against."""

    keys: tuple[str, ...]


# Failures older than any policy remembers; their rows are pruned (a sprayer of made-up
# usernames would otherwise grow the table for ever).
KEEP = max(
    ACCOUNT_THROTTLE.forget_after,
    ADDRESS_THROTTLE.forget_after,
    CODE_THROTTLE.forget_after,
    CODE_MAIL_THROTTLE.forget_after,
) + timedelta(hours=1)


def account_key(username: str) -> str:
    """The throttle's key for an account, as typed (whether or not such a user exists)."""
    return "account:" + username.strip().lower()[:120]


def _policy(key: str) -> ThrottlePolicy:
    if key.startswith("address:"):
        return ADDRESS_THROTTLE
    if key.startswith("share:"):
        return CODE_THROTTLE
    if key.startswith("share-mail:"):
        return CODE_MAIL_THROTTLE
    return ACCOUNT_THROTTLE


def _locked(uow: UnitOfWork, keys: tuple[str, ...]) -> list[SignInThrottle]:
    """The throttle's rows for these keys, made if missing, locked until the commit."""
    dialect = uow.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    uow.session.execute(
        insert(SignInThrottle)
        .values([{"key": key, "failures": 0} for key in keys])
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return list(
        uow.session.scalars(
            select(SignInThrottle)
            .where(SignInThrottle.key.in_(keys))
            .order_by(SignInThrottle.key)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _state(row: SignInThrottle) -> ThrottleState:
    return ThrottleState(row.failures, row.last_failure_at, row.blocked_until)


def _store(row: SignInThrottle, state: ThrottleState) -> None:
    row.failures = state.failures
    row.last_failure_at = state.last_failure_at
    row.blocked_until = state.blocked_until


def claim(
    system: System, username: str, address: str | None, *, device: str | None = None
) -> Ticket:
    """Claim one try on `username`'s password from `address`; TooManySignIns (nothing
    counted, nothing hashed) while either has failed too often lately.

    A browser the person has signed in from before (`device`, from a device cookie the
    sign-in verified) is throttled on its own instead of with the account (OWASP's device
    cookies): whoever hammers the account from elsewhere cannot lock its owner out.
    """
    keys = [f"device:{device}" if device else account_key(username)]
    if address:
        keys.append("address:" + address[:64])
    return claim_keys(system, keys)


def claim_keys(system: System, keys: Iterable[str]) -> Ticket:
    """Claim one try against each of these throttle rows ("account:…", "device:…",
    "share:…", "address:…"); TooManySignIns (nothing counted) while any is waiting."""
    ordered = tuple(sorted(set(keys)))  # every try locks in the same order: no deadlock
    with system.unit_of_work() as uow:
        now = uow.now()
        rows = _locked(uow, ordered)
        claims = [(row, claim_try(_state(row), now, _policy(row.key))) for row in rows]
        waits = [made.retry_after for _, made in claims if not made.allowed]
        if waits:
            raise TooManySignIns(max(waits))
        for row, made in claims:
            _store(row, made.state)
        uow.commit()
    return Ticket(ordered)


def succeeded(system: System, ticket: Ticket) -> None:
    """The claimed try was right: the account's (or device's) failures are forgiven, the
    address's claim is given back; rows whose failures every policy has forgotten are pruned."""
    with system.unit_of_work() as uow:
        for row in _locked(uow, ticket.keys):
            policy = _policy(row.key)
            reset = not row.key.startswith("address:")
            _store(row, forgive(_state(row), policy, reset=reset))
        now = uow.now()
        uow.session.execute(
            delete(SignInThrottle).where(
                SignInThrottle.key.not_in(ticket.keys),
                or_(
                    SignInThrottle.last_failure_at.is_(None),
                    SignInThrottle.last_failure_at < now - KEEP,
                ),
                or_(SignInThrottle.blocked_until.is_(None), SignInThrottle.blocked_until < now),
            )
        )
        uow.commit()


def locked_until(uow: UnitOfWork, usernames: list[str]) -> dict[str, datetime]:
    """Until when sign-in to each of these accounts is held back (those that are, only)."""
    keys = {account_key(name): name for name in usernames}
    if not keys:
        return {}
    rows = uow.session.execute(
        select(SignInThrottle.key, SignInThrottle.blocked_until).where(
            SignInThrottle.key.in_(sorted(keys)), SignInThrottle.blocked_until > uow.now()
        )
    ).all()
    return {keys[key]: until for key, until in rows if until is not None}


def unlock(uow: UnitOfWork, username: str) -> bool:
    """Forget the account's failed sign-ins (an administrator's unlock); whether it was held
    back. An address's failures stay: they are not the account's, and may be an attacker's."""
    row = uow.session.get(SignInThrottle, account_key(username), with_for_update=True)
    if row is None:
        return False
    was_locked = row.blocked_until is not None and row.blocked_until > uow.now()
    row.failures, row.last_failure_at, row.blocked_until = 0, None, None
    return was_locked
