"""双随机 draws as they cross the API: the request, the stored record, verification, notice."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

Ratio = Annotated[float, Field(ge=0.0, le=1.0)]
Axis = Literal["village", "industry", "risk"]


def _all_axes() -> list[Axis]:
    return ["village", "industry", "risk"]


class DrawCreate(BaseModel):
    """A new draw; ``replaces`` and ``reason`` together make it the successor of an old one."""

    town: str | None = Field(None, pattern=r"^\d{12}$")
    department_code: str | None = Field(None, max_length=16, examples=["SCJG"])
    ratio: Ratio = Field(description="share of each stratum drawn, 0–1 (ceil rounding)")
    ratio_by_risk: dict[Literal["red", "orange", "yellow", "blue"], Ratio] = Field(
        default_factory=dict, examples=[{"red": 1.0}]
    )
    strata: list[Axis] = Field(default_factory=_all_axes, max_length=3)
    risk_weighted: bool = False
    as_of: dt.date | None = None
    seed: str | None = Field(None, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")
    replaces: int | None = None
    reason: str | None = Field(None, max_length=500)


class DrawTarget(BaseModel):
    unit_id: int
    stratum: str
    inspectors: list[int]
    short: bool = Field(description="fewer than two eligible inspectors were available")


class DrawStratum(BaseModel):
    key: str
    size: int
    ratio: float
    quota: int
    drawn: int


class DrawResult(BaseModel):
    strata: list[DrawStratum]
    targets: list[DrawTarget]


class DrawRead(BaseModel):
    id: int
    town_code: str
    department_code: str | None
    created_at: dt.datetime
    author: str | None
    as_of: dt.date
    seed: str
    algorithm_version: str
    params: dict[str, Any]
    pools: list[dict[str, Any]]
    pools_sha256: str = Field(min_length=64, max_length=64)
    result: DrawResult
    replaces_id: int | None
    replace_reason: str | None
    superseded_by: int | None


class DrawVerification(BaseModel):
    draw_id: int
    ok: bool
    checks: dict[str, bool] = Field(examples=[{"pools_sha256": True, "result": True}])


class NoticeRow(BaseModel):
    unit: str
    village: str | None
    inspectors: list[str]


class DrawNotice(BaseModel):
    draw_id: int
    title: str
    rows: list[NoticeRow]
