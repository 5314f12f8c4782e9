"""The review portal: server-rendered pages over the same services as the JSON API.

One module per area (home, footage, search, recording, cases, retention, fleet,
admin), each an APIRouter whose routes declare their access rule like the API's;
`pages` holds what they share. `install` adds them and the portal's own static files
(our CSS and a little JavaScript) to the app.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from custody.web.guard import PUBLIC, mark
from custody.web.portal import (
    admin,
    audit,
    bundles,
    cameras,
    cases,
    category_rules,
    complaints,
    compliance,
    disclosure,
    fleet,
    footage,
    holds,
    home,
    recording,
    redaction,
    retention,
    search,
    shares,
    speech,
    subject_access,
)
from custody.web.portal.pages import STATIC

router = APIRouter(include_in_schema=False)
for area in (
    home,
    footage,
    search,
    recording,
    disclosure,
    redaction,
    speech,
    cases,
    shares,
    bundles,
    holds,
    complaints,
    subject_access,
    compliance,
    retention,
    fleet,
    cameras,
    audit,
    admin,
    category_rules,
):
    router.include_router(area.router)


def install(app: FastAPI) -> None:
    """Add the portal's pages and mount its static files at /static (public: no data)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    mark(app.routes[-1], PUBLIC)
