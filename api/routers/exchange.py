"""Imports (upload a ledger or GIS file, all or nothing) and exports in office formats."""

from __future__ import annotations

import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from api.dependencies import AdminScopeDep, ConnDep, ScopeDep, SettingsDep, actor_of
from gis.access import Scope, scope_clause
from gis.db.models import Unit, Village
from gis.errors import Forbidden, InvalidInput
from gis.io.exporters import SUFFIX, export_units, export_villages
from gis.workflows.imports import import_file

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


@router.post(
    "/imports/{dataset}",
    response_model=ImportResult,
    operation_id="importDataset",
    responses={422: {"description": "Rejected: one problem per bad row, nothing written"}},
)
async def import_dataset(
    request: Request,
    dataset: Dataset,
    conn: ConnDep,
    scope: AdminScopeDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="xlsx, csv, geojson, gpkg, kml, or zipped shp")],
    coords: Annotated[Coords, Query(description="datum of the coordinates")] = Coords.WGS84,
    town: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
    dry_run: bool = False,
) -> ImportResult:
    """Validate every row, then upsert all of them in one transaction — or write nothing."""
    town_code = _town(scope, town, settings.town_code)
    name = Path(file.filename or "upload").name
    suffix = Path(name).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise InvalidInput(
            f"不支持的文件类型 {suffix or '(无扩展名)'}；可用 {sorted(ALLOWED_SUFFIXES)}"
        )
    with tempfile.TemporaryDirectory(prefix="gridsafe-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        written = 0
        with path.open("wb") as out:
            while chunk := await file.read(1 << 20):
                written += len(chunk)
                if written > settings.upload_max_bytes:
                    raise InvalidInput(f"文件超过 {settings.upload_max_bytes // (1 << 20)} MB 上限")
                out.write(chunk)
        coord_arg: str | int = int(coords.value) if coords.value.isdigit() else coords.value
        report = import_file(
            conn,
            dataset.value,
            path,
            town_code=town_code,
            actor=actor_of(request, scope),
            coords=coord_arg,
            dry_run=dry_run,
            source_name=name,
        )
    return ImportResult(
        source=name,
        rows=report.rows,
        inserted=report.inserted,
        updated=report.updated,
        unchanged=report.unchanged,
        dry_run=dry_run,
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
