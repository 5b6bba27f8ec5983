"""SQLAlchemy 2 typed models: every table of gridsafe, in one place.

Geometry is stored in CGCS2000 (EPSG:4490). Every row of town data carries ``town_code`` so one
deployment can serve a county or a province; unique keys include it so the tables could later be
distributed by town (e.g. Citus). Reference tables with a null ``town_code`` apply to every town.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gis.crs import STORAGE_SRID
from gis.domain import (
    EscalationLevel,
    FatalFactor,
    FireKeyLevel,
    FireStationKind,
    GasFacilityKind,
    GasUse,
    HazardCategory,
    HazardLevel,
    HazardSource,
    HazardStatus,
    InspectionKind,
    NineSmallCategory,
    OperatingStatus,
    PressureClass,
    ResponsibilityRole,
    RiskColor,
    RoadClass,
    StaffRole,
    VillageKind,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TOWN_CODE = String(12)


def enum_column(enum: type[StrEnum], name: str) -> SAEnum:
    """A VARCHAR + CHECK column holding the enum's values (no native PG enum: easy migrations)."""
    return SAEnum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


def geometry(kind: str) -> Geometry:
    return Geometry(geometry_type=kind, srid=STORAGE_SRID, spatial_index=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)

    if TYPE_CHECKING:
        # DeclarativeBase types it as any FromClause; every model here maps one Table.
        __table__: ClassVar[Table]


class Town(Base):
    __tablename__ = "towns"

    code: Mapped[str] = mapped_column(TOWN_CODE, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    county_code: Mapped[str] = mapped_column(String(12), index=True)
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)
    geom: Mapped[WKBElement] = mapped_column(geometry("MULTIPOLYGON"))


