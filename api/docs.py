"""The API docs (/docs, /redoc) served from local copies of Swagger UI and ReDoc, under the CSP.

FastAPI's own pages load both from a CDN, which an intranet machine cannot reach and which the
Content-Security-Policy would have to trust. The assets come from the ``fastapi-offline``
package; the pages are FastAPI's, with the CSP nonce on their one inline script (FastAPI writes
it from the app's title and URLs, no request data).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.security_headers import csp_nonce

DOCS_ASSET_DIR = Path(str(files("fastapi_offline") / "static"))
DOCS_ASSET_URL = "/static/docs"
DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


def _with_nonce(page: HTMLResponse, request: Request) -> HTMLResponse:
    nonce = csp_nonce(request)
    if not nonce:
        return page
    body = bytes(page.body).replace(b"<script>", f'<script nonce="{nonce}">'.encode())
    return HTMLResponse(body, status_code=page.status_code)


def install_docs(app: FastAPI) -> None:
    """Serve the docs assets and the three docs pages (build ``app`` with docs_url=None)."""
    app.mount(DOCS_ASSET_URL, StaticFiles(directory=DOCS_ASSET_DIR), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    def swagger_ui(request: Request) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
            swagger_js_url=f"{DOCS_ASSET_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSET_URL}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSET_URL}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        return _with_nonce(page, request)

    def oauth2_redirect(request: Request) -> HTMLResponse:
        return _with_nonce(get_swagger_ui_oauth2_redirect_html(), request)

    def redoc(request: Request) -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{DOCS_ASSET_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSET_URL}/favicon.png",
            with_google_fonts=False,
        )
        return _with_nonce(page, request)

    app.add_route(DOCS_URL, swagger_ui, include_in_schema=False)
    app.add_route(OAUTH2_REDIRECT_URL, oauth2_redirect, include_in_schema=False)
    app.add_route(REDOC_URL, redoc, include_in_schema=False)
