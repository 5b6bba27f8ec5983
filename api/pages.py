"""The Jinja templates of the web pages: every value printed through the one escaping function.

Jinja's autoescape covers HTML text and quoted attributes, but not a value written into a
``<script>`` or a JavaScript template literal; ``finalize`` routes every ``{{ … }}`` through
``maps.escaping.escape_markup`` instead, so a page is safe in whichever context a value lands.
Values already marked safe (``|tojson`` output, ``Markup``) pass untouched. Templates also get
``csp_nonce`` for any inline ``<script nonce="{{ csp_nonce }}">`` they need.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from api.security_headers import csp_nonce
from maps.escaping import escape_markup

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
#: The pages' one stylesheet, served by gridsafe itself at ``/static`` (no CDN).
PAGE_ASSET_DIR = Path(__file__).resolve().parent / "static"


def _finalize(value: Any) -> Any:
    if isinstance(value, Markup):
        return value
    return Markup(escape_markup(value))


def _nonce(request: Request) -> dict[str, Any]:
    return {"csp_nonce": csp_nonce(request) or ""}


def page_templates(directory: Path = TEMPLATE_DIR) -> Jinja2Templates:
    """Templates for ``directory`` with the escaping ``finalize`` and the nonce in context."""
    templates = Jinja2Templates(directory=directory, context_processors=[_nonce])
    templates.env.finalize = _finalize
    return templates


templates = page_templates()
