"""Administration: users and their roles, categories and their retention, dock tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import (
    ROLE_TITLES,
    ROLES,
    SystemAction,
    grant_needs_a_second_administrator,
    may,
)
from custody.domain.categories import (
    NON_EVIDENTIAL_LIMIT_DAYS,
    CategoryRule,
    parse_access_class,
)
from custody.domain.errors import Conflict, InvalidInput, NotFound, NotPermitted
from custody.domain.principal import Principal
from custody.services.answers import MAX_PAGE, Page
from custody.services.audit_trail import trail
from custody.services.evidence import categories
from custody.services.fleet import docks, registry, views
from custody.services.identity import resets, roles, users
from custody.services.identity.answers import IssuedReset
from custody.services.objects import fixity
from custody.web.deps import Permit, SystemDep, user_actor
from custody.web.guard import SELF, access
from custody.web.portal.forms import Form
from custody.web.portal.pages import (
    PortalRoute,
    PortalUser,
    admin_start,
    redirect,
    render,
    role_filter,
)

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
UserAdmin = Annotated[Principal, Depends(Permit(SystemAction.MANAGE_USERS))]
CategoryAdmin = Annotated[Principal, Depends(Permit(SystemAction.MANAGE_CATEGORIES))]
FleetAdmin = Annotated[Principal, Depends(Permit(SystemAction.MANAGE_FLEET))]
# Fixity is the footage's integrity as the audit log's checkpoints are the log's: object
# hashes and times, never which recording an object belongs to.
IntegrityChecker = Annotated[Principal, Depends(Permit(SystemAction.VERIFY_AUDIT))]
ACCESS_CLASSES = {
    "normal": "Normal: the officer, their team and case teams",
    "restricted": "Restricted: not re-categorised by the officer, no copies for supervisors",
    "confidential": "Confidential: case teams and professional standards only",
}
USER_LABELS = {
    "username": "username",
    "role": "role",
    "officer": "officer",
    "unit": "unit",
    "display_name": "name",
}
CATEGORY_LABELS = {
    "name": "name",
    "description": "description",
    "retention_days": "retention",
    "review_days": "review",
    "access_class": "access",
    "kind": "kind",
}


def admin_tabs(user: Principal) -> list[tuple[str, str]]:
    viewer = user.viewer()
    tabs = []
    for action, href, label in (
        (SystemAction.MANAGE_USERS, "/admin/users", "Users and roles"),
        (SystemAction.MANAGE_CATEGORIES, "/admin/categories", "Categories"),
        (SystemAction.MANAGE_FLEET, "/admin/docks", "Docks"),
        (SystemAction.VERIFY_AUDIT, "/admin/storage", "Storage"),
    ):
        if may(viewer, action):
            tabs.append((href, label))
    return tabs


def _title(role: str) -> str:
    """A role as a sentence says it: "professional standards"."""
    return ROLE_TITLES.get(role, role)


def _capital(message: str) -> str:
    return message[0].upper() + message[1:] if message else message


@router.get("/admin", openapi_extra=access(SELF))
async def admin(request: Request, system: SystemDep, user: PortalUser) -> Response:
    start = admin_start(user)
    if start is None:
        reason = "administration is for administrators and fleet managers"
        # Refused like any other system page: audited, then answered.
        await run_in_threadpool(
            trail.record_refusal,
            system,
            "user:system:administration",
            user_actor(request, user),
            reason,
        )
        raise NotPermitted(reason)
    return RedirectResponse(start, status_code=303)


# --- users -------------------------------------------------------------------------------


async def _users_page(
    request: Request,
    system: SystemDep,
    user: Principal,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    issued: tuple[IssuedReset, bool] | None = None,
) -> Response:
    """The users page; `issued` is a one-time code to show once (and whether it is a new
    user's first), never kept in a link or a cookie."""
    who = user_actor(request, user)
    found = await run_in_threadpool(lambda: users.list_users(system, user, actor=who))
    requests = await run_in_threadpool(
        lambda: roles.list_role_requests(system, user, pending=True, actor=who)
    )
    return render(
        request,
        "admin_users.html",
        user,
        status=400 if errors else 200,
        area="admin",
        title="Users and roles",
        tabs=admin_tabs(user),
        tab="/admin/users",
        people=found,
        roles={role: role_filter(role) for role in ROLES},
        wide={role for role in ROLES if grant_needs_a_second_administrator(role)},
        role_requests=requests,
        issued=issued,
        reset_hours=int(resets.RESET_LIFETIME.total_seconds() // 3600),
        errors=errors or {},
        values=values or {},
        labels=USER_LABELS,
    )


@router.get("/admin/users", openapi_extra=access(SystemAction.MANAGE_USERS))
async def list_users(request: Request, system: SystemDep, user: UserAdmin) -> Response:
    return await _users_page(request, system, user)


@router.post("/admin/users", openapi_extra=access(SystemAction.MANAGE_USERS))
async def create_user(request: Request, system: SystemDep, user: UserAdmin) -> Response:
    data = await request.form()
    form = Form({key: str(value) for key, value in data.items() if key != "csrf_token"})
    username = form.text("username", required="Choose a username.", limit=120)
    role = form.choice("role", {role: role for role in ROLES}, "a role")
    if role is None and "role" not in form.errors:
        form.errors["role"] = "Choose a role."
    officer = form.text("officer", limit=32)
    unit = form.text("unit", limit=120)
    display_name = form.text("display_name", limit=200) or ""
    made = None
    if form.ok:
        try:
            made = await run_in_threadpool(
                lambda: users.create_user(
                    system,
                    user,
                    username or "",
                    role or "",
                    officer=officer,
                    unit=unit,
                    display_name=display_name,
                    actor=user_actor(request, user),
                )
            )
        except NotPermitted as exc:  # a wide role: a second administrator must approve it
            form.errors["role"] = _capital(exc.message)
        except (InvalidInput, Conflict, NotFound) as exc:
            field = "officer" if "officer" in exc.message else "username"
            form.errors[field] = _capital(exc.message)
    if made is None:
        return await _users_page(request, system, user, errors=form.errors, values=form.values)
    # The code is shown once, on this page: no redirect that would lose it or carry it.
    return await _users_page(request, system, user, issued=(made.reset, True))


@router.post("/admin/users/{username}", openapi_extra=access(SystemAction.MANAGE_USERS))
async def update_user(
    username: str, request: Request, system: SystemDep, user: UserAdmin
) -> Response:
    data = await request.form()
    role = str(data["role"]) if "role" in data else None
    disabled = str(data["disabled"]) == "1" if "disabled" in data else None
    who = user_actor(request, user)
    asked = None
    try:
        if role is not None and grant_needs_a_second_administrator(role):
            # A role that sees footage force-wide is asked for; a second administrator gives it.
            asked = await run_in_threadpool(
                lambda: roles.request_role(system, user, username, role, actor=who)
            )
        else:
            await run_in_threadpool(
                lambda: users.update_user(
                    system, user, username, role=role, disabled=disabled, actor=who
                )
            )
    except (InvalidInput, Conflict, NotPermitted) as exc:
        return redirect(request, "/admin/users", flash=_capital(exc.message), kind="error")
    if asked is not None:
        done = (
            f"Asked for {username} to be {_title(asked.role)}: "
            "another administrator must approve it."
        )
    elif disabled is not None:
        state = "disabled: their sessions have ended" if disabled else "enabled again"
        done = f"{username} is {state}."
    else:
        done = f"{username} is now {role_filter(role or '')}."
    return redirect(request, "/admin/users", flash=done)


@router.post(
    "/admin/users/{username}/password-reset", openapi_extra=access(SystemAction.MANAGE_USERS)
)
async def issue_reset(
    username: str, request: Request, system: SystemDep, user: UserAdmin
) -> Response:
    issued = await run_in_threadpool(
        lambda: resets.issue_reset(system, user, username, actor=user_actor(request, user))
    )
    return await _users_page(request, system, user, issued=(issued, False))


@router.post("/admin/users/{username}/unlock", openapi_extra=access(SystemAction.MANAGE_USERS))
async def unlock_user(
    username: str, request: Request, system: SystemDep, user: UserAdmin
) -> Response:
    await run_in_threadpool(
        lambda: users.unlock_user(system, user, username, actor=user_actor(request, user))
    )
    return redirect(request, "/admin/users", flash=f"{username} may sign in again now.")


@router.post("/admin/role-requests/{request_id}", openapi_extra=access(SystemAction.MANAGE_USERS))
async def decide_role_request(
    request_id: int, request: Request, system: SystemDep, user: UserAdmin
) -> Response:
    data = await request.form()
    decision = str(data.get("decision", ""))
    if decision not in ("approve", "refuse"):
        return redirect(request, "/admin/users", flash="Choose to approve or refuse.", kind="error")
    try:
        done = await run_in_threadpool(
            lambda: roles.decide_role_request(
                system,
                user,
                request_id,
                approve=decision == "approve",
                actor=user_actor(request, user),
            )
        )
    except (Conflict, NotPermitted) as exc:
        return redirect(request, "/admin/users", flash=_capital(exc.message), kind="error")
    if done.outcome == "approved":
        flash = f"{done.username} is now {_title(done.role)}."
    else:
        flash = f"The role {_title(done.role)} for {done.username} was refused."
    return redirect(request, "/admin/users", flash=flash)


# --- categories --------------------------------------------------------------------------


async def _categories_page(
    request: Request,
    system: SystemDep,
    user: Principal,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    found = await run_in_threadpool(
        lambda: categories.list_categories(system, include_retired=True)
    )
    return render(
        request,
        "admin_categories.html",
        user,
        status=400 if errors else 200,
        area="admin",
        title="Categories",
        tabs=admin_tabs(user),
        tab="/admin/categories",
        categories=found,
        access_classes=ACCESS_CLASSES,
        errors=errors or {},
        values=values or {"kind": "evidential", "access_class": "normal"},
        labels=CATEGORY_LABELS,
    )


@router.get("/admin/categories", openapi_extra=access(SystemAction.MANAGE_CATEGORIES))
async def list_categories(request: Request, system: SystemDep, user: CategoryAdmin) -> Response:
    return await _categories_page(request, system, user)


def _rule(form: Form) -> CategoryRule | None:
    name = form.text("name", required="Name the category.", limit=80)
    description = form.text("description", limit=500) or ""
    kind = form.choice("kind", {"evidential": "", "non_evidential": ""}, "what it is for")
    access_class = form.choice("access_class", ACCESS_CLASSES, "who may see it") or "normal"
    keep_forever = form.values.get("keep") == "forever"
    review = form.number("review_days", low=1, high=3660, what="the review period in days")
    days: float | None = NON_EVIDENTIAL_LIMIT_DAYS
    if kind != "non_evidential" and not keep_forever:
        days = form.number(
            "retention_days", low=NON_EVIDENTIAL_LIMIT_DAYS, high=36600, what="the days kept"
        )
        if days is None and "retention_days" not in form.errors:
            form.errors["retention_days"] = (
                "Enter how many days footage is kept, or choose to keep it until deleted."
            )
    if kind != "non_evidential" and keep_forever:
        days = None
    if not form.ok or name is None:
        return None
    return CategoryRule(
        name=name,
        retention_days=None if days is None else int(days),
        review_days=None if review is None else int(review),
        access_class=parse_access_class(access_class),
        evidential=kind != "non_evidential",
        description=description,
    )


@router.post("/admin/categories", openapi_extra=access(SystemAction.MANAGE_CATEGORIES))
async def create_category(request: Request, system: SystemDep, user: CategoryAdmin) -> Response:
    data = await request.form()
    form = Form({key: str(value) for key, value in data.items() if key != "csrf_token"})
    rule = _rule(form)
    if rule is not None:
        try:
            await run_in_threadpool(
                categories.create_category, system, user, rule, user_actor(request, user)
            )
        except (InvalidInput, Conflict) as exc:
            field = "retention_days" if "retention" in exc.message else "name"
            form.errors[field] = _capital(exc.message)
    if rule is None or not form.ok:
        return await _categories_page(request, system, user, errors=form.errors, values=form.values)
    return redirect(request, "/admin/categories", flash=f"Category {rule.name} added.")


@router.post(
    "/admin/categories/{category_id}", openapi_extra=access(SystemAction.MANAGE_CATEGORIES)
)
async def retire_category(
    category_id: int, request: Request, system: SystemDep, user: CategoryAdmin
) -> Response:
    data = await request.form()
    retired = str(data.get("retired", "")) == "1"
    try:
        answer = await run_in_threadpool(
            categories.update_category,
            system,
            user,
            category_id,
            {"retired": retired},
            None,
            user_actor(request, user),
        )
    except (InvalidInput, Conflict) as exc:
        return redirect(request, "/admin/categories", flash=_capital(exc.message), kind="error")
    what = "retired: it can no longer be chosen" if retired else "can be chosen again"
    return redirect(request, "/admin/categories", flash=f"{answer.name} {what}.")


# --- docks -------------------------------------------------------------------------------


async def _docks_page(
    request: Request,
    system: SystemDep,
    user: Principal,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    new_token: tuple[str, str] | None = None,
) -> Response:
    found = await run_in_threadpool(
        lambda: views.list_docks(
            system,
            user,
            page=Page(limit=MAX_PAGE),
            actor=user_actor(request, user),
        )
    )
    return render(
        request,
        "admin_docks.html",
        user,
        status=400 if errors else 200,
        area="admin",
        title="Docks",
        tabs=admin_tabs(user),
        tab="/admin/docks",
        docks=found,
        errors=errors or {},
        values=values or {},
        new_token=new_token,
        labels={"name": "name", "station": "station", "bays": "bays"},
    )


@router.get("/admin/docks", openapi_extra=access(SystemAction.MANAGE_FLEET))
async def list_docks(request: Request, system: SystemDep, user: FleetAdmin) -> Response:
    return await _docks_page(request, system, user)


@router.post("/admin/docks", openapi_extra=access(SystemAction.MANAGE_FLEET))
async def add_dock(request: Request, system: SystemDep, user: FleetAdmin) -> Response:
    data = await request.form()
    form = Form({key: str(value) for key, value in data.items() if key != "csrf_token"})
    name = form.text("name", required="Name the dock, like Hackney-2.", limit=64)
    station = form.text("station", limit=120)
    bays = form.number("bays", low=1, high=64, what="the number of bays") or 8
    registered = None
    if form.ok:
        try:
            registered = await run_in_threadpool(
                lambda: registry.add_dock(
                    system,
                    user,
                    name or "",
                    station=station,
                    bays=int(bays),
                    actor=user_actor(request, user),
                )
            )
        except (InvalidInput, Conflict) as exc:
            form.errors["name"] = _capital(exc.message)
    if registered is None:
        return await _docks_page(request, system, user, errors=form.errors, values=form.values)
    # The token is shown once, on this page, and never again: no redirect that would lose it.
    new_token = (registered.name, registered.token)
    return await _docks_page(request, system, user, new_token=new_token)


@router.get("/admin/docks/{name}/revoke", openapi_extra=access(SystemAction.MANAGE_FLEET))
async def revoke_dock_form(
    name: str, request: Request, system: SystemDep, user: FleetAdmin
) -> Response:
    return await _revoke_page(request, system, user, name)


async def _revoke_page(
    request: Request,
    system: SystemDep,
    user: Principal,
    name: str,
    *,
    form: Form | None = None,
) -> Response:
    dock = await run_in_threadpool(
        lambda: docks.get_dock(system, user, name, actor=user_actor(request, user))
    )
    errors = form.errors if form is not None else {}
    return render(
        request,
        "admin_dock_revoke.html",
        user,
        status=400 if errors else 200,
        area="admin",
        title=f"Revoke {dock.name}",
        tabs=admin_tabs(user),
        tab="/admin/docks",
        dock=dock,
        values=form.values if form is not None else {},
        errors=errors,
        labels={"reason": "reason"},
        most_reason=docks.MAX_REASON,
    )


@router.post("/admin/docks/{name}/revoke", openapi_extra=access(SystemAction.MANAGE_FLEET))
async def revoke_dock(name: str, request: Request, system: SystemDep, user: FleetAdmin) -> Response:
    """Revoke a dock's token (docs/fleet.md): it uploads nothing more from this moment."""
    data = await request.form()
    form = Form({key: str(value) for key, value in data.items() if key != "csrf_token"})
    reason = form.text("reason", required="Say why the token is revoked.", limit=docks.MAX_REASON)
    if reason is not None:
        try:
            await run_in_threadpool(
                lambda: docks.revoke_dock(
                    system, user, name, reason=reason, actor=user_actor(request, user)
                )
            )
        except (InvalidInput, Conflict) as exc:
            form.errors["reason"] = _capital(exc.message)
    if not form.ok:
        return await _revoke_page(request, system, user, name, form=form)
    flash = (
        f"{name}'s token is revoked: the dock can upload nothing more until it is registered again."
    )
    return redirect(request, "/admin/docks", flash=flash)


# --- storage -----------------------------------------------------------------------------


@router.get("/admin/storage", openapi_extra=access(SystemAction.VERIFY_AUDIT))
async def storage(request: Request, system: SystemDep, user: IntegrityChecker) -> Response:
    found = await run_in_threadpool(
        lambda: fixity.standing(system, user, user_actor(request, user))
    )
    return render(
        request,
        "admin_storage.html",
        user,
        area="admin",
        title="Storage",
        tabs=admin_tabs(user),
        tab="/admin/storage",
        standing=found,
    )
