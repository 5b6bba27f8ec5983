"""The web pages over HTTP: redirects, role homes, scoping, server-side filters, forms and CSRF.

Browser behaviour (layout, no foreign requests, round-trips in Chromium) is in tests/browser/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Connection, func, select

from api.routers import pages_hazards, pages_units, web
from api.security import CSRF_COOKIE
from gis.access import Role
from gis.db.models import Hazard, Inspection, Unit, Village
from gis.domain import HazardStatus, RiskColor
from tests.accounts import TEST_PASSWORD, make_account
from tests.api.conftest import ClientAs
from tests.conftest import DEMO_TOWN

HTML = {"Accept": "text/html,application/xhtml+xml"}


def _sign_in(app: FastAPI, conn: Connection, role: Role, **area: Any) -> TestClient:
    """A browser-like client signed in through the login form (session cookie + CSRF cookie)."""
    account = make_account(conn, role, **({"town_code": DEMO_TOWN} | area))
    web_client = TestClient(app, follow_redirects=False)
    web_client.get("/login")
    response = web_client.post(
        "/login",
        data={
            "username": account["username"],
            "password": TEST_PASSWORD,
            "csrf_token": str(web_client.cookies.get(CSRF_COOKIE)),
        },
    )
    assert response.status_code == 303, response.text
    return web_client


def _csrf(web_client: TestClient) -> str:
    return str(web_client.cookies.get(CSRF_COOKIE))


def test_root_leads_to_sign_in_or_home(api_app: FastAPI, db_conn: Connection) -> None:
    with TestClient(api_app, follow_redirects=False) as anon:
        assert anon.get("/").headers["location"] == "/login"
    signed_in = _sign_in(api_app, db_conn, Role.TOWN_ADMIN)
    assert signed_in.get("/").headers["location"] == "/home"
    public = _sign_in(api_app, db_conn, Role.PUBLIC)  # no public home yet: never a dead end
    assert public.get("/").headers["location"] == "/account"
    assert public.get("/account").status_code == 200


@pytest.mark.parametrize("path", ["/home", "/units?risk=red&kind=fire_key", "/maps/area"])
def test_signed_out_pages_lead_to_sign_in_and_back(
    api_app: FastAPI, db_conn: Connection, path: str
) -> None:
    with TestClient(api_app, follow_redirects=False) as anon:
        response = anon.get(path, headers=HTML)
        assert response.status_code == 303
        target = response.headers["location"]
        assert target.startswith("/login?next=")
        login = anon.get(target)
        assert login.status_code == 200
        account = make_account(db_conn, Role.TOWN_ADMIN, town_code=DEMO_TOWN)
        nxt = re.search(r'name="next" value="([^"]*)"', login.text)
        assert nxt is not None
        back = anon.post(
            "/login",
            data={
                "username": account["username"],
                "password": TEST_PASSWORD,
                "csrf_token": _csrf(anon),
                "next": nxt.group(1).replace("&amp;", "&"),
            },
        )
        assert back.status_code == 303 and back.headers["location"] == path
        assert anon.get(path).status_code == 200


def test_scripts_calling_the_api_still_get_401_json(anonymous: TestClient) -> None:
    response = anonymous.get("/api/v1/units", headers=HTML)
    assert response.status_code == 401 and response.json()["code"] == "unauthenticated"
    assert anonymous.get("/home").status_code == 401  # no text/html asked: not a person


HOME_TEXT = {
    Role.GRID_CHIEF: "我的网格",
    Role.INSPECTOR: "今日检查路线",
    Role.DEPARTMENT: "本部门监管单位",
    Role.TOWN_ADMIN: "全镇概况",
    Role.COUNTY_OFFICE: "各乡镇对比",
}


@pytest.mark.parametrize("role", list(HOME_TEXT), ids=lambda r: r.value)
def test_each_role_has_its_own_home(client_as: ClientAs, role: Role) -> None:
    page = client_as(role).get("/home")
    assert page.status_code == 200, page.text[:300]
    assert HOME_TEXT[role] in page.text
    # Codes are shown with names: no bare 12-digit village code in the page text.
    assert not re.search(r">\s*\d{12}\s*<", page.text)


def test_chief_home_names_the_village(client_as: ClientAs, db_conn: Connection) -> None:
    chief = client_as(Role.GRID_CHIEF)
    village = chief.account["village_code"]  # type: ignore[attr-defined]
    page = chief.get("/home").text
    name = db_conn.execute(select(Village.name).where(Village.code == village)).scalar_one()
    assert f"我的网格：{name}" in page and village not in page


def _unit_in_village(conn: Connection, village: str, inside: bool) -> int:
    where = Unit.village_code == village if inside else Unit.village_code != village
    return int(
        conn.execute(
            select(Unit.id).where(Unit.town_code == DEMO_TOWN, where).order_by(Unit.id).limit(1)
        ).scalar_one()
    )


def test_chief_cannot_open_another_villages_unit(client_as: ClientAs, db_conn: Connection) -> None:
    chief = client_as(Role.GRID_CHIEF)
    village = chief.account["village_code"]  # type: ignore[attr-defined]
    mine = _unit_in_village(db_conn, village, inside=True)
    other = _unit_in_village(db_conn, village, inside=False)
    page = chief.get(f"/units/{mine}")
    assert page.status_code == 200 and "责任人员" in page.text
    assert chief.get(f"/units/{other}").status_code == 404
    assert chief.get(f"/units/{other}/inspect").status_code == 404


def test_unit_list_filters_and_pages_on_the_server(client: TestClient, db_conn: Connection) -> None:
    red = db_conn.execute(
        select(func.count()).where(Unit.town_code == DEMO_TOWN, Unit.risk_color == RiskColor.RED)
    ).scalar_one()
    page = client.get("/units", params={"risk": "red"})
    assert page.status_code == 200
    assert f"单位（共 {red} 家）" in page.text
    assert page.text.count('class="chip risk-red"') == min(red, 25)
    assert 'class="chip risk-blue"' not in page.text
    everyone = client.get("/units").text
    nxt = re.search(r'href="(/units\?[^"]*offset=25[^"]*)"', everyone)
    assert nxt is not None
    filtered_next = re.search(r'href="(/units\?[^"]*offset=25[^"]*)"', page.text)
    if red > 25:
        assert filtered_next is not None and "risk=red" in filtered_next.group(1)
    second = client.get(nxt.group(1).replace("&amp;", "&"))
    assert "第 26–" in second.text


def test_every_page_form_checks_csrf(api_app: FastAPI, db_conn: Connection) -> None:
    """Every POST page route refuses a cookie session's post without its CSRF token."""
    posts = [
        r
        for module in (pages_units, pages_hazards, web)
        for r in module.router.routes
        if isinstance(r, APIRoute) and "POST" in r.methods and r.path != "/login"
    ]
    assert {r.path for r in posts} >= {"/hazards/{hazard_id}/move", "/units/{unit_id}/inspect"}
    town = _sign_in(api_app, db_conn, Role.TOWN_ADMIN)
    hazard = db_conn.execute(
        select(Hazard.id, Hazard.version, Hazard.unit_id)
        .where(Hazard.town_code == DEMO_TOWN, Hazard.status == HazardStatus.REPORTED)
        .limit(1)
    ).one()
    ids = {"hazard_id": hazard.id, "unit_id": hazard.unit_id}
    for route in posts:
        path = route.path.format(**{k: ids.get(k, 1) for k in re.findall(r"{(\w+)}", route.path)})
        forged = town.post(path, data={"verb": "confirm", "version": hazard.version})
        assert forged.status_code == 403, f"{path}: {forged.status_code}"
        assert forged.json()["code"] == "forbidden"
    still = db_conn.execute(select(Hazard.status).where(Hazard.id == hazard.id)).scalar_one()
    assert still == HazardStatus.REPORTED


