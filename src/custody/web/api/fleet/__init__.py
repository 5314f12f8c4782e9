"""The fleet API: officers, cameras and docks, assignment, CSV import, the roll-out and
alerts; and what docks say about cameras (reports, card checkouts) and themselves
(heartbeats).

People's routes declare `system:view_fleet` or `system:manage_fleet` and check it with a
`Permit` before anything else, so a wrong role hears 403, audited, whatever it sent; the
use cases ask the same door again (`custody.services.access`) for every other caller. Dock
routes take a dock token: a dock is not a person. One module per part of the fleet, each
leading to the use cases in `custody.services.fleet`.
"""

from __future__ import annotations

from fastapi import APIRouter

from custody.web.api.fleet import cameras, docks, health, imports, officers, rollout

router = APIRouter()
for part in (officers, cameras, docks, imports, rollout, health):
    router.include_router(part.router)
