"""HTML maps: the area map of a town or a village grid, and the hazard heat map."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

import folium
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection, and_, select

from api.dependencies import ConnDep, ScopeDep, SettingsDep
from api.security_headers import NonceDep
from gis.access import Scope, scope_clause
from gis.db.models import Town, Village
from gis.errors import NotFound
from gis.queries.hazard_bins import found_between, hazard_heat
from gis.queries.layers import fetch_features, layer_filter
from gis.queries.unit_duties import unit_duties
from gis.settings import Settings
from maps.area_map import area_map
from maps.assets import render as render_map
from maps.basemaps import Basemap, choose
from maps.export import ExportFormat, Orientation, Paper, Sheet, export_page
from maps.hazard_map import hazard_map

router = APIRouter(prefix="/maps", tags=["maps"])

MAX_FEATURES = 100_000
VillageParam = Annotated[
    str | None, Query(description="12-digit village code", pattern=r"^\d{12}$")
]
BasemapParam = Annotated[Basemap | None, Query(description="basemap; default 天地图 with a key")]


def _features(conn: Connection, layer: str, scope: Scope, village: str | None) -> list[Any]:
    where = layer_filter(layer, scope=scope, village=village)
    features, _ = fetch_features(conn, layer, where, MAX_FEATURES, 0)
    return features


#: Past this many towns a title names the county, not every town.
TITLE_TOWNS = 3


def _place_name(conn: Connection, scope: Scope, village: str | None) -> str:
    """The place a map shows: the village asked for, the one village of a grid chief's scope,
    the town(s), or the county when the scope spans more towns than a title can list."""
    if village is None and scope.village_codes is not None and len(scope.village_codes) == 1:
        (village,) = scope.village_codes
    if village is not None:
        name = conn.execute(
            select(Village.name).where(Village.code == village, scope_clause(Village, scope))
        ).scalar_one_or_none()
        if name is None:
            raise NotFound(f"村（社区）{village} 不存在或无权查看")
        return str(name)
    towns = conn.execute(
        select(Town.name, Town.county_code).where(scope_clause(Town, scope)).order_by(Town.code)
    ).all()
    if len(towns) > TITLE_TOWNS:
        counties = sorted({c for _, c in towns})
        return f"{'、'.join(counties)}县（区）{len(towns)}个乡镇"
    return "、".join(name for name, _ in towns) or "gridsafe"


def _with_duties(
    conn: Connection, units: list[dict[str, Any]], scope: Scope
) -> list[dict[str, Any]]:
    """Units with their inspector, 五包一 team and next due date for the popups."""
    duties = unit_duties(conn, [int(u["properties"]["id"]) for u in units], scope, scope.as_of)
    out = []
    for unit in units:
        d = duties[int(unit["properties"]["id"])]
        props = {
            **unit["properties"],
            "inspector": "、".join(d.inspectors),
            "team": d.team,
            "next_due": d.next_due.isoformat() if d.next_due else None,
        }
        out.append({**unit, "properties": props})
    return out


def _area_map(
    conn: Connection, scope: Scope, settings: Settings, village: str | None, basemap: Basemap | None
) -> folium.Map:
    place = _place_name(conn, scope, village)
    key = settings.tianditu_token
    units = _with_duties(conn, _features(conn, "units", scope, village), scope)
    hazards = [
        f
        for f in _features(conn, "hazards", scope, village)
        if f["properties"]["status"] != "closed"
    ]
    layers = {
        "villages": _features(conn, "villages", scope, village),
        "roads": _features(conn, "roads", scope, village),
        "pipelines": _features(conn, "pipelines", scope, village),
        "fire-stations": _features(conn, "fire-stations", scope, village),
        "units": units,
        "key-units": [f for f in units if f["properties"]["fire_key_level"] != "none"],
        "hazards": hazards,
    }
    return area_map(
        layers, title=f"{place}安全生产网格图", basemap=choose(basemap, key), tianditu_key=key
    )


@router.get("/area", response_class=HTMLResponse, operation_id="getAreaMap")
def get_area_map(
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
    nonce: NonceDep,
    village: VillageParam = None,
    basemap: BasemapParam = None,
) -> HTMLResponse:
    """安全生产网格图: grids, roads, gas pipelines, fire stations, units and open hazards."""
    fmap = _area_map(conn, scope, settings, village, basemap)
    return HTMLResponse(render_map(fmap, nonce=nonce))


FormatParam = Annotated[ExportFormat, Query(alias="format", description="pdf or png")]
PaperParam = Annotated[Paper, Query(description="A4 or A3")]
OrientationParam = Annotated[Orientation, Query(description="landscape or portrait")]


def _exported(
    fmap: folium.Map, fmt: ExportFormat, paper: Paper, orientation: Orientation, name: str
) -> Response:
    content = export_page(render_map(fmap), Sheet(paper, orientation), fmt)
    filename = quote(f"{name}-{paper}-{orientation}.{fmt}")
    return Response(
        content,
        media_type=fmt.media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
    )


@router.get(
    "/area/export",
    response_class=Response,
    operation_id="exportAreaMap",
    responses={200: {"content": {"application/pdf": {}, "image/png": {}}}},
)
def export_area_map(
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
    fmt: FormatParam = ExportFormat.PDF,
    paper: PaperParam = Paper.A4,
    orientation: OrientationParam = Orientation.LANDSCAPE,
    village: VillageParam = None,
    basemap: BasemapParam = None,
) -> Response:
    """The area map on one sheet of A4/A3 for a meeting, as PDF or PNG (rendered by Chromium)."""
    fmap = _area_map(conn, scope, settings, village, basemap)
    return _exported(fmap, fmt, paper, orientation, "安全生产网格图")


@router.get("/hazards", response_class=HTMLResponse, operation_id="getHazardHeatMap")
def get_hazard_map(
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
    nonce: NonceDep,
    village: VillageParam = None,
    start: Annotated[dt.date | None, Query(description="found on or after")] = None,
    end: Annotated[dt.date | None, Query(description="found on or before")] = None,
    basemap: BasemapParam = None,
) -> HTMLResponse:
    """隐患热力图 for a period (by the date each hazard was found)."""
    place = _place_name(conn, scope, village)
    key = settings.tianditu_token
    where = and_(layer_filter("hazards", scope=scope, village=village), found_between(start, end))
    period = f"（{start or '—'} 至 {end or '—'}）" if start or end else ""
    fmap = hazard_map(
        hazard_heat(conn, where),
        _features(conn, "villages", scope, village),
        title=f"{place}隐患热力图{period}",
        basemap=choose(basemap, key),
        tianditu_key=key,
    )
    return HTMLResponse(render_map(fmap, nonce=nonce))
