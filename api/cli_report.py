"""``gridsafe report monthly|quarterly|yearly``: the 月调度 / 季通报 / 年总结 workbook."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from gis.io.periodic_reports import ReportKind


def cmd_report(args: argparse.Namespace) -> int:
    from gis.access import Role, Scope
    from gis.db.engine import get_engine
    from gis.io.periodic_reports import periodic_report
    from gis.queries.hazard_stats import parse_period
    from gis.settings import get_settings

    period = parse_period(args.period)
    scope = Scope(role=Role.TOWN_ADMIN, town_codes=frozenset(args.town) if args.town else None)
    today = dt.date.fromisoformat(args.as_of) if args.as_of else None
    with get_engine(get_settings()).connect() as conn:
        data = periodic_report(conn, scope, ReportKind(args.kind), period, today)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(out)  # a half-written workbook never sits under the final name
    print(f"{period.label} {args.kind} report written to {out}", flush=True)
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``gridsafe report``."""
    report = sub.add_parser(
        "report", help="periodic hazard reports: 月调度 (monthly), 季通报, 年总结 as Excel"
    )
    report.add_argument("kind", choices=[k.value for k in ReportKind])
    report.add_argument(
        "--period", required=True, help="2024-06 (monthly), 2024-Q2 (quarterly), 2024 (yearly)"
    )
    report.add_argument("--out", required=True, help="the .xlsx to write")
    report.add_argument(
        "--town", action="append", help="12-digit town code, repeatable (default: all towns)"
    )
    report.add_argument("--as-of", help="count figures to this day if the period is running")
    report.set_defaults(func=cmd_report)
