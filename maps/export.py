"""Meeting exports: a map page printed to PDF or PNG on A4/A3 by Debian's headless Chromium.

The page is the very HTML the map route serves, built in-process for the caller's scope and
handed to Chromium under a made-up origin: its vendored assets are answered from ``ASSET_DIR`` and
every other request is refused. So no credential leaves the process, nothing is fetched from the
network, and the export shows exactly what the caller may see. Chromium is slow to start and
heavy, so at most ``SLOTS`` exports run at once; callers run this off the event loop.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from maps.assets import ASSET_DIR, ASSET_URL

CHROMIUM = "/usr/bin/chromium"
#: Exports rendering at once (each is one Chromium, ~150 MB); the rest wait their turn.
SLOTS = 2
_slots = threading.BoundedSemaphore(SLOTS)
#: The origin the page is served under inside Chromium (never resolved: every request is routed).
ORIGIN = "http://gridsafe.export"
CSS_PX_PER_MM = 96 / 25.4
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
#: Two animation frames after load: Leaflet has drawn its canvas and fitted the bounds.
DRAWN_JS = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"


class Paper(StrEnum):
    A4 = "A4"
    A3 = "A3"


class Orientation(StrEnum):
    LANDSCAPE = "landscape"
    PORTRAIT = "portrait"


class ExportFormat(StrEnum):
    PDF = "pdf"
    PNG = "png"

    @property
    def media_type(self) -> str:
        return "application/pdf" if self is ExportFormat.PDF else "image/png"


PAPER_MM = {Paper.A4: (210, 297), Paper.A3: (297, 420)}


@dataclass(frozen=True)
class Sheet:
    """A sheet of paper: its size in millimetres and in CSS pixels."""

    paper: Paper
    orientation: Orientation

    @property
    def mm(self) -> tuple[int, int]:
        short, long = PAPER_MM[self.paper]
        return (long, short) if self.orientation is Orientation.LANDSCAPE else (short, long)

    @property
    def px(self) -> tuple[int, int]:
        w, h = self.mm
        return round(w * CSS_PX_PER_MM), round(h * CSS_PX_PER_MM)


def _answer(route: Any, html: str) -> None:
    url = urlsplit(route.request.url)
    if f"{url.scheme}://{url.netloc}" != ORIGIN:
        route.abort()
        return
    if url.path == "/map":
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)
        return
    name = Path(url.path).name
    asset = ASSET_DIR / name
    if url.path.startswith(ASSET_URL + "/") and asset.is_file():
        types = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
        route.fulfill(
            status=200,
            content_type=types.get(asset.suffix, "application/octet-stream"),
            body=asset.read_bytes(),
        )
        return
    route.abort()


def export_page(html: str, sheet: Sheet, fmt: ExportFormat) -> bytes:
    """``html`` (a map page with assets under ``ASSET_URL``) printed on one ``sheet``."""
    from playwright.sync_api import sync_playwright

    width, height = sheet.px
    with _slots, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height},
                device_scale_factor=2 if fmt is ExportFormat.PNG else 1,
                locale="zh-CN",
            )
            context.route("**/*", lambda route: _answer(route, html))
            page = context.new_page()
            # Print rules apply to the PNG too: no zoom, fullscreen or layer buttons on paper.
            page.emulate_media(media="print")
            page.goto(f"{ORIGIN}/map", wait_until="load")
            page.evaluate(DRAWN_JS)
            if fmt is ExportFormat.PNG:
                return bytes(page.screenshot(type="png"))
            w_mm, h_mm = sheet.mm
            return bytes(
                page.pdf(
                    width=f"{w_mm}mm",
                    height=f"{h_mm}mm",
                    print_background=True,
                    margin={"top": "0", "right": "0", "bottom": "0", "left": "0"},
                    page_ranges="1",
                )
            )
        finally:
            browser.close()
