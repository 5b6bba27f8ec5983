"""``gridsafe assign`` (run the assignment, print summary and diff) and ``gridsafe roster``."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from gis.access import Scope
from gis.audit import Actor

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from gis.settings import Settings


def _settings_and_engine() -> tuple[Settings, Engine]:
    from api.cli import _prepare
    from gis.settings import get_settings

    settings = get_settings()
    return settings, _prepare(settings)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from exc


def cmd_assign(args: argparse.Namespace) -> int:
    from gis.workflows.assignments import run_assignment

    settings, engine = _settings_and_engine()
    town = args.town or settings.town_code
    with engine.begin() as conn:
        report = run_assignment(
            conn,
            town,
            args.as_of,
            Scope.unrestricted(),
            actor=Actor.system("cli:assign", town_code=town),
            dry_run=args.dry_run,
        )
    mode = "预览 dry run（未写入）" if args.dry_run else f"已写入 (run #{report.run_id})"
    print(f"镇 {town} 分配 {report.as_of} — {mode}")
    print(f"岗位 {report.filled}/{report.required} 已落实，保留原责任人 {report.kept}")
    for s in report.slots:
        print(f"  {s.label:<12} {s.filled:>5}/{s.required:<5}")
    print(
        f"路程合计 {report.travel_s} s（均衡前最优 {report.travel_best_s} s，下界 "
        f"{report.travel_bound_s:.0f} s，gap {report.gap:.2%}）；最高负荷 "
        f"{report.max_load_permille / 10:.1f}%"
    )
    print("用时 " + ", ".join(f"{k} {v:.2f}s" for k, v in report.seconds.items()))
    if report.infeasibilities:
        print("无法落实:")
        for item in report.infeasibilities:
            print(f"  - {item.message}")
    print(f"变更 {len(report.changes)} 项:")
    shown = report.changes if args.all else report.changes[:50]
    for c in shown:
        print(
            f"  {c.role_label} @ {c.place_name}: {c.before_name or '—'} → "
            f"{c.after_name or '—'}  ({c.reason})"
        )
    if len(shown) < len(report.changes):
        print(f"  … 另有 {len(report.changes) - len(shown)} 项（--all 显示全部）")
    return 0


def cmd_roster(args: argparse.Namespace) -> int:
    from gis.io import rosters
    from gis.workflows.assignments import grids_on, teams_on, town_name

    settings, engine = _settings_and_engine()
    town = args.town or settings.town_code
    scope = Scope.unrestricted()
    out = Path(args.out)
    with engine.connect() as conn:
        name = town_name(conn, town)
        if args.kind == "team":
            rosters.team_roster(teams_on(conn, town, args.on, scope), name, args.on, out)
        else:
            rosters.grid_roster(grids_on(conn, town, args.on, scope), name, args.on, out)
    print(f"written {out}")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    assign = sub.add_parser("assign", help="assign grid chiefs, inspectors and 五包一 teams")
    assign.add_argument("--dry-run", action="store_true", help="show the diff, write nothing")
    assign.add_argument(
        "--as-of",
        type=_date,
        default=dt.date.today(),
        help="date the changes take effect (YYYY-MM-DD, default today)",
    )
    assign.add_argument("--town", help="12-digit town code (default GRIDSAFE_TOWN_CODE)")
    assign.add_argument("--all", action="store_true", help="print every change")
    assign.set_defaults(func=cmd_assign)

    roster = sub.add_parser("roster", help="export a 责任公示表 (xlsx)")
    roster.add_argument(
        "--kind",
        choices=["team", "grid"],
        required=True,
        help="team = 五包一责任公示表, grid = 网格责任公示表",
    )
    roster.add_argument("--out", required=True, help="the .xlsx file to write")
    roster.add_argument("--on", type=_date, default=dt.date.today(), help="date (YYYY-MM-DD)")
    roster.add_argument("--town", help="12-digit town code (default GRIDSAFE_TOWN_CODE)")
    roster.set_defaults(func=cmd_roster)
