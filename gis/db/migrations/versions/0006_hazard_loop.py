"""hazard closed loop: states, version, history chain; recorded inspections

Revision ID: 0006
Revises: 0001

The hazard status gains confirmed, rejected, reviewed and awaiting_countersign. ``reported`` now
means "reported, not yet confirmed": rows that an inspection found and gave a deadline (the old
待整改) are already confirmed and under rectification, so they move to ``rectifying``; public
reports (no deadline) stay ``reported``. ``hazard_history`` is append-only like ``audit_log``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = ("reported", "rectifying", "awaiting_review", "closed")
NEW_STATUSES = (
    "reported",
    "confirmed",
    "rejected",
    "rectifying",
    "awaiting_review",
    "reviewed",
    "awaiting_countersign",
    "closed",
)

APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION gridsafe_hazard_history_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'hazard_history is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'a transition is undone by another transition, never by an edit';
END
$$
"""


def _status_check(values: Sequence[str]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_hazards_hazard_status"), "hazards", type_="check")
    op.create_check_constraint(op.f("ck_hazards_hazard_status"), "hazards", _status_check(NEW_STATUSES))
    op.add_column(
        "hazards", sa.Column("version", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("hazards", sa.Column("major_basis", sa.Text(), nullable=True))
    op.add_column("hazards", sa.Column("first_signer", sa.String(length=64), nullable=True))
    op.add_column(
        "hazards",
        sa.Column(
            "escalation",
            sa.Enum(
                "village",
                "town",
                "county",
                name="escalation_level",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
    )
    op.add_column("hazards", sa.Column("escalated_on", sa.Date(), nullable=True))
    op.execute(
        "UPDATE hazards SET status = 'rectifying' "
        "WHERE status = 'reported' AND deadline IS NOT NULL"
    )

    op.add_column("inspections", sa.Column("checklist_code", sa.String(length=32), nullable=True))
    op.add_column(
        "inspections", sa.Column("checklist_version", sa.String(length=16), nullable=True)
    )
    op.add_column(
        "inspections",
        sa.Column("items", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column("inspections", sa.Column("notes", sa.Text(), nullable=True))
    op.add_column("inspections", sa.Column("explained", sa.Text(), nullable=True))
    op.add_column("inspections", sa.Column("handed_over", sa.Text(), nullable=True))
    op.add_column("inspections", sa.Column("unit_signer", sa.String(length=50), nullable=True))
    op.add_column(
        "inspections",
        sa.Column(
            "checkin_geom",
            Geometry(
                geometry_type="POINT",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
    )
    op.create_geospatial_index(
        "idx_inspections_checkin_geom",
        "inspections",
        ["checkin_geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.add_column("inspections", sa.Column("checkin_distance_m", sa.Float(), nullable=True))
    op.add_column("inspections", sa.Column("checkin_flagged", sa.Boolean(), nullable=True))
    op.add_column("inspections", sa.Column("recorded_by", sa.String(length=64), nullable=True))
    op.add_column(
        "inspections", sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True)
    )

    op.create_table(
        "hazard_history",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("hazard_id", sa.BigInteger(), nullable=False),
        sa.Column("town_code", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("verb", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["hazard_id"], ["hazards.id"], name=op.f("fk_hazard_history_hazard_id_hazards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hazard_history")),
        sa.UniqueConstraint("hazard_id", "seq", name="uq_hazard_history_hazard_seq"),
    )
    op.create_index(
        op.f("ix_hazard_history_hazard_id"), "hazard_history", ["hazard_id"], unique=False
    )
    op.create_index(
        op.f("ix_hazard_history_town_code"), "hazard_history", ["town_code"], unique=False
    )
    op.create_table(
        "hazard_photos",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("hazard_id", sa.BigInteger(), nullable=False),
        sa.Column("town_code", sa.String(length=12), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "before",
                "after",
                name="photo_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hazard_id"], ["hazards.id"], name=op.f("fk_hazard_photos_hazard_id_hazards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hazard_photos")),
        sa.UniqueConstraint("hazard_id", "sha256", name="uq_hazard_photos_hazard_sha"),
    )
    op.create_index(
        op.f("ix_hazard_photos_hazard_id"), "hazard_photos", ["hazard_id"], unique=False
    )
    op.create_index(
        op.f("ix_hazard_photos_town_code"), "hazard_photos", ["town_code"], unique=False
    )
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(
        "CREATE TRIGGER hazard_history_no_update_delete BEFORE UPDATE OR DELETE "
        "ON hazard_history FOR EACH ROW EXECUTE FUNCTION gridsafe_hazard_history_append_only()"
    )
    op.execute(
        "CREATE TRIGGER hazard_history_no_truncate BEFORE TRUNCATE ON hazard_history "
        "FOR EACH STATEMENT EXECUTE FUNCTION gridsafe_hazard_history_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS hazard_history_no_truncate ON hazard_history")
    op.execute("DROP TRIGGER IF EXISTS hazard_history_no_update_delete ON hazard_history")
    op.drop_index(op.f("ix_hazard_history_town_code"), table_name="hazard_history")
    op.drop_index(op.f("ix_hazard_history_hazard_id"), table_name="hazard_history")
    op.drop_table("hazard_history")
    op.execute("DROP FUNCTION IF EXISTS gridsafe_hazard_history_append_only()")
    op.drop_index(op.f("ix_hazard_photos_town_code"), table_name="hazard_photos")
    op.drop_index(op.f("ix_hazard_photos_hazard_id"), table_name="hazard_photos")
    op.drop_table("hazard_photos")

    for column in (
        "recorded_at",
        "recorded_by",
        "checkin_flagged",
        "checkin_distance_m",
    ):
        op.drop_column("inspections", column)
    op.drop_geospatial_index(
        "idx_inspections_checkin_geom",
        table_name="inspections",
        postgresql_using="gist",
        column_name="checkin_geom",
    )
    op.drop_geospatial_column("inspections", "checkin_geom")
    for column in (
        "unit_signer",
        "handed_over",
        "explained",
        "notes",
        "items",
        "checklist_version",
        "checklist_code",
    ):
        op.drop_column("inspections", column)

    # The old four states: fold the new ones back onto their nearest old meaning.
    op.execute(
        "UPDATE hazards SET status = CASE status "
        "WHEN 'confirmed' THEN 'rectifying' WHEN 'reviewed' THEN 'awaiting_review' "
        "WHEN 'awaiting_countersign' THEN 'awaiting_review' ELSE status END"
    )
    op.execute("UPDATE hazards SET status = 'closed', closed_on = found_on WHERE status = 'rejected'")
    op.drop_column("hazards", "escalated_on")
    op.drop_column("hazards", "escalation")
    op.drop_column("hazards", "first_signer")
    op.drop_column("hazards", "major_basis")
    op.drop_column("hazards", "version")
    op.drop_constraint(op.f("ck_hazards_hazard_status"), "hazards", type_="check")
    op.create_check_constraint(op.f("ck_hazards_hazard_status"), "hazards", _status_check(OLD_STATUSES))
