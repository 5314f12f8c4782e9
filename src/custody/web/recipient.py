"""The pages of a share's recipient, someone outside the force
(`services/disclosure/recipients.py`).

They are reached by the link in the recipient's e-mail, `/shared/{token}`, and by nothing
else: no portal session, no portal chrome, no link to any other page of Custody. The
recipient's session cookie is scoped to the link's own path, so the browser never sends
it anywhere else, and no other route of Custody reads it. Every answer is uncached and
sends no referrer: the token is in the address, and must not leave it.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from custody.domain.actor import Actor
from custody.domain.errors import CustodyError, NotAuthenticated, NotPermitted, TooManySignIns
from custody.domain.shares import ShareEnded
from custody.services.disclosure import receipts, recipients
from custody.web.deps import SystemDep, client_actor, is_https
from custody.web.errors import error_response, status_for
from custody.web.guard import PUBLIC, access
from custody.web.media import footage_answer, parse_range
from custody.web.portal.pages import PAGE_HEADERS, templates

SHARE_COOKIE = "custody_share"
CSRF_FIELD = "csrf_token"
# The portal's strict headers, with no referrer at all (the token is in the address) and
# nothing kept by any cache or search engine.
RECIPIENT_HEADERS = {
    **PAGE_HEADERS,
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Robots-Tag": "noindex, nofollow",
}


def _wants_page(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = templates.get_template(f"recipient/{template}").render(**context)
    return HTMLResponse(html, status_code=status, headers=RECIPIENT_HEADERS)


def _token_of(request: Request) -> str:
    return str(request.path_params.get("token", ""))


class RecipientRoute(APIRoute):
    """Refusals as the recipient's own pages (or JSON for a player or a script); an ended
    link is the same page whatever the reason, and a missing session goes back to the code."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except ShareEnded as exc:
                if _wants_page(request):
                    return page("ended.html", 404, title="This link has ended")
                response = error_response(404, exc.code, exc.message)
            except NotAuthenticated as exc:
                if _wants_page(request):
                    return RedirectResponse(
                        f"/shared/{_token_of(request)}",
                        status_code=303,
                        headers=RECIPIENT_HEADERS,
                    )
                response = error_response(401, exc.code, exc.message)
            except CustodyError as exc:
                status = status_for(exc)
                if _wants_page(request):
                    return page(
                        "problem.html",
                        status,
                        title="That did not work",
                        message=exc.message[:1].upper() + exc.message[1:],
                        token=_token_of(request),
                    )
                wait = (
                    {"Retry-After": str(exc.retry_after_seconds)}
                    if isinstance(exc, TooManySignIns)
                    else None
                )
                response = error_response(status, exc.code, exc.message, wait)
            for name, value in RECIPIENT_HEADERS.items():
                response.headers.setdefault(name, value)
            response.headers["Referrer-Policy"] = "no-referrer"
            return response

        return handler


router = APIRouter(route_class=RecipientRoute, include_in_schema=False)


def _actor(request: Request) -> Actor:
    # Named for the share by the service; here only where the request came from.
    return client_actor(request, "recipient")


def _secret(request: Request) -> str | None:
    return request.cookies.get(SHARE_COOKIE)


@router.get("/shared/{token}", openapi_extra=access(PUBLIC))
async def shared(token: str, request: Request, system: SystemDep) -> Response:
    """Their items, with a session of this share; otherwise the code step."""
    actor = _actor(request)
    secret = _secret(request)
    if secret:
        try:
            view = await run_in_threadpool(recipients.view_share, system, token, secret, actor)
            session = await run_in_threadpool(recipients.authenticate, system, token, secret, actor)
        except NotAuthenticated:
            pass
        else:
            return page(
                "items.html",
                title=f"Footage released to you: {view.case_reference}"
                if view.subject_access
                else f"Evidence shared with you: {view.case_reference}",
                view=view,
                token=token,
                csrf_token=session.csrf_token,
            )
    link = await run_in_threadpool(lambda: recipients.open_link(system, token, actor, visit=True))
    return page("code.html", title="Prove your e-mail address", link=link, token=token, error=None)


