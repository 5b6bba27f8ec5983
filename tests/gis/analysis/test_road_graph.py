"""Road-graph travel times: a hand-worked graph and networkx as the independent witness."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.analysis import road_graph as rg


def square() -> pd.DataFrame:
    # 1 -(60 s)- 2 -(60 s)- 3, plus a slow 1 -(300 s)- 3 and a one-way 3 → 4 (reverse -1).
    return pd.DataFrame(
        {
            "source": [1, 2, 1, 3, 2],
            "target": [2, 3, 3, 4, 3],
            "cost_s": [60.0, 60.0, 300.0, 30.0, 90.0],
            "reverse_cost_s": [60.0, 60.0, 300.0, -1, 90.0],
            "x0": [0.0, 1000.0, 0.0, 2000.0, 1000.0],
            "y0": [0.0] * 5,
            "x1": [1000.0, 2000.0, 2000.0, 3000.0, 2000.0],
            "y1": [0.0] * 5,
        }
    )


def test_shortest_paths_respect_one_way_and_parallel_edges() -> None:
    g = rg.graph_from_edges(square())
    idx = {int(n): i for i, n in enumerate(g.node_ids)}
    costs = rg.node_costs(g, np.array([idx[1], idx[1], idx[4]]), np.array([idx[3], idx[4], idx[1]]))
    assert costs[0] == pytest.approx(120.0)  # via 2, not the 300 s direct edge nor the 90 s twin
    assert costs[1] == pytest.approx(150.0)
    assert np.isinf(costs[2])  # 4 → 1 is against the one-way


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
    frame = pd.DataFrame(
        {
            "source": s + 100,
            "target": t + 100,
            "cost_s": cost,
            "reverse_cost_s": rev,
            "x0": xy[s, 0],
            "y0": xy[s, 1],
            "x1": xy[t, 0],
            "y1": xy[t, 1],
        }
    )
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
        frames.append(
            pd.DataFrame(
                {
                    "source": src[keep],
                    "target": dst[keep],
                    "cost_s": cost,
                    "reverse_cost_s": rev,
                    "x0": src[keep] * 10.0,
                    "y0": 0.0,
                    "x1": dst[keep] * 10.0,
                    "y1": 0.0,
                }
            )
        )
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


# --- places joined onto the roads, the split graph, paths and a hand-worked day ---------------


def loop_roads() -> gpd.GeoDataFrame:
    """A 1 km square loop A(0,0) → B(1000,0) → C(1000,1000) → D(0,1000) → A at 36 km/h
    (100 s per edge); B → C is one-way (no passage C → B)."""
    pts = {"A": (0.0, 0.0), "B": (1000.0, 0.0), "C": (1000.0, 1000.0), "D": (0.0, 1000.0)}
    ids = {"A": 1, "B": 2, "C": 3, "D": 4}
    pairs = [("A", "B"), ("B", "C"), ("C", "D"), ("D", "A")]
    return gpd.GeoDataFrame(
        {
            "source": [ids[a] for a, _ in pairs],
            "target": [ids[b] for _, b in pairs],
            "cost_s": [100.0] * 4,
            "reverse_cost_s": [100.0, -1.0, 100.0, 100.0],
        },
        geometry=[shapely.LineString([pts[a], pts[b]]) for a, b in pairs],
        crs=4547,
    )


#: Base P 20 m south of AB at 200 m; U1 20 m east of BC's middle, U2 20 m north of CD's middle,
#: U3 20 m west of DA's middle. Every access leg is 20 m = 4 s at 5 m/s.
LOOP_PLACES = np.array([[1020.0, 500.0], [500.0, 1020.0], [-20.0, 500.0], [200.0, -20.0]])


def test_places_join_the_nearest_road_not_the_nearest_junction() -> None:
    net = rg.road_network(loop_roads())
    snap = rg.snap_to_roads(net, LOOP_PLACES)
    assert snap.edge.tolist() == [1, 2, 3, 0]
    assert snap.fraction == pytest.approx([0.5, 0.5, 0.5, 0.2])
    assert snap.access_m == pytest.approx([20.0] * 4)
    # The nearest junction of U1 is 500 m away; the old node snap would add that as access.
    node_dist = rg.road_graph(loop_roads()).snap(LOOP_PLACES)[1]
    assert node_dist[0] == pytest.approx(np.hypot(20, 500))


def test_split_graph_times_by_hand_and_one_way_honoured() -> None:
    net = rg.road_network(loop_roads())
    split = rg.split_at(net, rg.snap_to_roads(net, LOOP_PLACES))
    t = rg.place_travel_matrix(split)
    # P → U1: 4 + P→B 80 + B→U1 50 + 4 = 138; U1 → U2: 4 + 50 + 50 + 4 = 108; likewise U2 → U3;
    # U3 → P: 4 + 50 + 20 + 4 = 78. Against the one-way, U2 → U1 goes round: 4 + 50 (to D)
    # + 100 (to A) + 100 (to B) + 50 + 4 = 308.
    assert t[3, 0] == pytest.approx(138)
    assert t[0, 1] == pytest.approx(108)
    assert t[1, 2] == pytest.approx(108)
    assert t[2, 3] == pytest.approx(78)
    assert t[1, 0] == pytest.approx(308)
    # Independent witness: networkx on the same split pieces built by hand from the geometry.
    g = nx.DiGraph()
    for (i, j), (e, f0, f1) in split.segment.items():
        cost = net.fwd_s[e] if f1 > f0 else net.back_s[e]
        g.add_edge(i, j, weight=abs(f1 - f0) * cost)
    nodes = split.place_node
    for a in range(4):
        for b in range(4):
            if a != b:
                d = nx.dijkstra_path_length(g, int(nodes[a]), int(nodes[b]))
                assert t[a, b] == pytest.approx(d + 8)


def test_hand_worked_day_on_the_loop() -> None:
    from gis.analysis.inspection_routes import DayWindow, Inspector, plan_routes

    net = rg.road_network(loop_roads())
    split = rg.split_at(net, rg.snap_to_roads(net, LOOP_PLACES))
    t = rg.place_travel_matrix(split)
    day = DayWindow(start_s=9 * 3600, end_s=17 * 3600, lunch_start_s=None, lunch_end_s=None)
    plan = plan_routes(t, [0, 1, 2], [600] * 3, [Inspector(base=3)], day, time_limit_s=0.2)
    route = plan.routes[0]
    # Clockwise P → U1 → U2 → U3 → P = 138 + 108 + 108 + 78 = 432 s; anticlockwise meets the
    # one-way: P → U3 78, U3 → U2 108, U2 → U1 308, U1 → P 4 + 50 + 100 + 100 + 20 + 4 = 278,
    # 772 s. Any other order repeats one of these legs' detours, so clockwise is optimal.
    assert route.stops == [0, 1, 2]
    assert plan.travel_s == 432
    # Leave 09:00:00; U1 09:02:18–09:12:18, U2 09:14:06–09:24:06, U3 09:25:54–09:35:54,
    # back 09:37:12.
    start = 9 * 3600
    assert [(v.arrival_s - start, v.departure_s - start) for v in route.visits] == [
        (138, 738),
        (846, 1446),
        (1554, 2154),
    ]
    assert route.return_base_s - start == 2232
    # The road path U1 → U2 runs (1000, 500) → C → (500, 1000), on the roads only.
    (path,) = rg.road_paths(split, [(0, 1)])
    assert path.tolist() == [[1000.0, 500.0], [1000.0, 1000.0], [500.0, 1000.0]]
