"""Coverage gaps as they cross the API: typed GeoJSON features, the village summary, new sites."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.geojson import Geometry, Link
from gis.analysis.coverage import GapType


class ResponsiblePerson(BaseModel):
    """A person currently responsible for the unit or grid of a gap."""

    staff_id: int
    code: str
    name: str
    role: str | None = Field(None, description="responsibility role, e.g. grid_chief")
    role_label: str | None = Field(None, examples=["网格长"])


class GapProperties(BaseModel):
    gap_type: GapType = Field(description="stable reason code")
    label: str = Field(examples=["单位无责任监管人员"])
    detail: str = Field(examples=["缺: 行业监管部门干部、专业人员"])
    subject: Literal["unit", "village", "staff"]
    unit_id: int | None = None
    unit_code: str | None = None
    unit_name: str | None = None
    village_code: str | None = None
    staff_id: int | None = None
    responsible: list[ResponsiblePerson] = []


class GapFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str = Field(description="gap_type:subject id", examples=["unit_without_inspector:1203"])
    geometry: Geometry | None
    properties: GapProperties


class GapCollection(BaseModel):
    """A page of gaps as a GeoJSON FeatureCollection (CGCS2000 lon/lat)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    as_of: dt.date
    counts: dict[str, int] = Field(description="gaps per type over all pages (scope applied)")
    features: list[GapFeature]
    numberMatched: int
    numberReturned: int
    links: list[Link] = []


class VillageCoverage(BaseModel):
    """One village's coverage; ``score`` is the mean of the percentages (lower is worse)."""

    village_code: str
    village_name: str
    units: int
    key_units: int
    has_chief: bool
    has_members: bool
    inspector_pct: float = Field(description="supervised units with a responsible inspector, %")
    team_complete_pct: float = Field(description="key units with a complete 五包一 team, %")
    on_time_pct: float = Field(description="units inspected on time under the frequency rules, %")
    fire_cover_pct: float = Field(description="units within the fire response time, %")
    score: float
    gaps: int
    counts: dict[str, int]


class GapSummary(BaseModel):
    as_of: dt.date
    towns: list[str]
    counts: dict[str, int]
    labels: dict[str, str] = Field(description="Chinese label of each gap type")
    villages: list[VillageCoverage] = Field(description="worst village first")


class SiteProperties(BaseModel):
    rank: int
    node_id: int = Field(description="road node (roads.source/target) of the site")
    covers: int = Field(description="uncovered key units this site reaches in time")
    unit_ids: list[int]


class SiteFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: int
    geometry: Geometry
    properties: SiteProperties


class SiteCollection(BaseModel):
    """Suggested micro fire station sites (maximal covering) and the solver's account."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[SiteFeature]
    k: int
    minutes: float
    uncovered_key_units: int = Field(description="key units beyond reach before new sites")
    newly_covered: int
    candidates: int
    method: str = Field(examples=["cp-sat"])
    status: str = Field(examples=["OPTIMAL"])
    optimality_gap: float
    greedy_covered: int = Field(description="what the greedy baseline covers with k sites")