def test_hazard_button_moves_it_and_a_stale_one_says_so(
    api_app: FastAPI, db_conn: Connection
) -> None:
    town = _sign_in(api_app, db_conn, Role.TOWN_ADMIN)
    hazard = db_conn.execute(
        select(Hazard.id, Hazard.version)
        .where(Hazard.town_code == DEMO_TOWN, Hazard.status == HazardStatus.REPORTED)
        .limit(1)
    ).one()
    listing = town.get("/hazards", params={"status": "reported"}).text
    assert f'action="/hazards/{hazard.id}/move"' in listing and "确认隐患" in listing
    form = {"verb": "confirm", "version": hazard.version, "csrf_token": _csrf(town)}
    done = town.post(f"/hazards/{hazard.id}/move", data=form)
    assert done.status_code == 303, done.text[:400]
    assert "当前状态" in town.get(done.headers["location"]).text
    moved = db_conn.execute(select(Hazard.status).where(Hazard.id == hazard.id)).scalar_one()
    assert moved == HazardStatus.CONFIRMED
    again = town.post(f"/hazards/{hazard.id}/move", data=form)  # the version the page showed
    message = town.get(again.headers["location"]).text
    assert "未执行" in message


def _inspection_form(town: TestClient, unit_id: int) -> tuple[dict[str, str], list[int]]:
    page = town.get(f"/units/{unit_id}/inspect")
    assert page.status_code == 200, page.text[:300]
    hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    numbers = sorted({int(n) for n in re.findall(r'name="item_(\d+)"', page.text)})
    return hidden, numbers


