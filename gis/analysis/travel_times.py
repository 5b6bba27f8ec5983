"""Network travel time between points: snap to the nearest road node, Dijkstra on the road graph.

In memory with ``scipy.sparse.csgraph`` (pgRouting conventions: ``cost_s`` along the edge,
``reverse_cost_s`` against it, negative = impassable). The access legs from a point to its
snapped node and from the node to the destination are added at :data:`ACCESS_SPEED_MPS`.
``tests/gis/analysis/test_travel_times.py`` checks the node-to-node costs against pgRouting's
``pgr_dijkstraCost`` on the demo town; ``bench/bench_assignment.py`` times both.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

#: Off-network legs (base → road, road → unit) at walking-to-cycling pace: 1.4 m/s ≈ 5 km/h
#: would overweight a 300 m lane; 5 m/s (18 km/h, a slow e-bike on a dirt track) is used.
ACCESS_SPEED_MPS = 5.0
#: Cost of a pair the network does not connect: four hours, so it stays possible but last.
UNREACHABLE_S = 4 * 3600
#: Origins per Dijkstra batch: bounds memory to batch × nodes floats.
BATCH = 64


@dataclass(frozen=True)
class RoadGraph:
    """A directed road graph: ``matrix[i, j]`` seconds from node ``i`` to node ``j``."""

    matrix: csr_matrix
    node_ids: np.ndarray
    xy: np.ndarray

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

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


def road_graph(edges: pd.DataFrame) -> RoadGraph:
    """Build the graph from road edges.

    Parameters
    ----------
    edges
        Columns ``source``, ``target`` (node ids), ``cost_s``, ``reverse_cost_s`` (seconds,
        negative = impassable) and ``x0, y0, x1, y1`` (metric coordinates of source and target).
    """
    need = ("source", "target", "cost_s", "reverse_cost_s", "x0", "y0", "x1", "y1")
    missing = [c for c in need if c not in edges.columns]
    if missing:
        raise ValueError(f"edges lacks columns {missing}")
    ends = pd.concat([
        edges[["source", "x0", "y0"]].set_axis(["node", "x", "y"], axis=1),
        edges[["target", "x1", "y1"]].set_axis(["node", "x", "y"], axis=1),
    ]).groupby("node", sort=True).first()
    node_ids = ends.index.to_numpy(np.int64)
    index = pd.Series(np.arange(len(node_ids)), index=node_ids)
    s = index[edges["source"]].to_numpy()
    t = index[edges["target"]].to_numpy()
    fwd = edges["cost_s"].to_numpy(float)
    rev = edges["reverse_cost_s"].to_numpy(float)
    arcs = pd.DataFrame({
        "a": np.concatenate([s[fwd >= 0], t[rev >= 0]]),
        "b": np.concatenate([t[fwd >= 0], s[rev >= 0]]),
        # csgraph treats an explicit 0 as "no edge"; a zero-length edge costs a microsecond.
        "c": np.maximum(np.concatenate([fwd[fwd >= 0], rev[rev >= 0]]), 1e-6),
    }).groupby(["a", "b"], sort=False)["c"].min().reset_index()  # parallel edges: the fastest
    n = len(node_ids)
    matrix = csr_matrix((arcs["c"], (arcs["a"], arcs["b"])), shape=(n, n))
    return RoadGraph(matrix=matrix, node_ids=node_ids, xy=ends[["x", "y"]].to_numpy(float))


def snap(graph: RoadGraph, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The nearest node index and the straight distance to it (metres) for each point."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if graph.n_nodes == 0:
        raise ValueError("the road graph has no nodes")
    dist, idx = cKDTree(graph.xy).query(xy)
    return idx.astype(np.int64), dist


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
        out[part] = _block_costs(block, position[origins[part]] - lo,
                                 position[destinations[part]] - lo)
    return out


def _block_costs(matrix: csr_matrix, origins: np.ndarray, destinations: np.ndarray
                 ) -> np.ndarray:
    out = np.full(len(origins), np.inf)
    unique = np.unique(origins)
    for start in range(0, len(unique), BATCH):
        batch = unique[start:start + BATCH]
        dist = dijkstra(matrix, directed=True, indices=batch)
        row = np.searchsorted(batch, origins)
        hit = (row < len(batch)) & (batch[np.minimum(row, len(batch) - 1)] == origins)
        out[hit] = dist[row[hit], destinations[hit]]
    return out


def pair_travel_seconds(graph: RoadGraph, origin_xy: np.ndarray, destination_xy: np.ndarray,
                        pair_origin: np.ndarray, pair_destination: np.ndarray) -> np.ndarray:
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
    >>> g = road_graph(e)
    >>> pair_travel_seconds(g, np.array([[0.0, 50.0]]), np.array([[1000.0, 0.0]]), [0], [0])
    array([70])
    """
    o_node, o_dist = snap(graph, origin_xy)
    d_node, d_dist = snap(graph, destination_xy)
    po = np.asarray(pair_origin, np.int64)
    pd_ = np.asarray(pair_destination, np.int64)
    net = node_costs(graph, o_node[po], d_node[pd_])
    net = np.where(np.isfinite(net), net, UNREACHABLE_S)
    total = net + (o_dist[po] + d_dist[pd_]) / ACCESS_SPEED_MPS
    return np.rint(total).astype(np.int64)
