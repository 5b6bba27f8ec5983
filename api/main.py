"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from api.docs import install_docs
from api.errors import install_error_handlers
from api.limits import BodySizeLimit
from api.pages import PAGE_ASSET_DIR
from api.routers import (
    accounts,
    audit,
    auth,
    draws,
    due,
    exchange,
    gaps,
    health,
    inspection_routes,
    layers,
    maps,
    pages_hazards,
    pages_home,
    pages_units,
    reports,
    templates,
    web,
)
from api.routers import assignments as assignment_routes
from api.routers import hazard_stats as hazard_stat_routes
from api.routers import hazards as hazard_routes
from api.routers import inspections as inspection_records
from api.security_headers import SecurityHeaders
from gis.db.engine import get_engine
from gis.io.uploads import UploadArea
from gis.settings import Settings, get_settings
from maps.assets import ASSET_DIR, ASSET_URL


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the service; ``engine`` overrides the one resolved from the settings (tests)."""
    settings = settings or get_settings()
    # Refuse to serve with a missing, published-default or short signing secret, in every mode:
    # a token signed with a key anyone knows signs in as anyone.
    settings.signing_secret()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if getattr(app.state, "engine", None) is None:
            app.state.engine = get_engine(settings)
        # Uploads of requests cut short by a crash or a kill: nothing else would remove them.
        UploadArea.of(settings.data_dir).clean_stale()
        yield

    app = FastAPI(
        title="gridsafe 网格安监",
        version="0.1.0",
        description="Township work-safety grid management: grids, units, staff, networks, "
        "inspections and hazards on PostGIS. 乡镇安全生产网格化管理平台。",
        lifespan=lifespan,
        docs_url=None,  # install_docs serves them from local assets, under the CSP
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.upload_max_bytes)
    # Added last, so outermost: the 413 of BodySizeLimit carries the headers too.
    app.add_middleware(SecurityHeaders)
    app.mount(ASSET_URL, StaticFiles(directory=ASSET_DIR), name="map-assets")
    app.mount("/static/pages", StaticFiles(directory=PAGE_ASSET_DIR), name="page-assets")
    install_docs(app)
    app.include_router(health.router)
    app.include_router(layers.router)
    app.include_router(maps.router)
    app.include_router(exchange.router)
    app.include_router(templates.router)
    app.include_router(assignment_routes.router)
    app.include_router(gaps.router)
    app.include_router(inspection_routes.router)
    app.include_router(due.router)
    app.include_router(draws.router)
    app.include_router(auth.router)
    app.include_router(accounts.router)
    app.include_router(audit.router)
    app.include_router(reports.router)
    app.include_router(hazard_stat_routes.router)  # before /hazards/{hazard_id}
    app.include_router(hazard_routes.router)
    app.include_router(inspection_records.router)
    app.include_router(web.router)
    app.include_router(pages_home.router)
    app.include_router(pages_units.router)
    app.include_router(pages_hazards.router)
    return app
