"""Password resets: nobody sets another person's password.

An administrator issues a one-time reset code for a person (shown once, kept only as its
SHA-256, valid for `RESET_LIFETIME`, single use; a newer one ends the older); the person
completes it with a password of their choosing. Completing it ends every session and API
token of theirs, signs nobody in, and both steps are audited.
"""

from __future__ import annotations

from sqlalchemy import select

from custody.db.models import User
from custody.db.models.users import PasswordReset
from custody.domain.access import SystemAction
from custody.domain.actor import Actor
from custody.domain.errors import NotAuthenticated
from custody.domain.principal import Principal
from custody.services.access import require_role
from custody.services.identity.answers import IssuedReset
from custody.services.identity.reset_codes import INSTALLATION, issue_in
from custody.services.identity.reset_codes import RESET_LIFETIME as RESET_LIFETIME
from custody.services.identity.reset_codes import RESET_PREFIX as RESET_PREFIX
from custody.services.identity.tokens import token_hash
from custody.services.identity.users import (
    check_password,
    new_password,
    principal_of,
    user_named,
)
from custody.services.system import System

# The same answer for every code that does not work: it says nothing of who or why.
UNUSABLE = "this reset code is unknown, used or expired"


def issue_reset(
    system: System, principal: Principal, username: str, *, actor: Actor | None = None
) -> IssuedReset:
    """An administrator issues a one-time reset for a person; any older one of theirs ends.

    The person's present password, sessions and tokens stay as they are until they complete
    it (to shut them out now, disable them or end their sessions)."""
    who = actor or principal.actor()
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.MANAGE_USERS, who)
        issued = issue_in(uow, user_named(uow, username), principal.username, who)
        uow.commit()
        return issued


def complete_reset(system: System, code: str, password: str, actor: Actor) -> None:
    """The person sets their own password with a reset code; the code is spent, every session
    and token of theirs ends, and nobody is signed in. A code that is unknown, used, expired
    or superseded, or whose person is disabled, is refused alike (audited, but for a code
    that was never issued)."""
    check_password(password)
    with system.unit_of_work() as uow:
        found = uow.session.execute(
            select(PasswordReset, User)
            .join(User, User.id == PasswordReset.user_id)
            .where(PasswordReset.code_hash == token_hash(code))
            .with_for_update()
        ).one_or_none()
        if found is None:
            # Not audited: anyone may post a made-up code, and each would be an event.
            raise NotAuthenticated(UNUSABLE)
        now = uow.now()
        if (
            found[0].ended_at is not None
            or found[0].expires_at <= now
            or found[1].disabled_at is not None
        ):
            uow.audit(
                "user:password:reset",
                actor,
                object_type="user",
                object_id=found[1].username,
                allowed=False,
                reason=UNUSABLE,
            )
            uow.commit()
            raise NotAuthenticated(UNUSABLE)
        reset, user = found
        reset.ended_at = now
        who = principal_of(user).actor(actor.address, actor.user_agent)
        new_password(uow, user, password, "user:password:reset", who)
        # Whoever issued the code could have set this password (see `domain.access.Standing`).
        user.password_from = None if reset.issued_by == INSTALLATION else reset.issued_by
        uow.commit()
