"""The audit log: one call records a write; the database itself refuses to rewrite history."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError

from gis.audit import Actor, record
from gis.db.access_models import AuditLog


def test_record_appends_who_what_when_before_after(db_conn: Connection) -> None:
    actor = Actor(username="admin", account_id=7, town_code="411003101000", ip="10.0.0.1")
    entry_id = record(
        db_conn,
        actor,
        "update",
        "units",
        42,
        {"risk_color": "blue", "found_on": dt.date(2024, 5, 1), "geom": b"\x01"},
        {"risk_color": "red", "password_hash": "$argon2id$…"},
    )
    row = db_conn.execute(select(AuditLog).where(AuditLog.id == entry_id)).mappings().one()
    assert (row["actor"], row["actor_account_id"], row["action"]) == ("admin", 7, "update")
    assert (row["table_name"], row["row_key"], row["town_code"]) == ("units", "42", "411003101000")
    assert row["before"] == {"risk_color": "blue", "found_on": "2024-05-01"}  # no geometry
    assert row["after"] == {"risk_color": "red"}  # never a password hash
    assert row["ip"] == "10.0.0.1" and row["at"] is not None


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ],
)
def test_the_database_refuses_to_rewrite_the_log(db_conn: Connection, statement: str) -> None:
    record(db_conn, Actor.system("test"), "create", "units", 1, None, {"name": "x"})
    with pytest.raises(DBAPIError, match="append-only"), db_conn.begin_nested():
        db_conn.execute(text(statement))
    assert db_conn.execute(select(AuditLog.actor).where(AuditLog.actor == "test")).first()
