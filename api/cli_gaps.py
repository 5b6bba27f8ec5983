"""``gridsafe gaps``: the coverage-gap report on the command line (table or JSON)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from gis.analysis.coverage import GapType


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    widths = {c: max([len(c), *(len(str(r.get(c, "") or "")) for r in rows)]) for c in columns}
    widths = {c: min(w, 60) for c, w in widths.items()}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    for r in rows:
        lines.append("  ".join(str(r.get(c, "") or "")[:60].ljust(widths[c]) for c in columns))
    return "\n".join(lines)


def cmd_gaps(args: argparse.Namespace) -> int:
    from gis.access import Scope
    from gis.analysis.coverage import CoverageParams
    from gis.db.engine import get_engine
    from gis.settings import get_settings
    from gis.workflows.coverage import scoped_gaps

    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else dt.date.today()
    engine = get_engine(get_settings())
    with engine.connect() as conn:
        result = scoped_gaps(
            conn,
            Scope.unrestricted(),
            as_of=as_of,
            town=args.town,
            params=CoverageParams(fire_minutes=args.minutes),
        )
    gaps = result.gaps
    if args.type:
        gaps = gaps[gaps["gap_type"].isin(args.type)]
    if args.village:
        gaps = gaps[gaps["village_code"] == args.village]
    rows = [
        {
            **{k: v for k, v in r.items() if k != "geometry"},
            "responsible": "、".join(
                f"{p['name']}({p.get('role_label') or '本人'})" for p in r["responsible"] or []
            )
            if args.format == "table"
            else r["responsible"],
        }
        for r in gaps.drop(columns="geometry").to_dict("records")
    ]
    for r in rows:
        for key in ("unit_id", "staff_id"):
            value = r.get(key)
            r[key] = None if value is None or value != value else int(value)
    if args.format == "json":
        out = {
            "as_of": result.as_of.isoformat(),
            "towns": result.towns,
            "counts": {k: v for k, v in result.counts().items()},
            "gaps": rows,
        }
        json.dump(out, sys.stdout, ensure_ascii=False, indent=1, default=str)
        print()
        return 0
    print(f"覆盖缺口 {result.as_of.isoformat()}  towns: {', '.join(result.towns) or '—'}")
    counts = gaps["gap_type"].value_counts()
    for t in GapType:
        print(f"  {t.value:28s} {int(counts.get(t.value, 0)):6d}  {t.label}")
    if args.summary:
        print()
        summary = result.villages.to_dict("records")
        print(
            _table(
                summary,
                [
                    "village_code",
                    "village_name",
                    "units",
                    "score",
                    "inspector_pct",
                    "team_complete_pct",
                    "on_time_pct",
                    "fire_cover_pct",
                    "gaps",
                ],
            )
        )
        return 0
    print()
    shown = rows[: args.limit] if args.limit else rows
    print(
        _table(
            shown,
            ["gap_type", "village_code", "unit_code", "unit_name", "detail", "responsible"],
        )
    )
    if len(shown) < len(rows):
        print(f"... {len(rows) - len(shown)} more (use --limit 0 for all, or --format json)")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``gridsafe gaps``."""
    gaps = sub.add_parser("gaps", help="coverage gaps: who and what is not covered, and why")
    gaps.add_argument(
        "--type",
        action="append",
        choices=[t.value for t in GapType],
        help="only this gap type (repeatable)",
    )
    gaps.add_argument("--as-of", help="report date YYYY-MM-DD (default today)")
    gaps.add_argument("--town", help="12-digit town code")
    gaps.add_argument("--village", help="12-digit village code")
    gaps.add_argument("--minutes", type=float, default=5.0, help="fire response limit")
    gaps.add_argument("--format", choices=["table", "json"], default="table")
    gaps.add_argument("--summary", action="store_true", help="per-village summary instead")
    gaps.add_argument("--limit", type=int, default=50, help="rows in the table (0 = all)")
    gaps.set_defaults(func=cmd_gaps)
