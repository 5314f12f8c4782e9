"""People and their tokens: `/me` for everyone, `/users` for administrators."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from custody.domain.access import ROLES, SystemAction
from custody.domain.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    NotPermitted,
    TooManySignIns,
)
from custody.domain.principal import Principal
from custody.services.identity import resets, roles, signin, tokens, users
from custody.services.identity.answers import (
    CreatedUser,
    IssuedReset,
    IssuedToken,
    Me,
    RoleRequestView,
    SessionsEnded,
    TokenView,
    UserView,
)
from custody.web.deps import CurrentUser, Permit, SystemDep, client_actor, user_actor
from custody.web.errors import errors_for
from custody.web.guard import PUBLIC, SELF, access

router = APIRouter(tags=["identity"])
Admin = Annotated[Principal, Depends(Permit(SystemAction.MANAGE_USERS))]
MANAGE_USERS = access(SystemAction.MANAGE_USERS)
ME = access(SELF)


class NewUser(BaseModel):
    # A password here is refused, not ignored: nobody chooses another person's password.
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=120)
    role: str = Field(description=f"one of: {', '.join(ROLES)}")
    display_name: str = Field(default="", max_length=200)
    unit: str | None = Field(default=None, max_length=120, description="borough / BCU, team")
    officer: str | None = Field(default=None, max_length=32, description="warrant number")


class UserChange(BaseModel):
    role: str | None = None
    unit: str | None = Field(default=None, max_length=120)
    display_name: str | None = Field(default=None, max_length=200)
    disabled: bool | None = None


class NewToken(BaseModel):
    name: str = Field(default="", max_length=120, description="what the token is for")
    days: int = Field(default=90, ge=1, le=tokens.MAX_TOKEN_DAYS)


class NewPassword(BaseModel):
    password: str
    current_password: str | None = Field(default=None, description="required for your own")


# --- a password reset, completed by its person ----------------------------------------


class ResetCompletion(BaseModel):
    code: str = Field(max_length=100, description="the one-time code an administrator issued")
    password: str = Field(description="your new password")


@router.post(
    "/password-resets",
    status_code=204,
    response_class=Response,
    summary="Set your own password with a one-time reset code (signs nobody in)",
    openapi_extra=access(PUBLIC),
    responses=errors_for(NotAuthenticated, InvalidInput),
)
async def complete_password_reset(
    body: ResetCompletion, request: Request, system: SystemDep
) -> Response:
    await run_in_threadpool(
        lambda: resets.complete_reset(
            system, body.code, body.password, client_actor(request, "anonymous")
        )
    )
    return Response(status_code=204)


# --- your own account --------------------------------------------------------------------


@router.get(
    "/me",
    response_model=Me,
    # The session's fields are there only when the portal's cookie carried the request.
    response_model_exclude_unset=True,
    summary="Who you are signed in as",
    openapi_extra=ME,
)
async def me(request: Request, user: CurrentUser, system: SystemDep) -> Me:
    portal = getattr(request.state, "portal_session", None)
    return await run_in_threadpool(signin.my_account, system, user, portal)


@router.put(
    "/me/password",
    status_code=204,
    summary="Change your password",
    openapi_extra=ME,
    # The present password is a guess like a sign-in's: wrong (403) or throttled (429).
    responses=errors_for(NotPermitted, TooManySignIns),
)
async def change_my_password(
    body: NewPassword, request: Request, user: CurrentUser, system: SystemDep
) -> Response:
    await run_in_threadpool(
        lambda: users.change_my_password(
            system,
            user,
            body.current_password or "",
            body.password,
            actor=user_actor(request, user),
        )
    )
    return Response(status_code=204)


@router.get(
    "/me/tokens",
    response_model=list[TokenView],
    summary="Your API tokens (never their secrets)",
    openapi_extra=ME,
)
async def my_tokens(user: CurrentUser, system: SystemDep) -> list[TokenView]:
    return await run_in_threadpool(tokens.my_tokens, system, user)


@router.post(
    "/me/tokens",
    status_code=201,
    response_model=IssuedToken,
    summary="A new API token for yourself (shown once)",
    openapi_extra=ME,
)
async def new_my_token(
    body: NewToken, request: Request, user: CurrentUser, system: SystemDep
) -> IssuedToken:
    return await run_in_threadpool(
        lambda: tokens.create_my_token(
            system,
            user,
            name=body.name,
            lifetime=timedelta(days=body.days),
            actor=user_actor(request, user),
        )
    )


@router.delete(
    "/me/tokens/{token_id}",
    response_model=TokenView,
    summary="Revoke one of your tokens",
    openapi_extra=ME,
)
async def revoke_my_token(
    token_id: int, request: Request, user: CurrentUser, system: SystemDep
) -> TokenView:
    return await run_in_threadpool(
        lambda: tokens.revoke_my_token(system, user, token_id, actor=user_actor(request, user))
    )


# --- everyone's, for administrators ------------------------------------------------------


@router.get(
    "/users", response_model=list[UserView], summary="Every user", openapi_extra=MANAGE_USERS
)
async def list_users(
    request: Request, admin: Admin, system: SystemDep, role: str | None = Query(None)
) -> list[UserView]:
    return await run_in_threadpool(
        lambda: users.list_users(system, admin, role=role, actor=user_actor(request, admin))
    )


@router.post(
    "/users",
    status_code=201,
    response_model=CreatedUser,
    summary="Add a user, who sets their own first password with the one-time code answered",
    description=(
        "Nobody chooses another person's password: the answer carries a one-time reset code "
        "(shown once) that the administrator hands to the person, who completes it at "
        "`POST /password-resets` with a password of their own within "
        f"{int(resets.RESET_LIFETIME.total_seconds() // 3600)} hours. A body with a "
        "`password` is refused."
    ),
    openapi_extra=MANAGE_USERS,
    responses=errors_for(Conflict, NotFound),
)
async def add_user(body: NewUser, request: Request, admin: Admin, system: SystemDep) -> CreatedUser:
    return await run_in_threadpool(
        lambda: users.create_user(
            system,
            admin,
            body.username,
            body.role,
            officer=body.officer,
            unit=body.unit,
            display_name=body.display_name,
            actor=user_actor(request, admin),
        )
    )


@router.get(
    "/users/{username}", response_model=UserView, summary="One user", openapi_extra=MANAGE_USERS
)
async def get_user(username: str, request: Request, admin: Admin, system: SystemDep) -> UserView:
    return await run_in_threadpool(
        lambda: users.get_user(system, admin, username, actor=user_actor(request, admin))
    )


@router.patch(
    "/users/{username}",
    response_model=UserView,
    summary="Change a user's role, unit or name, or disable them",
    openapi_extra=MANAGE_USERS,
    responses=errors_for(Conflict),
)
async def change_user(
    username: str, body: UserChange, request: Request, admin: Admin, system: SystemDep
) -> UserView:
    return await run_in_threadpool(
        lambda: users.update_user(
            system,
            admin,
            username,
            role=body.role,
            unit=body.unit,
            display_name=body.display_name,
            disabled=body.disabled,
            actor=user_actor(request, admin),
        )
    )


@router.post(
    "/users/{username}/password-resets",
    status_code=201,
    response_model=IssuedReset,
    summary="Issue a one-time password reset that the user completes (code shown once)",
    description=(
        "Nobody sets another person's password. The code goes to the person alone; they "
        "complete it at `POST /password-resets` within "
        f"{int(resets.RESET_LIFETIME.total_seconds() // 3600)} hours, once. "
        "A newer reset ends an older one."
    ),
    openapi_extra=MANAGE_USERS,
    responses=errors_for(NotFound),
)
async def issue_password_reset(
    username: str, request: Request, admin: Admin, system: SystemDep
) -> IssuedReset:
    return await run_in_threadpool(
        lambda: resets.issue_reset(system, admin, username, actor=user_actor(request, admin))
    )


@router.post(
    "/users/{username}/unlock",
    response_model=UserView,
    summary="Let a user held back after failed sign-ins sign in again at once",
    openapi_extra=MANAGE_USERS,
    responses=errors_for(NotFound),
)
async def unlock_user(username: str, request: Request, admin: Admin, system: SystemDep) -> UserView:
    return await run_in_threadpool(
        lambda: users.unlock_user(system, admin, username, actor=user_actor(request, admin))
    )


class RoleAsked(BaseModel):
    role: str = Field(description=f"one of: {', '.join(ROLES)}")


@router.post(
    "/users/{username}/role-requests",
    status_code=201,
    response_model=RoleRequestView,
    summary="Ask to give a user a role that sees footage force-wide (a second administrator "
    "approves)",
    openapi_extra=MANAGE_USERS,
    responses=errors_for(Conflict, NotFound),
)
async def request_role(
    username: str, body: RoleAsked, request: Request, admin: Admin, system: SystemDep
) -> RoleRequestView:
    return await run_in_threadpool(
        lambda: roles.request_role(
            system, admin, username, body.role, actor=user_actor(request, admin)
        )
    )


@router.get(
    "/role-requests",
    response_model=list[RoleRequestView],
    summary="Role requests, newest first (pending ones unless pending=false)",
    openapi_extra=MANAGE_USERS,
)
async def role_requests(
    request: Request, admin: Admin, system: SystemDep, pending: bool = True
) -> list[RoleRequestView]:
    return await run_in_threadpool(
        lambda: roles.list_role_requests(
            system, admin, pending=pending, actor=user_actor(request, admin)
        )
    )


@router.post(
    "/role-requests/{request_id}/approve",
    response_model=RoleRequestView,
    summary="Approve another administrator's role request (never your own)",
    openapi_extra=MANAGE_USERS,
    responses=errors_for(Conflict, NotFound),
)
async def approve_role(
    request_id: int, request: Request, admin: Admin, system: SystemDep
) -> RoleRequestView:
    return await run_in_threadpool(
        lambda: roles.decide_role_request(
            system, admin, request_id, approve=True, actor=user_actor(request, admin)
        )
    )


@router.post(
    "/role-requests/{request_id}/refuse",
    response_model=RoleRequestView,
    summary="Refuse a role request",
    openapi_extra=MANAGE_USERS,
    responses=errors_for(Conflict, NotFound),
)
async def refuse_role(
    request_id: int, request: Request, admin: Admin, system: SystemDep
) -> RoleRequestView:
    return await run_in_threadpool(
        lambda: roles.decide_role_request(
            system, admin, request_id, approve=False, actor=user_actor(request, admin)
        )
    )


@router.delete(
    "/users/{username}/sessions",
    response_model=SessionsEnded,
    summary="Sign a user out everywhere",
    openapi_extra=MANAGE_USERS,
)
async def end_sessions(
    username: str, request: Request, admin: Admin, system: SystemDep
) -> SessionsEnded:
    return await run_in_threadpool(
        lambda: users.end_sessions(system, admin, username, actor=user_actor(request, admin))
    )


@router.get(
    "/users/{username}/tokens",
    response_model=list[TokenView],
    summary="A user's API tokens",
    openapi_extra=MANAGE_USERS,
)
async def user_tokens(
    username: str, request: Request, admin: Admin, system: SystemDep
) -> list[TokenView]:
    return await run_in_threadpool(
        lambda: tokens.list_tokens(system, admin, username, actor=user_actor(request, admin))
    )


@router.delete(
    "/users/{username}/tokens/{token_id}",
    response_model=TokenView,
    summary="Revoke a user's token",
    openapi_extra=MANAGE_USERS,
)
async def revoke_user_token(
    username: str, token_id: int, request: Request, admin: Admin, system: SystemDep
) -> TokenView:
    return await run_in_threadpool(
        lambda: tokens.revoke_token(
            system, admin, token_id, username=username, actor=user_actor(request, admin)
        )
    )
