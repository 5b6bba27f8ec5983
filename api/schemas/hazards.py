"""Hazard schemas: report one, read one, move it (a verb), and its history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gis.domain import (
    FatalFactor,
    HazardCategory,
    HazardLevel,
    HazardSource,
    HazardStatus,
    PhotoKind,
)


class HazardCreate(BaseModel):
    """A hazard found by staff: on a unit, or at a location (lon/lat, CGCS2000)."""

    category: HazardCategory
    description: str = Field(min_length=2, max_length=2000)
    source: HazardSource = HazardSource.DEPARTMENT
    level: HazardLevel = HazardLevel.GENERAL
    unit_id: int | None = Field(default=None, ge=1, le=2**62)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    town_code: str | None = Field(default=None, pattern=r"^\d{12}$")
    fatal_factor: FatalFactor | None = None
    major_basis: str | None = Field(
        default=None, max_length=500, description="重大隐患: the clause of the 判定标准 it meets"
    )
    location_desc: str | None = Field(default=None, max_length=200)
    found_on: dt.date | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "unit_id": 137,
                    "category": "fire",
                    "fatal_factor": "exits",
                    "description": "安全出口堆放杂物",
                    "source": "department",
                }
            ]
        },
    )


class HazardRead(BaseModel):
    id: int
    code: str
    town_code: str
    unit_id: int | None
    village_code: str | None
    inspection_id: int | None
    source: HazardSource
    category: HazardCategory
    fatal_factor: FatalFactor | None
    level: HazardLevel
    major_basis: str | None
    description: str
    location_desc: str | None
    found_on: dt.date
    deadline: dt.date | None
    rectified_on: dt.date | None
    reviewed_on: dt.date | None
    closed_on: dt.date | None
    status: HazardStatus
    status_label: str
    supervised: bool
    version: int = Field(description="send it back as If-Match (the ETag) or `version`")
    lon: float | None
    lat: float | None
    actions: list[str] = Field(description="verbs the caller may apply now")
    awaiting_second_signer: bool
    first_signer: str | None = Field(description="shown to the town safety office only")

    @classmethod
    def of(cls, row: dict[str, Any]) -> HazardRead:
        return cls(**row, status_label=HazardStatus(row["status"]).label)


class HazardMove(BaseModel):
    """The body of a verb: the version it is based on (or If-Match), a deadline, a note."""

    version: int | None = Field(default=None, ge=0, description="or the If-Match header")
    deadline: dt.date | None = Field(default=None, description="rectify and reopen only")
    note: str | None = Field(default=None, max_length=2000, description="required to reject")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"version": 2, "deadline": "2026-12-20"}]},
    )


class HazardHistoryRead(BaseModel):
    seq: int
    verb: str
    from_status: str | None
    to_status: str
    actor: str | None = Field(description="account name, town safety office only")
    actor_role: str | None
    at: dt.datetime
    details: dict[str, Any]
    prev_hash: str
    hash: str


class PhotoRead(BaseModel):
    """A photo of a hazard; fetch the file with ``GET …/photos?sha256=``."""

    hazard_id: int
    sha256: str
    kind: PhotoKind
    content_type: str
    size_bytes: int
    width: int
    height: int
    taken_at: dt.datetime | None = Field(description="from the file's EXIF, if it carries one")
    lon: float | None = Field(description="EXIF GPS, if the file carries it")
    lat: float | None
    uploaded_at: dt.datetime
