"""``gridsafe draw new``: make a 双随机 draw; ``gridsafe draw verify ID``: re-run a stored one."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any


def cmd_draw(args: argparse.Namespace) -> int:
    from gis.access import Scope
    from gis.analysis.draws import DrawParams
    from gis.audit import Actor
    from gis.db.engine import get_engine
    from gis.errors import InvalidInput
    from gis.settings import get_settings
    from gis.workflows import draws as wf

    settings = get_settings()
    town = args.town or settings.town_code
    scope = Scope.unrestricted()
    with get_engine(settings).begin() as conn:
        if args.verb == "verify":
            if args.draw_id is None:
                raise InvalidInput("用法: gridsafe draw verify ID (which draw to verify)")
            got = wf.verify_draw(conn, args.draw_id, scope)
            print(json.dumps(got, ensure_ascii=False))
            return 0 if got["ok"] else 3
        if args.ratio is None:
            raise InvalidInput("--ratio 必填 (a new draw needs --ratio 0–1)")
        try:
            params = DrawParams(
                ratio=args.ratio, strata=tuple(args.strata), risk_weighted=args.risk_weighted
            )
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
        req = wf.DrawRequest(
            town=town,
            params=params,
            department_code=args.department,
            as_of=dt.date.fromisoformat(args.as_of) if args.as_of else dt.date.today(),
            seed=args.seed,
            replaces_id=args.replaces,
            replace_reason=args.reason,
        )
        rec = wf.create_draw(conn, req, scope, Actor.system("cli:draw", town))
        rows = wf.notice_rows(conn, rec)
    _print(rec, rows)
    return 0


def _print(rec: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    out = sys.stdout
    print(
        f"抽签 {rec['id']}  种子 {rec['seed']}  算法 {rec['algorithm_version']}"
        f"  候选池 SHA-256 {rec['pools_sha256']}",
        file=out,
    )
    for i, r in enumerate(rows, start=1):
        print(
            f"  {i:>3}. {r['unit']}（{r['village'] or '—'}）  {'、'.join(r['inspectors'])}",
            file=out,
        )


def add_commands(sub: Any) -> None:
    d = sub.add_parser("draw", help="双随机: draw new --ratio R …, or draw verify ID")
    d.add_argument("verb", choices=["new", "verify"], help="make a draw, or re-run a stored one")
    d.add_argument("draw_id", nargs="?", type=int, help="the draw to verify")
    d.add_argument("--ratio", type=float, default=None, help="share of each stratum, 0–1")
    d.add_argument(
        "--strata", nargs="*", default=["village", "industry", "risk"], help="stratum axes"
    )
    d.add_argument("--risk-weighted", action="store_true")
    d.add_argument("--department", default=None)
    d.add_argument("--town", default=None)
    d.add_argument("--as-of", default=None, help="YYYY-MM-DD (default today)")
    d.add_argument("--seed", default=None)
    d.add_argument("--replaces", type=int, default=None, help="the draw this one replaces")
    d.add_argument("--reason", default=None, help="why the old draw is replaced")
    d.set_defaults(func=cmd_draw)
