"""Reference data (departments, 三管三必须, frequency rules, checklists), loaded as data."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert

from gis.db.models import ChecklistTemplate, Department, IndustryDepartment, InspectionFrequencyRule


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _flag(value: str) -> bool:
    return value.strip().lower() in ("true", "1", "yes", "是")


def load_reference(conn: Connection, directory: Path) -> dict[str, int]:
    """Upsert the shared (town-independent) reference tables from ``directory``.

    Re-running is harmless: rows are matched on their natural keys and updated in place.
    """
    counts: dict[str, int] = {}
    departments = [
        {
            "code": r["code"],
            "name": r["name"],
            "short_name": r["short_name"],
            "supervises_safety": _flag(r["supervises_safety"]),
        }
        for r in _csv(directory / "departments.csv")
    ]
    stmt = insert(Department).values(departments)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["code"],
            set_={c: stmt.excluded[c] for c in ("name", "short_name", "supervises_safety")},
        )
    )
    counts["departments"] = len(departments)

    industries = _csv(directory / "industry_departments.csv")
    # Shared rows (town_code NULL) are replaced wholesale: the file is their single source.
    conn.execute(
        IndustryDepartment.__table__.delete().where(IndustryDepartment.town_code.is_(None))
    )
    conn.execute(
        insert(IndustryDepartment).values(
            [
                {
                    "town_code": None,
                    "industry_prefix": r["industry_prefix"],
                    "industry_name": r["industry_name"],
                    "department_code": r["department_code"],
                    "high_risk": _flag(r["high_risk"]),
                    "clause": r["clause"],
                }
                for r in industries
            ]
        )
    )
    counts["industry_departments"] = len(industries)

    rules = [
        {
            "rule": r["rule"],
            "priority": int(r["priority"]),
            "applies_to": r["applies_to"],
            "interval_months": int(r["interval_months"]),
            "clause": r["clause"],
        }
        for r in _csv(directory / "inspection_frequency.csv")
    ]
    stmt = insert(InspectionFrequencyRule).values(rules)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["rule"],
            set_={
                c: stmt.excluded[c] for c in ("priority", "applies_to", "interval_months", "clause")
            },
        )
    )
    counts["inspection_frequency_rules"] = len(rules)

    checklists = json.loads((directory / "checklists.json").read_text(encoding="utf-8"))
    rows = [
        {"code": code, "name": c["name"], "clause": c["clause"], "items": c["items"]}
        for code, c in sorted(checklists.items())
    ]
    stmt = insert(ChecklistTemplate).values(rows)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["code"],
            set_={c: stmt.excluded[c] for c in ("name", "clause", "items")},
        )
    )
    counts["checklist_templates"] = len(rows)
    return counts
