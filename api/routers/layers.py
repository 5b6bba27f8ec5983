"""GET /api/v1/<layer>: each map layer as a paged GeoJSON FeatureCollection with filters."""

from __future__ import annotations

import inspect
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.dependencies import ConnDep, ScopeDep, SettingsDep
from api.schemas.geojson import FeatureCollection, Link
from gis.queries.layers import LAYERS, fetch_feature_page, layer_filter

router = APIRouter(prefix="/api/v1", tags=["layers"])

BOOLEAN_FILTERS = {"high_risk", "active", "supervised", "oneway"}
GEOJSON = "application/geo+json"

TITLES = {
    "villages": "村（社区）网格",
    "micro-grids": "微网格",
    "units": "生产经营单位",
    "staff": "人员",
    "roads": "道路",
    "pipelines": "燃气管线",
    "gas-facilities": "燃气设施",
    "fire-stations": "消防站与微型消防站",
    "hazards": "隐患",
}


def _parse_bbox(text: str | None) -> list[float] | None:
    if text is None:
        return None
    from gis.errors import InvalidInput

    try:
        return [float(v) for v in text.split(",")]
    except ValueError as exc:
        raise InvalidInput("bbox must be four comma-separated numbers") from exc


def _links(request: Request, limit: int, offset: int, returned: int, total: int) -> list[Link]:
    links = [Link(href=str(request.url), rel="self")]
    if offset + returned < total:
        links.append(
            Link(href=str(request.url.include_query_params(offset=offset + limit)), rel="next")
        )
    if offset > 0:
        links.append(
            Link(
                href=str(request.url.include_query_params(offset=max(0, offset - limit))),
                rel="prev",
            )
        )
    return links


def _make_handler(layer: str) -> Any:
    spec = LAYERS[layer]

    def handler(
        request: Request,
        conn: ConnDep,
        settings: SettingsDep,
        scope: ScopeDep,
        bbox: Annotated[
            str | None,
            Query(
                description="minLon,minLat,maxLon,maxLat in CGCS2000",
                examples=["113.99,34.04,114.01,34.06"],
            ),
        ] = None,
        village: Annotated[
            str | None, Query(description="12-digit village code", pattern=r"^\d{12}$")
        ] = None,
        town: Annotated[
            str | None, Query(description="12-digit town code", pattern=r"^\d{12}$")
        ] = None,
        q: Annotated[str | None, Query(description="name contains", max_length=100)] = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        **filters: Any,
    ) -> Response:
        equals = {k: v for k, v in filters.items() if k in spec.filters and v is not None}
        prefixes = {k: v for k, v in filters.items() if k in spec.prefix_filters and v is not None}
        where = layer_filter(
            layer,
            scope=scope,
            bbox=_parse_bbox(bbox),
            village=village,
            town=town,
            equals=equals,
            prefixes=prefixes,
            search=q,
        )
        limit = min(limit, settings.page_size_max)
        total, features = fetch_feature_page(conn, layer, where, limit, offset)
        returned = min(limit, max(0, total - offset))
        links = [link.model_dump() for link in _links(request, limit, offset, returned, total)]
        # The features arrive serialised by PostgreSQL (gis.queries.layers.feature_json); only
        # the envelope is written here, in FeatureCollection's shape, without a model round trip.
        head = f'{{"type":"FeatureCollection","features":{features},'
        tail = json.dumps(
            {"numberMatched": total, "numberReturned": returned, "links": links},
            ensure_ascii=False,
            separators=(",", ":"),
        )[1:]
        return Response((head + tail).encode(), media_type="application/json")

    # Give each layer's filters a documented query parameter of the right type.
    base = inspect.signature(handler)
    params = [p for p in base.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    for name in (*spec.filters, *spec.prefix_filters):
        boolean = name in BOOLEAN_FILTERS
        description = f"{name} starts with" if name in spec.prefix_filters else f"{name} equals"
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=Query(None, description=description)
                if boolean
                else Query(None, description=description, max_length=64),
                annotation=bool | None if boolean else str | None,
            )
        )
    handler.__signature__ = base.replace(parameters=params)  # type: ignore[attr-defined]
    handler.__name__ = f"list_{layer.replace('-', '_')}"
    handler.__doc__ = f"{TITLES[layer]} as GeoJSON. Filters: bbox, village, town, q, " + ", ".join(
        (*spec.filters, *spec.prefix_filters)
    )
    return handler


for _layer in LAYERS:
    router.add_api_route(
        f"/{_layer}",
        _make_handler(_layer),
        methods=["GET"],
        response_model=FeatureCollection,
        operation_id="list" + "".join(part.title() for part in _layer.split("-")),
        summary=TITLES[_layer],
        responses={200: {"content": {GEOJSON: {}}}},
    )
