"""Security headers on every response: a nonce-based Content-Security-Policy on pages, and more.

One pure ASGI middleware, so maps, Jinja pages, the API docs, static files and error responses
all get them, whichever part of the app produced the response. Each request gets a fresh CSP
nonce in ``request.state``; the code that writes a page puts it on the page's own inline scripts
(``maps.assets.render``, ``api.docs``), so a script that slipped into the page through data has
no nonce and does not run even if escaping were ever missed.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from maps.basemaps import tile_sources

#: Attribute of ``request.state`` holding the nonce of the current response.
NONCE_STATE = "csp_nonce"

#: Headers every response carries. Pages may not be framed (clickjacking of the sign-in form);
#: the referrer keeps only the origin cross-site, which Tianditu's browser keys are checked
#: against, and never a path with village codes in it.
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
#: The policy of everything that is not a page (JSON, files): nothing may load or frame it.
NON_PAGE_POLICY = "default-src 'none'; frame-ancestors 'none'"


def page_policy(nonce: str, image_sources: Iterable[str] = ()) -> str:
    """The Content-Security-Policy of an HTML page whose inline scripts carry ``nonce``.

    Styles stay ``'unsafe-inline'``: folium and Leaflet write style attributes, which a nonce
    cannot cover, and a style cannot run code. Workers from ``blob:`` are ReDoc's search index.
    """
    images = " ".join(["'self'", "data:", *image_sources])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src {images}",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeaders:
    """Add ``COMMON_HEADERS`` to every response and a CSP by kind: pages, or everything else.

    A header the route set itself is left alone, so a page with special needs can say so.
    """

    def __init__(self, app: ASGIApp, image_sources: Iterable[str] | None = None) -> None:
        self.app = app
        self.image_sources = tuple(tile_sources() if image_sources is None else image_sources)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})[NONCE_STATE] = nonce

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON_HEADERS.items():
                    headers.setdefault(name, value)
                is_page = headers.get("content-type", "").startswith("text/html")
                policy = page_policy(nonce, self.image_sources) if is_page else NON_PAGE_POLICY
                headers.setdefault("Content-Security-Policy", policy)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def csp_nonce(request: Request) -> str | None:
    """The nonce of this response's Content-Security-Policy (None without the middleware)."""
    nonce = getattr(request.state, NONCE_STATE, None)
    return str(nonce) if nonce else None


NonceDep = Annotated[str | None, Depends(csp_nonce)]
