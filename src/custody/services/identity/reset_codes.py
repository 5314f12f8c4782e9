"""One-time reset codes: made in the unit of work of the use case that issues one.

Shared by `resets.issue_reset` (an administrator helps someone who forgot their password)
and `users.create_user` (a new person sets their first password themselves): only the
code's SHA-256 is kept, it works once, until `RESET_LIFETIME`, and a newer one ends any
older one of the same person.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from custody.db.models import User
from custody.db.models.users import PasswordReset
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.services.identity.answers import IssuedReset
from custody.services.identity.secret_tokens import new_token, token_hash
from custody.services.system import UnitOfWork

RESET_PREFIX = "cpr_"
RESET_LIFETIME = timedelta(hours=24)
# Who issued a code the installation made (`custody init`): no username starts with "-".
INSTALLATION = "-"


def issue_in(uow: UnitOfWork, user: User, issued_by: str, actor: Actor) -> IssuedReset:
    """A new reset code for `user`, ending any older one; audited as `actor`'s, not committed."""
    now = uow.now()
    uow.session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.ended_at.is_(None))
        .values(ended_at=now)
    )
    code = new_token(RESET_PREFIX)
    expires = now + RESET_LIFETIME
    row = PasswordReset(
        user_id=user.id,
        code_hash=token_hash(code),
        issued_by=issued_by,
        created_at=now,
        expires_at=expires,
    )
    uow.session.add(row)
    uow.session.flush()
    uow.audit(
        "admin:user:password_reset",
        actor,
        object_type="user",
        object_id=user.username,
        details={"reset": row.id, "expires_at": isoformat(expires)},
    )
    return IssuedReset(username=user.username, code=code, expires_at=isoformat(expires))


def pending_until(uow: UnitOfWork, user_ids: list[int]) -> dict[int, datetime]:
    """Until when each of these people has a reset code that still works (if they have)."""
    if not user_ids:
        return {}
    now = uow.now()
    rows = uow.session.execute(
        select(PasswordReset.user_id, PasswordReset.expires_at).where(
            PasswordReset.user_id.in_(user_ids),
            PasswordReset.ended_at.is_(None),
            PasswordReset.expires_at > now,
        )
    ).all()
    return {user_id: expires for user_id, expires in rows}