@router.post("/shared/{token}/code", openapi_extra=access(PUBLIC))
async def send_code(token: str, request: Request, system: SystemDep) -> Response:
    link = await run_in_threadpool(recipients.send_code, system, token, _actor(request))
    return page("code.html", title="Prove your e-mail address", link=link, token=token, error=None)


@router.post("/shared/{token}/verify", openapi_extra=access(PUBLIC))
async def verify(token: str, request: Request, system: SystemDep) -> Response:
    form = await request.form()
    code = str(form.get("code", ""))[:40]
    actor = _actor(request)
    try:
        started = await run_in_threadpool(recipients.prove_code, system, token, code, actor)
    except NotPermitted as exc:
        if not _wants_page(request):
            raise
        link = await run_in_threadpool(recipients.open_link, system, token, actor)
        return page(
            "code.html",
            403,
            title="Prove your e-mail address",
            link=link,
            token=token,
            error=exc.message[:1].upper() + exc.message[1:] + ".",
        )
    response = RedirectResponse(f"/shared/{token}", status_code=303, headers=RECIPIENT_HEADERS)
    response.set_cookie(
        SHARE_COOKIE,
        started.secret,
        path=f"/shared/{token}",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )
    return response


async def _media(
    token: str, item_id: int, request: Request, system: SystemDep, *, download: bool
) -> StreamingResponse:
    opened = await run_in_threadpool(
        lambda: recipients.open_item(
            system,
            token,
            _secret(request),
            item_id,
            _actor(request),
            parse_range(request.headers.get("range")),
            download=download,
        )
    )
    answer = footage_answer(opened.stream, opened.filename.removesuffix(".mp4"))
    answer.headers["Referrer-Policy"] = "no-referrer"
    return answer


@router.get("/shared/{token}/items/{item_id}/play", openapi_extra=access(PUBLIC))
async def play(token: str, item_id: int, request: Request, system: SystemDep) -> Response:
    return await _media(token, item_id, request, system, download=False)


@router.get("/shared/{token}/items/{item_id}/download", openapi_extra=access(PUBLIC))
async def download(token: str, item_id: int, request: Request, system: SystemDep) -> Response:
    return await _media(token, item_id, request, system, download=True)


@router.post("/shared/{token}/acknowledge", openapi_extra=access(PUBLIC))
async def acknowledge(token: str, request: Request, system: SystemDep) -> Response:
    actor = _actor(request)
    secret = _secret(request)
    session = await run_in_threadpool(recipients.authenticate, system, token, secret, actor)
    form = await request.form()
    if not hmac.compare_digest(str(form.get(CSRF_FIELD, "")), session.csrf_token):
        raise NotPermitted("this form is out of date: reload the page and try again")
    await run_in_threadpool(recipients.acknowledge, system, token, secret, actor)
    return RedirectResponse(f"/shared/{token}", status_code=303, headers=RECIPIENT_HEADERS)


@router.get("/shared/{token}/receipt.json", openapi_extra=access(PUBLIC))
async def receipt_json(token: str, request: Request, system: SystemDep) -> Response:
    document = await run_in_threadpool(
        recipients.receipt_document, system, token, _secret(request), _actor(request)
    )
    return Response(
        document,
        media_type="application/json",
        headers={**RECIPIENT_HEADERS, "Content-Disposition": 'inline; filename="receipt.json"'},
    )


@router.get("/shared/{token}/receipt.pdf", openapi_extra=access(PUBLIC))
async def receipt_pdf(token: str, request: Request, system: SystemDep) -> Response:
    document = await run_in_threadpool(
        recipients.receipt_document, system, token, _secret(request), _actor(request)
    )
    pdf = await run_in_threadpool(receipts.receipt_pdf, document)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={**RECIPIENT_HEADERS, "Content-Disposition": 'inline; filename="receipt.pdf"'},
    )
