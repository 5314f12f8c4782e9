"""What the identity use cases answer: users as administrators see them, a person's own
account, and API tokens (never a password hash; a token's secret only when it is issued).
Times are UTC ISO 8601 strings (`When`)."""

from __future__ import annotations

from custody.services.answers import Answer, When


class UserView(Answer):
    """A user as those who manage users see one."""

    username: str
    display_name: str
    role: str
    unit: str | None
    officer: str | None  # the warrant number of the linked officer
    has_password: bool
    single_sign_on: bool  # signs in through the force's identity provider
    created_at: When
    disabled_at: When | None
    # Until when a one-time reset code for them still works (none if there is none).
    reset_until: When | None = None
    # Until when sign-in to this account is held back after failed tries (none if it is not).
    locked_until: When | None = None


class Me(UserView):
    """Who a person is signed in as. Signed in with the portal's cookie, also the session's
    CSRF token (scripts on the portal's own pages send it back as X-CSRF-Token; other sites
    cannot read this answer) and when the session ends; with a bearer token, neither."""

    csrf_token: str | None = None
    session_ends_at: When | None = None


class TokenView(Answer):
    """An API token as its owner and administrators see it: never its secret."""

    id: int
    username: str
    name: str
    created_at: When
    expires_at: When | None
    revoked_at: When | None
    active: bool


class IssuedToken(TokenView):
    """A new API token with its secret, shown here once and never again."""

    token: str


class SessionsEnded(Answer):
    """How many portal sessions of a user ended."""

    ended: int


class IssuedReset(Answer):
    """A one-time password reset for a person: the code, shown here once, goes to them alone
    (in person, by the force's own channel); they complete it to set their own password."""

    username: str
    code: str
    expires_at: When


class CreatedUser(UserView):
    """A new user, and the one-time reset code with which they set their first password
    themselves (shown here once: the administrator hands it to them, never a password)."""

    reset: IssuedReset


class RoleRequestView(Answer):
    """A request to give a person a role that sees footage force-wide (or manages users):
    pending until a second administrator approves or refuses it."""

    id: int
    username: str
    role: str
    requested_by: str
    requested_at: When
    outcome: str | None  # "approved" or "refused"; none while pending
    decided_by: str | None
    decided_at: When | None
