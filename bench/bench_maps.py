"""Benchmark: the hazard heat map at 1k/10k/100k/1M hazards against plain Folium HeatMap.

Run: ``.venv/bin/python -m bench.bench_maps [--sizes 1000,10000,100000,1000000] [--repeat 3]``.

A throwaway cluster gets the demo town; its hazards are copied with positions jittered by up to
±0.02° (about the town's size) and their own found_on/level/status, until the table holds each
size. For each size, measured in the same run:

* gridsafe: ``hazard_heat`` (raw up to 5,000, 250 m bins past it) → ``hazard_map`` → HTML;
* baseline: every hazard fetched into Python as [lat, lon, weight] → ``folium.plugins.HeatMap``
  on a bare ``folium.Map`` → HTML (what the map did before, minus its 100,000-row cut);
* both pages: bytes, gzipped bytes, the gzipped bins alone (the ``[lat, lon, w]`` JSON of the
  cells, our page's data), and load-and-render time in Debian's headless Chromium (``goto`` of the
  file until the load event and two animation frames, so the heat canvas is drawn).
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import folium
from folium.plugins import HeatMap
from sqlalchemy import Engine, create_engine, text, true

from data import DEMO_DIR, REFERENCE_DIR
from gis.audit import Actor
from gis.db.bootstrap import load_dataset_once, prepare
from gis.db.local_server import LocalServer
from gis.queries.hazard_bins import LEVEL_WEIGHTS, hazard_heat
from maps.assets import ASSET_DIR, render
from maps.hazard_map import hazard_map

CHROMIUM = "/usr/bin/chromium"
RENDERED_JS = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def grow(engine: Engine, size: int) -> None:
    """Copy demo hazards, jittered, until the table holds ``size`` rows."""
    with engine.begin() as conn:
        have = conn.execute(text("SELECT count(*) FROM hazards")).scalar_one()
        if have > size:  # the demo town alone holds more than the smallest size
            conn.execute(
                text(
                    "DELETE FROM hazards WHERE id IN (SELECT id FROM hazards ORDER BY id DESC"
                    " LIMIT :n)"
                ),
                {"n": have - size},
            )
        if have >= size:
            return
        conn.execute(
            text(
                "INSERT INTO hazards (town_code, code, source, category, level, description,"
                " found_on, closed_on, status, supervised, geom)"
                " SELECT h.town_code, 'B' || (:have + g), h.source, h.category, h.level, 'bench',"
                " h.found_on, h.closed_on, h.status, false, ST_SetSRID(ST_MakePoint("
                " ST_X(h.geom) + (random() - 0.5) * 0.04, ST_Y(h.geom) + (random() - 0.5) * 0.04),"
                " 4490)"
                " FROM generate_series(1, :n) AS g"
                " JOIN LATERAL (SELECT * FROM hazards WHERE code NOT LIKE 'B%' AND geom IS NOT NULL"
                "   OFFSET (g % 500) LIMIT 1) h ON true"
            ),
            {"have": have, "n": size - have},
        )
        conn.execute(text("ANALYZE hazards"))


def ours(engine: Engine) -> tuple[str, str, tuple[float, float]]:
    """The page, its cells as JSON, and (seconds in PostGIS, seconds building the page)."""
    t0 = time.perf_counter()
    with engine.connect() as conn:
        data = hazard_heat(conn, true())
    t1 = time.perf_counter()
    page = render(hazard_map(data, [], title="隐患热力图"), base_url=ASSET_DIR.as_uri())
    cells = json.dumps([[c.month, c.lat, c.lon, round(c.weight, 2)] for c in data.cells])
    return page, cells, (t1 - t0, time.perf_counter() - t1)


def folium_baseline(engine: Engine) -> str:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT ST_Y(geom), ST_X(geom), level::text FROM hazards WHERE geom IS NOT NULL")
        ).all()
    points = [[lat, lon, LEVEL_WEIGHTS[level]] for lat, lon, level in rows]
    fmap = folium.Map(tiles=None, prefer_canvas=True)
    HeatMap(points, radius=18, blur=14, min_opacity=0.3).add_to(fmap)
    fmap.fit_bounds([[34.0, 113.95], [34.1, 114.05]])
    return render(fmap, base_url=ASSET_DIR.as_uri())


def browser_time(browser: Any, path: Path, repeat: int) -> float:
    def load() -> None:
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.goto(path.as_uri(), wait_until="load", timeout=300_000)
        page.evaluate(RENDERED_JS)
        page.close()

    return timed(load, repeat)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="gridsafe-bench-maps-"))
    work.chmod(0o755)
    server = LocalServer(work / "pg", durable=False)
    engine = create_engine(server.start())
    from playwright.sync_api import sync_playwright

    try:
        prepare(engine, REFERENCE_DIR, actor=Actor.system("bench:maps"))
        load_dataset_once(engine, DEMO_DIR, actor=Actor.system("bench:maps"))
        with engine.begin() as conn:  # start from a clean slate of located hazards
            conn.execute(text("DELETE FROM hazards WHERE geom IS NULL"))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            warm = work / "warm.html"
            warm.write_text(render(folium.Map(tiles=None), base_url=ASSET_DIR.as_uri()))
            browser_time(browser, warm, 2)  # the first page of a browser pays its start-up
            print("| hazards | page | bytes | gzip | gzip/bins | build s | browser s |")
            print("|---:|---|---:|---:|---:|---:|---:|")
            for size in sizes:
                grow(engine, size)
                ours_s, (page, cells, ours_parts) = timed(lambda: ours(engine), args.repeat)
                base_s, base_page = timed(lambda: folium_baseline(engine), args.repeat)
                bins_gz = len(gzip.compress(cells.encode()))
                for name, html, build in (
                    ("gridsafe", page, ours_s),
                    ("folium", base_page, base_s),
                ):
                    path = work / f"{name}-{size}.html"
                    path.write_text(html)
                    raw = len(html.encode())
                    gz = len(gzip.compress(html.encode()))
                    shown = browser_time(browser, path, args.repeat)
                    ratio = f"{gz / bins_gz:.2f}" if name == "gridsafe" else "—"
                    split = " (SQL {:.2f} + page {:.2f})".format(*ours_parts)
                    print(
                        f"| {size:,} | {name} | {raw:,} | {gz:,} | {ratio} |"
                        f" {build:.2f}{split if name == 'gridsafe' else ''} | {shown:.2f} |",
                        flush=True,
                    )
            browser.close()
    finally:
        engine.dispose()
        server.destroy()


if __name__ == "__main__":
    main()
