"""A case's court bundles in the portal: ask for one, watch its build, download it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import Action, SystemAction
from custody.domain.principal import Principal
from custody.services.disclosure import bundle_exports
from custody.services.evidence import cases
from custody.services.recordings.reading import RangeNotSatisfiable
from custody.web.deps import Permit, SystemDep, user_actor
from custody.web.guard import access
from custody.web.media import footage_answer, parse_range
from custody.web.portal.pages import PortalRoute, PortalUser, redirect, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
CaseViewer = Annotated[Principal, Depends(Permit(SystemAction.VIEW_CASES))]
BundleId = Annotated[str, Path(min_length=1, max_length=36)]
# While a bundle builds, its page reloads itself this often (no script needed).
REFRESH_SECONDS = 2


@router.get("/cases/{case_id}/bundles", openapi_extra=access(SystemAction.VIEW_CASES))
async def case_bundles(
    case_id: int, request: Request, system: SystemDep, user: CaseViewer
) -> Response:
    case = await run_in_threadpool(cases.get_case, system, user, case_id, user_actor(request, user))
    found = await run_in_threadpool(bundle_exports.case_bundles, system, user, case_id)
    building = any(bundle.state == "building" for bundle in found)
    return render(
        request,
        "bundles.html",
        user,
        area="cases",
        title=f"Court bundles of {case.reference}",
        case=case,
        bundles=found,
        refresh=REFRESH_SECONDS if building else None,
    )


@router.post("/cases/{case_id}/bundles", openapi_extra=access(Action.EXPORT))
async def ask(case_id: int, request: Request, system: SystemDep, user: PortalUser) -> Response:
    asked = await run_in_threadpool(
        bundle_exports.request_bundle, system, user, case_id, user_actor(request, user)
    )
    return redirect(
        request,
        f"/cases/{case_id}/bundles",
        flash=f"Court bundle asked for: it is being built ({asked.id}).",
    )


@router.get("/bundles/{bundle_id}/download", openapi_extra=access(Action.EXPORT))
async def download(
    bundle_id: BundleId, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    byte_range = parse_range(request.headers.get("range"))
    try:
        stream = await run_in_threadpool(
            lambda: bundle_exports.open_download(
                system, user, bundle_id, user_actor(request, user), byte_range
            )
        )
    except RangeNotSatisfiable as exc:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{exc.size}"})
    return footage_answer(stream, bundle_id, filename=f"court-bundle-{bundle_id}.zip")
