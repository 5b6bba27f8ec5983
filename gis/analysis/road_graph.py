"""The road network as a sparse directed graph: snapping, service areas, door-to-door times.

Edges follow pgRouting's convention: ``cost_s`` is the time from ``source`` to ``target``,
``reverse_cost_s`` the time back, a negative value meaning "no passage that way". Service areas
(every node within T seconds of a set of sources, for fire cover) and pair travel times (each
person's base to each slot's place, for the assignment) are Dijkstra on a scipy CSR matrix; see
``bench/README.md`` for the measurements against pgRouting's ``pgr_drivingDistance`` and
``pgr_dijkstraCost`` (the tests compare the costs with both).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

ROAD_COLUMNS = ("source", "target", "cost_s", "reverse_cost_s")
#: Zero costs are stored as this (a sparse matrix cannot hold 0); limits allow for the sum of
#: such nudges with ``TIME_EPS_S`` so a unit exactly at the limit stays inside it.
ZERO_COST_S = 1e-6
TIME_EPS_S = 1e-3
#: Off-network legs (base → road, road → unit) at walking-to-cycling pace: 1.4 m/s ≈ 5 km/h
#: would overweight a 300 m lane; 5 m/s (18 km/h, a slow e-bike on a dirt track) is used.
ACCESS_SPEED_MPS = 5.0
#: Cost of a pair the network does not connect: four hours, so it stays possible but last.
UNREACHABLE_S = 4 * 3600
#: Origins per Dijkstra batch: bounds memory to batch × nodes floats.
BATCH = 64


@dataclass(frozen=True)
class RoadGraph:
    """A directed road graph with node positions in a metric CRS.

    ``matrix[i, j]`` is the fastest edge time (s) from node index i to node index j; ``node_ids``
    maps indices back to the ``source``/``target`` ids of the roads table.
    """

    node_ids: np.ndarray
    xy: np.ndarray
    matrix: csr_matrix
    tree: cKDTree

    @property
    def n_nodes(self) -> int:
        return int(self.node_ids.shape[0])

    def snap(self, points: gpd.GeoSeries | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index of the nearest node to each point and the straight-line distance (m) to it."""
        xy = _xy(points)
        dist, idx = self.tree.query(xy)
        return np.asarray(idx, dtype=np.int64), np.asarray(dist, dtype=float)

    @cached_property
    def blocks(self) -> tuple[csr_matrix, np.ndarray, np.ndarray, np.ndarray]:
        """The matrix with each connected piece as one diagonal block.

        Returns the permuted matrix, each node's piece, each node's position in the permuted
        order, and the start of every piece's block (one more entry than pieces). A county or
        province is many towns whose roads do not meet: Dijkstra then runs on each town's block
        instead of writing a row over every node of the province for every origin.
        """
        _, piece = connected_components(self.matrix, directed=True, connection="weak")
        order = np.argsort(piece, kind="stable")
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        starts = np.searchsorted(piece[order], np.arange(piece.max() + 2 if len(piece) else 1))
        permuted = self.matrix[order][:, order].tocsr()
        return permuted, piece, position, starts


def _xy(points: gpd.GeoSeries | np.ndarray) -> np.ndarray:
    if isinstance(points, np.ndarray) and points.ndim == 2:
        return points
    xy: np.ndarray = shapely.get_coordinates(np.asarray(points))[:, :2]
    return xy


def road_graph(roads: gpd.GeoDataFrame) -> RoadGraph:
    """Build the graph of a roads frame (``source``, ``target``, ``cost_s``, ``reverse_cost_s``).

    Node positions come from the first and last vertex of each edge, so ``roads`` must be in a
    metric CRS for snapping distances to be metres.

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        Road edges in a projected CRS.

    Returns
    -------
    RoadGraph
    """
    missing = [c for c in ROAD_COLUMNS if c not in roads.columns]
    if missing:
        raise ValueError(f"roads lacks column(s) {missing}")
    if roads.crs is None or not roads.crs.is_projected:
        raise ValueError(f"roads must be in a projected (metric) CRS, got {roads.crs}")
    if roads.empty:
        raise ValueError("roads is empty: no network to route on")
    src = roads["source"].to_numpy(dtype=np.int64)
    dst = roads["target"].to_numpy(dtype=np.int64)
    geoms = roads.geometry.to_numpy()
    start = shapely.get_coordinates(shapely.get_point(geoms, 0))[:, :2]
    end = shapely.get_coordinates(shapely.get_point(geoms, -1))[:, :2]

    fwd = roads["cost_s"].to_numpy(dtype=float)
    back = roads["reverse_cost_s"].to_numpy(dtype=float)
    return _build(src, dst, start, end, fwd, back)


