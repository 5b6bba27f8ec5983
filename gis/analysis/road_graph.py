"""The road network as a sparse directed graph: snapping points to nodes, service areas in seconds.

Edges follow pgRouting's convention: ``cost_s`` is the time from ``source`` to ``target``,
``reverse_cost_s`` the time back, a negative value meaning "no passage that way". Service areas
(every node within T seconds of a set of sources) are multi-source Dijkstra on a scipy CSR matrix;
see ``bench/README.md`` for the measurement against pgRouting's ``pgr_drivingDistance``.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

ROAD_COLUMNS = ("source", "target", "cost_s", "reverse_cost_s")
#: Zero costs are stored as this (a sparse matrix cannot hold 0); limits allow for the sum of
#: such nudges with ``TIME_EPS_S`` so a unit exactly at the limit stays inside it.
ZERO_COST_S = 1e-6
TIME_EPS_S = 1e-3


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


def _xy(points: gpd.GeoSeries | np.ndarray) -> np.ndarray:
    if isinstance(points, np.ndarray) and points.ndim == 2:
        return points
    return shapely.get_coordinates(np.asarray(points))[:, :2]


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

    node_ids, inverse = np.unique(np.concatenate([src, dst]), return_inverse=True)
    xy = np.zeros((node_ids.shape[0], 2))
    xy[inverse] = np.concatenate([start, end])
    s_idx, t_idx = inverse[: len(src)], inverse[len(src) :]

    fwd = roads["cost_s"].to_numpy(dtype=float)
    back = roads["reverse_cost_s"].to_numpy(dtype=float)
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
