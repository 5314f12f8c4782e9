"""The API's documentation page (/api/v1/docs): Swagger UI, served by us, offline.

FastAPI's own page loads Swagger UI from a CDN and starts it with an inline script, so it is
blank on a police network without the internet and would need a weaker policy than the
portal's. This page is the portal's kind: its CSS and JavaScript come from this server
alone (the Swagger UI build that the swagger-ui-py package ships, Apache-2.0, and our
`static/api-docs.js` to start it), under the same Content-Security-Policy but for one
word: images may also be `data:` URLs, which Swagger UI's stylesheet draws its icons with
(an image runs no script; scripts, styles and connections stay 'self' only).
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse

from custody.domain.errors import NotFound
from custody.web.guard import PUBLIC, access
from custody.web.portal.pages import PAGE_HEADERS

# The files of Swagger UI's build the page uses, and their media types: nothing else of the
# package's folder is served.
ASSETS = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "text/javascript"}
# The portal's headers, with Swagger UI's icons (data: URLs in its CSS) allowed as images.
DOCS_HEADERS = {
    **PAGE_HEADERS,
    "Content-Security-Policy": PAGE_HEADERS["Content-Security-Policy"].replace(
        "img-src 'self';", "img-src 'self' data:;"
    ),
}
# The same build for every request until Custody is upgraded: a browser may keep it a day.
ASSET_HEADERS = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Custody API</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="{docs}/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi="{openapi}"></div>
<script src="{docs}/assets/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body>
</html>
"""


def swagger_ui_dir() -> Path:
    """The folder of Swagger UI's build in the installed swagger-ui-py package (found without
    importing the package, which would bring in its web-framework handlers)."""
    spec = find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed: pip install custody's dependencies")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def install(app: FastAPI, api: str) -> None:
    """Serve the documentation page at `{api}/docs` and its assets beneath it (public: the
    OpenAPI document it shows is public too)."""
    docs, assets = f"{api}/docs", swagger_ui_dir()
    html = PAGE.format(docs=docs, openapi=app.openapi_url)

    @app.get(docs, include_in_schema=False, openapi_extra=access(PUBLIC))
    def api_docs() -> HTMLResponse:
        return HTMLResponse(html, headers=DOCS_HEADERS)

    @app.get(f"{docs}/assets/{{name}}", include_in_schema=False, openapi_extra=access(PUBLIC))
    def api_docs_asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise NotFound(f"no asset {name}")
        return FileResponse(assets / name, media_type=ASSETS[name], headers=ASSET_HEADERS)
