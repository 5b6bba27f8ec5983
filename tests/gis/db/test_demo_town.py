"""The demo town as loaded into PostGIS: tiling, containment, a connected road graph, valid codes.

Each check runs in the database and is compared with an independent witness (GeoPandas,
networkx, or a check digit computed here).
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import pytest
from sqlalchemy import Connection, text

from gis.crs import METRIC_SRID

TOWN = "411003101000"
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _frame(conn: Connection, sql: str) -> gpd.GeoDataFrame:
    return gpd.read_postgis(text(sql), conn, geom_col="geom", crs=4490)


def test_villages_tile_the_town(db_conn: Connection) -> None:
    town_area, union_area, overlap = db_conn.execute(
        text(
            """
            SELECT ST_Area(ST_Transform(t.geom, 4547)),
                   ST_Area(ST_Transform(ST_Union(v.geom), 4547)),
                   (SELECT coalesce(sum(ST_Area(ST_Transform(ST_Intersection(a.geom, b.geom),
                                                             4547))), 0)
                      FROM villages a JOIN villages b
                        ON a.code < b.code AND ST_Intersects(a.geom, b.geom)
                     WHERE a.town_code = :town AND b.town_code = :town)
              FROM towns t JOIN villages v ON v.town_code = t.code
             WHERE t.code = :town GROUP BY t.geom
            """
        ),
        {"town": TOWN},
    ).one()
    assert abs(union_area - town_area) / town_area < 1e-6
    assert overlap / town_area < 1e-9
    assert 73.4e6 * 0.98 < town_area < 73.4e6 * 1.02
    # Witness: the same areas from GeoPandas in EPSG:4547.
    villages = _frame(db_conn, f"SELECT code, geom FROM villages WHERE town_code = '{TOWN}'")
    metric = villages.to_crs(METRIC_SRID)
    assert metric.union_all().area == pytest.approx(union_area, rel=1e-9)
    assert len(villages) == 35


def test_every_unit_lies_in_exactly_one_village(db_conn: Connection) -> None:
    rows = db_conn.execute(
        text(
            """
            SELECT u.code, u.village_code, array_agg(v.code) AS containing
              FROM units u LEFT JOIN villages v ON ST_Covers(v.geom, u.geom)
             WHERE u.town_code = :town GROUP BY u.code, u.village_code
            """
        ),
        {"town": TOWN},
    ).all()
    assert 480 <= len(rows) <= 560
    assert all(containing == [village] for _, village, containing in rows)
    # Witness: GeoPandas sjoin gives the same village for every unit.
    units = _frame(db_conn, f"SELECT code, village_code, geom FROM units WHERE town_code='{TOWN}'")
    villages = _frame(db_conn, f"SELECT code AS vcode, geom FROM villages WHERE town_code='{TOWN}'")
    joined = gpd.sjoin(units, villages, predicate="within")
    assert len(joined) == len(units)
    assert (joined["vcode"] == joined["village_code"]).all()


def test_road_graph_is_connected_by_pgrouting_and_networkx(db_conn: Connection) -> None:
    components = db_conn.execute(
        text(
            "SELECT count(DISTINCT component) FROM pgr_connectedComponents("
            "'SELECT id, source, target, cost_s AS cost, cost_s AS reverse_cost FROM roads')"
        )
    ).scalar_one()
    assert components == 1
    edges = db_conn.execute(text("SELECT source, target FROM roads")).all()
    assert nx.is_connected(nx.Graph(edges))
    km = db_conn.execute(text("SELECT sum(ST_Length(ST_Transform(geom, 4547))) FROM roads"))
    assert 210_000 <= km.scalar_one() <= 250_000


def _check_char(code17: str) -> str:
    total = sum(CHARSET.index(c) * pow(3, i, 31) for i, c in enumerate(code17))
    return CHARSET[(31 - total % 31) % 31]


def test_every_credit_code_passes_its_check(db_conn: Connection) -> None:
    codes = db_conn.execute(text("SELECT uscc FROM units WHERE town_code = :t"), {"t": TOWN})
    codes = [c for (c,) in codes]
    assert codes and all(len(c) == 18 and _check_char(c[:17]) == c[17] for c in codes)
    assert len(set(codes)) == len(codes)


def test_counts_are_within_the_spec(db_conn: Connection) -> None:
    counts = dict(
        db_conn.execute(
            text(
                """
                SELECT 'key_units', count(*) FROM units WHERE fire_key_level <> 'none'
                UNION ALL SELECT 'staff', count(*) FROM staff
                UNION ALL SELECT 'hazards', count(*) FROM hazards
                UNION ALL SELECT 'inspections', count(*) FROM inspections
                UNION ALL SELECT 'regulators', count(*) FROM gas_facilities
                          WHERE kind = 'regulator_station'
                UNION ALL SELECT 'reporters', count(*) FROM reporter_identities
                """
            )
        ).all()
    )
    assert 40 <= counts["key_units"] <= 80
    assert 55 <= counts["staff"] <= 80
    assert 2000 <= counts["hazards"] <= 3200
    assert counts["inspections"] >= 2000
    assert counts["regulators"] >= 1
    assert counts["reporters"] > 0  # public reports keep their reporter in the restricted table
