"""Map layers as composable selects: which rows of a layer match a bbox, a village and filters."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from geoalchemy2 import functions as gf
from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Select,
    Text,
    and_,
    cast,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import InstrumentedAttribute

from gis.access import Scope, scope_clause
from gis.crs import STORAGE_SRID
from gis.db.models import (
    Base,
    FireStation,
    GasFacility,
    GasPipeline,
    Hazard,
    MicroGrid,
    Road,
    Staff,
    Unit,
    Village,
)
from gis.errors import InvalidInput

#: Decimal places of coordinates in GeoJSON output: 1e-7° ≈ 1 cm.
COORD_PRECISION = 7


@dataclass(frozen=True)
class LayerSpec:
    """How one table is exposed as a GeoJSON layer."""

    model: type[Base]
    id_column: str
    properties: tuple[str, ...]
    #: Filters clients may pass as query parameters: name → column (equality).
    filters: tuple[str, ...] = ()
    #: Column linking rows to a village; None means "intersects the village polygon".
    village_column: str | None = "village_code"
    order_by: tuple[str, ...] = ("id",)
    #: Prefix filters (e.g. industry "C" matches "C13").
    prefix_filters: tuple[str, ...] = field(default=())


LAYERS: dict[str, LayerSpec] = {
    "villages": LayerSpec(
        Village,
        "code",
        (
            "code",
            "town_code",
            "name",
            "kind",
            "urban_rural_code",
            "population",
            "households",
            "groups_count",
        ),
        filters=("kind",),
        village_column="code",
        order_by=("code",),
    ),
    "micro-grids": LayerSpec(
        MicroGrid,
        "code",
        ("code", "town_code", "village_code", "name"),
        order_by=("code",),
    ),
    "units": LayerSpec(
        Unit,
        "id",
        (
            "id",
            "code",
            "town_code",
            "uscc",
            "name",
            "address",
            "village_code",
            "industry_code",
            "department_code",
            "risk_color",
            "fire_key_level",
            "nine_small_category",
            "high_risk",
            "gas_use",
            "status",
            "employees",
            "floor_area_m2",
        ),
        filters=(
            "department_code",
            "risk_color",
            "fire_key_level",
            "nine_small_category",
            "high_risk",
            "gas_use",
            "status",
            "uscc",
        ),
        prefix_filters=("industry_code",),
    ),
    "staff": LayerSpec(
        Staff,
        "id",
        (
            "id",
            "code",
            "town_code",
            "name",
            "department_code",
            "role",
            "home_village_code",
            "capacity_units",
            "capacity_teams",
            "phone",
            "active",
        ),
        filters=("department_code", "role", "active"),
        village_column="home_village_code",
    ),
    "roads": LayerSpec(
        Road,
        "id",
        ("id", "code", "town_code", "name", "road_class", "speed_kmh", "oneway", "length_m"),
        filters=("road_class", "code"),
        village_column=None,
    ),
    "pipelines": LayerSpec(
        GasPipeline,
        "id",
        (
            "id",
            "code",
            "town_code",
            "name",
            "pressure_class",
            "dn",
            "material",
            "build_year",
            "operator",
        ),
        filters=("pressure_class",),
        village_column=None,
    ),
    "gas-facilities": LayerSpec(
        GasFacility,
        "id",
        ("id", "code", "town_code", "kind", "name"),
        filters=("kind",),
        village_column=None,
    ),
    "fire-stations": LayerSpec(
        FireStation,
        "id",
        ("id", "code", "town_code", "kind", "name", "staff_count"),
        filters=("kind",),
        village_column=None,
    ),
    "hazards": LayerSpec(
        Hazard,
        "id",
        (
            "id",
            "code",
            "town_code",
            "unit_id",
            "village_code",
            "source",
            "category",
            "fatal_factor",
            "level",
            "found_on",
            "deadline",
            "closed_on",
            "status",
            "supervised",
            "version",
            "escalation",
        ),
        filters=("source", "category", "level", "status", "supervised", "escalation"),
    ),
}


def _column(spec: LayerSpec, name: str) -> InstrumentedAttribute[Any]:
    return getattr(spec.model, name)  # type: ignore[no-any-return]


def check_bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    """Validate a lon/lat bbox (minx, miny, maxx, maxy) in CGCS2000."""
    if len(bbox) != 4:
        raise InvalidInput("bbox needs four numbers: minLon,minLat,maxLon,maxLat")
    minx, miny, maxx, maxy = (float(v) for v in bbox)
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise InvalidInput(
            "bbox must be minLon,minLat,maxLon,maxLat in degrees with min < max "
            "(did you swap latitude and longitude?)"
        )
    return minx, miny, maxx, maxy


def layer_filter(
    layer: str,
    *,
    scope: Scope,
    bbox: Sequence[float] | None = None,
    village: str | None = None,
    town: str | None = None,
    equals: dict[str, Any] | None = None,
    prefixes: dict[str, str] | None = None,
    search: str | None = None,
) -> ColumnElement[bool]:
    """The WHERE clause of a layer query; every value is bound, never spliced into SQL."""
    spec = LAYERS[layer]
    geom = _column(spec, "geom")
    clauses: list[ColumnElement[bool]] = [scope_clause(spec.model, scope)]
    if bbox is not None:
        minx, miny, maxx, maxy = check_bbox(bbox)
        clauses.append(
            gf.ST_Intersects(geom, gf.ST_MakeEnvelope(minx, miny, maxx, maxy, STORAGE_SRID))
        )
    if town is not None:
        clauses.append(_column(spec, "town_code") == town)
    if village is not None:
        if spec.village_column is not None:
            clauses.append(_column(spec, spec.village_column) == village)
        else:
            polygon = select(Village.geom).where(Village.code == village).scalar_subquery()
            clauses.append(gf.ST_Intersects(geom, polygon))
    for name, value in (equals or {}).items():
        if name not in spec.filters:
            raise InvalidInput(f"layer {layer} cannot be filtered by {name}")
        column = _column(spec, name)
        allowed = getattr(column.type, "enums", None)
        if allowed is not None and value not in allowed:
            raise InvalidInput(f"{name} must be one of {', '.join(allowed)}")
        clauses.append(column == value)
    for name, value in (prefixes or {}).items():
        if name not in spec.prefix_filters:
            raise InvalidInput(f"layer {layer} cannot be filtered by prefix of {name}")
        clauses.append(_column(spec, name).startswith(value, autoescape=True))
    if search:
        if "name" not in spec.properties:
            raise InvalidInput(f"layer {layer} has no name to search (q)")
        clauses.append(_column(spec, "name").contains(search, autoescape=True))
    return and_(literal(True), *clauses)


def count_select(layer: str, where: ColumnElement[bool]) -> Select[int]:
    spec = LAYERS[layer]
    return select(func.count()).select_from(spec.model).where(where)


def _key(name: str) -> ColumnElement[str]:
    # Property names come from LAYERS (code, never input); inlined so the statement text, and
    # with it PostgreSQL's prepared plan, is the same for every request.
    if not name.isidentifier():
        raise ValueError(f"not a property name: {name!r}")
    return literal_column(f"'{name}'")


@cache
def feature_json(layer: str) -> ColumnElement[Any]:
    """One row of ``layer`` as a GeoJSON Feature built by PostgreSQL (``json``).

    Built once per layer: the same element every request, so SQLAlchemy's memoised cache key
    for it is computed once too.

    Geometry by ``ST_AsGeoJSON(geom, 7, 0)``: 1e-7° precision and no ``crs`` member (option 0;
    RFC 7946 has none, and the default would add one for EPSG:4490).
    """
    spec = LAYERS[layer]
    pairs: list[Any] = []
    for p in spec.properties:
        pairs += [_key(p), _column(spec, p)]
    geometry = cast(func.ST_AsGeoJSON(_column(spec, "geom"), COORD_PRECISION, 0), JSON)
    return func.json_build_object(
        _key("type"),
        literal_column("'Feature'"),
        _key("id"),
        _column(spec, spec.id_column),
        _key("geometry"),
        geometry,
        _key("properties"),
        func.json_build_object(*pairs),
    )


def feature_page_select(
    layer: str, where: ColumnElement[bool], limit: int, offset: int
) -> Select[int, str]:
    """(rows matching ``where``, JSON array text of one page of features), in one statement.

    The features are serialised by PostgreSQL and travel as text, so the service returns them
    without decoding a geometry or building a Python object per row.
    """
    spec = LAYERS[layer]
    order = [_column(spec, o) for o in spec.order_by]
    page = (
        select(
            feature_json(layer).label("feature"), *(o.label(f"_o{i}") for i, o in enumerate(order))
        )
        .where(where)
        .order_by(*order)
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )
    keys = [page.c[f"_o{i}"] for i in range(len(order))]
    features = select(
        cast(
            func.coalesce(
                func.json_agg(aggregate_order_by(page.c.feature, *keys)),
                literal_column("'[]'::json"),
            ),
            Text,
        )
    ).scalar_subquery()
    return select(count_select(layer, where).scalar_subquery().label("matched"), features)


def fetch_feature_page(
    conn: Connection, layer: str, where: ColumnElement[bool], limit: int, offset: int
) -> tuple[int, str]:
    """The number of rows matching ``where`` and one page's features as a JSON array (text)."""
    row = conn.execute(feature_page_select(layer, where, limit, offset)).one()
    return int(row[0]), str(row[1])


def fetch_features(
    conn: Connection, layer: str, where: ColumnElement[bool], limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The GeoJSON features of one page (as Python objects) and the number of matching rows.

    The same statement as the API's pages; one ``json.loads`` of the array PostgreSQL built.
    """
    total, features = fetch_feature_page(conn, layer, where, limit, offset)
    return json.loads(features), total
