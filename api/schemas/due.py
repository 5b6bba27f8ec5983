"""Due lists as they cross the API: the units due in a period, their rule, clause and people."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field


class DuePerson(BaseModel):
    """Someone responsible for the unit today (its inspector, 五包一 team or grid)."""

    staff_id: int
    code: str
    name: str
    phone: str | None = None
    department_code: str
    role: str = Field(examples=["unit_inspector"])
    role_label: str = Field(examples=["责任监管人员"])


class DueUnit(BaseModel):
    unit_id: int
    code: str
    name: str
    address: str | None = None
    village_code: str | None = None
    department_code: str
    status: str = Field(examples=["closed"])
    rule: str = Field(examples=["closed_or_suspended"])
    interval_months: int = Field(examples=[1])
    clause: str | None = Field(
        None,
        examples=["五女店镇实施方案 四(四) 对长期停产停工和已关闭取缔的企业，加大巡查排查频次"],
    )
    last_inspected_on: dt.date | None = None
    due_on: dt.date | None = Field(None, description="None when never inspected")
    state: Literal["never", "overdue", "due"]
    responsible: list[DuePerson]


class DueList(BaseModel):
    town: str
    period: str = Field(examples=["2024-06"])
    start: dt.date
    end: dt.date
    today: dt.date = Field(description="the day the responsible people are read for")
    count: int
    units: list[DueUnit]
