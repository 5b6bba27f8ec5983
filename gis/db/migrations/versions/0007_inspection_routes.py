"""inspection_routes: planned inspection days (one inspector or a team), kept as planned

Revision ID: 0007
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inspection_routes",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("town_code", sa.String(length=12), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("author", sa.String(length=100), nullable=True),
        sa.Column("staff_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("department_codes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("village_codes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("stop_count", sa.Integer(), nullable=False),
        sa.Column("unplanned_count", sa.Integer(), nullable=False),
        sa.Column("travel_s", sa.BigInteger(), nullable=False),
        sa.Column("solver", sa.String(length=32), nullable=False),
        sa.Column("plan", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["town_code"], ["towns.code"], name=op.f("fk_inspection_routes_town_code_towns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_routes")),
    )
    op.create_index(
        op.f("ix_inspection_routes_town_code"), "inspection_routes", ["town_code"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_inspection_routes_town_code"), table_name="inspection_routes")
    op.drop_table("inspection_routes")
