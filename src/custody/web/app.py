"""The FastAPI application for a built System."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from custody import __version__
from custody.domain.errors import NotReady
from custody.domain.manifest import MAX_MANIFEST_BYTES
from custody.services import readiness
from custody.services.access import cases_read_once
from custody.services.fleet import importing
from custody.services.system import System
from custody.web import auth, docs, errors, openapi, portal, recipient
from custody.web.api import (
    audit,
    disclosure,
    disclosure_bundles,
    disclosure_shares,
    evidence,
    fleet,
    identity,
    ingest,
    recordings,
    redaction,
    retention,
    speech,
    subject_access,
)
from custody.web.deps import SystemDep
from custody.web.errors import errors_for
from custody.web.guard import PUBLIC, access
from custody.web.limits import BodyLimit, storable_input
from custody.web.portal import rollout as rollout_page
from custody.web.tus import MethodOverride

API = "/api/v1"


class Health(BaseModel):
    """The server answers, and which version of Custody it runs."""

    status: str
    version: str


class CasesReadOnce:
    """Each request reads the cases its person works on once, however many use cases it
    calls (`services.access.cases_read_once`): a page's every statement is a round trip."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with cases_read_once():
            await self.app(scope, receive, send)


def create_app(system: System) -> FastAPI:
    """The whole HTTP surface over one System; all state lives in the database and store."""
    app = FastAPI(
        title="Custody",
        version=__version__,
        summary="Body-worn video evidence: ingest, chain of custody, retention, audit.",
        openapi_url=f"{API}/openapi.json",
        # Our own page (web/docs.py): FastAPI's loads Swagger UI from a CDN.
        docs_url=None,
        redoc_url=None,
        # Before any route's own code: nothing a database column cannot hold gets in.
        dependencies=[Depends(storable_input)],
    )
    # Every route reads the system from here (`deps.get_system`) and none keeps its own, so
    # an application may be handed another one: the tests lend one to many systems.
    app.state.system = system
    # Outermost last: the method override decides what the body bound sees (a tus PATCH
    # sent as POST streams like any PATCH).
    app.add_middleware(
        BodyLimit,
        limits={f"{API}/fleet/import": importing.MAX_BYTES},
        prefixed=[("PUT", f"{API}/manifests/", MAX_MANIFEST_BYTES)],
        unbounded=[("PATCH", f"{API}/uploads/")],
    )
    app.add_middleware(MethodOverride, prefix=f"{API}/uploads")
    app.add_middleware(CasesReadOnce)
    errors.install(app)
    openapi.install(app, API)
    docs.install(app, API)
    auth.install(app)
    app.include_router(ingest.router, prefix=API)
    app.include_router(recordings.router, prefix=API)
    app.include_router(evidence.router, prefix=API)
    app.include_router(disclosure.router, prefix=API)
    app.include_router(retention.router, prefix=API)
    app.include_router(identity.router, prefix=API)
    app.include_router(audit.router, prefix=API)
    app.include_router(fleet.router, prefix=API)
    app.include_router(disclosure_shares.router, prefix=API)
    app.include_router(subject_access.router, prefix=API)
    app.include_router(disclosure_bundles.router, prefix=API)
    app.include_router(redaction.router, prefix=API)
    app.include_router(speech.router, prefix=API)
    app.include_router(auth.router)
    app.include_router(rollout_page.router)
    # People outside the force, by a share's link: pages of their own, nothing else.
    app.include_router(recipient.router)
    portal.install(app)

    @app.get(f"{API}/health", tags=["system"], response_model=Health, openapi_extra=access(PUBLIC))
    def health() -> Health:
        return Health(status="ok", version=__version__)

    @app.get(
        f"{API}/ready",
        tags=["system"],
        response_model=Health,
        openapi_extra=access(PUBLIC),
        responses=errors_for(NotReady),
    )
    def ready(system: SystemDep) -> Health:
        """For a load balancer's health check: 200 when this node can serve, else 503."""
        readiness.check_ready(system)
        return Health(status="ready", version=__version__)

    return app
