"""Coverage gaps: ``/api/v1/gaps`` (GeoJSON), its per-village summary, new micro-station sites,
and the gap map at ``/maps/gaps``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import numpy as np
import pandas as pd
import shapely
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.dependencies import ConnDep, ScopeDep, SettingsDep
from api.schemas.gaps import (
    GapCollection,
    GapFeature,
    GapSummary,
    SiteCollection,
    SiteFeature,
    VillageCoverage,
)
from api.schemas.geojson import Link
from api.security_headers import NonceDep
from gis.analysis.coverage import CoverageParams, GapType
from gis.queries.layers import fetch_features, layer_filter
from gis.workflows.coverage import micro_station_sites, scoped_gaps
from maps.assets import render as render_map
from maps.basemaps import Basemap, choose
from maps.gap_map import gap_map

router = APIRouter(tags=["gaps"])

GEOJSON = "application/geo+json"
TownParam = Annotated[str | None, Query(description="12-digit town code", pattern=r"^\d{12}$")]
AsOfParam = Annotated[
    dt.date | None, Query(description="the day the question is asked (default today)")
]
MinutesParam = Annotated[float, Query(gt=0, le=60, description="fire response time limit, minutes")]


def geometry_json(geom: Any) -> dict[str, Any] | None:
    """GeoJSON of a shapely geometry, coordinates rounded to 1e-7° (≈ 1 cm)."""
    if geom is None or shapely.is_empty(geom):
        return None
    rounded = shapely.transform(geom, lambda xy: np.round(xy, 7))
    return json.loads(shapely.to_geojson(rounded))  # type: ignore[no-any-return]


def _clean(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _gap_feature(row: dict[str, Any]) -> GapFeature:
    props = {k: _clean(row[k]) for k in row if k != "geometry"}
    subject_id = props.get("unit_id") or props.get("staff_id") or props.get("village_code")
    for key in ("unit_id", "staff_id"):
        if props.get(key) is not None:
            props[key] = int(props[key])
    return GapFeature(
        id=f"{props['gap_type']}:{subject_id}",
        geometry=geometry_json(row["geometry"]),  # type: ignore[arg-type]
        properties=props,  # type: ignore[arg-type]
    )


def _links(request: Request, limit: int, offset: int, returned: int, total: int) -> list[Link]:
    links = [Link(href=str(request.url), rel="self")]
    if offset + returned < total:
        links.append(
            Link(href=str(request.url.include_query_params(offset=offset + limit)), rel="next")
        )
    if offset > 0:
        prev = max(0, offset - limit)
        links.append(Link(href=str(request.url.include_query_params(offset=prev)), rel="prev"))
    return links


@router.get(
    "/api/v1/gaps",
    response_model=GapCollection,
    operation_id="listGaps",
    summary="覆盖缺口",
    responses={200: {"content": {GEOJSON: {}}}},
)
def list_gaps(
    request: Request,
    conn: ConnDep,
    scope: ScopeDep,
    type: Annotated[list[GapType] | None, Query(description="gap types (repeatable)")] = None,
    village: Annotated[
        str | None, Query(description="12-digit village code", pattern=r"^\d{12}$")
    ] = None,
    town: TownParam = None,
    as_of: AsOfParam = None,
    minutes: MinutesParam = 5.0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> GapCollection:
    """Every coverage gap the caller may see, with its reason, people responsible and geometry.

    Filters: ``type`` (repeatable), ``village``, ``town``; ``as_of`` fixes the date for
    current responsibilities and overdue inspections; ``minutes`` the fire response limit.
    """
    result = scoped_gaps(
        conn, scope, as_of=as_of, town=town, params=CoverageParams(fire_minutes=minutes)
    )
    gaps = result.gaps
    if type:
        gaps = gaps[gaps["gap_type"].isin([t.value for t in type])]
    if village is not None:
        gaps = gaps[gaps["village_code"] == village]
    total = len(gaps)
    page = pd.DataFrame(gaps.iloc[offset : offset + limit])
    features = [_gap_feature(row) for row in page.to_dict("records")]
    found = gaps["gap_type"].value_counts()
    return GapCollection(
        as_of=result.as_of,
        counts={t.value: int(found.get(t.value, 0)) for t in GapType},
        features=features,
        numberMatched=total,
        numberReturned=len(features),
        links=_links(request, limit, offset, len(features), total),
    )


@router.get(
    "/api/v1/gaps/summary",
    response_model=GapSummary,
    operation_id="summariseGaps",
    summary="覆盖缺口分村汇总",
)
def summarise_gaps(
    conn: ConnDep,
    scope: ScopeDep,
    town: TownParam = None,
    as_of: AsOfParam = None,
    minutes: MinutesParam = 5.0,
) -> Response:
    """Per-village coverage (%) and gap counts, worst village first."""
    result = scoped_gaps(
        conn, scope, as_of=as_of, town=town, params=CoverageParams(fire_minutes=minutes)
    )
    # Encoded once per report for town-wide callers (``derived`` is then shared by everyone
    # asking about the same towns, date, parameters and data); per request otherwise.
    body = result.derived.get("summary")
    if body is None:
        villages = [
            VillageCoverage(**{k: _clean(v) for k, v in row.items()})
            for row in result.villages.to_dict("records")
        ]
        body = GapSummary(
            as_of=result.as_of,
            towns=result.towns,
            counts=result.counts(),
            labels={t.value: t.label for t in GapType},
            villages=villages,
        ).model_dump_json()
        result.derived["summary"] = body
    return Response(body, media_type="application/json")


@router.get(
    "/api/v1/gaps/micro-station-sites",
    response_model=SiteCollection,
    operation_id="suggestMicroStationSites",
    summary="微型消防站选址建议",
    responses={200: {"content": {GEOJSON: {}}}},
)
def suggest_sites(
    conn: ConnDep,
    scope: ScopeDep,
    k: Annotated[int, Query(ge=1, le=50, description="number of new stations")] = 3,
    minutes: MinutesParam = 5.0,
    town: TownParam = None,
) -> SiteCollection:
    """The K road nodes where new micro fire stations would reach the most uncovered key units.

    A maximal covering model solved with CP-SAT; the greedy baseline's cover is reported too.
    """
    found = micro_station_sites(conn, scope, k=k, minutes=minutes, town=town)
    if found is None:
        return SiteCollection(
            features=[],
            k=k,
            minutes=minutes,
            uncovered_key_units=0,
            newly_covered=0,
            candidates=0,
            method="none",
            status="NO_DATA",
            optimality_gap=0.0,
            greedy_covered=0,
        )
    features = [
        SiteFeature(
            id=int(row["rank"]),
            geometry=geometry_json(row["geometry"]),  # type: ignore[arg-type]
            properties={  # type: ignore[arg-type]
                "rank": int(row["rank"]),
                "node_id": int(row["node_id"]),
                "covers": int(row["covers"]),
                "unit_ids": [int(u) for u in row["unit_ids"]],
            },
        )
        for row in found.sites.to_dict("records")
    ]
    return SiteCollection(
        features=features,
        k=k,
        minutes=minutes,
        uncovered_key_units=found.uncovered_before,
        newly_covered=len(found.solution.covered),
        candidates=found.candidates,
        method=found.solution.method,
        status=found.solution.status,
        optimality_gap=found.solution.gap,
        greedy_covered=len(found.baseline.covered),
    )


@router.get("/maps/gaps", response_class=HTMLResponse, operation_id="getGapMap")
def get_gap_map(
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
    nonce: NonceDep,
    town: TownParam = None,
    as_of: AsOfParam = None,
    minutes: MinutesParam = 5.0,
    basemap: Annotated[Basemap | None, Query(description="basemap")] = None,
) -> HTMLResponse:
    """覆盖缺口图: one layer per gap type over the village grids the caller may see."""
    result = scoped_gaps(
        conn, scope, as_of=as_of, town=town, params=CoverageParams(fire_minutes=minutes)
    )
    gaps = [
        _gap_feature(row).model_dump(mode="json")
        for row in pd.DataFrame(result.gaps).to_dict("records")
    ]
    villages, _ = fetch_features(
        conn, "villages", layer_filter("villages", scope=scope, town=town), 100_000, 0
    )
    key = settings.tianditu_token
    fmap = gap_map(
        gaps,
        villages=villages,
        title=f"覆盖缺口图（{result.as_of.isoformat()}）",
        basemap=choose(basemap, key),
        tianditu_key=key,
    )
    return HTMLResponse(render_map(fmap, nonce=nonce))
