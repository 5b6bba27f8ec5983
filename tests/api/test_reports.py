"""Public reports: tracking by code (status only), per-client rate limit, duplicate suggestions."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pyproj import Geod
from sqlalchemy import Connection, Engine, text

from api.dependencies import get_conn
from api.main import create_app
from api.rate_limits import SlidingWindow
from gis.errors import TooManyRequests
from gis.settings import Settings
from tests.accounts import TEST_SECRET
from tests.api.conftest import ClientAs

GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid (to well under a millimetre here)
SECRET_TEXT = "仓库门口堆放杂物堵塞安全出口X7"


@pytest.fixture
def spot(db_conn: Connection) -> tuple[float, float]:
    """A point inside a demo village, away from its edge."""
    x, y = db_conn.execute(
        text(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM villages "
            "ORDER BY ST_Area(geom) DESC LIMIT 1) s"
        )
    ).one()
    return float(x), float(y)


def _report(lon: float, lat: float, **extra: Any) -> dict[str, Any]:
    return {"lon": lon, "lat": lat, "category": "fire", "description": SECRET_TEXT} | extra


def test_tracking_by_code_shows_status_only(
    anonymous: TestClient, db_conn: Connection, spot: tuple[float, float]
) -> None:
    body = _report(*spot, reporter_name="张举报", reporter_phone="13700001111")
    receipt = anonymous.post("/api/v1/reports", json=body)
    assert receipt.status_code == 201, receipt.text
    code = receipt.json()["code"]
    r = anonymous.get(f"/api/v1/reports/{code}")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "status": "reported",
        "status_label": "待确认",
        "received_on": receipt.json()["received_on"],
        "closed_on": None,
    }
    for secret in (SECRET_TEXT, "张举报", "13700001111"):
        assert secret not in r.text
    # A hazard found by staff is not a public report: its code tracks nothing.
    staff_code = db_conn.execute(
        text("SELECT code FROM hazards WHERE source <> 'public_report' LIMIT 1")
    ).scalar_one()
    assert anonymous.get(f"/api/v1/reports/{staff_code}").status_code == 404
    assert anonymous.get("/api/v1/reports/JB20990101FFFFFF").status_code == 404
    assert anonymous.get("/api/v1/reports/<script>").status_code in (404, 422)


@pytest.fixture
def limited_app(db_engine: Engine, db_conn: Connection) -> FastAPI:
    settings = Settings(
        secret_key=TEST_SECRET,
        database_url="postgresql+psycopg://unused@127.0.0.1/x",
        report_rate_limit=3,
        report_rate_window_s=600,
    )
    app = create_app(settings, db_engine)
    app.dependency_overrides[get_conn] = lambda: db_conn
    return app


def test_the_public_form_is_rate_limited_per_client(
    limited_app: FastAPI, db_conn: Connection, spot: tuple[float, float]
) -> None:
    public = TestClient(limited_app)
    before = db_conn.execute(text("SELECT count(*) FROM hazards")).scalar_one()
    for _ in range(3):
        assert public.post("/api/v1/reports", json=_report(*spot)).status_code == 201
    refused = public.post("/api/v1/reports", json=_report(*spot))
    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 600
    after = db_conn.execute(text("SELECT count(*) FROM hazards")).scalar_one()
    assert after == before + 3  # the refused one wrote nothing


def test_signed_in_staff_are_not_counted(
    limited_app: FastAPI, client_as: ClientAs, spot: tuple[float, float]
) -> None:
    staff = client_as("grid_chief")
    staff_on_limited = TestClient(limited_app, headers=dict(staff.headers))
    for _ in range(5):
        assert staff_on_limited.post("/api/v1/reports", json=_report(*spot)).status_code == 201


def test_sliding_window_forgets_old_hits() -> None:
    window = SlidingWindow(limit=2, window_s=60)
    window.hit("a", now=0)
    window.hit("a", now=10)
    window.hit("b", now=10)  # another client has its own count
    with pytest.raises(TooManyRequests) as refused:
        window.hit("a", now=59)
    assert refused.value.retry_after_s == 1
    window.hit("a", now=60.5)  # the hit at 0 has left the window


def test_similar_reports_within_50_m_same_category_30_days(
    client: TestClient, anonymous: TestClient, db_conn: Connection, spot: tuple[float, float]
) -> None:
    lon, lat = spot

    def at(distance_m: float, azimuth: float = 90.0) -> tuple[float, float]:
        x, y, _ = GEOD.fwd(lon, lat, azimuth, distance_m)
        return x, y

    def report(point: tuple[float, float], **extra: Any) -> int:
        code = anonymous.post("/api/v1/reports", json=_report(*point, **extra)).json()["code"]
        return int(
            db_conn.execute(
                text("SELECT id FROM hazards WHERE code = :c"), {"c": code}
            ).scalar_one()
        )

    first = report((lon, lat))
    near = report(at(30))
    edge = report(at(49, azimuth=200))
    far = report(at(55))
    other_kind = report(at(10), category="gas")
    old = report(at(20))
    db_conn.execute(text("UPDATE hazards SET found_on = found_on - 31 WHERE id = :i"), {"i": old})
    r = client.get(f"/api/v1/reports/{first}/similar")
    assert r.status_code == 200, r.text
    got = r.json()
    ids = [s["id"] for s in got]
    assert near in ids and edge in ids
    assert far not in ids and other_kind not in ids and old not in ids and first not in ids
    by_id = {s["id"]: s for s in got}
    witness = GEOD.inv(lon, lat, *at(30))[2]
    assert by_id[near]["distance_m"] == pytest.approx(witness, abs=0.05)
    assert [s["distance_m"] for s in got] == sorted(s["distance_m"] for s in got)
    assert client.get("/api/v1/reports/999999999/similar").status_code == 404
