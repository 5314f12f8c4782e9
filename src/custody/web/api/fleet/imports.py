"""`/fleet/import`: officers or cameras from a CSV file, every row or none."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from custody.domain.errors import Conflict, InvalidInput
from custody.services.fleet import importing
from custody.services.fleet.answers import ImportResult
from custody.web.api.fleet.rules import MANAGE, FleetManager, fleet_router
from custody.web.deps import SystemDep, user_actor
from custody.web.errors import TUS_HEADERS, errors_for

router = fleet_router()
CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/octet-stream")


@router.post(
    "/fleet/import",
    status_code=201,
    response_model=ImportResult,
    summary="Import officers or cameras from a CSV file (all rows or none)",
    openapi_extra={
        **MANAGE,
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
    },
    responses=errors_for(Conflict),
)
async def import_csv(
    request: Request, system: SystemDep, user: FleetManager
) -> ImportResult | JSONResponse:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in CSV_TYPES:
        raise InvalidInput("send the file as the body, with Content-Type: text/csv")
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > importing.MAX_BYTES:
        raise InvalidInput(f"a file is at most {importing.MAX_BYTES // (1024 * 1024)} MB")
    data = await request.body()
    try:
        return await run_in_threadpool(
            lambda: importing.import_csv(system, user, data, actor=user_actor(request, user))
        )
    except importing.ImportRefused as exc:
        # The refusal names every problem, row by row: more than the one-line error answer.
        return JSONResponse(
            {
                "error": {
                    "code": exc.code,
                    "message": exc.message,
                    "kind": exc.kind,
                    "rows": exc.rows,
                    "failures": [f.model_dump() for f in exc.failures],
                }
            },
            422,
            headers=TUS_HEADERS,
        )
