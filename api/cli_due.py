"""``gridsafe due``: the units due or overdue in a month or quarter, printed or as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def cmd_due(args: argparse.Namespace) -> int:
    from gis.access import Scope
    from gis.db.engine import get_engine
    from gis.settings import get_settings
    from gis.workflows import due as wf

    settings = get_settings()
    period = wf.period_of(args.period)
    with get_engine(settings).begin() as conn:
        got = wf.due_list(conn, period, Scope.unrestricted(), town=args.town or settings.town_code)
    if args.json:
        json.dump({**got, "period": period.label}, sys.stdout, ensure_ascii=False, default=str)
        print()
        return 0
    _print(period.label, got)
    return 0


STATE = {"never": "从未检查", "overdue": "逾期", "due": "本期到期"}


def _print(label: str, got: dict[str, Any]) -> None:
    units = got["units"]
    print(f"{got['town']}  {label}  应检查单位 {len(units)} 家")
    for u in units:
        people = "、".join(f"{p['name']}({p['role_label']})" for p in u["responsible"]) or "无"
        print(
            f"  {u['code']}  {u['name']}  {STATE[u['state']]}  到期 {u['due_on'] or '—'}"
            f"  上次 {u['last_inspected_on'] or '—'}  每{u['interval_months']}个月"
            f"  责任人 {people}\n      依据 {u['clause'] or '—'}"
        )


def add_commands(sub: Any) -> None:
    due = sub.add_parser("due", help="units due or overdue for inspection in a month or quarter")
    due.add_argument("--period", required=True, help="YYYY-MM, YYYY-Qn or a day (its month)")
    due.add_argument("--town", default=None)
    due.add_argument("--json", action="store_true", help="print JSON instead of a table")
    due.set_defaults(func=cmd_due)
