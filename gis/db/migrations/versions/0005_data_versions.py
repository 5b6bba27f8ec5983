"""data_versions: a per-town version that statement-level triggers move on every write

Revision ID: 0005
Revises: 0003

Every town-data table gets three statement-level triggers (INSERT, UPDATE, DELETE; PostgreSQL
allows transition tables only on single-event triggers) that read the statement's transition
table and upsert one ``data_versions`` row per town it touched, and a TRUNCATE trigger that moves
the global row ``*``. Reference tables shared by every town move ``*`` on any change. A 52 000-row
COPY thus costs one upsert per town, not per row. Version numbers come from a sequence, so they are
never reused after a rollback (see ``gis/db/version_models.py``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Tables whose rows belong to a town (``town_code``): what a coverage report is computed from,
#: and the rest of the town's data, so any cache keyed by town version stays exact.
TOWN_TABLES = (
    "villages",
    "micro_grids",
    "units",
    "staff",
    "responsibilities",
    "roads",
    "gas_pipelines",
    "gas_facilities",
    "fire_stations",
    "inspections",
    "hazards",
    "industry_departments",  # town_code null: a county-wide rule, so every town (``*``)
)
#: Reference tables shared by every town: any change moves ``*``.
SHARED_TABLES = ("towns", "departments", "inspection_frequency_rules")

_UPSERT = """
    INSERT INTO data_versions AS v (town_code, version)
    SELECT town, nextval('data_version_seq') FROM ({towns}) AS touched(town) ORDER BY town
    ON CONFLICT (town_code) DO UPDATE SET version = EXCLUDED.version
"""
# Towns touched by the statement; an UPDATE that moves a row to another town moves both.
_TOUCHED = {
    "new": "SELECT DISTINCT coalesce(town_code, '*') FROM new_rows",
    "old": "SELECT DISTINCT coalesce(town_code, '*') FROM old_rows",
    "both": "SELECT coalesce(town_code, '*') FROM new_rows"
    " UNION SELECT coalesce(town_code, '*') FROM old_rows",
    "all": "VALUES ('*')",
}


def _function(kind: str) -> str:
    return f"""
CREATE FUNCTION gridsafe_bump_versions_{kind}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    {_UPSERT.format(towns=_TOUCHED[kind])};
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute("CREATE SEQUENCE data_version_seq")
    op.create_table(
        "data_versions",
        sa.Column("town_code", sa.String(length=12), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("town_code", name=op.f("pk_data_versions")),
    )
    for kind in _TOUCHED:
        op.execute(_function(kind))
    for table in TOWN_TABLES:
        for event, referencing, kind in (
            ("INSERT", "NEW TABLE AS new_rows", "new"),
            ("UPDATE", "NEW TABLE AS new_rows OLD TABLE AS old_rows", "both"),
            ("DELETE", "OLD TABLE AS old_rows", "old"),
        ):
            op.execute(
                f"CREATE TRIGGER data_version_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING {referencing} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION gridsafe_bump_versions_{kind}()"
            )
    for table in (*TOWN_TABLES, *SHARED_TABLES):
        events = "TRUNCATE" if table in TOWN_TABLES else "INSERT OR UPDATE OR DELETE OR TRUNCATE"
        op.execute(
            f"CREATE TRIGGER data_version_all AFTER {events} ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION gridsafe_bump_versions_all()"
        )


def downgrade() -> None:
    for table in (*TOWN_TABLES, *SHARED_TABLES):
        for name in ("insert", "update", "delete", "all"):
            op.execute(f"DROP TRIGGER IF EXISTS data_version_{name} ON {table}")
    for kind in _TOUCHED:
        op.execute(f"DROP FUNCTION gridsafe_bump_versions_{kind}()")
    op.drop_table("data_versions")
    op.execute("DROP SEQUENCE data_version_seq")
