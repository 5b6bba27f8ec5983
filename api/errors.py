"""One map from domain exceptions to HTTP responses, installed on the app in one call."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from gis.errors import (
    Conflict,
    DatabaseUnavailable,
    EmbeddedDatabaseError,
    Forbidden,
    GridsafeError,
    ImportRejected,
    InvalidInput,
    NotFound,
    Unauthenticated,
)

STATUS: dict[type[GridsafeError], int] = {
    NotFound: 404,
    Conflict: 409,
    Unauthenticated: 401,
    Forbidden: 403,
    InvalidInput: 400,
    ImportRejected: 422,
    DatabaseUnavailable: 503,
    EmbeddedDatabaseError: 503,
}


def _status(exc: GridsafeError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 400


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GridsafeError)
    body: dict[str, object] = {"code": exc.code, "message": exc.message}
    if isinstance(exc, ImportRejected):
        body["problems"] = [
            {"row": p.row, "field": p.field, "reason": p.reason, "value": p.value}
            for p in exc.problems
        ]
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
    return JSONResponse(body, status_code=_status(exc), headers=headers)


async def _database_down(_: Request, exc: Exception) -> JSONResponse:
    if (
        isinstance(exc, DBAPIError)
        and not exc.connection_invalidated
        and not isinstance(exc, OperationalError)
    ):
        raise exc
    return JSONResponse(
        {"code": "database_unavailable", "message": "数据库暂时不可用，请稍后重试"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GridsafeError, _domain_error)
    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(PoolTimeout, _database_down)
