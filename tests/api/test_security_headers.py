"""Security headers: every route of the app, walked off the app itself, answers with them."""

from __future__ import annotations

import re
from fnmatch import fnmatch
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from starlette.routing import Mount, Route

from api.docs import DOCS_ASSET_URL
from api.security import SESSION_COOKIE
from api.security_headers import page_policy
from gis.access import Role
from maps.area_map import area_map
from maps.assets import render
from maps.basemaps import Basemap, tile_sources
from tests.accounts import bearer_token, make_account

PAGE_DIRECTIVES = {
    "default-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "connect-src": "'self'",
    "frame-ancestors": "'none'",
}


def _policy(header: str) -> dict[str, list[str]]:
    directives = [d.split() for d in header.split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


def _signed_in(api_app: FastAPI, conn: Connection) -> TestClient:
    account = make_account(conn, Role.TOWN_ADMIN)
    token = bearer_token(int(account["id"]))
    return TestClient(
        api_app,
        headers={"Authorization": f"Bearer {token}"},
        cookies={SESSION_COOKIE: token},
        follow_redirects=False,
    )


def _get_paths(app: FastAPI) -> list[str]:
    """Every GET path, FastAPI's lazily included routers unfolded, path parameters set to 1."""
    routes: list[Any] = []
    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):
            routes += list(route.effective_route_contexts())
        elif isinstance(route, Route):
            routes.append(route)
    return [
        re.sub(r"\{[^}]+\}", "1", route.path) for route in routes if "GET" in (route.methods or ())
    ]


def test_every_get_route_answers_with_the_headers(api_app: FastAPI, db_conn: Connection) -> None:
    pages: dict[str, str] = {}
    with _signed_in(api_app, db_conn) as client:
        for path in _get_paths(api_app):
            response = client.get(path)
            headers = response.headers
            assert headers["x-content-type-options"] == "nosniff", path
            assert headers["x-frame-options"] == "DENY", path
            assert headers["referrer-policy"], path
            policy = _policy(headers["content-security-policy"])
            assert policy["frame-ancestors"] == ["'none'"], path
            if headers.get("content-type", "").startswith("text/html"):
                pages[path] = response.text
                for name, value in PAGE_DIRECTIVES.items():
                    assert policy[name] == [value], (path, name)
                assert "'unsafe-inline'" not in policy["script-src"], path
                nonces = [s for s in policy["script-src"] if s.startswith("'nonce-")]
                assert len(nonces) == 1, path
                images = set(policy["img-src"])
                assert {"'self'", "data:", *tile_sources()} <= images, path
                # Every inline script of the page carries this response's nonce, no other.
                nonce = nonces[0][len("'nonce-") : -1]
                inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", response.text)
                assert all(f'nonce="{nonce}"' in attrs for attrs in inline), path
            else:
                assert policy["default-src"] == ["'none'"], path
    # The walk did reach the pages: maps, sign-in, account, and the API docs.
    assert {"/maps/area", "/maps/hazards", "/maps/gaps", "/login", "/account", "/docs"} <= set(
        pages
    ), sorted(pages)
    assert "/redoc" in pages and "/docs/oauth2-redirect" in pages


def test_nonces_differ_per_response(anonymous: TestClient) -> None:
    first, second = (anonymous.get("/login").headers["content-security-policy"] for _ in "12")
    assert first != second


def test_json_errors_and_static_files_get_nosniff(anonymous: TestClient) -> None:
    for path in ("/api/v1/villages", "/health", "/static/maps/leaflet.js", "/no-such-page"):
        response = anonymous.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path


def test_api_docs_load_only_local_assets(anonymous: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        page = anonymous.get(path).text
        urls = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert urls and all(u.startswith(DOCS_ASSET_URL + "/") for u in urls), (path, urls)
        for url in urls:
            asset = anonymous.get(url)
            assert asset.status_code == 200 and len(asset.content) > 1000, url
    for mount in (r for r in anonymous.app.routes if isinstance(r, Mount)):  # type: ignore[attr-defined]
        assert mount.path.startswith("/static/")


def test_the_policy_admits_the_tiles_of_every_basemap() -> None:
    """Tile URLs as the rendered map asks for them, each matched against the img-src sources."""
    images = _policy(page_policy("n", tile_sources()))["img-src"]
    for basemap in (Basemap.TIANDITU_VECTOR, Basemap.TIANDITU_IMAGE, Basemap.AMAP):
        page = render(area_map({}, title="t", basemap=basemap, tianditu_key="k"))
        templates = re.findall(r'L\.tileLayer\(\s*"([^"]+)"', page)
        assert templates, basemap
        for template in templates:
            for sub in "01234567":
                url = urlsplit(template.replace("{s}", sub))
                origin = f"{url.scheme}://{url.hostname}"
                assert any(fnmatch(origin, source) for source in images), (basemap, origin)
