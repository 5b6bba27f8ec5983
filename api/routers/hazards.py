"""Hazards: report one, read one, move it through the closed loop with verbs, read its history.

The list stays the GeoJSON layer ``GET /api/v1/hazards`` (api/routers/layers.py). Each verb's
access rule is built from the transition table, so the role matrix sees who may call it; the
workflow then checks level, state and signer in its one conditional UPDATE.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    Header,
    Path,
    Query,
    Request,
    Response,
    UploadFile,
)
from fastapi.responses import FileResponse

from api.dependencies import Access, ConnDep, ScopeDep, SettingsDep, actor_of
from api.schemas.hazards import (
    HazardCreate,
    HazardHistoryRead,
    HazardMove,
    HazardRead,
    PhotoRead,
)
from gis.access import Role, Scope
from gis.domain import PhotoKind
from gis.errors import InvalidInput
from gis.queries.hazards import history_select
from gis.workflows.hazard_photos import attach_photo, photo_to_send, photos_of
from gis.workflows.hazards import (
    FIELD,
    Move,
    NewHazard,
    Verb,
    get_hazard,
    report_hazard,
    roles_for,
    transition,
)

router = APIRouter(prefix="/api/v1/hazards", tags=["hazards"])

HazardId = Annotated[int, Path(ge=1, le=2**62)]
get_report_scope = Access("hazard-report", FIELD, write=True)
ReportScope = Annotated[Scope, Depends(get_report_scope)]


def _etag(version: int) -> str:
    return f'"{version}"'


def _parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidInput(f'If-Match must be an ETag like "3", got {value!r}')
    return int(text)


@router.post("", response_model=HazardRead, status_code=201, operation_id="createHazard")
def create_hazard(
    request: Request, response: Response, conn: ConnDep, scope: ReportScope, body: HazardCreate
) -> HazardRead:
    """Record a hazard found by staff (state 待确认, version 1)."""
    hazard = report_hazard(conn, scope, actor_of(request, scope), NewHazard(**body.model_dump()))
    response.headers["ETag"] = _etag(hazard["version"])
    return HazardRead.of(hazard)


@router.get("/{hazard_id}", response_model=HazardRead, operation_id="getHazard")
def read_hazard(
    response: Response, conn: ConnDep, scope: ScopeDep, hazard_id: HazardId
) -> HazardRead:
    """One hazard in your scope, its version (ETag) and the verbs you may apply now."""
    hazard = get_hazard(conn, scope, hazard_id)
    response.headers["ETag"] = _etag(hazard["version"])
    return HazardRead.of(hazard)


@router.get(
    "/{hazard_id}/history", response_model=list[HazardHistoryRead], operation_id="hazardHistory"
)
def read_history(conn: ConnDep, scope: ScopeDep, hazard_id: HazardId) -> list[HazardHistoryRead]:
    """The hash-chained history of one hazard, oldest first."""
    get_hazard(conn, scope, hazard_id)  # 404 outside the scope
    rows = conn.execute(history_select(scope, hazard_id)).mappings().all()
    show_actor = scope.role is Role.TOWN_ADMIN
    return [
        HazardHistoryRead(**{**row, "actor": row["actor"] if show_actor else None}) for row in rows
    ]


@router.post(
    "/{hazard_id}/photos", response_model=PhotoRead, status_code=201, operation_id="addHazardPhoto"
)
def add_photo(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    scope: ReportScope,
    hazard_id: HazardId,
    file: Annotated[UploadFile, File(description="JPEG or PNG, checked by content")],
    kind: Annotated[PhotoKind, Form(description="before or after rectification")],
) -> PhotoRead:
    """Attach a photo (stored once by its SHA-256; the hazard's version moves on)."""
    data = file.file.read(settings.photo_max_bytes + 1)
    photo = attach_photo(
        conn,
        scope,
        actor_of(request, scope),
        hazard_id,
        data,
        kind,
        store=settings.data_dir / "photos",
        max_bytes=settings.photo_max_bytes,
    )
    return PhotoRead(**photo)


@router.get(
    "/{hazard_id}/photos",
    response_model=list[PhotoRead],
    operation_id="hazardPhotos",
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}},
)
def list_photos(
    conn: ConnDep,
    settings: SettingsDep,
    scope: ScopeDep,
    hazard_id: HazardId,
    sha256: Annotated[
        str | None, Query(pattern=r"^[0-9a-f]{64}$", description="return this photo's file")
    ] = None,
) -> list[PhotoRead] | Response:
    """The photos of a hazard; with ``sha256``, that photo's file itself."""
    if sha256 is not None:
        path, content_type = photo_to_send(
            conn, scope, hazard_id, sha256, settings.data_dir / "photos"
        )
        return FileResponse(path, media_type=content_type)
    return [PhotoRead(**p) for p in photos_of(conn, scope, hazard_id)]


def _verb_route(verb: Verb) -> None:
    rule = Access(f"hazard-{verb.value}", roles_for(verb), write=True)

    def handler(
        request: Request,
        response: Response,
        conn: ConnDep,
        scope: Scope,
        hazard_id: HazardId,
        body: HazardMove | None = None,
        if_match: Annotated[str | None, Header()] = None,
    ) -> HazardRead:
        body = body or HazardMove()
        tagged = _parse_if_match(if_match)
        version = tagged if tagged is not None else body.version
        move = Move(
            verb, version, if_match=tagged is not None, deadline=body.deadline, note=body.note
        )
        hazard = transition(conn, scope, actor_of(request, scope), hazard_id, move)
        response.headers["ETag"] = _etag(hazard["version"])
        return HazardRead.of(hazard)

    # The rule is a local object: give FastAPI the annotation itself, not a string it would
    # have to resolve in the module's globals (``from __future__ import annotations``).
    handler.__annotations__["scope"] = Annotated[Scope, Depends(rule)]
    handler.__name__ = f"hazard_{verb.name.lower()}"
    handler.__doc__ = f"{verb.label}: move the hazard on (If-Match or version required)."
    router.add_api_route(
        f"/{{hazard_id}}/{verb.value}",
        handler,
        methods=["POST"],
        response_model=HazardRead,
        operation_id="hazard" + "".join(p.title() for p in verb.value.split("-")),
        summary=verb.label,
        responses={409: {"description": "refused in this state"}, 412: {"description": "stale"}},
    )


for _verb in Verb:
    _verb_route(_verb)