def test_inspection_form_shows_errors_next_to_fields_then_records(
    api_app: FastAPI, db_conn: Connection
) -> None:
    town = _sign_in(api_app, db_conn, Role.TOWN_ADMIN)
    unit_id = int(
        db_conn.execute(select(Unit.id).where(Unit.town_code == DEMO_TOWN).limit(1)).scalar_one()
    )
    hidden, numbers = _inspection_form(town, unit_id)
    answers = {f"item_{n}": "ok" for n in numbers[1:]}  # item 1 left unanswered
    bad = town.post(
        f"/units/{unit_id}/inspect",
        data={**hidden, **answers, "inspectors": "张三", "explained": "", "unit_signer": "李四"},
    )
    assert bad.status_code == 400
    item1 = bad.text.split('id="field-item_1"')[1].split("</fieldset>")[0]
    assert "请选择检查结果" in item1
    assert "请填写现场讲解内容" in bad.text.split('id="explained"')[1].split("<label")[0]
    before = db_conn.execute(select(func.count()).select_from(Inspection)).scalar_one()
    assert db_conn.execute(select(func.count()).select_from(Inspection)).scalar_one() == before
    good = {
        **hidden,
        **answers,
        "item_1": "hazard",
        "note_1": "灭火器压力不足",
        "category_1": "fire",
        "inspectors": "张三，王五",
        "explained": "讲解了灭火器的检查方法",
        "unit_signer": "李四",
    }
    done = town.post(f"/units/{unit_id}/inspect", data=good)
    assert done.status_code == 303, done.text[:500]
    unit_page = town.get(done.headers["location"]).text
    assert "已保存" in unit_page and "灭火器压力不足" in unit_page
    assert db_conn.execute(select(func.count()).select_from(Inspection)).scalar_one() == before + 1


def test_a_workflow_refusal_lands_next_to_its_field(api_app: FastAPI, db_conn: Connection) -> None:
    town = _sign_in(api_app, db_conn, Role.TOWN_ADMIN)
    unit_id = int(
        db_conn.execute(select(Unit.id).where(Unit.town_code == DEMO_TOWN).limit(1)).scalar_one()
    )
    hidden, numbers = _inspection_form(town, unit_id)
    data = {
        **hidden,
        **{f"item_{n}": "ok" for n in numbers},
        "inspectors": "张三",
        "explained": "讲解",
        "unit_signer": "李四",
        "inspected_on": "2999-01-01",  # the workflow refuses a future date
    }
    bad = town.post(f"/units/{unit_id}/inspect", data=data)
    assert bad.status_code == 400
    after_date = bad.text.split('id="inspected_on"')[1]
    assert "晚于今天" in after_date.split("<button")[0]


def test_the_stylesheet_is_served_by_gridsafe(anonymous: TestClient) -> None:
    css = anonymous.get("/static/pages/pages.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert anonymous.get("/static/docs/swagger-ui.css").status_code == 200  # not shadowed


def test_signed_off_hazards_are_never_shown_overdue(
    client: TestClient, db_conn: Connection
) -> None:
    """A past deadline marks an open hazard 已逾期, never a signed-off or rejected one."""
    past = db_conn.execute(
        select(Hazard.id)
        .where(Hazard.town_code == DEMO_TOWN, Hazard.deadline < func.current_date())
        .order_by(Hazard.id)
        .limit(2)
    ).scalars()
    for hazard_id, status in zip(past, (HazardStatus.CLOSED, HazardStatus.REJECTED), strict=True):
        db_conn.execute(
            Hazard.__table__.update().where(Hazard.id == hazard_id).values(status=status)
        )
    for status in (HazardStatus.CLOSED, HazardStatus.REJECTED):
        page = client.get("/hazards", params={"status": status.value}).text
        assert "期限 " in page and "（已逾期）" not in page, status
    # The demo year is long past: its hazards still under rectification are all overdue.
    rectifying = client.get("/hazards", params={"status": HazardStatus.RECTIFYING.value}).text
    assert "（已逾期）" in rectifying
