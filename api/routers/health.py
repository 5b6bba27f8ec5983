"""GET /health: is the service up and can it reach a migrated database."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from api.dependencies import EngineDep
from api.schemas.health import Health
from gis.db import migrate
from gis.db.models import Town

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    operation_id="getHealth",
    responses={503: {"model": Health, "description": "Database unreachable"}},
)
def health(engine: EngineDep) -> Health | JSONResponse:
    """Report the database state; 503 when it cannot be reached."""
    try:
        revision = migrate.current(engine)
        with engine.connect() as conn:
            towns = conn.execute(select(func.count()).select_from(Town)).scalar_one()
    except SQLAlchemyError as exc:
        body = Health(status="degraded", database="unavailable", detail=type(exc).__name__)
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", database="ok", schema_revision=revision, towns=towns)
