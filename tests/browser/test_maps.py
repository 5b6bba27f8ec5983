"""Maps in a real browser: they orient a reader at phone and desk size, offline."""

from __future__ import annotations

import io
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import text

from gis.access import Role
from tests.browser.conftest import DESK, PHONE, LiveService, Visit

VisitFn = Callable[..., Visit]
DOCS = Path(__file__).resolve().parents[2] / "docs"

#: Leaflet's own count of what the page draws: circle markers and label markers.
COUNT_JS = """() => {
  const map = Object.values(window).find((v) => v instanceof L.Map);
  const n = {circles: 0, labels: 0, heat: 0};
  map.eachLayer((layer) => {
    if (layer instanceof L.CircleMarker) n.circles += 1;
    else if (layer instanceof L.Marker && layer.options.icon.options.className.includes("gs-"))
      n.labels += 1;
    else if (layer._latlngs && layer._heat !== undefined) n.heat = layer._latlngs.length;
  });
  return n;
}"""


def _box(visit: Visit, selector: str) -> dict[str, float]:
    box = visit.page.locator(selector).first.bounding_box()
    assert box, selector
    return dict(box)


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.mark.parametrize("viewport", [PHONE, DESK], ids=["phone", "desk"])
def test_area_map_orients_at_phone_and_desk_size(
    visit: VisitFn, live_service: LiveService, viewport: dict[str, int]
) -> None:
    seen = visit(Role.TOWN_ADMIN, viewport=viewport)
    seen.page.goto(f"{live_service.base_url}/maps/area")
    seen.page.wait_for_selector(".gs-legend")
    with live_service.engine.connect() as conn:
        units, key_units, stations, hazards, villages, roads = (
            conn.execute(text(q)).scalar_one()
            for q in (
                "SELECT count(*) FROM units",
                "SELECT count(*) FROM units WHERE fire_key_level <> 'none'",
                "SELECT count(*) FROM fire_stations",
                "SELECT count(*) FROM hazards WHERE status <> 'closed'",
                "SELECT count(*) FROM villages",
                "SELECT count(DISTINCT name) FROM roads WHERE name IS NOT NULL",
            )
        )
        seat = conn.execute(
            text("SELECT count(*) > 0 FROM villages WHERE urban_rural_code = '121'")
        ).scalar_one()
    counts = seen.page.evaluate(COUNT_JS)
    assert counts["circles"] == units + key_units + stations + hazards
    assert counts["labels"] == villages + roads + int(seat)
    assert seen.page.locator(".leaflet-control-scale-line").count() == 1  # metric only
    assert "m" in seen.page.locator(".leaflet-control-scale-line").inner_text()
    assert seen.page.locator(".gs-north").inner_text().strip().endswith("北")
    layers = seen.page.locator(".leaflet-control-layers")
    expanded = "leaflet-control-layers-expanded" in (layers.get_attribute("class") or "")
    assert expanded is (viewport is DESK)
    if viewport is PHONE:
        assert not _overlap(_box(seen, ".gs-title"), _box(seen, ".leaflet-control-layers"))
    assert seen.foreign_requests() == [] and seen.errors == []


def test_heat_map_month_slider_redraws(visit: VisitFn, live_service: LiveService) -> None:
    seen = visit(Role.TOWN_ADMIN, viewport=PHONE)
    seen.page.goto(f"{live_service.base_url}/maps/hazards")
    seen.page.wait_for_selector(".gs-months input")
    with live_service.engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM hazards")).scalar_one()
        # "Every month" sums the hazards found at one place (a unit's several hazards).
        places = conn.execute(
            text(
                "SELECT count(DISTINCT (round(ST_X(geom)::numeric, 6),"
                " round(ST_Y(geom)::numeric, 6))) FROM hazards"
            )
        ).scalar_one()
        first = conn.execute(
            text(
                "SELECT count(*) FROM hazards WHERE to_char(found_on, 'YYYY-MM') ="
                " (SELECT min(to_char(found_on, 'YYYY-MM')) FROM hazards)"
            )
        ).scalar_one()
    assert seen.page.evaluate(COUNT_JS)["heat"] == places
    slider = seen.page.locator(".gs-months input")
    slider.evaluate("(el) => { el.value = 1; el.dispatchEvent(new Event('input')); }")
    assert seen.page.evaluate(COUNT_JS)["heat"] == first
    assert f"共 {total} 处隐患" in seen.page.locator(".gs-months").inner_text()
    assert seen.foreign_requests() == [] and seen.errors == []


@pytest.mark.parametrize(
    ("paper", "orientation", "size_pt"),
    [("A4", "landscape", (842, 595)), ("A3", "portrait", (842, 1191))],
)
def test_area_map_exports_one_printed_page(
    visit: VisitFn,
    live_service: LiveService,
    tmp_path: Path,
    paper: str,
    orientation: str,
    size_pt: tuple[int, int],
) -> None:
    seen = visit(Role.TOWN_ADMIN)
    response = seen.page.request.get(
        f"{live_service.base_url}/maps/area/export",
        params={"format": "pdf", "paper": paper, "orientation": orientation},
    )
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "map.pdf"
    pdf.write_bytes(response.body())
    info = subprocess.run(["pdfinfo", pdf], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Pages:\s+1\n", info), info
    w, h = (float(v) for v in re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info).groups())
    assert abs(w - size_pt[0]) < 2 and abs(h - size_pt[1]) < 2, info
    words = subprocess.run(["pdftotext", pdf, "-"], capture_output=True, text=True).stdout
    assert "安全生产网格图" in words and "制图日期" in words and "北" in words
    subprocess.run(["pdftoppm", "-png", "-r", "30", "-singlefile", pdf, tmp_path / "p"], check=True)
    image = Image.open(tmp_path / "p.png").convert("L")
    histogram = image.histogram()
    assert max(histogram) < 0.97 * sum(histogram), "the page is blank"
    assert seen.foreign_requests() == []
    if os.environ.get("GRIDSAFE_WRITE_DOCS") and paper == "A4":
        # The README's picture of a meeting page, made by this test: GRIDSAFE_WRITE_DOCS=1.
        out = DOCS / "map-export-a4.png"
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-singlefile", pdf, out.with_suffix("")])


def test_area_map_exports_png(visit: VisitFn, live_service: LiveService) -> None:
    seen = visit(Role.TOWN_ADMIN)
    response = seen.page.request.get(
        f"{live_service.base_url}/maps/area/export",
        params={"format": "png", "paper": "A4", "orientation": "portrait"},
    )
    assert response.status == 200 and response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.body()))
    assert image.size == (2 * 794, 2 * 1123)  # A4 portrait at 96 CSS px/inch, 2x pixels
