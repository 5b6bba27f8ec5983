"""Public reports (群众举报): a hazard with source ``public_report``; the reporter kept apart.

The reporter's name and phone go to ``reporter_identities`` only, which ``scope_clause`` hides
from every role but the town safety office; the hazard itself carries nothing that names them,
and the audit log records that an identity was given, never the identity.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from geoalchemy2 import functions as gf
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from gis.access import Role, Scope, scope_clause
from gis.audit import Actor, record
from gis.crs import STORAGE_SRID
from gis.db.models import Hazard, ReporterIdentity, Town, Village
from gis.domain import HazardCategory, HazardLevel, HazardSource, HazardStatus
from gis.errors import Forbidden, InvalidInput, NotFound
from gis.queries.hazards import hazard_select

#: A report this close to another of the same category, this recent, may be the same hazard.
DUPLICATE_RADIUS_M = 50.0
DUPLICATE_WINDOW_DAYS = 30


@dataclass(frozen=True)
class NewReport:
    town_code: str
    lon: float
    lat: float
    category: HazardCategory
    description: str
    location_desc: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None


def _report_code(found_on: dt.date) -> str:
    # "JB" + date + 6 random hex: unguessable, so a receipt does not reveal report volumes.
    return f"JB{found_on:%Y%m%d}{secrets.token_hex(3).upper()}"


def submit_report(
    conn: Connection, scope: Scope, actor: Actor, report: NewReport, *, today: dt.date | None = None
) -> dict[str, Any]:
    """Store a public report as a new hazard in the village containing the point; audited.

    Returns the receipt the reporter may see: code, status and date, nothing else.
    """
    if scope.read_only:
        raise Forbidden("this account is read-only (只读账号不能提交)")
    if scope.town_codes is not None and report.town_code not in scope.town_codes:
        raise Forbidden(f"town {report.town_code} is outside your scope")
    if not conn.execute(select(Town.code).where(Town.code == report.town_code)).first():
        raise InvalidInput(f"town_code {report.town_code!r} is not a known town")
    point = gf.ST_SetSRID(gf.ST_MakePoint(report.lon, report.lat), STORAGE_SRID)
    village = conn.execute(
        select(Village.code).where(
            Village.town_code == report.town_code, gf.ST_Intersects(Village.geom, point)
        )
    ).scalar()
    if village is None:
        raise InvalidInput(
            "location is outside the town (举报位置不在本镇范围内); "
            "lon/lat in CGCS2000 degrees, longitude first"
        )
    found_on = today or dt.date.today()
    values: dict[str, Any] = {
        "town_code": report.town_code,
        "village_code": village,
        "source": HazardSource.PUBLIC_REPORT,
        "category": report.category,
        "level": HazardLevel.GENERAL,
        "description": report.description,
        "location_desc": report.location_desc,
        "found_on": found_on,
        "status": HazardStatus.REPORTED,
        "supervised": False,
        "geom": point,
    }
    for _attempt in range(3):
        values["code"] = _report_code(found_on)
        try:
            with conn.begin_nested():
                hazard_id = conn.execute(
                    insert(Hazard).values(**values).returning(Hazard.id)
                ).scalar_one()
            break
        except IntegrityError:  # a code collision; vanishingly rare
            continue
    else:  # pragma: no cover
        raise InvalidInput("could not allocate a report code; try again")
    identified = bool(report.reporter_name or report.reporter_phone)
    if identified:
        conn.execute(
            insert(ReporterIdentity).values(
                hazard_id=hazard_id, name=report.reporter_name, phone=report.reporter_phone
            )
        )
    after = {k: v for k, v in values.items() if k != "geom"} | {
        "lon": report.lon,
        "lat": report.lat,
        "reporter_identified": identified,
    }
    record(conn, actor, "report", "hazards", hazard_id, None, after, town_code=report.town_code)
    return {"code": values["code"], "status": HazardStatus.REPORTED, "received_on": found_on}


def reporter_of(conn: Connection, scope: Scope, actor: Actor, hazard_id: int) -> dict[str, Any]:
    """The identity behind a public report, for the town safety office only; the read is audited."""
    if scope.role is not Role.TOWN_ADMIN:
        raise Forbidden("reporter identities are confidential (举报人信息保密)")
    row = (
        conn.execute(
            select(ReporterIdentity.hazard_id, ReporterIdentity.name, ReporterIdentity.phone)
            .where(ReporterIdentity.hazard_id == hazard_id)
            .where(scope_clause(ReporterIdentity, scope))
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no reporter identity for hazard {hazard_id} in your scope")
    record(conn, actor, "view_reporter", "reporter_identities", hazard_id, None, None)
    return dict(row)


def track_report(conn: Connection, code: str) -> dict[str, Any]:
    """A public report's progress by its tracking code: status and dates, nothing else.

    Anyone holding the code may ask (it is unguessable, and the answer names nobody): no unit,
    description, location or handler is returned.
    """
    row = (
        conn.execute(
            select(Hazard.status, Hazard.found_on, Hazard.closed_on).where(
                Hazard.code == code, Hazard.source == HazardSource.PUBLIC_REPORT
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("no public report has this tracking code (查无此举报编号)")
    status = HazardStatus(row["status"])
    return {
        "status": status,
        "status_label": status.label,
        "received_on": row["found_on"],
        "closed_on": row["closed_on"],
    }


def similar_reports(conn: Connection, scope: Scope, hazard_id: int) -> list[dict[str, Any]]:
    """Possible duplicates of a hazard, for the office deciding whether to confirm a report.

    Other hazards (public reports or already in the ledger) of the same category within
    ``DUPLICATE_RADIUS_M`` (measured on the geography, so in metres) and found within
    ``DUPLICATE_WINDOW_DAYS`` days either side, not rejected, that ``scope`` may see; nearest
    first.
    """
    this = (
        conn.execute(
            select(
                Hazard.id,
                Hazard.category,
                Hazard.found_on,
                Hazard.geom.is_not(None).label("placed"),
            ).where(Hazard.id == hazard_id, scope_clause(Hazard, scope))
        )
        .mappings()
        .first()
    )
    if this is None:
        raise NotFound(f"no hazard {hazard_id} in your scope")
    if not this["placed"]:
        return []
    # geography keeps the stored SRID (4490): metres on its ellipsoid, no planar guess.
    here = select(func.geography(Hazard.geom)).where(Hazard.id == hazard_id).scalar_subquery()
    distance = gf.ST_Distance(func.geography(Hazard.geom), here)
    window = dt.timedelta(days=DUPLICATE_WINDOW_DAYS)
    rows = conn.execute(
        hazard_select(
            scope,
            Hazard.id != hazard_id,
            Hazard.category == this["category"],
            Hazard.status != HazardStatus.REJECTED,
            Hazard.found_on.between(this["found_on"] - window, this["found_on"] + window),
            gf.ST_DWithin(func.geography(Hazard.geom), here, DUPLICATE_RADIUS_M),
        )
        .add_columns(distance.label("distance_m"))
        .order_by(distance, Hazard.id)
    ).mappings()
    return [{k: r[k] for k in ("id", "code", "status", "found_on", "distance_m")} for r in rows]
