"""Imports (upload a ledger or GIS file, all or nothing) and exports in office formats."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel

from api.dependencies import AdminScopeDep, ConnDep, ScopeDep, SettingsDep, actor_of
from gis.access import Scope, scope_clause
from gis.db.models import Unit, Village
from gis.errors import FileTooLarge, Forbidden, InvalidInput
from gis.io.exporters import SUFFIX, export_units, export_villages
from gis.io.readers import prepare_upload
from gis.io.uploads import UploadArea, safe_name
from gis.workflows.imports import import_file

T = TypeVar("T")
router = APIRouter(prefix="/api/v1", tags=["exchange"])

ALLOWED_SUFFIXES = {".xlsx", ".csv", ".geojson", ".json", ".gpkg", ".zip", ".kml"}
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "shp": "application/zip",
    "kml": "application/vnd.google-earth.kml+xml",
}
FILE_NAMES = {"units": "生产经营单位台账", "villages": "村（社区）网格"}


class Dataset(StrEnum):
    UNITS = "units"
    VILLAGES = "villages"


class Coords(StrEnum):
    WGS84 = "wgs84"
    CGCS2000 = "cgcs2000"
    GCJ02 = "gcj02"
    BD09 = "bd09"
    GK_CM114 = "4547"
    GK_ZONE38 = "4526"


class ImportResult(BaseModel):
    source: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    dry_run: bool
    summary: str
    warnings: list[str] = []


def _town(scope: Scope, town: str | None, default: str) -> str:
    code = town or default
    if not scope.allows_town(code):
        raise Forbidden(f"无权操作乡镇 {code}")
    return code


def _agree(name: str, query: T | None, form: T | None) -> T | None:
    """A parameter given as a query parameter, a multipart field, or both with equal values
    (compared after parsing: ``?dry_run=1`` agrees with ``-F dry_run=true``)."""
    if query is not None and form is not None and query != form:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": f"查询参数 {name} 与表单字段 {name} 不一致 (query and form disagree)",
                    "type": "value_error",
                    "input": {"query": str(query), "form": str(form)},
                }
            ]
        )
    return query if query is not None else form


def _flag(text: str | None) -> bool | None:
    """A strict boolean (the pattern already refused anything but true/false/1/0)."""
    return None if text is None else text.lower() in ("true", "1")


def _save(upload: UploadFile, path: Path, max_bytes: int) -> None:
    """Copy the received upload (spooled by Starlette) into the request's directory."""
    written = 0
    with path.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            written += len(chunk)
            if written > max_bytes:
                raise FileTooLarge(f"文件超过 {max_bytes // (1 << 20)} MB 上限")
            out.write(chunk)


DRY_RUN = r"^(?i:true|false|1|0)$"
TOWN = r"^\d{12}$"


@router.post(
    "/imports/{dataset}",
    response_model=ImportResult,
    operation_id="importDataset",
    responses={
        400: {"description": "Not a readable file of its kind"},
        413: {"description": "The file exceeds a bound (size, rows, cells, vertices, …)"},
        422: {"description": "Rejected: one problem per bad row, nothing written"},
    },
)
def import_dataset(
    request: Request,
    dataset: Dataset,
    conn: ConnDep,
    scope: AdminScopeDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="xlsx, csv, geojson, gpkg, kml, or zipped shp")],
    coords: Annotated[Coords | None, Query(description="datum of the coordinates")] = None,
    town: Annotated[str | None, Query(pattern=TOWN)] = None,
    dry_run: Annotated[
        str | None, Query(pattern=DRY_RUN, description="validate only: true/false")
    ] = None,
    coords_field: Annotated[Coords | None, Form(alias="coords")] = None,
    town_field: Annotated[str | None, Form(alias="town", pattern=TOWN)] = None,
    dry_run_field: Annotated[str | None, Form(alias="dry_run", pattern=DRY_RUN)] = None,
) -> ImportResult:
    """Validate every row, then upsert all of them in one transaction — or write nothing.

    ``coords``, ``town`` and ``dry_run`` may come as query parameters or multipart fields; given
    both ways they must agree. The file is checked against the upload limits before it is
    parsed, and everything it leaves on disk is removed when the request ends. A plain ``def``:
    FastAPI runs it in a worker thread, so parsing never holds up the event loop.
    """
    chosen_coords = _agree("coords", coords, coords_field) or Coords.WGS84
    town_code = _town(scope, _agree("town", town, town_field), settings.town_code)
    is_dry_run = bool(_agree("dry_run", _flag(dry_run), _flag(dry_run_field)))
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise InvalidInput(
            f"不支持的文件类型 {suffix or '(无扩展名)'}；可用 {sorted(ALLOWED_SUFFIXES)}"
        )
    name = safe_name(file.filename, suffix)
    with UploadArea.of(settings.data_dir).request_dir() as workdir:
        path = workdir / name
        _save(file, path, settings.upload_max_bytes)
        source = prepare_upload(path, settings.upload)
        value = chosen_coords.value
        report = import_file(
            conn,
            dataset.value,
            source,
            town_code=town_code,
            actor=actor_of(request, scope),
            coords=int(value) if value.isdigit() else value,
            dry_run=is_dry_run,
            source_name=name,
        )
    return ImportResult(
        source=name,
        rows=report.rows,
        inserted=report.inserted,
        updated=report.updated,
        unchanged=report.unchanged,
        dry_run=is_dry_run,
        summary=report.summary(),
        warnings=report.warnings,
    )


@router.get(
    "/exports/{dataset}",
    operation_id="exportDataset",
    response_class=Response,
    responses={200: {"content": {m: {} for m in MEDIA_TYPES.values()}}},
)
def export_dataset(
    dataset: Dataset,
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
    format: Annotated[
        Literal["xlsx", "csv", "geojson", "gpkg", "shp", "kml"], Query(description="file format")
    ] = "xlsx",
    crs: Annotated[Literal[4547, 4526] | None, Query(description="projected shp/gpkg")] = None,
    encoding: Annotated[Literal["GBK", "UTF-8"], Query(description="shapefile DBF")] = "GBK",
    town: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
) -> Response:
    """The caller's rows of a dataset as a file, in the formats township offices exchange."""
    town_code = _town(scope, town, settings.town_code)
    if dataset is Dataset.UNITS:
        data = export_units(
            conn, town_code, format, crs=crs, encoding=encoding, where=scope_clause(Unit, scope)
        )
    else:
        data = export_villages(
            conn, town_code, format, crs=crs, encoding=encoding, where=scope_clause(Village, scope)
        )
    assert isinstance(data, bytes)
    filename = f"{FILE_NAMES[dataset.value]}{SUFFIX[format]}"
    return Response(
        content=data,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )
