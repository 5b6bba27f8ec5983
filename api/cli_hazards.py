"""``gridsafe hazards verify|escalate``: check the history chains; mark overdue hazards."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path


def cmd_verify(args: argparse.Namespace) -> int:
    from gis.db.engine import get_engine
    from gis.settings import get_settings
    from gis.workflows.hazard_ledger import verify

    with get_engine(get_settings()).connect() as conn:
        problems = verify(conn, args.town)
    if not problems:
        print("隐患闭环记录完整 (every hazard history chain verifies)", flush=True)
        return 0
    print(f"发现 {len(problems)} 条被改动或缺失的记录 (broken chains):", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 3


def cmd_escalate(args: argparse.Namespace) -> int:
    from gis.audit import Actor
    from gis.db.engine import get_engine
    from gis.io.hazard_notices import write_notice_list
    from gis.settings import get_settings
    from gis.workflows.escalation import escalate

    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else dt.date.today()
    with get_engine(get_settings()).begin() as conn:
        result = escalate(conn, Actor.system("cli:hazards-escalate"), as_of, town_code=args.town)
    print(
        f"{as_of}: {len(result)} overdue hazards, "
        f"{sum(r['escalated'] for r in result)} escalated now",
        flush=True,
    )
    if args.out:
        out = write_notice_list(result, as_of, Path(args.out))
        print(f"notice list written to {out}", flush=True)
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``gridsafe hazards``."""
    hazards = sub.add_parser("hazards", help="hazard ledger: verify history, escalate overdue")
    verbs = hazards.add_subparsers(dest="hazards_command", required=True)
    verify = verbs.add_parser("verify", help="recompute every history hash chain")
    verify.add_argument("--town", help="12-digit town code (default: all)")
    verify.set_defaults(func=cmd_verify)
    escalate = verbs.add_parser(
        "escalate", help="mark overdue hazards (village → town → county) and write the notice list"
    )
    escalate.add_argument("--as-of", help="date YYYY-MM-DD (default today)")
    escalate.add_argument("--town", help="12-digit town code (default: all)")
    escalate.add_argument("--out", help="write the notice list (督办清单) to this .xlsx")
    escalate.set_defaults(func=cmd_escalate)
