"""The evidence API: categories and categorising, annotations, evidence flags, cases and holds.

One route module per use-case module of `custody.services.evidence`, so that a URL leads
to one of each; `router` gathers them for the app.
"""

# No `from __future__ import annotations` here: it would bind the name `annotations` in this
# package, and `from custody.web.api.evidence import annotations` would then get the
# __future__ feature instead of the route module.
from fastapi import APIRouter

from custody.web.api.evidence import annotations, cases, categories, complaints, flags, holds

router = APIRouter(tags=["evidence"])
for area in (categories, annotations, flags, cases, holds, complaints):
    router.include_router(area.router)
