"""Inspection schemas: the record an inspector files on site, and what comes back."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from gis.domain import HazardCategory, HazardLevel, HazardStatus, InspectionKind, ItemResult


class ItemFindingIn(BaseModel):
    no: int = Field(ge=1, le=1000, description="item number on the checklist, from 1")
    result: ItemResult
    note: str | None = Field(default=None, max_length=1000)
    category: HazardCategory | None = Field(default=None, description="hazard items; default fire")
    level: HazardLevel = HazardLevel.GENERAL
    major_basis: str | None = Field(default=None, max_length=500)
    fixed_on_spot: bool = Field(default=False, description="当场整改 (general hazards only)")

    model_config = ConfigDict(extra="forbid")


class InspectionCreate(BaseModel):
    """One inspection of one unit against one checklist version, with the 五现场."""

    unit_id: int = Field(ge=1, le=2**62)
    checklist: str = Field(max_length=32, examples=["nine_small"])
    checklist_version: str = Field(
        max_length=16, description="from GET /api/v1/inspections/checklists"
    )
    items: list[ItemFindingIn] = Field(min_length=1, max_length=1000)
    inspectors: list[str] = Field(
        min_length=1, max_length=10, description="现场查: who inspected (names or staff codes)"
    )
    explained: str = Field(min_length=1, max_length=2000, description="现场讲: what was explained")
    handed_over: str | None = Field(
        default=None, max_length=2000, description="现场交办: what was handed over to the unit"
    )
    unit_signer: str = Field(
        min_length=1, max_length=50, description="现场签字: the unit's representative who signed"
    )
    kind: InspectionKind | None = None
    inspected_on: dt.date | None = None
    notes: str | None = Field(default=None, max_length=4000)
    lon: float | None = Field(default=None, ge=-180, le=180, description="GPS check-in")
    lat: float | None = Field(default=None, ge=-90, le=90)

    model_config = ConfigDict(extra="forbid")


class CheckinRead(BaseModel):
    distance_m: float | None = Field(description="to the unit, on the ellipsoid")
    flagged: bool | None = Field(description="farther than radius_m (recorded, not refused)")
    radius_m: float


class FiledHazard(BaseModel):
    id: int
    code: str
    item_no: int
    status: HazardStatus


class InspectionRead(BaseModel):
    id: int
    code: str
    unit_id: int
    inspected_on: dt.date
    kind: InspectionKind
    checklist: str
    checklist_version: str
    hazard_count: int
    result: str
    checkin: CheckinRead
    hazards: list[FiledHazard]


class ChecklistItem(BaseModel):
    no: int
    text: str


class ChecklistRead(BaseModel):
    code: str
    name: str
    clause: str
    version: str
    items: list[ChecklistItem]