def graph_from_edges(edges: pd.DataFrame) -> RoadGraph:
    """Build the graph from an edge table with metric end coordinates, no geometry.

    Parameters
    ----------
    edges
        Columns ``source``, ``target`` (node ids), ``cost_s``, ``reverse_cost_s`` (seconds,
        negative = impassable) and ``x0, y0, x1, y1`` (metric coordinates of source and target),
        as ``gis.queries.assignments.edges_frame`` returns them.
    """
    need = (*ROAD_COLUMNS, "x0", "y0", "x1", "y1")
    missing = [c for c in need if c not in edges.columns]
    if missing:
        raise ValueError(f"edges lacks columns {missing}")
    if edges.empty:
        raise ValueError("edges is empty: no network to route on")
    return _build(
        edges["source"].to_numpy(np.int64),
        edges["target"].to_numpy(np.int64),
        edges[["x0", "y0"]].to_numpy(float),
        edges[["x1", "y1"]].to_numpy(float),
        edges["cost_s"].to_numpy(float),
        edges["reverse_cost_s"].to_numpy(float),
    )


def _build(
    src: np.ndarray,
    dst: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    fwd: np.ndarray,
    back: np.ndarray,
) -> RoadGraph:
    node_ids, inverse = np.unique(np.concatenate([src, dst]), return_inverse=True)
    xy = np.zeros((node_ids.shape[0], 2))
    xy[inverse] = np.concatenate([start, end])
    s_idx, t_idx = inverse[: len(src)], inverse[len(src) :]
    edges = pd.DataFrame(
        {
            "i": np.concatenate([s_idx, t_idx]),
            "j": np.concatenate([t_idx, s_idx]),
            "w": np.concatenate([fwd, back]),
        }
    )
    # Negative costs mean "closed that way"; parallel edges keep the fastest (a CSR build would
    # otherwise sum them); zero costs are nudged because a sparse matrix cannot store them.
    edges = edges[(edges["w"] >= 0) & (edges["i"] != edges["j"])]
    edges = edges.groupby(["i", "j"], as_index=False)["w"].min()
    weights = np.maximum(edges["w"].to_numpy(), ZERO_COST_S)
    n = node_ids.shape[0]
    matrix = csr_matrix((weights, (edges["i"].to_numpy(), edges["j"].to_numpy())), shape=(n, n))
    return RoadGraph(node_ids=node_ids, xy=xy, matrix=matrix, tree=cKDTree(xy))


def travel_times(
    graph: RoadGraph,
    source_nodes: np.ndarray,
    source_offsets_s: np.ndarray | None = None,
    limit_s: float = np.inf,
    reverse: bool = False,
) -> np.ndarray:
    """Fastest time (s) from the nearest of several sources to every node (inf beyond ``limit_s``).

    Each source may start late by an offset (e.g. the time from a station's door to the road); a
    virtual root joined to every source by its offset makes that one exact single-source search.
    With ``reverse=True`` times are *to* the sources instead of from them.

    Parameters
    ----------
    graph : RoadGraph
    source_nodes : numpy.ndarray
        Node indices of the sources.
    source_offsets_s : numpy.ndarray, optional
        Seconds added at each source (default 0).
    limit_s : float
        Stop searching beyond this time.
    reverse : bool
        Search the transposed graph.

    Returns
    -------
    numpy.ndarray
        One time per node.
    """
    source_nodes = np.asarray(source_nodes, dtype=np.int64)
    n = graph.n_nodes
    if source_nodes.size == 0:
        return np.full(n, np.inf)
    offsets = (
        np.zeros(source_nodes.shape[0])
        if source_offsets_s is None
        else np.asarray(source_offsets_s, dtype=float)
    )
    if offsets.shape != source_nodes.shape:
        raise ValueError("source_offsets_s must have one value per source node")
    # Duplicate (root, node) pairs would be summed by the sparse build: keep the smallest offset.
    best = pd.Series(offsets).groupby(source_nodes).min()
    nodes, starts = best.index.to_numpy(dtype=np.int64), best.to_numpy(dtype=float)
    base = (graph.matrix.T if reverse else graph.matrix).tocoo()
    root = n
    rows = np.concatenate([base.row, np.full(nodes.shape[0], root)])
    cols = np.concatenate([base.col, nodes])
    data = np.concatenate([base.data, starts + ZERO_COST_S])
    extended = csr_matrix((data, (rows, cols)), shape=(n + 1, n + 1))
    times = np.asarray(dijkstra(extended, directed=True, indices=root, limit=limit_s + TIME_EPS_S))
    times = times[:n] - ZERO_COST_S  # the root's own edge
    times[times > limit_s + TIME_EPS_S] = np.inf
    return np.maximum(times, 0.0)


