"""Assignment inputs: in-memory network costs agree with pgRouting's pgr_dijkstraCost."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Connection

from gis.analysis import road_graph as rg
from gis.queries import assignments as q

TOWN = "411003101000"


def test_scipy_costs_equal_pgr_dijkstra_cost(db_conn: Connection) -> None:
    graph = rg.graph_from_edges(q.edges_frame(db_conn, TOWN))
    rng = np.random.default_rng(1)
    sources = sorted({int(v) for v in rng.choice(graph.node_ids, 8, replace=False)})
    targets = sorted({int(v) for v in rng.choice(graph.node_ids, 40, replace=False)})
    pgr = q.pgr_node_costs(db_conn, TOWN, sources, targets)
    assert len(pgr) > 0
    index = {int(n): i for i, n in enumerate(graph.node_ids)}
    ours = rg.node_costs(
        graph,
        np.array([index[int(s)] for s in pgr["start_vid"]]),
        np.array([index[int(t)] for t in pgr["end_vid"]]),
    )
    assert ours == pytest.approx(pgr["agg_cost"].to_numpy(float), rel=1e-9, abs=1e-6)
    # pgRouting omits unreachable pairs; ours reports them as inf — none in a connected town.
    assert len(pgr) == sum(s != t for s in sources for t in targets)
