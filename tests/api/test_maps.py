"""Map pages: served with vendored assets, titled for the place, layers drawn from scoped data."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from gis.access import Role
from gis.domain import RiskColor, RoadClass
from gis.gcj02 import wgs_to_gcj
from maps.area_map import LAYER_NAMES
from tests.api.conftest import ClientAs


def test_map_pages_load_their_assets_from_the_service(client: TestClient) -> None:
    for page in ("/maps/area", "/maps/hazards"):
        html = client.get(page).text
        urls = set(re.findall(r'(?:src|href)="([^"]+)"', html))
        assert urls and all(u.startswith("/static/maps/") for u in urls), urls
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200 and len(response.content) > 1000, url


def test_area_map_of_a_village_for_its_grid_chief(client_as: ClientAs) -> None:
    chief = client_as(Role.GRID_CHIEF)
    village = chief.account["village_code"]  # type: ignore[attr-defined]
    html = chief.get("/maps/area", params={"village": village}).text
    assert "安全生产网格图" in html
    for key in ("villages", "roads", "units"):
        name = LAYER_NAMES[key]
        assert name in html or json.dumps(name)[1:-1] in html  # the layer control escapes it
    # Another village is not the chief's to see.
    other = "411003101201" if village != "411003101201" else "411003101202"
    assert chief.get("/maps/area", params={"village": other}).status_code == 404


def _legend(html: str) -> list[str]:
    """The legend's labels as the page draws them (the text after each swatch)."""
    found = re.search(r'box\("bottomright", "gs-legend", (".*?")\);', html)
    assert found, "no legend on the page"
    return re.findall(r"</span>([^<]+)", json.loads(found.group(1)))


def _labels(html: str) -> list[list[Any]]:
    found = re.search(r"\n  (\[\[.*?\]\])\.forEach", html)
    return json.loads(found.group(1)) if found else []


def test_area_map_of_a_grid_chief_orients_without_a_basemap(
    client_as: ClientAs, db_conn: Connection
) -> None:
    chief = client_as(Role.GRID_CHIEF)
    village = chief.account["village_code"]  # type: ignore[attr-defined]
    html = chief.get("/maps/area").text  # no village asked: the chief's own is the place
    name, town = db_conn.execute(
        text(
            "SELECT v.name, t.name FROM villages v JOIN towns t ON t.code = v.town_code"
            " WHERE v.code = :v"
        ),
        {"v": village},
    ).one()
    title = re.search(r'<div class="gs-title">(.*?)</div>', html)
    assert title and title.group(1) == f"{name}安全生产网格图" and town not in title.group(1)
    # Legend: one line per road class and risk colour actually drawn, by the database's count.
    classes = db_conn.execute(
        text(
            "SELECT DISTINCT r.road_class::text FROM roads r JOIN villages v"
            " ON ST_Intersects(r.geom, v.geom) WHERE v.code = :v"
        ),
        {"v": village},
    ).scalars()
    colours = db_conn.execute(
        text("SELECT DISTINCT risk_color::text FROM units WHERE village_code = :v"), {"v": village}
    ).scalars()
    expected = {f"{RoadClass(c).label}（{c}）" for c in classes}
    expected |= {f"{RiskColor(c).label}单位" for c in colours}
    legend = _legend(html)
    assert expected <= set(legend), (expected, legend)
    assert LAYER_NAMES["villages"] in legend
    drawn = {RoadClass(c).label for c in RoadClass} | {RiskColor(c).label for c in RiskColor}
    lines = [entry for entry in legend if any(entry.startswith(d) for d in drawn)]
    assert len(lines) == len(expected)  # nothing listed that is not drawn
    # Village and road names and the grid's own name, from the tables, drawn as labels.
    labels = _labels(html)
    assert [lab[2] for lab in labels if lab[3] == "gs-village"] == [name]
    road_names = set(
        db_conn.execute(
            text(
                "SELECT DISTINCT r.name FROM roads r JOIN villages v"
                " ON ST_Intersects(r.geom, v.geom) WHERE v.code = :v AND r.name IS NOT NULL"
            ),
            {"v": village},
        ).scalars()
    )
    assert {lab[2] for lab in labels if lab[3] == "gs-road"} == road_names
    assert "imperial: false" in html and "北" in html and "全屏" in html


def test_unit_popups_name_inspector_team_and_next_due(
    client_as: ClientAs, db_conn: Connection
) -> None:
    village, unit_id, unit = db_conn.execute(
        text("SELECT village_code, id, name FROM units WHERE village_code IS NOT NULL LIMIT 1")
    ).one()
    staff = db_conn.execute(text("SELECT id, name FROM staff ORDER BY id LIMIT 2")).all()
    for (staff_id, _), role in zip(staff, ("unit_inspector", "team_town_cadre"), strict=True):
        db_conn.execute(
            text(
                "INSERT INTO responsibilities (town_code, staff_id, role, unit_id, valid_from)"
                " SELECT town_code, :s, :r, id, DATE '2020-01-01' FROM units WHERE id = :u"
            ),
            {"s": staff_id, "r": role, "u": unit_id},
        )
    inspector, cadre = staff[0][1], staff[1][1]
    html = client_as(Role.TOWN_ADMIN).get("/maps/area", params={"village": village}).text
    popup = re.search(rf"<b>{re.escape(unit)}</b>.*?下次检查：[^<`]*", html)
    assert popup, unit
    assert f"责任监管人员：{inspector}" in popup.group(0)
    assert f"乡镇干部：{cadre}" in popup.group(0)


def test_amap_overlays_are_shifted_to_gcj02(client: TestClient, db_conn: Connection) -> None:
    lon, lat = db_conn.execute(
        text("SELECT ST_X(geom), ST_Y(geom) FROM units ORDER BY id LIMIT 1")
    ).one()
    glon, glat = (float(v[0]) for v in wgs_to_gcj(np.array([lon]), np.array([lat])))
    markers = [
        (float(a), float(b))
        for a, b in re.findall(
            r"L\.circleMarker\(\s*\[([\d.]+), ([\d.]+)\]",
            client.get("/maps/area", params={"basemap": "amap"}).text,
        )
    ]
    assert any(abs(a - glat) < 1e-9 and abs(b - glon) < 1e-9 for a, b in markers)
    assert not any(abs(a - lat) < 1e-7 and abs(b - lon) < 1e-7 for a, b in markers)


def test_hazard_heat_map_says_what_it_shows(client: TestClient, db_conn: Connection) -> None:
    total = db_conn.execute(text("SELECT count(*) FROM hazards")).scalar_one()
    html = client.get("/maps/hazards").text
    assert f"共 {total} 处隐患" in html
