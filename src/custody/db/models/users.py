"""People who use Custody, their API tokens, portal sessions and the sign-in throttle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from custody.db.base import Base
from custody.db.types import UTCDateTime


class User(Base):
    __tablename__ = "users"
    # One Custody user per external identity, so single sign-on finds exactly one person.
    __table_args__ = (UniqueConstraint("external_issuer", "external_subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str | None] = mapped_column(String(120))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), unique=True)
    # Null until the person sets one with the one-time code they were given.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # Who issued the one-time code the present password descends from (they could have set
    # it themselves; the person's own later change keeps it): null when set at installation.
    # Two administrators linked so are not two people for approvals (`domain.access`).
    password_from: Mapped[str | None] = mapped_column(String(120))
    # Issuer and subject of an external identity (OIDC), when there is one.
    external_issuer: Mapped[str | None] = mapped_column(String(300))
    external_subject: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class UserSession(Base):
    """A signed-in portal session; the cookie holds a secret, the database only its hash."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Sent back in every form (a hidden field) and checked on every POST.
    csrf_token: Mapped[str] = mapped_column(String(64))
    # How the person proved who they are: "password" now, "oidc" when single sign-on comes.
    method: Mapped[str] = mapped_column(String(16), default="password")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class SignInThrottle(Base):
    """What the sign-in throttle remembers of one account or one address, on every node alike.

    A try locks its rows, decides and counts itself before any password is hashed, so
    parallel tries queue here instead of all slipping under the limit.
    """

    __tablename__ = "sign_in_throttles"

    # "account:<username as typed, lower-cased>" (whether or not it exists) or "address:<ip>".
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    # Indexed, so that pruning rows whose failures are forgotten is a range scan.
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PasswordReset(Base):
    """A one-time code an administrator issues so that a person sets their own password.

    Only the code's hash is kept; it ends when used, when it expires, or when a newer one is
    issued for the same person. Completing it signs nobody in.
    """

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when it was used or superseded: a code works once, and only the newest.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RoleRequest(Base):
    """An administrator's request to give a person a role that sees footage force-wide (or
    manages users): it takes effect only when a second, different administrator approves."""

    __tablename__ = "role_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    requested_by: Mapped[str] = mapped_column(String(120))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # "approved" or "refused" once decided, by whom and when; null while pending.
    outcome: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
