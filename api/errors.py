"""One map from domain exceptions to HTTP responses, installed on the app in one call."""

from __future__ import annotations

import re
import tempfile
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse

from gis.errors import (
    ConfigurationError,
    Conflict,
    DatabaseBusy,
    DatabaseUnavailable,
    EmbeddedDatabaseError,
    FileTooLarge,
    Forbidden,
    GridsafeError,
    ImportRejected,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    TooManyRequests,
    TransitionRefused,
    Unauthenticated,
)
from gis.io.uploads import UploadArea

STATUS: dict[type[GridsafeError], int] = {
    NotFound: 404,
    Conflict: 409,
    PreconditionFailed: 412,
    PreconditionRequired: 428,
    Unauthenticated: 401,
    Forbidden: 403,
    InvalidInput: 400,
    ImportRejected: 422,
    FileTooLarge: 413,
    TooManyRequests: 429,
    DatabaseUnavailable: 503,
    DatabaseBusy: 503,
    EmbeddedDatabaseError: 503,
    ConfigurationError: 500,
}

#: Seconds a client should wait before retrying, per 503 code.
RETRY_AFTER = {DatabaseBusy.code: "1", DatabaseUnavailable.code: "5"}
BUSY_MESSAGE = "服务繁忙，请稍后重试 (server busy, retry shortly)"


def _status(exc: GridsafeError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def _browser_navigation(request: Request) -> bool:
    """A person's browser opening a page (not a script calling the API): it asks for HTML."""
    return (
        request.method == "GET"
        and not request.url.path.startswith("/api/")
        and "text/html" in request.headers.get("accept", "")
    )


#: Characters that end a path inside a message (Chinese punctuation, quotes, brackets).
_PATH_TAIL = r"/[^\s\"'<>:：，,；;）)\]]*"


def _server_dirs(request: Request) -> list[str]:
    """Directories whose paths never reach a client: the uploads area and the temp dir."""
    dirs = [str(Path(tempfile.gettempdir()).absolute())]
    settings = getattr(request.app.state, "settings", None)
    if settings is not None:
        dirs.insert(0, str(UploadArea.of(settings.data_dir).root))
        dirs.append(str(Path(settings.data_dir).absolute()))
    return dirs


def scrub_paths(text: str, dirs: list[str]) -> str:
    """``text`` with every path under ``dirs`` cut to its last component: the user's own file
    name (uploads are saved under it), never the server's directories."""
    for directory in dirs:
        text = re.sub(re.escape(directory) + _PATH_TAIL, lambda m: Path(m[0]).name, text)
    return text


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GridsafeError)
    if isinstance(exc, Unauthenticated) and _browser_navigation(request):
        # A page or map opened signed out leads to the sign-in form and back, not to JSON.
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
    dirs = _server_dirs(request)
    body: dict[str, object] = {"code": exc.code, "message": scrub_paths(exc.message, dirs)}
    if isinstance(exc, ImportRejected):

        def clean(text: str | None) -> str | None:
            return None if text is None else scrub_paths(text, dirs)

        body["problems"] = [
            {
                "row": p.row,
                "field": p.field,
                "reason": clean(p.reason),
                "value": clean(p.value),
                # Every problem of the row: one round of fixes clears it.
                "issues": [
                    {"field": i.field, "reason": clean(i.reason), "value": clean(i.value)}
                    for i in p.all_issues()
                ],
            }
            for p in exc.problems
        ]
    if isinstance(exc, TransitionRefused):
        body["current"] = jsonable_encoder(exc.current)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else {}
    if exc.code in RETRY_AFTER:
        headers["Retry-After"] = RETRY_AFTER[exc.code]
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after_s)
    return JSONResponse(body, status_code=_status(exc), headers=headers or None)


async def _unstorable_value(request: Request, exc: Exception) -> JSONResponse:
    """A value PostgreSQL refuses to store or compare (NUL byte, number out of range): the
    client's input, not a server fault."""
    assert isinstance(exc, DataError)
    reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "invalid value"
    reason = scrub_paths(reason, _server_dirs(request))
    return JSONResponse({"code": "invalid_input", "message": reason}, status_code=400)


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


async def _pool_exhausted(request: Request, exc: Exception) -> Response:
    """No pooled connection came free in time: saturation, not an outage (the database is up)."""
    return await _domain_error(request, DatabaseBusy(BUSY_MESSAGE))


#: Stable codes for the HTTP errors FastAPI and Starlette raise themselves (unknown path, …).
HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    body = {
        "code": HTTP_CODES.get(exc.status_code, "http_error"),
        "message": message,
        "detail": jsonable_encoder(exc.detail),
    }
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    """422 with ``{code, message, field}``; ``detail`` keeps FastAPI's list for its schema."""
    assert isinstance(exc, RequestValidationError)
    errors = jsonable_encoder(exc.errors())
    first = errors[0] if errors else {}
    field = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or None
    message = f"{field}: {first.get('msg')}" if field else str(first.get("msg", "invalid request"))
    body = {"code": "invalid_input", "message": message, "field": field, "detail": errors}
    return JSONResponse(body, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GridsafeError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(DataError, _unstorable_value)
    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(PoolTimeout, _pool_exhausted)
