"""Typed dependencies: the system, the calling user or dock, and who to audit as."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from custody.audit import Actor
from custody.domain.errors import NotAuthenticated
from custody.services import fleet, users
from custody.services.fleet import DockIdentity
from custody.services.system import System
from custody.services.users import Principal


def get_system(request: Request) -> System:
    system: System = request.app.state.system
    return system


SystemDep = Annotated[System, Depends(get_system)]


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("send a bearer token: Authorization: Bearer <token>")
    return token.strip()


async def current_user(request: Request, system: SystemDep) -> Principal:
    token = _bearer(request)
    return await run_in_threadpool(users.authenticate_token, system, token)


async def current_dock(request: Request, system: SystemDep) -> DockIdentity:
    token = _bearer(request)
    return await run_in_threadpool(fleet.authenticate_dock, system, token)


CurrentUser = Annotated[Principal, Depends(current_user)]
CurrentDock = Annotated[DockIdentity, Depends(current_dock)]


def client_actor(request: Request, name: str) -> Actor:
    address = request.client.host if request.client else None
    return Actor(name, address, request.headers.get("user-agent"))


def user_actor(request: Request, principal: Principal) -> Actor:
    return client_actor(request, f"user:{principal.username}")


def dock_actor(request: Request, dock: DockIdentity) -> Actor:
    return client_actor(request, f"dock:{dock.name}")
