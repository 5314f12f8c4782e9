"""Bearer secrets, shown once and stored only as SHA-256: docks' and people's. People's
API tokens are issued here by each person for themselves alone (nobody mints a token that
acts as someone else, administrators included); listed and revoked by their owner, and by
those who manage users; and a request's token is turned back into its person."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from custody.db.models import ApiToken, User
from custody.domain.access import SystemAction
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import InvalidInput, NotAuthenticated, NotFound
from custody.domain.principal import Principal
from custody.services.access import require_role
from custody.services.identity.answers import IssuedToken, TokenView

# Re-exported: where the fleet and sessions have always found them.
from custody.services.identity.secret_tokens import new_token as new_token
from custody.services.identity.secret_tokens import token_hash as token_hash
from custody.services.identity.users import own_user, principal_of, user_named
from custody.services.system import System, UnitOfWork

DOCK_TOKEN_PREFIX = "cdk_"
USER_TOKEN_PREFIX = "cut_"
# The ceiling of any configured cap (`CUSTODY_TOKEN_MAX_DAYS`, 90 days unless a force says).
MAX_TOKEN_DAYS = 3650


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
        user = own_user(uow, principal)
        issued = _issue(
            uow,
            user,
            name,
            lifetime,
            system.settings.token_max_days,
            actor or principal.actor(),
            "user:token:issue",
        )
        uow.commit()
        return issued


def _issue(
    uow: UnitOfWork,
    user: User,
    name: str,
    lifetime: timedelta | None,
    max_days: int,
    actor: Actor,
    tag: str,
) -> IssuedToken:
    # Every person's token expires: one that never did would outlive its leak for ever.
    if lifetime is None or not timedelta(0) < lifetime <= timedelta(days=max_days):
        raise InvalidInput(f"a token lives between a moment and {max_days} days")
    if len(name) > 120:
        raise InvalidInput("a token's name is at most 120 characters")
    secret = new_token(USER_TOKEN_PREFIX)
    now = uow.now()
    row = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=token_hash(secret),
        created_at=now,
        expires_at=now + lifetime,
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
        require_role(uow, principal, SystemAction.MANAGE_USERS, actor or principal.actor())
        return _tokens(uow, None if username is None else user_named(uow, username).id)


def my_tokens(system: System, principal: Principal) -> list[TokenView]:
    """The signed-in person's own API tokens, newest first; never their secrets."""
    with system.unit_of_work() as uow:
        return _tokens(uow, own_user(uow, principal).id)


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
        require_role(uow, principal, SystemAction.MANAGE_USERS, who)
        revoked = _revoke(uow, token_id, username, who, "admin:token:revoke")
        uow.commit()
        return revoked


def revoke_my_token(
    system: System, principal: Principal, token_id: int, *, actor: Actor | None = None
) -> TokenView:
    """The signed-in person revokes one of their own tokens; anyone else's is "no token"."""
    with system.unit_of_work() as uow:
        owner = own_user(uow, principal).username
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
