"""draws: 双随机 draws kept as drawn (seed, pool hash, parameters, algorithm, result)

Revision ID: 0008
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "draws",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("town_code", sa.String(length=12), nullable=False),
        sa.Column("department_code", sa.String(length=16), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("author", sa.String(length=100), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("algorithm_version", sa.String(length=32), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("pools", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("pools_sha256", sa.String(length=64), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("replaces_id", sa.BigInteger(), nullable=True),
        sa.Column("replace_reason", sa.Text(), nullable=True),
        sa.Column("superseded_by", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "(replaces_id IS NULL) = (replace_reason IS NULL)",
            name=op.f("ck_draws_replacement_has_reason"),
        ),
        sa.ForeignKeyConstraint(["town_code"], ["towns.code"], name=op.f("fk_draws_town_code_towns")),
        sa.ForeignKeyConstraint(
            ["department_code"], ["departments.code"], name=op.f("fk_draws_department_code_departments")
        ),
        sa.ForeignKeyConstraint(["replaces_id"], ["draws.id"], name=op.f("fk_draws_replaces_id_draws")),
        sa.ForeignKeyConstraint(
            ["superseded_by"], ["draws.id"], name=op.f("fk_draws_superseded_by_draws")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draws")),
    )
    op.create_index(op.f("ix_draws_town_code"), "draws", ["town_code"], unique=False)
    op.create_table(
        "staff_conflicts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("town_code", sa.String(length=12), nullable=False),
        sa.Column("staff_id", sa.BigInteger(), nullable=False),
        sa.Column("unit_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("declared_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["town_code"], ["towns.code"], name=op.f("fk_staff_conflicts_town_code_towns")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_staff_conflicts_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_staff_conflicts_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_conflicts")),
        sa.UniqueConstraint("staff_id", "unit_id", name="uq_staff_conflicts_staff_unit"),
    )
    op.create_index(
        op.f("ix_staff_conflicts_unit_id"), "staff_conflicts", ["unit_id"], unique=False
    )
    # One replacement per draw: a second would fork the history.
    op.create_index(op.f("uq_draws_replaces_id"), "draws", ["replaces_id"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_conflicts_unit_id"), table_name="staff_conflicts")
    op.drop_table("staff_conflicts")
    op.drop_index(op.f("uq_draws_replaces_id"), table_name="draws")
    op.drop_index(op.f("ix_draws_town_code"), table_name="draws")
    op.drop_table("draws")