def reach_matrix(
    graph: RoadGraph, nodes: np.ndarray, limit_s: float, reverse: bool = False, chunk: int = 256
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse (origin, node, seconds) triples of every node within ``limit_s`` of each origin.

    Searched in chunks so memory stays at ``chunk × n_nodes`` floats whatever the origin count.
    """
    base = graph.matrix.T.tocsr() if reverse else graph.matrix
    nodes = np.asarray(nodes, dtype=np.int64)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for start in range(0, nodes.shape[0], chunk):
        block = nodes[start : start + chunk]
        times = np.atleast_2d(
            dijkstra(base, directed=True, indices=block, limit=limit_s + TIME_EPS_S)
        )
        r, c = np.nonzero(np.isfinite(times))
        rows.append(r + start)
        cols.append(c)
        vals.append(times[r, c])
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def node_costs(graph: RoadGraph, origins: np.ndarray, destinations: np.ndarray) -> np.ndarray:
    """Seconds from node ``origins[k]`` to node ``destinations[k]`` (inf if unreachable)."""
    origins = np.asarray(origins, np.int64)
    destinations = np.asarray(destinations, np.int64)
    out = np.full(len(origins), np.inf)
    if len(origins) == 0:
        return out
    permuted, piece, position, starts = graph.blocks
    reach = np.flatnonzero(piece[origins] == piece[destinations])  # other pieces: unreachable
    reach = reach[np.argsort(piece[origins[reach]], kind="stable")]
    cuts = np.flatnonzero(np.diff(piece[origins[reach]])) + 1
    for part in np.split(reach, cuts):
        if len(part) == 0:
            continue
        k = piece[origins[part[0]]]
        lo, hi = starts[k], starts[k + 1]
        block = permuted[lo:hi, lo:hi]
        out[part] = _block_costs(
            block, position[origins[part]] - lo, position[destinations[part]] - lo
        )
    return out


def _block_costs(matrix: csr_matrix, origins: np.ndarray, destinations: np.ndarray) -> np.ndarray:
    out = np.full(len(origins), np.inf)
    unique = np.unique(origins)
    for start in range(0, len(unique), BATCH):
        batch = unique[start : start + BATCH]
        dist = dijkstra(matrix, directed=True, indices=batch)
        row = np.searchsorted(batch, origins)
        hit = (row < len(batch)) & (batch[np.minimum(row, len(batch) - 1)] == origins)
        out[hit] = dist[row[hit], destinations[hit]]
    return out


def pair_travel_seconds(
    graph: RoadGraph,
    origin_xy: np.ndarray,
    destination_xy: np.ndarray,
    pair_origin: np.ndarray,
    pair_destination: np.ndarray,
) -> np.ndarray:
    """Door-to-door seconds for each (origin, destination) pair, rounded to whole seconds.

    Parameters
    ----------
    graph
        From :func:`road_graph`, in the same metric CRS as the points.
    origin_xy, destination_xy
        ``(n, 2)`` metric coordinates.
    pair_origin, pair_destination
        Indices into the two point arrays, one entry per pair.

    Examples
    --------
    >>> e = pd.DataFrame({"source": [1], "target": [2], "cost_s": [60.0],
    ...     "reverse_cost_s": [60.0], "x0": [0.0], "y0": [0.0], "x1": [1000.0], "y1": [0.0]})
    >>> g = graph_from_edges(e)
    >>> pair_travel_seconds(g, np.array([[0.0, 50.0]]), np.array([[1000.0, 0.0]]), [0], [0])
    array([70])
    """
    o_node, o_dist = graph.snap(np.asarray(origin_xy, dtype=float).reshape(-1, 2))
    d_node, d_dist = graph.snap(np.asarray(destination_xy, dtype=float).reshape(-1, 2))
    po = np.asarray(pair_origin, np.int64)
    pd_ = np.asarray(pair_destination, np.int64)
    net = node_costs(graph, o_node[po], d_node[pd_])
    net = np.where(np.isfinite(net), net, UNREACHABLE_S)
    total: np.ndarray = net + (o_dist[po] + d_dist[pd_]) / ACCESS_SPEED_MPS
    seconds: np.ndarray = np.rint(total).astype(np.int64)
    return seconds


# --- routing on the roads themselves: units joined at the nearest point ON a road ------------


@dataclass(frozen=True)
class RoadNetwork:
    """The roads with their geometry, for joining places onto edges and drawing paths.

    ``lines`` are the edges' metric LineStrings (from ``source`` to ``target``); ``u``/``v`` their
    end node indices into ``node_xy``; ``fwd_s``/``back_s`` the times along and against the
    digitised direction (negative: one-way, no passage).
    """

    lines: np.ndarray
    u: np.ndarray
    v: np.ndarray
    fwd_s: np.ndarray
    back_s: np.ndarray
    node_xy: np.ndarray
    tree: shapely.STRtree

    @property
    def n_nodes(self) -> int:
        return int(self.node_xy.shape[0])


@dataclass(frozen=True)
class RoadSnap:
    """Where each place joins the roads: edge, fraction along it, the point, the access leg (m)."""

    edge: np.ndarray
    fraction: np.ndarray
    on_road: np.ndarray
    access_m: np.ndarray


@dataclass(frozen=True)
class SplitNetwork:
    """The road graph with every snapped place inserted as a node on its edge (the edge split).

    ``place_node[k]`` is the node of place k; ``segment`` maps a directed node pair to the piece
    of road it follows: (edge, fraction from, fraction to).
    """

    network: RoadNetwork
    snap: RoadSnap
    matrix: csr_matrix
    place_node: np.ndarray
    segment: dict[tuple[int, int], tuple[int, float, float]]


def road_network(roads: gpd.GeoDataFrame) -> RoadNetwork:
    """The roads frame (``source``, ``target``, ``cost_s``, ``reverse_cost_s``, metric CRS)
    as a :class:`RoadNetwork`.

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        One LineString per edge, digitised from ``source`` to ``target``, in a projected CRS.
    """
    missing = [c for c in ROAD_COLUMNS if c not in roads.columns]
    if missing:
        raise ValueError(f"roads lacks column(s) {missing}")
    if roads.crs is None or not roads.crs.is_projected:
        raise ValueError(f"roads must be in a projected (metric) CRS, got {roads.crs}")
    if roads.empty:
        raise ValueError("roads is empty: no network to route on")
    lines = roads.geometry.to_numpy()
    if (shapely.get_type_id(lines) != shapely.GeometryType.LINESTRING).any():
        raise ValueError("roads must be single LineStrings (a MultiLineString edge cannot route)")
    src = roads["source"].to_numpy(np.int64)
    dst = roads["target"].to_numpy(np.int64)
    node_ids, inverse = np.unique(np.concatenate([src, dst]), return_inverse=True)
    xy = np.zeros((node_ids.shape[0], 2))
    xy[inverse] = np.concatenate(
        [
            shapely.get_coordinates(shapely.get_point(lines, 0))[:, :2],
            shapely.get_coordinates(shapely.get_point(lines, -1))[:, :2],
        ]
    )
    return RoadNetwork(
        lines=lines,
        u=inverse[: len(src)],
        v=inverse[len(src) :],
        fwd_s=roads["cost_s"].to_numpy(float),
        back_s=roads["reverse_cost_s"].to_numpy(float),
        node_xy=xy,
        tree=shapely.STRtree(lines),
    )


def snap_to_roads(network: RoadNetwork, points: gpd.GeoSeries | np.ndarray) -> RoadSnap:
    """Project each point onto its nearest road edge (not the nearest junction).

    Examples
    --------
    >>> roads = gpd.GeoDataFrame({"source": [1], "target": [2], "cost_s": [100.0],
    ...     "reverse_cost_s": [100.0]}, geometry=[shapely.LineString([(0, 0), (1000, 0)])],
    ...     crs=4547)
    >>> s = snap_to_roads(road_network(roads), np.array([[250.0, 30.0]]))
    >>> s.fraction.tolist(), s.access_m.tolist()
    ([0.25], [30.0])
    """
    xy = _xy(points)
    pts = shapely.points(xy)
    # query_nearest returns every tied edge; the first per point is taken (ties are equidistant).
    got = network.tree.query_nearest(pts, return_distance=False)
    first = np.unique(got[0], return_index=True)[1]
    edge = np.asarray(got[1][first], dtype=np.int64)
    lines = network.lines[edge]
    fraction = np.clip(shapely.line_locate_point(lines, pts, normalized=True), 0.0, 1.0)
    on_road = shapely.get_coordinates(
        shapely.line_interpolate_point(lines, fraction, normalized=True)
    )
    return RoadSnap(
        edge=edge,
        fraction=np.asarray(fraction, dtype=float),
        on_road=on_road[:, :2],
        access_m=np.hypot(*(xy - on_road[:, :2]).T),
    )


def split_at(network: RoadNetwork, snap: RoadSnap) -> SplitNetwork:
    """Insert the snapped places into their edges, splitting each edge at every place on it.

    Times along a split edge are proportional to length (one speed per edge); one-way edges stay
    one-way in every piece.
    """
    n = network.n_nodes
    key = pd.DataFrame({"edge": snap.edge, "f": snap.fraction})
    unique = key.drop_duplicates().sort_values(["edge", "f"]).reset_index(drop=True)
    unique["node"] = n + np.arange(len(unique))
    place_node = key.merge(unique, on=["edge", "f"], how="left")["node"].to_numpy(np.int64)
    rows: list[tuple[int, int, float, int, float, float]] = []
    cut = unique.groupby("edge")
    touched = set(cut.groups)
    for e in range(len(network.lines)):
        chain = [(int(network.u[e]), 0.0)]
        if e in touched:
            part = cut.get_group(e)
            chain += list(zip(part["node"].astype(int), part["f"].astype(float), strict=True))
        chain.append((int(network.v[e]), 1.0))
        fwd, back = network.fwd_s[e], network.back_s[e]
        for (a, fa), (b, fb) in zip(chain[:-1], chain[1:], strict=True):
            share = fb - fa
            if fwd >= 0:
                rows.append((a, b, fwd * share, e, fa, fb))
            if back >= 0:
                rows.append((b, a, back * share, e, fb, fa))
    table = pd.DataFrame(rows, columns=["i", "j", "w", "edge", "f0", "f1"])
    table = table[table["i"] != table["j"]]
    table = table.loc[table.groupby(["i", "j"])["w"].idxmin()]
    size = n + len(unique)
    matrix = csr_matrix(
        (np.maximum(table["w"].to_numpy(), ZERO_COST_S), (table["i"], table["j"])),
        shape=(size, size),
    )
    segment = {
        (int(i), int(j)): (int(e), float(f0), float(f1))
        for i, j, e, f0, f1 in table[["i", "j", "edge", "f0", "f1"]].itertuples(index=False)
    }
    return SplitNetwork(network, snap, matrix, place_node, segment)


def place_travel_matrix(split: SplitNetwork) -> np.ndarray:
    """Door-to-door seconds between every pair of snapped places (access legs included).

    A pair the roads do not connect (one-way dead ends, separate pieces) costs
    ``UNREACHABLE_S``; a place to itself costs 0.
    """
    nodes = split.place_node
    uniq, where = np.unique(nodes, return_inverse=True)
    dist = np.atleast_2d(dijkstra(split.matrix, directed=True, indices=uniq))
    net = dist[where][:, nodes]
    net = np.where(np.isfinite(net), net, UNREACHABLE_S)
    access = split.snap.access_m / ACCESS_SPEED_MPS
    total: np.ndarray = net + access[:, None] + access[None, :]
    np.fill_diagonal(total, 0.0)
    return total


def road_paths(split: SplitNetwork, legs: list[tuple[int, int]]) -> list[np.ndarray]:
    """The road geometry (metric coordinates) of each leg between two snapped places.

    Each path runs from place a's point on the road to place b's, along the pieces of road the
    fastest path uses (vertices of the roads themselves); the access legs are not included.
    """
    origins = sorted({split.place_node[a] for a, _ in legs})
    row = {o: r for r, o in enumerate(origins)}
    pred = np.empty((0, 0), dtype=np.int64)
    if origins:
        _, pred = dijkstra(split.matrix, directed=True, indices=origins, return_predecessors=True)
        pred = np.atleast_2d(pred)
    out: list[np.ndarray] = []
    for a, b in legs:
        src, dst = int(split.place_node[a]), int(split.place_node[b])
        nodes = [dst]
        while nodes[-1] != src:
            p = int(pred[row[src], nodes[-1]])
            if p < 0:  # unreachable: a straight segment marks the gap
                nodes = [dst, src]
                break
            nodes.append(p)
        nodes.reverse()
        coords = [split.snap.on_road[a]]
        for i, j in zip(nodes[:-1], nodes[1:], strict=True):
            piece = split.segment.get((i, j))
            if piece is None:
                continue
            e, f0, f1 = piece
            line = split.network.lines[e]
            sub = shapely.ops.substring(line, f0, f1, normalized=True)
            part = shapely.get_coordinates(sub)[:, :2]
            coords.extend(part)
        coords.append(split.snap.on_road[b])
        path = np.asarray(coords, dtype=float)
        keep = np.ones(len(path), dtype=bool)
        keep[1:] = np.any(np.abs(np.diff(path, axis=0)) > 1e-6, axis=1)
        out.append(path[keep])
    return out
