"""`/`: a signed-in person goes to the page their role starts the day on."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from custody.web.guard import SELF, access
from custody.web.portal.pages import PortalRoute, PortalUser, start_page

router = APIRouter(route_class=PortalRoute, include_in_schema=False)


@router.get("/", openapi_extra=access(SELF))
async def home(user: PortalUser) -> RedirectResponse:
    return RedirectResponse(start_page(user), status_code=303)