class Village(Base):
    """A village (村) or community (社区): the grid of 定人定岗定责."""

    __tablename__ = "villages"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    town_code: Mapped[str] = mapped_column(ForeignKey("towns.code"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[VillageKind] = mapped_column(enum_column(VillageKind, "village_kind"))
    urban_rural_code: Mapped[str | None] = mapped_column(String(3))
    population: Mapped[int | None] = mapped_column(Integer)
    households: Mapped[int | None] = mapped_column(Integer)
    groups_count: Mapped[int | None] = mapped_column(Integer)
    geom: Mapped[WKBElement] = mapped_column(geometry("MULTIPOLYGON"))

    __table_args__ = (CheckConstraint("code ~ '^[0-9]{12}$'", name="code_12_digits"),)


class MicroGrid(Base):
    """A micro-grid (微网格, usually one 村民小组) inside a village."""

    __tablename__ = "micro_grids"

    code: Mapped[str] = mapped_column(String(14), primary_key=True)
    town_code: Mapped[str] = mapped_column(ForeignKey("towns.code"), index=True)
    village_code: Mapped[str] = mapped_column(ForeignKey("villages.code"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    geom: Mapped[WKBElement] = mapped_column(geometry("MULTIPOLYGON"))


class Department(Base):
    """A department of the town safety committee; shared reference data across towns."""

    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    short_name: Mapped[str] = mapped_column(String(32))
    supervises_safety: Mapped[bool] = mapped_column(Boolean, default=True)


class IndustryDepartment(Base):
    """三管三必须: the department that supervises an industry (longest matching prefix wins)."""

    __tablename__ = "industry_departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    town_code: Mapped[str | None] = mapped_column(ForeignKey("towns.code"))
    industry_prefix: Mapped[str] = mapped_column(String(8))
    industry_name: Mapped[str] = mapped_column(String(100))
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    high_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    clause: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index(
            "uq_industry_departments_town_prefix",
            func.coalesce(town_code, ""),
            "industry_prefix",
            unique=True,
        ),
    )


class InspectionFrequencyRule(Base):
    """How often a unit must be inspected; the lowest ``priority`` that applies wins."""

    __tablename__ = "inspection_frequency_rules"

    rule: Mapped[str] = mapped_column(String(32), primary_key=True)
    priority: Mapped[int] = mapped_column(Integer)
    applies_to: Mapped[str] = mapped_column(Text)
    interval_months: Mapped[int] = mapped_column(Integer)
    clause: Mapped[str] = mapped_column(Text)


class ChecklistTemplate(Base):
    __tablename__ = "checklist_templates"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    clause: Mapped[str] = mapped_column(Text)
    items: Mapped[list[str]] = mapped_column(JSONB)


class Unit(Base):
    """A production or business unit (生产经营单位) on the safety ledger."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    town_code: Mapped[str] = mapped_column(ForeignKey("towns.code"), index=True)
    code: Mapped[str] = mapped_column(String(16))
    uscc: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    village_code: Mapped[str | None] = mapped_column(ForeignKey("villages.code"), index=True)
    industry_code: Mapped[str] = mapped_column(String(8), index=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    risk_color: Mapped[RiskColor] = mapped_column(enum_column(RiskColor, "risk_color"))
    fire_key_level: Mapped[FireKeyLevel] = mapped_column(
        enum_column(FireKeyLevel, "fire_key_level"), default=FireKeyLevel.NONE
    )
    nine_small_category: Mapped[NineSmallCategory | None] = mapped_column(
        enum_column(NineSmallCategory, "nine_small_category")
    )
    high_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    gas_use: Mapped[GasUse] = mapped_column(enum_column(GasUse, "gas_use"), default=GasUse.NONE)
    status: Mapped[OperatingStatus] = mapped_column(
        enum_column(OperatingStatus, "operating_status"), default=OperatingStatus.OPERATING
    )
    employees: Mapped[int | None] = mapped_column(Integer)
    floor_area_m2: Mapped[float | None] = mapped_column(Float)
    geom: Mapped[WKBElement] = mapped_column(geometry("POINT"))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        UniqueConstraint("town_code", "uscc", name="uq_units_town_uscc"),
        UniqueConstraint("town_code", "code", name="uq_units_town_code"),
        CheckConstraint("length(uscc) = 18", name="uscc_18_chars"),
        CheckConstraint("employees IS NULL OR employees >= 0", name="employees_non_negative"),
    )


class Staff(Base):
    """A person who can be assigned to grids, units and 五包一 teams."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    town_code: Mapped[str] = mapped_column(ForeignKey("towns.code"), index=True)
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(50))
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    role: Mapped[StaffRole] = mapped_column(enum_column(StaffRole, "staff_role"))
    home_village_code: Mapped[str | None] = mapped_column(ForeignKey("villages.code"))
    capacity_units: Mapped[int] = mapped_column(Integer, default=0)
    capacity_teams: Mapped[int] = mapped_column(Integer, default=0)
    phone: Mapped[str | None] = mapped_column(String(20))
    license_no: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    geom: Mapped[WKBElement | None] = mapped_column(geometry("POINT"), nullable=True)

    __table_args__ = (UniqueConstraint("town_code", "code", name="uq_staff_town_code"),)


class Responsibility(Base):
    """Who was responsible for which grid, unit or team slot, from when to when.

    ``valid_to`` is exclusive and null while the record is current, so "who was responsible for
    unit U on date D" is ``valid_from <= D AND (valid_to IS NULL OR D < valid_to)``.
    """

    __tablename__ = "responsibilities"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    town_code: Mapped[str] = mapped_column(ForeignKey("towns.code"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    role: Mapped[ResponsibilityRole] = mapped_column(
        enum_column(ResponsibilityRole, "responsibility_role")
    )
    village_code: Mapped[str | None] = mapped_column(ForeignKey("villages.code"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("(village_code IS NOT NULL) <> (unit_id IS NOT NULL)", name="one_target"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="valid_period"),
    )


class Road(Base):
    """A routable road edge (pgRouting: source/target node ids, costs in seconds)."""

    __tablename__ = "roads"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    town_code: Mapped[str] = mapped_column(ForeignKey("towns.code"), index=True)
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(100))
    road_class: Mapped[RoadClass] = mapped_column(enum_column(RoadClass, "road_class"))
    speed_kmh: Mapped[float] = mapped_column(Float)
    oneway: Mapped[bool] = mapped_column(Boolean, default=False)
    length_m: Mapped[float] = mapped_column(Float)
    source: Mapped[int] = mapped_column(BigInteger, index=True)
    target: Mapped[int] = mapped_column(BigInteger, index=True)
    cost_s: Mapped[float] = mapped_column(Float)
    reverse_cost_s: Mapped[float] = mapped_column(Float)
    geom: Mapped[WKBElement] = mapped_column(geometry("LINESTRING"))

    __table_args__ = (CheckConstraint("length_m > 0", name="positive_length"),)


class GasPipeline(Base):
    __tablename__ = "gas_pipelines"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    town_code: Mapped[str] = mapped_column(ForeignKey("towns.code"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(100))
    pressure_class: Mapped[PressureClass] = mapped_column(
        enum_column(PressureClass, "pressure_class")
    )
    dn: Mapped[int | None] = mapped_column(Integer)
    material: Mapped[str | None] = mapped_column(String(32))
    build_year: Mapped[int | None] = mapped_column(Integer)
    operator: Mapped[str | None] = mapped_column(String(100))
    geom: Mapped[WKBElement] = mapped_column(geometry("LINESTRING"))

    __table_args__ = (UniqueConstraint("town_code", "code", name="uq_gas_pipelines_town_code"),)


class GasFacility(Base):
    __tablename__ = "gas_facilities"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    town_code: Mapped[str] = mapped_column(ForeignKey("towns.code"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[GasFacilityKind] = mapped_column(enum_column(GasFacilityKind, "gas_facility_kind"))
    name: Mapped[str | None] = mapped_column(String(100))
    geom: Mapped[WKBElement] = mapped_column(geometry("POINT"))

    __table_args__ = (UniqueConstraint("town_code", "code", name="uq_gas_facilities_town_code"),)


class FireStation(Base):
    """Fire stations, micro fire stations (微型消防站) and emergency teams."""

    __tablename__ = "fire_stations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    town_code: Mapped[str] = mapped_column(ForeignKey("towns.code"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[FireStationKind] = mapped_column(enum_column(FireStationKind, "fire_station_kind"))
    name: Mapped[str] = mapped_column(String(100))
    staff_count: Mapped[int | None] = mapped_column(Integer)
    geom: Mapped[WKBElement] = mapped_column(geometry("POINT"))

    __table_args__ = (UniqueConstraint("town_code", "code", name="uq_fire_stations_town_code"),)


class Inspection(Base):
    __tablename__ = "inspections"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    town_code: Mapped[str] = mapped_column(ForeignKey("towns.code"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    village_code: Mapped[str | None] = mapped_column(ForeignKey("villages.code"), index=True)
    inspected_on: Mapped[dt.date] = mapped_column(Date, index=True)
    kind: Mapped[InspectionKind] = mapped_column(enum_column(InspectionKind, "inspection_kind"))
    inspector_codes: Mapped[list[str]] = mapped_column(JSONB, default=list)
    hazard_count: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[str | None] = mapped_column(Text)
    # Recorded inspections (issue 9; demo rows leave these empty). The checklist's items are
    # copied into ``items`` with their results, so a later edit of the template changes no
    # past record; ``checklist_version`` is the content hash the inspector filled in.
    checklist_code: Mapped[str | None] = mapped_column(String(32))
    checklist_version: Mapped[str | None] = mapped_column(String(16))
    items: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    notes: Mapped[str | None] = mapped_column(Text)
    #: 五现场: what was explained on site (现场讲), handed over (现场交办), who signed (现场签字).
    explained: Mapped[str | None] = mapped_column(Text)
    handed_over: Mapped[str | None] = mapped_column(Text)
    unit_signer: Mapped[str | None] = mapped_column(String(50))
    checkin_geom: Mapped[WKBElement | None] = mapped_column(geometry("POINT"), nullable=True)
    checkin_distance_m: Mapped[float | None] = mapped_column(Float)
    #: The check-in was farther from the unit than the configured radius (flagged, not refused).
    checkin_flagged: Mapped[bool | None] = mapped_column(Boolean)
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("town_code", "code", name="uq_inspections_town_code"),)


class Hazard(Base):
    """A hazard (隐患) and its closed loop: report → rectify → review → sign-off (销号)."""

    __tablename__ = "hazards"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    town_code: Mapped[str] = mapped_column(ForeignKey("towns.code"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    village_code: Mapped[str | None] = mapped_column(ForeignKey("villages.code"), index=True)
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"))
    source: Mapped[HazardSource] = mapped_column(enum_column(HazardSource, "hazard_source"))
    category: Mapped[HazardCategory] = mapped_column(enum_column(HazardCategory, "hazard_category"))
    fatal_factor: Mapped[FatalFactor | None] = mapped_column(
        enum_column(FatalFactor, "fatal_factor")
    )
    level: Mapped[HazardLevel] = mapped_column(enum_column(HazardLevel, "hazard_level"))
    description: Mapped[str] = mapped_column(Text)
    location_desc: Mapped[str | None] = mapped_column(String(200))
    found_on: Mapped[dt.date] = mapped_column(Date, index=True)
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    rectified_on: Mapped[dt.date | None] = mapped_column(Date)
    reviewed_on: Mapped[dt.date | None] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[HazardStatus] = mapped_column(enum_column(HazardStatus, "hazard_status"))
    supervised: Mapped[bool] = mapped_column(Boolean, default=False)
    geom: Mapped[WKBElement | None] = mapped_column(geometry("POINT"), nullable=True)
    #: Bumped by every transition; the ETag of optimistic concurrency and the number of the
    #: newest row in ``hazard_history`` (0: loaded rows without a recorded history yet).
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The clause of the 重大事故隐患判定标准 a major hazard meets.
    major_basis: Mapped[str | None] = mapped_column(Text)
    #: The first signer of a major hazard's sign-off; the second must be someone else.
    first_signer: Mapped[str | None] = mapped_column(String(64))
    #: How far an overdue hazard has climbed (gridsafe hazards escalate), and since when.
    escalation: Mapped[EscalationLevel | None] = mapped_column(
        enum_column(EscalationLevel, "escalation_level")
    )
    escalated_on: Mapped[dt.date | None] = mapped_column(Date)

    __table_args__ = (
        UniqueConstraint("town_code", "code", name="uq_hazards_town_code"),
        CheckConstraint("deadline IS NULL OR deadline >= found_on", name="deadline_after_found"),
        CheckConstraint("status <> 'closed' OR closed_on IS NOT NULL", name="closed_has_date"),
    )


class ReporterIdentity(Base):
    """The identity behind a public report (举报), kept apart from the hazard: confidential."""

    __tablename__ = "reporter_identities"

    hazard_id: Mapped[int] = mapped_column(
        ForeignKey("hazards.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str | None] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(20))


class InspectionRoute(Base):
    """A planned inspection day: one inspector's route or a team's, as planned (kept for audit).

    ``plan`` holds the routes (stops with arrival/departure times, road geometry as GeoJSON in
    CGCS2000) and the stops left out with their reasons; the array columns let a scope filter
    (an inspector sees routes naming it; a department those of its staff only).
    """

    __tablename__ = "inspection_routes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    town_code: Mapped[str] = mapped_column(ForeignKey("towns.code"), index=True)
    day: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    author: Mapped[str | None] = mapped_column(String(100))
    staff_ids: Mapped[list[int]] = mapped_column(JSONB)
    department_codes: Mapped[list[str]] = mapped_column(JSONB)
    village_codes: Mapped[list[str]] = mapped_column(JSONB)
    stop_count: Mapped[int] = mapped_column(Integer)
    unplanned_count: Mapped[int] = mapped_column(Integer)
    travel_s: Mapped[int] = mapped_column(BigInteger)
    solver: Mapped[str] = mapped_column(String(32))
    plan: Mapped[dict[str, Any]] = mapped_column(JSONB)


TOWN_TABLES: tuple[type[Base], ...] = (
    Village,
    MicroGrid,
    Unit,
    Staff,
    Responsibility,
    Road,
    GasPipeline,
    GasFacility,
    FireStation,
    Inspection,
    Hazard,
)


def column_names(model: type[Base]) -> list[str]:
    """Names of a model's columns, in table order."""
    return [c.name for c in model.__table__.columns]


def as_dict(row: Base) -> dict[str, Any]:
    return {c: getattr(row, c) for c in column_names(type(row))}
