"""The hazard history as a hash chain: append one row per transition, verify every chain.

Row ``seq`` of a hazard stores ``hash = SHA-256(canonical JSON of its content + prev_hash)`` and
``prev_hash``, the hash of row ``seq - 1`` (``GENESIS`` for the first). ``hazards.version`` is the
number of the newest row, so a deleted last row is as visible as a deleted middle one. A trigger
already refuses UPDATE and DELETE; the chain catches whoever gets past it (a superuser, a restored
dump edited by hand).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from gis.audit import Actor, snapshot
from gis.db.hazard_models import HazardHistory
from gis.db.models import Hazard

GENESIS = "0" * 64

#: The columns a row's hash covers, in the order they appear in the canonical JSON (sorted).
HASHED = (
    "hazard_id",
    "seq",
    "verb",
    "from_status",
    "to_status",
    "actor",
    "actor_role",
    "at",
    "details",
    "prev_hash",
)


def _instant(at: dt.datetime) -> str:
    """One spelling of a timestamp whatever the session time zone: UTC, microseconds."""
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def row_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a history row's content, as stored or as about to be stored."""
    content = {k: row[k] for k in HASHED}
    content["at"] = _instant(row["at"])
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def append(
    conn: Connection,
    *,
    hazard_id: int,
    town_code: str,
    seq: int,
    verb: str,
    from_status: str | None,
    to_status: str,
    actor: Actor,
    actor_role: str | None,
    details: Mapping[str, Any],
) -> dict[str, Any]:
    """Append row ``seq`` to a hazard's chain; the caller holds the hazard row's lock.

    The caller has just bumped ``hazards.version`` to ``seq`` with a conditional UPDATE, so no
    other transaction can append to this chain until ours ends.
    """
    prev = conn.execute(
        select(HazardHistory.hash)
        .where(HazardHistory.hazard_id == hazard_id, HazardHistory.seq < seq)
        .order_by(HazardHistory.seq.desc())
        .limit(1)
    ).scalar()
    row: dict[str, Any] = {
        "hazard_id": hazard_id,
        "town_code": town_code,
        "seq": seq,
        "verb": verb,
        "from_status": from_status,
        "to_status": to_status,
        "actor": actor.username[:64],
        "actor_role": actor_role,
        "at": dt.datetime.now(dt.UTC),
        "details": snapshot(details) or {},
        "prev_hash": prev or GENESIS,
    }
    row["hash"] = row_hash(row)
    conn.execute(insert(HazardHistory).values(**row))
    return row


@dataclass(frozen=True)
class ChainProblem:
    """The first broken or missing row of one hazard's chain."""

    hazard_id: int
    hazard_code: str
    seq: int
    history_id: int | None
    reason: str

    def __str__(self) -> str:
        row = f"history row {self.history_id}" if self.history_id else "missing row"
        return f"隐患 {self.hazard_code} (id {self.hazard_id}) seq {self.seq}, {row}: {self.reason}"


def _chains(conn: Connection, town_code: str | None) -> Iterator[tuple[Any, list[Any]]]:
    hazards = select(Hazard.id, Hazard.code, Hazard.version, Hazard.status).order_by(Hazard.id)
    history = select(HazardHistory).order_by(HazardHistory.hazard_id, HazardHistory.seq)
    if town_code is not None:
        hazards = hazards.where(Hazard.town_code == town_code)
        history = history.where(HazardHistory.town_code == town_code)
    rows: dict[int, list[Any]] = {}
    for row in conn.execute(history).mappings():
        rows.setdefault(int(row["hazard_id"]), []).append(row)
    for hazard in conn.execute(hazards).mappings():
        chain = rows.pop(int(hazard["id"]), [])
        if hazard["version"] or chain:
            yield hazard, chain


def verify(conn: Connection, town_code: str | None = None) -> list[ChainProblem]:
    """Recompute every hazard's chain; the first problem of each broken chain, in hazard order.

    A row whose content no longer matches its hash, a row whose ``prev_hash`` is not its
    predecessor's hash, a gap in ``seq`` (a deleted row), a chain shorter than the hazard's
    version (a deleted last row) and a hazard whose status is not its chain's last state are
    each reported, naming the row.
    """
    problems: list[ChainProblem] = []
    for hazard, chain in _chains(conn, town_code):
        hid, code = int(hazard["id"]), str(hazard["code"])
        prev, expected = GENESIS, 1
        problem: ChainProblem | None = None
        for row in chain:
            seq = int(row["seq"])
            if seq != expected:
                problem = ChainProblem(hid, code, expected, None, f"row seq {expected} is missing")
                break
            if row["prev_hash"] != prev:
                problem = ChainProblem(
                    hid, code, seq, int(row["id"]), "prev_hash does not match the row before"
                )
                break
            if row_hash(row) != row["hash"]:
                problem = ChainProblem(
                    hid, code, seq, int(row["id"]), "content changed since it was written"
                )
                break
            prev, expected = str(row["hash"]), expected + 1
        if problem is None and expected - 1 != hazard["version"]:
            last = expected - 1
            problem = ChainProblem(
                hid,
                code,
                last + 1,
                None,
                f"hazard is at version {hazard['version']} but its history ends at seq {last}",
            )
        if problem is None and chain and chain[-1]["to_status"] != hazard["status"]:
            problem = ChainProblem(
                hid,
                code,
                int(chain[-1]["seq"]),
                int(chain[-1]["id"]),
                f"hazard status {hazard['status']} is not the history's last state "
                f"{chain[-1]['to_status']}",
            )
        if problem is not None:
            problems.append(problem)
    return problems
