"""Road-graph travel times: a hand-worked graph and networkx as the independent witness."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from gis.analysis import road_graph as rg


def square() -> pd.DataFrame:
    # 1 -(60 s)- 2 -(60 s)- 3, plus a slow 1 -(300 s)- 3 and a one-way 3 → 4 (reverse -1).
    return pd.DataFrame({
        "source": [1, 2, 1, 3, 2], "target": [2, 3, 3, 4, 3],
        "cost_s": [60.0, 60.0, 300.0, 30.0, 90.0], "reverse_cost_s": [60.0, 60.0, 300.0, -1, 90.0],
        "x0": [0.0, 1000.0, 0.0, 2000.0, 1000.0], "y0": [0.0] * 5,
        "x1": [1000.0, 2000.0, 2000.0, 3000.0, 2000.0], "y1": [0.0] * 5,
    })


def test_shortest_paths_respect_one_way_and_parallel_edges() -> None:
    g = rg.graph_from_edges(square())
    idx = {int(n): i for i, n in enumerate(g.node_ids)}
    costs = rg.node_costs(g, np.array([idx[1], idx[1], idx[4]]), np.array([idx[3], idx[4], idx[1]]))
    assert costs[0] == pytest.approx(120.0)   # via 2, not the 300 s direct edge nor the 90 s twin
    assert costs[1] == pytest.approx(150.0)
    assert np.isinf(costs[2])                 # 4 → 1 is against the one-way


def test_door_to_door_adds_access_legs_and_caps_unreachable() -> None:
    g = rg.graph_from_edges(square())
    origin = np.array([[0.0, 100.0], [3000.0, 0.0]])
    dest = np.array([[2000.0, 50.0]])
    out = rg.pair_travel_seconds(g, origin, dest, [0, 1], [0, 0])
    assert out[0] == round(120 + (100 + 50) / rg.ACCESS_SPEED_MPS)
    assert out[1] == rg.UNREACHABLE_S + round(50 / rg.ACCESS_SPEED_MPS)


def test_matches_networkx_on_a_random_graph() -> None:
    rng = np.random.default_rng(7)
    n = 60
    xy = rng.uniform(0, 5000, size=(n, 2))
    edges = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.08]
    s, t = np.array(edges).T
    cost = rng.uniform(10, 200, len(edges))
    rev = np.where(rng.random(len(edges)) < 0.2, -1.0, cost * rng.uniform(0.8, 1.2, len(edges)))
    frame = pd.DataFrame({"source": s + 100, "target": t + 100, "cost_s": cost,
                          "reverse_cost_s": rev, "x0": xy[s, 0], "y0": xy[s, 1],
                          "x1": xy[t, 0], "y1": xy[t, 1]})
    g = rg.graph_from_edges(frame)
    witness = nx.DiGraph()
    for a, b, c, r in zip(s + 100, t + 100, cost, rev, strict=True):
        witness.add_edge(a, b, w=c)
        if r >= 0:
            witness.add_edge(b, a, w=r)
    origins = rng.integers(0, g.n_nodes, 30)
    dests = rng.integers(0, g.n_nodes, 30)
    ours = rg.node_costs(g, origins, dests)
    for o, d, c in zip(origins, dests, ours, strict=True):
        a, b = int(g.node_ids[o]), int(g.node_ids[d])
        try:
            expected = nx.dijkstra_path_length(witness, a, b, weight="w")
        except nx.NetworkXNoPath:
            expected = np.inf
        assert c == pytest.approx(expected)


def test_disconnected_towns_are_solved_block_by_block_like_one_graph() -> None:
    # 30 random towns whose roads never meet, with one-ways: the per-piece Dijkstra must give
    # exactly networkx's answers on the whole graph, inf between pieces.
    rng = np.random.default_rng(5)
    frames, witness = [], nx.DiGraph()
    for town in range(30):
        n = int(rng.integers(2, 9))
        src = rng.integers(0, n, 3 * n) + 100 * town
        dst = rng.integers(0, n, 3 * n) + 100 * town
        keep = src != dst
        cost = rng.uniform(10, 200, keep.sum())
        rev = np.where(rng.random(keep.sum()) < 0.3, -1.0, cost)
        frames.append(pd.DataFrame({
            "source": src[keep], "target": dst[keep], "cost_s": cost, "reverse_cost_s": rev,
            "x0": src[keep] * 10.0, "y0": 0.0, "x1": dst[keep] * 10.0, "y1": 0.0}))
        for a, b, c, r in zip(src[keep], dst[keep], cost, rev, strict=True):
            for u, v, w in ((a, b, c), (b, a, r)):
                if w >= 0 and (not witness.has_edge(u, v) or witness[u][v]["w"] > w):
                    witness.add_edge(int(u), int(v), w=float(w))
    g = rg.graph_from_edges(pd.concat(frames, ignore_index=True))
    o = rng.integers(0, g.n_nodes, 400)
    d = rng.integers(0, g.n_nodes, 400)
    got = rg.node_costs(g, o, d)
    for k in range(400):
        u, v = int(g.node_ids[o[k]]), int(g.node_ids[d[k]])
        try:
            want = nx.dijkstra_path_length(witness, u, v, weight="w")
        except nx.NetworkXNoPath:
            want = np.inf
        assert got[k] == pytest.approx(want), (u, v)
    assert np.isinf(got).any() and np.isfinite(got).any()
