"""POST /api/v1/inspections: hazards filed from the checklist, and the GPS check-in flag.

The distance witness is pyproj: check-in points are placed 95 m and 105 m from the unit with a
geodesic on GRS80, and their distance is re-measured in EPSG:4547 (Gauss-Krüger CM 114E).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pyproj import Geod, Transformer
from sqlalchemy import Connection, func, select

from gis.access import Role
from gis.db.models import Hazard, Unit
from tests.api.conftest import ClientAs
from tests.conftest import DEMO_TOWN


def _unit(conn: Connection, village: str) -> tuple[int, float, float]:
    row = conn.execute(
        select(Unit.id, func.ST_X(Unit.geom), func.ST_Y(Unit.geom))
        .where(Unit.town_code == DEMO_TOWN, Unit.village_code == village)
        .order_by(Unit.id)
        .limit(1)
    ).one()
    return int(row[0]), float(row[1]), float(row[2])


def _body(client: TestClient, unit_id: int, **kw: Any) -> dict[str, Any]:
    lists = client.get("/api/v1/inspections/checklists").json()
    nine = next(c for c in lists if c["code"] == "nine_small")
    items = [{"no": i["no"], "result": "ok"} for i in nine["items"]]
    items[1] = {"no": 2, "result": "hazard", "note": "安全出口堆放纸箱"}
    items[4] = {"no": 5, "result": "hazard", "category": "electrical", "note": "私拉电线"}
    items[8] = {"no": 9, "result": "na"}
    return {
        "unit_id": unit_id,
        "checklist": "nine_small",
        "checklist_version": nine["version"],
        "items": items,
        "inspectors": ["RY0001"],
        "explained": "讲解九小场所消防要求",
        "handed_over": "整改通知书一份",
        "unit_signer": "店主赵某",
        **kw,
    }


@pytest.mark.parametrize(("metres", "flagged"), [(95.0, False), (105.0, True)])
def test_checkin_flag_against_pyproj(
    client_as: ClientAs, db_conn: Connection, metres: float, flagged: bool
) -> None:
    chief = client_as(Role.GRID_CHIEF)
    unit_id, lon, lat = _unit(db_conn, chief.account["village_code"])  # type: ignore[attr-defined]
    lon2, lat2, _ = Geod(ellps="GRS80").fwd(lon, lat, 37.0, metres)
    to_gk = Transformer.from_crs(4490, 4547, always_xy=True)
    (x1, y1), (x2, y2) = to_gk.transform(lon, lat), to_gk.transform(lon2, lat2)
    witness = math.hypot(x2 - x1, y2 - y1)
    response = chief.post("/api/v1/inspections", json=_body(chief, unit_id, lon=lon2, lat=lat2))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["checkin"]["flagged"] is flagged
    assert body["checkin"]["radius_m"] == 100
    assert body["checkin"]["distance_m"] == pytest.approx(witness, abs=0.5)
    assert body["kind"] == "grid_patrol" and body["hazard_count"] == 2
    linked = db_conn.execute(
        select(Hazard.code, Hazard.category, Hazard.source)
        .where(Hazard.inspection_id == body["id"])
        .order_by(Hazard.id)
    ).all()
    assert [(c, s) for _, c, s in linked] == [
        ("fire", "grid_patrol"),
        ("electrical", "grid_patrol"),
    ]
    assert [h["code"] for h in body["hazards"]] == [code for code, _, _ in linked]


def test_inspection_is_scoped_and_validated(client_as: ClientAs, db_conn: Connection) -> None:
    chief = client_as(Role.GRID_CHIEF)
    other = db_conn.execute(
        select(Unit.id)
        .where(
            Unit.town_code == DEMO_TOWN,
            Unit.village_code != chief.account["village_code"],  # type: ignore[attr-defined]
        )
        .limit(1)
    ).scalar_one()
    assert chief.post("/api/v1/inspections", json=_body(chief, other)).status_code == 404
    unit_id, _, _ = _unit(db_conn, chief.account["village_code"])  # type: ignore[attr-defined]
    body = _body(chief, unit_id)
    body["items"] = body["items"][:3]
    refused = chief.post("/api/v1/inspections", json=body)
    assert refused.status_code == 400 and "one result per item" in refused.json()["message"]
    county = client_as(Role.COUNTY_OFFICE)
    assert county.post("/api/v1/inspections", json=_body(chief, unit_id)).status_code == 403
