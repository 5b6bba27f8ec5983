"""What every web page shares: rendering with the session's CSRF token, code → name look-ups.

Pages are server-rendered (Jinja2, ``api/templates/``); each role has a nav of the pages that
exist for it (``NAV``), so no link leads to a page that is not built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection, select

from api.pages import templates
from api.security import csrf_token_for, set_csrf_cookie
from gis.access import Role, Scope
from gis.db.models import Department, IndustryDepartment, Town, Village
from gis.settings import Settings

#: Per role, the pages its nav links to (path, label): only pages that exist for that role.
NAV: dict[Role, tuple[tuple[str, str], ...]] = {
    Role.GRID_CHIEF: (("/home", "我的网格"), ("/units", "单位"), ("/hazards", "隐患")),
    Role.INSPECTOR: (("/home", "今日工作"), ("/units", "我的单位"), ("/hazards", "隐患")),
    Role.DEPARTMENT: (("/home", "本部门"), ("/units", "监管单位"), ("/hazards", "隐患")),
    Role.TOWN_ADMIN: (("/home", "全镇概况"), ("/units", "单位"), ("/hazards", "隐患台账")),
    Role.COUNTY_OFFICE: (("/home", "各镇对比"), ("/units", "单位"), ("/hazards", "隐患")),
}
PAGE_SIZE = 25


def render(
    request: Request,
    settings: Settings,
    scope: Scope,
    template: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """The page with the nav of ``scope``'s role and this session's CSRF token for its forms."""
    token, presession = csrf_token_for(request, settings)
    full = {
        "csrf_token": token,
        "nav": NAV.get(scope.role, ()),
        "role": scope.role,
        "read_only": scope.read_only,
        "path": request.url.path,
        **context,
    }
    response = templates.TemplateResponse(request, template, full, status_code=status_code)
    set_csrf_cookie(response, token, settings, presession=presession)
    return response


def pairs(result: Iterable[Any]) -> dict[Any, Any]:
    """``{first column: second column}`` of a two-column result."""
    return {row[0]: row[1] for row in result}


@dataclass(frozen=True)
class Names:
    """Names for the codes a page shows (village, department, industry, town)."""

    villages: dict[str, str]
    departments: dict[str, str]
    industries: dict[str, str]
    towns: dict[str, str]

    def industry(self, code: str | None) -> str:
        # Industry rules are keyed by GB/T 4754 prefixes of varying length: longest match wins.
        for n in range(len(code or ""), 0, -1):
            name = self.industries.get((code or "")[:n])
            if name:
                return name
        return code or "—"


def names(conn: Connection, towns: list[str] | None = None) -> Names:
    villages = select(Village.code, Village.name)
    if towns is not None:
        villages = villages.where(Village.town_code.in_(towns))
    return Names(
        villages=pairs(conn.execute(villages)),
        departments=pairs(conn.execute(select(Department.code, Department.short_name))),
        industries=pairs(
            conn.execute(
                select(IndustryDepartment.industry_prefix, IndustryDepartment.industry_name)
            )
        ),
        towns=pairs(conn.execute(select(Town.code, Town.name))),
    )


def page_links(
    base: str, filters: Mapping[str, Any], offset: int, shown: int, total: int
) -> dict[str, str | None]:
    """Previous/next links that keep the filters (limit/offset paging)."""
    kept = {k: v for k, v in filters.items() if v not in (None, "")}

    def link(at: int) -> str:
        return f"{base}?{urlencode({**kept, 'offset': at})}"

    return {
        "prev": link(max(0, offset - PAGE_SIZE)) if offset > 0 else None,
        "next": link(offset + PAGE_SIZE) if offset + shown < total else None,
    }
