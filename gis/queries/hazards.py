"""Hazards and their history as scoped selects (the GeoJSON list is the ``hazards`` layer)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select

from gis.access import Scope, scope_clause
from gis.db.hazard_models import HazardHistory
from gis.db.models import Hazard

#: Columns of a hazard as the API shows it (geometry as lon/lat, the first signer apart).
HAZARD_COLUMNS = tuple(
    c for c in Hazard.__table__.columns if c.name not in {"geom", "first_signer"}
)


def hazard_select(scope: Scope, *where: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
    """Hazards ``scope`` may see, with lon/lat and whether a first signature is pending."""
    return select(
        *HAZARD_COLUMNS,
        func.ST_X(Hazard.geom).label("lon"),
        func.ST_Y(Hazard.geom).label("lat"),
        Hazard.first_signer,
    ).where(and_(scope_clause(Hazard, scope), *where))


def history_select(scope: Scope, hazard_id: int) -> Select[*tuple[Any, ...]]:
    """One hazard's history rows in chain order, if ``scope`` may see the hazard."""
    visible = select(Hazard.id).where(Hazard.id == hazard_id, scope_clause(Hazard, scope))
    return (
        select(HazardHistory)
        .where(HazardHistory.hazard_id.in_(visible))
        .order_by(HazardHistory.seq)
    )
