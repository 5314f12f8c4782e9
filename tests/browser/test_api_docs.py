"""The API documentation page works with no network: Swagger UI comes from our own server,
under the portal's Content-Security-Policy.

Chromium opens /api/v1/docs on a real `custody serve`; every request to a host other than
127.0.0.1 is blocked (and noted), as on a police network without the internet. Before,
the page loaded Swagger UI from a CDN and stayed blank.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, Route, expect

from custody.web.portal.pages import PAGE_HEADERS
from tests.conftest import ServerProcess, custody, free_port


@pytest.fixture(scope="module")
def server(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("docs") / "server"
    made = custody(data_dir, "init")
    assert made.returncode == 0, made.stderr
    started = ServerProcess(data_dir, free_port(), {})
    started.start()
    try:
        yield started
    finally:
        started.stop()


def test_the_api_documentation_renders_every_operation_offline(
    page: Page, server: ServerProcess, tmp_path: Path
) -> None:
    blocked: list[str] = []
    refused: list[str] = []

    def only_our_server(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("internetdisconnected")

    def note_refusals(message: ConsoleMessage) -> None:
        # Chromium reports what a Content-Security-Policy refused on the console.
        if "Content Security Policy" in message.text or message.type == "error":
            refused.append(message.text)

    page.context.route("**/*", only_our_server)
    page.on("console", note_refusals)
    page.on("pageerror", lambda error: refused.append(str(error)))

    page.goto(f"{server.url}/api/v1/docs")

    # Swagger UI read our OpenAPI document and drew an operation for each route in it.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Custody")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    document = httpx.get(f"{server.url}/api/v1/openapi.json").json()
    expected = sum(
        1
        for methods in document["paths"].values()
        for method in methods
        if method in ("get", "put", "post", "delete", "patch", "head", "options")
    )
    expect(operations).to_have_count(expected)
    expect(page.get_by_text("/api/v1/recordings/{recording_id}", exact=True).first).to_be_visible()
    # An operation opens, with its parameters and answers, all from the same document.
    page.locator(".opblock-summary").filter(has_text="/api/v1/health").first.click()
    expect(page.locator(".opblock.is-open .responses-wrapper")).to_be_visible()

    assert blocked == [], f"the page reached beyond our server: {blocked}"
    assert refused == [], f"the page's policy refused something, or it failed: {refused}"


def test_the_page_keeps_the_portals_policy_and_serves_only_swagger_uis_build(
    server: ServerProcess,
) -> None:
    page = httpx.get(f"{server.url}/api/v1/docs")
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    # The portal's policy; images may also be data: URLs (Swagger UI's icons).
    assert policy == PAGE_HEADERS["Content-Security-Policy"].replace(
        "img-src 'self';", "img-src 'self' data:;"
    )
    assert "script-src 'self';" in policy and "unsafe" not in policy
    assert "<script>" not in page.text  # no inline script: the policy would refuse it
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        answer = httpx.get(f"{server.url}/api/v1/docs/assets/{asset}")
        assert answer.status_code == 200 and len(answer.content) > 100_000
    # Nothing else of the package's folder (its editor, its sample pages) is served.
    for other in ("swagger-editor.js", "oauth2-redirect.html", "..%2Fcore.py"):
        answer = httpx.get(f"{server.url}/api/v1/docs/assets/{other}")
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"
