"""Court bundles over the API: ask for one, follow its build, download it in ranges
(`services/disclosure/bundle_exports.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from custody.domain.access import Action, SystemAction
from custody.domain.errors import Conflict, NotFound
from custody.domain.principal import Principal
from custody.services.disclosure import bundle_exports
from custody.services.disclosure.bundle_answers import BundleStatus
from custody.services.recordings.reading import RangeNotSatisfiable
from custody.web.deps import CurrentUser, Permit, SystemDep, user_actor
from custody.web.errors import error_response, errors_for
from custody.web.guard import access
from custody.web.media import footage_answer, parse_range

router = APIRouter(tags=["disclosure"])
CaseViewer = Annotated[Principal, Depends(Permit(SystemAction.VIEW_CASES))]
BundleId = Annotated[str, Path(min_length=1, max_length=36, description="the bundle's id")]


@router.post(
    "/cases/{case_id}/bundles",
    status_code=202,
    response_model=BundleStatus,
    summary="Ask for the case's court bundle (BagIt zip); a background job builds it",
    responses=errors_for(NotFound, Conflict),
    openapi_extra=access(Action.EXPORT),
)
async def ask(case_id: int, request: Request, system: SystemDep, user: CurrentUser) -> BundleStatus:
    return await run_in_threadpool(
        bundle_exports.request_bundle, system, user, case_id, user_actor(request, user)
    )


@router.get(
    "/cases/{case_id}/bundles",
    response_model=list[BundleStatus],
    summary="The case's court bundles, newest first, with how far each build is",
    responses=errors_for(NotFound),
    openapi_extra=access(SystemAction.VIEW_CASES),
)
async def case_bundles(case_id: int, system: SystemDep, user: CaseViewer) -> list[BundleStatus]:
    return await run_in_threadpool(bundle_exports.case_bundles, system, user, case_id)


@router.get(
    "/bundles/{bundle_id}",
    response_model=BundleStatus,
    summary="A court bundle: building (with progress), complete, failed or stopped",
    responses=errors_for(NotFound),
    openapi_extra=access(SystemAction.VIEW_CASES),
)
async def status(bundle_id: BundleId, system: SystemDep, user: CaseViewer) -> BundleStatus:
    return await run_in_threadpool(bundle_exports.bundle_status, system, user, bundle_id)


@router.get(
    "/bundles/{bundle_id}/download",
    summary="A complete court bundle's zip (Range requests resume a download)",
    response_class=StreamingResponse,
    responses={
        200: {"description": "the whole zip", "content": {"application/zip": {}}},
        206: {"description": "the range asked for", "content": {"application/zip": {}}},
        **errors_for(NotFound, Conflict, 416),
    },
    openapi_extra=access(Action.EXPORT),
)
async def download(
    bundle_id: BundleId, request: Request, system: SystemDep, user: CurrentUser
) -> Response:
    byte_range = parse_range(request.headers.get("range"))
    try:
        stream = await run_in_threadpool(
            lambda: bundle_exports.open_download(
                system, user, bundle_id, user_actor(request, user), byte_range
            )
        )
    except RangeNotSatisfiable as exc:
        response = error_response(416, exc.code, exc.message)
        response.headers["Content-Range"] = f"bytes */{exc.size}"
        return response
    return footage_answer(stream, bundle_id, filename=f"court-bundle-{bundle_id}.zip")
