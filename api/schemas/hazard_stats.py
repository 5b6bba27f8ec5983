"""Hazard statistics schemas: one row per group and a total row (执法统计)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from gis.queries.hazard_stats import Dimension, PeriodKind, StatsTable


class HazardStatsRow(BaseModel):
    """One group's figures; ``key`` is null on the total row and on the group tied to no unit."""

    key: str | None = Field(examples=["411003101201"])
    label: str = Field(examples=["大刘庄村"])
    found: int
    rectified: int
    rectification_rate: float | None = Field(description="rectified / found, 0–1")
    avg_days_to_close: float | None
    overdue: int = Field(description="found in the period, open at the cut-off, past deadline")
    major_found: int
    major_cleared: int
    inspections: int
    hazards_per_inspection: float | None


class HazardStatsRead(BaseModel):
    period: str = Field(examples=["2024-06"])
    period_kind: PeriodKind
    start: dt.date
    end: dt.date
    cut: dt.date = Field(description="figures counted to this day (period end, or today)")
    by: Dimension
    rows: list[HazardStatsRow]
    total: HazardStatsRow

    @classmethod
    def of(cls, text: str, table: StatsTable) -> HazardStatsRead:
        return cls(
            period=text,
            period_kind=table.period.kind,
            start=table.period.start,
            end=table.period.end,
            cut=table.cut,
            by=table.by,
            rows=[HazardStatsRow(**r.as_dict()) for r in table.rows],
            total=HazardStatsRow(**table.total.as_dict()),
        )
