"""Schemas of the assignment endpoints: run request and report, teams, responsible people."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, StrictBool


class AssignmentRunCreate(BaseModel):
    """Run the assignment for a town; with ``dry_run`` nothing is written (the default)."""

    town: str | None = Field(
        default=None,
        pattern=r"^\d{12}$",
        description="12-digit town code; the deployment's town if omitted",
    )
    as_of: dt.date = Field(
        default_factory=dt.date.today, description="Changes take effect on this date (valid_from)."
    )
    #: Strict: a lax bool turned "no", "0", 0 and "false " into False, i.e. a real run that
    #: writes; whether a request writes must never hinge on coercion. Only JSON true/false.
    dry_run: StrictBool = Field(
        default=True, description="true (default): preview only; false: write the changes"
    )

    model_config = ConfigDict(
        # A misspelt "dry_run" would otherwise be dropped silently; refuse it instead.
        extra="forbid",
        json_schema_extra={
            "examples": [{"town": "411003101000", "as_of": "2025-01-01", "dry_run": True}]
        },
    )


class SlotCountRead(BaseModel):
    role: str
    label: str
    required: int
    filled: int


class InfeasibilityRead(BaseModel):
    code: str = Field(description="no_candidate | capacity_short | capacity_shared")
    role: str
    place: str
    unfilled: int
    demand: int
    capacity: int | None
    message: str


class ChangeRead(BaseModel):
    role: str
    role_label: str
    village_code: str | None
    unit_id: int | None
    place_name: str
    before_staff_id: int | None
    before_name: str | None
    after_staff_id: int | None
    after_name: str | None
    reason: str


class AssignmentRunRead(BaseModel):
    """The summary of a run: slots filled per type, objective, gap, infeasibilities, the diff."""

    town_code: str
    as_of: dt.date
    dry_run: bool
    written: bool
    required: int
    filled: int
    kept: int
    travel_s: int = Field(description="Sum of network travel seconds of the plan")
    travel_best_s: int = Field(description="Best travel found before balancing")
    travel_bound_s: float = Field(description="Proven lower bound of the travel objective")
    gap: float = Field(description="(travel_best − bound) / travel_best")
    optimal: bool
    max_load_permille: int
    slots: list[SlotCountRead]
    infeasibilities: list[InfeasibilityRead]
    changes: list[ChangeRead]
    seconds: dict[str, float]
    run_id: int | None


class MemberRead(BaseModel):
    role: str
    role_label: str
    staff_id: int
    staff_code: str
    name: str
    phone: str | None
    department_code: str
    department: str


class TeamRead(BaseModel):
    """A fire-safety key unit's 五包一 team (plain JSON; lon/lat in CGCS2000)."""

    unit_id: int
    unit_code: str
    unit_name: str
    address: str | None
    village_code: str | None
    village_name: str | None
    fire_key_level: str
    fire_key_label: str
    lon: float
    lat: float
    members: list[MemberRead]
    missing_roles: list[str]
    missing_labels: list[str]
    complete: bool


class TeamPage(BaseModel):
    town_code: str
    on: dt.date
    total: int
    complete: int
    teams: list[TeamRead]


class ResponsibleRead(BaseModel):
    role: str
    role_label: str
    staff_id: int
    staff_code: str
    name: str
    phone: str | None
    department_code: str
    village_code: str | None
    unit_id: int | None
    valid_from: dt.date
    valid_to: dt.date | None
    reason: str | None


class UnitResponsibleRead(BaseModel):
    """Who was responsible for a unit on a date: its inspector, its team and its grid."""

    unit_id: int
    unit_name: str
    on: dt.date
    people: list[ResponsibleRead]
