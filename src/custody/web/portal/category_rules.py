"""`/admin/categories/{id}/retention`: an administrator changes how long a category keeps
footage, sees first what it would do to the recordings in it, then saves it.

The preview is `custody.services.evidence.category_preview` (nothing written), the save
`custody.services.evidence.categories.update_category`, the same as `custody categories
set --retention` and `PATCH /api/v1/categories/{id}`: audited with its effect, and every
recording in the category decided again at once (a hold, an open case or an evidence flag
still keeps what it keeps).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import SystemAction
from custody.domain.categories import NON_EVIDENTIAL_LIMIT_DAYS
from custody.domain.errors import Conflict, InvalidInput, NotFound
from custody.domain.principal import Principal
from custody.services.evidence import categories, category_preview
from custody.services.evidence.answers import CategoryPreview, CategoryView
from custody.services.evidence.categories import CategoryChanges
from custody.web.deps import Permit, SystemDep, user_actor
from custody.web.guard import access
from custody.web.portal.admin import admin_tabs
from custody.web.portal.forms import Form
from custody.web.portal.pages import PortalRoute, redirect, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
CategoryAdmin = Annotated[Principal, Depends(Permit(SystemAction.MANAGE_CATEGORIES))]
# The longest a category may keep footage by a number of days: a hundred years.
MOST_DAYS = 36600
LABELS = {"retention_days": "keep for", "reason": "reason"}


async def _category(system: SystemDep, category_id: int) -> CategoryView:
    found = await run_in_threadpool(
        lambda: categories.list_categories(system, include_retired=True)
    )
    for category in found:
        if category.id == category_id:
            return category
    raise NotFound(f"no category {category_id}")


def _changes(form: Form) -> CategoryChanges | None:
    """The retention typed in: a number of days, or kept until someone deletes it."""
    form.text("reason", limit=500)
    if form.values.get("keep") == "forever":
        return {"retention_days": None} if form.ok else None
    days = form.number(
        "retention_days",
        low=NON_EVIDENTIAL_LIMIT_DAYS,
        high=MOST_DAYS,
        what="the days kept",
    )
    if days is None and "retention_days" not in form.errors:
        form.errors["retention_days"] = (
            "Enter how many days footage is kept, or choose to keep it until deleted."
        )
    if not form.ok or days is None:
        return None
    return {"retention_days": int(days)}


async def _page(
    request: Request,
    system: SystemDep,
    user: Principal,
    category: CategoryView,
    *,
    form: Form | None = None,
    preview: CategoryPreview | None = None,
    again: bool = False,
) -> Response:
    values = form.values if form is not None else {}
    if not values:
        days = category.retention_days
        values = {"retention_days": "" if days is None else str(days)}
        if days is None:
            values["keep"] = "forever"
    errors = form.errors if form is not None else {}
    return render(
        request,
        "admin_category.html",
        user,
        status=400 if errors else 200,
        area="admin",
        title=f"Retention of {category.name}",
        tabs=admin_tabs(user),
        tab="/admin/categories",
        category=category,
        preview=preview,
        previewed=(
            None
            if preview is None
            else "forever"
            if preview.retention_days is None
            else str(preview.retention_days)
        ),
        again=again,
        values=values,
        errors=errors,
        labels=LABELS,
        least_days=NON_EVIDENTIAL_LIMIT_DAYS,
        most_days=MOST_DAYS,
    )


@router.get(
    "/admin/categories/{category_id}/retention",
    openapi_extra=access(SystemAction.MANAGE_CATEGORIES),
)
async def retention_form(
    category_id: int, request: Request, system: SystemDep, user: CategoryAdmin
) -> Response:
    return await _page(request, system, user, await _category(system, category_id))


@router.post(
    "/admin/categories/{category_id}/retention",
    openapi_extra=access(SystemAction.MANAGE_CATEGORIES),
)
async def change_retention(
    category_id: int, request: Request, system: SystemDep, user: CategoryAdmin
) -> Response:
    """Preview (`step=preview`, the default) or save (`step=save`) a category's retention; a
    save whose period is not the one previewed (`previewed`) is previewed instead."""
    category = await _category(system, category_id)
    data = await request.form()
    form = Form({key: str(value) for key, value in data.items() if key != "csrf_token"})
    changes = _changes(form)
    step = form.values.get("step", "preview")
    who = user_actor(request, user)
    if changes is None:
        return await _page(request, system, user, category, form=form)
    typed = "forever" if changes["retention_days"] is None else str(changes["retention_days"])
    # Saved only as previewed: a period changed after its preview is previewed again first.
    again = step == "save" and form.values.get("previewed") != typed
    try:
        if step != "save" or again:
            preview = await run_in_threadpool(
                lambda: category_preview.preview_category_change(
                    system, user, category_id, changes, who
                )
            )
            return await _page(
                request, system, user, category, form=form, preview=preview, again=again
            )
        reason = form.text("reason", limit=500)
        saved = await run_in_threadpool(
            lambda: categories.update_category(system, user, category_id, changes, reason, who)
        )
    except (InvalidInput, Conflict) as exc:
        form.errors["retention_days"] = exc.message[0].upper() + exc.message[1:]
        return await _page(request, system, user, category, form=form)
    moved = saved.dates_moved
    flash = (
        f"{saved.name} now keeps footage {saved.retention}: "
        f"{saved.recordings_decided_again} recording(s) decided again, "
        f"{moved} deletion date{'' if moved == 1 else 's'} moved."
    )
    return redirect(request, "/admin/categories", flash=flash)
