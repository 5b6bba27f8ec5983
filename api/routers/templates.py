"""Blank ledger templates to fill in and import (GET /api/v1/imports/{dataset}/template)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import Response

from api.dependencies import ScopeDep
from api.routers.exchange import FILE_NAMES, MEDIA_TYPES, Dataset
from gis.io.ledger import UNIT_LEDGER, VILLAGE_LEDGER
from gis.io.ledger_template import template_workbook

router = APIRouter(prefix="/api/v1", tags=["exchange"])


@router.get(
    "/imports/{dataset}/template",
    operation_id="importTemplate",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPES["xlsx"]: {}}}},
)
def import_template(dataset: Dataset, scope: ScopeDep) -> Response:
    """The empty ledger workbook for ``dataset``: Chinese headers, drop-down lists and a
    填写说明 sheet listing every header variant and value the import accepts. Holds no data."""
    del scope  # any signed-in staff member may fill in a ledger; the template has no rows
    ledger = UNIT_LEDGER if dataset is Dataset.UNITS else VILLAGE_LEDGER
    filename = f"{FILE_NAMES[dataset.value]}（模板）.xlsx"
    return Response(
        content=template_workbook(ledger),
        media_type=MEDIA_TYPES["xlsx"],
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )
