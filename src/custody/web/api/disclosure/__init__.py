"""The disclosure API: clips and the case's disclosure schedule (shares and court bundles
join them here). One route module per use-case module of `custody.services.disclosure`."""

from fastapi import APIRouter

from custody.web.api.disclosure import clips, schedule

router = APIRouter(tags=["disclosure"])
for area in (clips, schedule):
    router.include_router(area.router)
