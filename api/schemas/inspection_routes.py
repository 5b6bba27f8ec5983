"""Schemas of the inspection-route endpoints: the planning request and the stored plan."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class StopWindow(BaseModel):
    """A time window for one stop (wall clock of the planned day)."""

    unit_id: int
    open: dt.time
    close: dt.time

    @model_validator(mode="after")
    def _ordered(self) -> StopWindow:
        if self.open >= self.close:
            raise ValueError(f"unit {self.unit_id}: window opens after it closes (时间窗无效)")
        return self


class RouteCreate(BaseModel):
    """Plan a day: one inspector (a tour) or several (the stops split among them)."""

    town: str | None = Field(default=None, pattern=r"^\d{12}$", description="12-digit town code")
    day: dt.date = Field(description="The day planned")
    staff_ids: list[int] = Field(min_length=1, max_length=20)
    units: list[int] | Literal["due"] = Field(
        description='Unit ids to visit, or "due": the inspectors\' units due on that day',
    )
    start: dt.time = dt.time(8, 30)
    end: dt.time = dt.time(17, 30)
    lunch_start: dt.time | None = dt.time(12, 0)
    lunch_end: dt.time | None = dt.time(13, 30)
    windows: list[StopWindow] = Field(default_factory=list, max_length=500)
    match_department: bool = Field(
        default=False,
        description="Each stop only to an inspector of its supervising department; a "
        "fire-safety key unit only to a fire officer (消防)",
    )
    max_stops: int | None = Field(
        default=None, ge=1, le=100, description="Most stops one inspector takes in the day"
    )
    time_limit_s: float = Field(default=1.0, gt=0, le=30, description="Solver budget (seconds)")

    @model_validator(mode="after")
    def _bounded(self) -> RouteCreate:
        if isinstance(self.units, list) and not 1 <= len(self.units) <= 300:
            raise ValueError("units: 1 to 300 stops (站点数 1–300)")
        return self

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "day": "2024-06-03",
                    "staff_ids": [12],
                    "units": [101, 102, 103],
                    "windows": [{"unit_id": 102, "open": "14:00", "close": "15:00"}],
                }
            ]
        }
    )


class StopRead(BaseModel):
    order: int
    unit_id: int
    code: str
    name: str
    address: str | None
    lon: float
    lat: float
    arrival: str
    start: str
    departure: str
    access_m: float = Field(description="Straight access leg from the road to the unit (m)")


class LineStringRead(BaseModel):
    type: Literal["LineString"]
    coordinates: list[list[float]]


class InspectorDayRead(BaseModel):
    staff_id: int
    staff_name: str
    base: list[float]
    leave_base: str
    return_base: str
    travel_s: int
    lunch: list[str] | None
    stops: list[StopRead]
    geometry: LineStringRead


class UnplannedRead(BaseModel):
    unit_id: int
    name: str
    code: str = Field(description="window_unreachable | window_in_lunch | no_skill | ...")
    reason: str


class DayWindowRead(BaseModel):
    start: str
    end: str
    lunch: list[str] | None


class PlanRead(BaseModel):
    day: str
    window: DayWindowRead
    routes: list[InspectorDayRead]
    unplanned: list[UnplannedRead]


class RouteRead(BaseModel):
    id: int
    town_code: str
    day: dt.date
    author: str | None
    staff_ids: list[int]
    stop_count: int
    unplanned_count: int
    travel_s: int
    solver: str
    plan: PlanRead
