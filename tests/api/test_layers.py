"""GeoJSON layers: counts, filters and paging, checked against GeoPandas on the source files."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import box, shape
from sqlalchemy import Connection, text

from api.schemas.geojson import FeatureCollection
from data import DEMO_DIR


@pytest.fixture(scope="module")
def demo_units() -> gpd.GeoDataFrame:
    return gpd.read_file(DEMO_DIR / "units.geojson")


@pytest.fixture(scope="module")
def demo_roads() -> gpd.GeoDataFrame:
    return gpd.read_file(DEMO_DIR / "roads.geojson")


@pytest.fixture(scope="module")
def demo_villages() -> gpd.GeoDataFrame:
    return gpd.read_file(DEMO_DIR / "villages.geojson")


def test_villages_layer_has_the_35_grids(client: TestClient) -> None:
    response = client.get("/api/v1/villages")
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert body["numberMatched"] == 35 == len(body["features"])
    first = body["features"][0]
    assert first["geometry"]["type"] == "MultiPolygon"
    assert len(first["properties"]["code"]) == 12


@pytest.mark.parametrize(
    "layer",
    [
        "villages",
        "micro-grids",
        "units",
        "staff",
        "roads",
        "pipelines",
        "gas-facilities",
        "fire-stations",
        "hazards",
    ],
)
def test_every_layer_is_served(client: TestClient, layer: str) -> None:
    body = client.get(f"/api/v1/{layer}", params={"limit": 5}).json()
    assert body["numberMatched"] > 0
    assert 0 < body["numberReturned"] <= 5


def test_bbox_filter_matches_geopandas(client: TestClient, demo_units: gpd.GeoDataFrame) -> None:
    bounds = (113.99, 34.04, 114.01, 34.06)
    expected = set(demo_units[demo_units.intersects(box(*bounds))]["code"])
    body = client.get(
        "/api/v1/units", params={"bbox": ",".join(map(str, bounds)), "limit": 5000}
    ).json()
    got = {f["properties"]["code"] for f in body["features"]}
    assert expected and got == expected
    for feature in body["features"]:
        assert box(*bounds).intersects(shape(feature["geometry"]))


def test_village_filter_on_units_and_on_roads(
    client: TestClient,
    demo_units: gpd.GeoDataFrame,
    demo_roads: gpd.GeoDataFrame,
    demo_villages: gpd.GeoDataFrame,
) -> None:
    village = demo_villages.iloc[3]
    units = client.get("/api/v1/units", params={"village": village["code"], "limit": 5000}).json()
    assert units["numberMatched"] == int((demo_units["village_code"] == village["code"]).sum())
    # Roads carry no village code: the filter is spatial, so compare with a spatial witness.
    roads = client.get("/api/v1/roads", params={"village": village["code"], "limit": 5000}).json()
    assert roads["numberMatched"] == int(demo_roads.intersects(village.geometry).sum())


def test_attribute_filters(client: TestClient, demo_units: gpd.GeoDataFrame) -> None:
    body = client.get("/api/v1/units", params={"risk_color": "red", "limit": 5000}).json()
    assert body["numberMatched"] == int((demo_units["risk_color"] == "red").sum())
    body = client.get("/api/v1/units", params={"industry_code": "H", "limit": 5000}).json()
    assert body["numberMatched"] == int(demo_units["industry_code"].str.startswith("H").sum())
    body = client.get("/api/v1/units", params={"high_risk": "true", "limit": 5000}).json()
    assert body["numberMatched"] == int(demo_units["high_risk"].sum())


def test_paging_covers_every_row_once(client: TestClient, demo_units: gpd.GeoDataFrame) -> None:
    seen: list[str] = []
    url: str | None = "/api/v1/units?limit=150"
    while url:
        body = client.get(url).json()
        seen += [f["properties"]["code"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert len(seen) == len(set(seen)) == len(demo_units)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"bbox": "34.04,113.99,34.06,114.01"}, 400),  # lat/lon swapped
        ({"bbox": "1,2,3"}, 400),
        ({"bbox": "a,b,c,d"}, 400),
        ({"risk_color": "purple"}, 400),
        ({"village": "12345"}, 422),
        ({"limit": 0}, 422),
    ],
)
def test_bad_input_is_a_clear_client_error(client: TestClient, params: dict, status: int) -> None:
    response = client.get("/api/v1/units", params=params)
    assert response.status_code == status
    body = response.json()
    if status == 400:
        assert body["code"] == "invalid_input" and body["message"]


@pytest.mark.parametrize(
    ("layer", "table", "key"),
    [("units", "units", "id"), ("villages", "villages", "code"), ("roads", "roads", "id")],
)
def test_features_equal_an_independent_read(
    client: TestClient, db_conn: Connection, layer: str, table: str, key: str
) -> None:
    """The GeoJSON PostgreSQL writes is the FeatureCollection the schema promises: every
    property equal to a plain select, every geometry to Shapely's reading of the WKB."""
    from gis.queries.layers import LAYERS

    body = client.get(f"/api/v1/{layer}", params={"limit": 100}).json()
    assert set(body) == {"type", "features", "numberMatched", "numberReturned", "links"}
    assert body["type"] == "FeatureCollection"
    FeatureCollection.model_validate(body)
    props = LAYERS[layer].properties
    rows = db_conn.execute(
        text(
            f"SELECT {', '.join(props)}, ST_AsBinary(geom) AS wkb FROM {table} "
            f"ORDER BY {key} LIMIT 100"
        )
    ).mappings()
    expected = {row[key]: row for row in rows}
    assert body["numberReturned"] == len(body["features"]) == len(expected)
    assert body["numberMatched"] == db_conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
    for feature in body["features"]:
        assert set(feature) == {"type", "id", "geometry", "properties"}
        assert set(feature["geometry"]) == {"type", "coordinates"}  # no "crs" member
        row = expected[feature["id"]]
        assert feature["properties"] == {
            p: row[p].isoformat() if hasattr(row[p], "isoformat") else row[p] for p in props
        }
        witness = shapely.from_wkb(bytes(row["wkb"]))
        assert shape(feature["geometry"]).equals_exact(witness, 1e-7)
