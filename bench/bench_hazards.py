"""Benchmark: hazard transitions and inspection recording against bare SQL of the same run.

Run: ``.venv/bin/python -m bench.bench_hazards [--n 300]``. Starts a throwaway cluster, loads
the demo town, then times, one transaction per action (as the API does):

- baseline: a bare conditional ``UPDATE hazards SET status, version … WHERE id AND status AND
  version RETURNING`` per hazard (the least a correct transition can cost);
- ``transition``: the workflow's confirm (conditional UPDATE + scope + history chain row + audit);
- ``record_inspection`` with 5 wanting items (1 inspection + 5 hazards + 5 history rows + 6 audits);
- ``verify`` over every chain written.

Prints one JSON object with per-action medians and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select, text

from data import DEMO_DIR
from gis.access import Scope
from gis.audit import Actor
from gis.db.bootstrap import load_dataset_once
from gis.db.models import Hazard, Unit
from gis.domain import ItemResult
from gis.workflows import hazard_ledger
from gis.workflows.hazards import Move, Verb, transition
from gis.workflows.inspections import ItemFinding, NewInspection, checklists, record_inspection
from tests.throwaway import prepared_engine, throwaway_server

TOWN = "411003101000"


def _timed(n: int, action: Callable[[int], Any]) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        action(i)
        out.append(time.perf_counter() - start)
    return out


def _fresh_hazards(engine: Engine, n: int, tag: str) -> list[int]:
    """n copies of demo hazards in state reported, version 0 (no history yet)."""
    with engine.begin() as conn:
        rows = conn.execute(
            text(
                "INSERT INTO hazards (town_code, code, unit_id, village_code, source, category, "
                "level, description, found_on, status, supervised, geom, version) "
                "SELECT town_code, :tag || lpad(g::text, 9, '0'), unit_id, "
                "village_code, source, category, 'general', description, found_on, 'reported', "
                "false, geom, 0 FROM hazards h, generate_series(1, :n) g "
                "WHERE h.id = (SELECT min(id) FROM hazards WHERE unit_id IS NOT NULL) "
                "RETURNING id"
            ),
            {"n": n, "tag": tag},
        ).scalars()
        return sorted(int(r) for r in rows)


def run(n: int) -> dict[str, Any]:
    with throwaway_server() as server:
        engine = prepared_engine(server.url())
        load_dataset_once(engine, DEMO_DIR, actor=Actor.system("bench"))
        scope, actor = Scope.unrestricted(), Actor.system("bench")
        base_ids, flow_ids = _fresh_hazards(engine, n, "BA"), _fresh_hazards(engine, n, "BW")

        def bare(i: int) -> None:
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "UPDATE hazards SET status = 'confirmed', version = version + 1 "
                        "WHERE id = :id AND status = 'reported' AND version = 0 RETURNING version"
                    ),
                    {"id": base_ids[i]},
                ).one()

        def flow(i: int) -> None:
            with engine.begin() as conn:
                transition(conn, scope, actor, flow_ids[i], Move(Verb.CONFIRM, 0))

        # Interleave the two so load from other processes falls on both alike.
        baseline: list[float] = []
        moves: list[float] = []
        for i in range(n):
            for action, times in ((bare, baseline), (flow, moves)):
                start = time.perf_counter()
                action(i)
                times.append(time.perf_counter() - start)

        with engine.connect() as conn:
            unit_id = conn.execute(
                select(Unit.id).where(Unit.town_code == TOWN).order_by(Unit.id).limit(1)
            ).scalar_one()
            fatal = next(c for c in checklists(conn) if c["code"] == "ten_fatal_factors")
        items = [
            ItemFinding(i["no"], ItemResult.HAZARD if i["no"] <= 5 else ItemResult.OK)
            for i in fatal["items"]
        ]
        new = NewInspection(
            unit_id=unit_id,
            checklist=fatal["code"],
            checklist_version=fatal["version"],
            items=items,
            inspectors=["bench"],
            explained="bench",
            unit_signer="bench",
            lon=114.0,
            lat=34.05,
        )

        def inspect(_: int) -> None:
            with engine.begin() as conn:
                record_inspection(conn, scope, actor, new, radius_m=100)

        inspections = _timed(max(n // 5, 10), inspect)
        with engine.connect() as conn:
            chains = conn.execute(
                select(Hazard.id).where(Hazard.version > 0).with_only_columns(Hazard.id)
            ).all()
            start = time.perf_counter()
            problems = hazard_ledger.verify(conn)
            verify_s = time.perf_counter() - start
        engine.dispose()

    def ms(values: list[float]) -> float:
        return round(statistics.median(values) * 1000, 2)

    return {
        "n": n,
        "machine": platform.platform(),
        "baseline_bare_update_ms": ms(baseline),
        "transition_ms": ms(moves),
        "transition_over_baseline": round(
            statistics.median(moves) / statistics.median(baseline), 2
        ),
        "inspection_5_hazards_ms": ms(inspections),
        "inspection_over_baseline": round(
            statistics.median(inspections) / statistics.median(baseline), 2
        ),
        "verify_chains": len(chains),
        "verify_s": round(verify_s, 3),
        # The baseline's bare UPDATEs moved versions without history: verify must flag each.
        "verify_flags_every_bare_update": len(problems) == n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    print(json.dumps(run(parser.parse_args().n), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
