"""Public report (群众举报) schemas: the form, the receipt, and the confidential identity."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from gis.domain import HazardCategory, HazardStatus


class ReportCreate(BaseModel):
    """A hazard reported by a member of the public; name and phone are optional and confidential."""

    lon: float = Field(ge=-180, le=180, description="longitude, CGCS2000 degrees")
    lat: float = Field(ge=-90, le=90, description="latitude, CGCS2000 degrees")
    category: HazardCategory
    description: str = Field(min_length=5, max_length=2000)
    location_desc: str | None = Field(default=None, max_length=200)
    town_code: str | None = Field(
        default=None, pattern=r"^\d{12}$", description="defaults to the service's town"
    )
    reporter_name: str | None = Field(default=None, max_length=50)
    reporter_phone: str | None = Field(default=None, pattern=r"^[0-9+\- ]{5,20}$")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "lon": 113.95,
                    "lat": 34.06,
                    "category": "fire",
                    "description": "仓库门口堆放杂物堵塞安全出口",
                    "location_desc": "村东头仓库",
                }
            ]
        },
    )


class ReportReceipt(BaseModel):
    """What the reporter gets back: a code to quote, nothing about anyone else."""

    code: str
    status: HazardStatus
    received_on: dt.date


class ReporterIdentityRead(BaseModel):
    hazard_id: int
    name: str | None
    phone: str | None


class ReportStatusRead(BaseModel):
    """A report's progress as its reporter may see it: no unit, place, text or person."""

    status: HazardStatus
    status_label: str = Field(examples=["整改中"])
    received_on: dt.date
    closed_on: dt.date | None = None


class SimilarReportRead(BaseModel):
    """A public report that may be the same hazard (for the office's triage)."""

    id: int
    code: str
    status: HazardStatus
    found_on: dt.date
    distance_m: float
