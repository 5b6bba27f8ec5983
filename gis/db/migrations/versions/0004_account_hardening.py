"""Account hardening: usernames unique regardless of case; per-client sign-in throttle

Revision ID: 0004
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Refuse with the names rather than fail on the index: an admin must pick who keeps which.
    clashes = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT string_agg(username, ', ' ORDER BY username) FROM accounts"
                " GROUP BY lower(username) HAVING count(*) > 1"
            )
        )
        .scalars()
        .all()
    )
    if clashes:
        raise RuntimeError(
            "usernames that differ only in case must be renamed first "
            "(用户名仅大小写不同，须先改名): " + "; ".join(clashes)
        )
    op.drop_constraint(op.f("uq_accounts_username"), "accounts", type_="unique")
    op.create_index(
        "uq_accounts_username_lower", "accounts", [sa.text("lower(username)")], unique=True
    )
    op.create_table(
        "login_throttle",
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("client", name=op.f("pk_login_throttle")),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
    op.drop_index("uq_accounts_username_lower", table_name="accounts")
    op.create_unique_constraint(op.f("uq_accounts_username"), "accounts", ["username"])
