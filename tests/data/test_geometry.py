"""Spatial rules of the generated town, each checked independently in EPSG:4547."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

METRIC = 4547


def test_town_area_and_shape(layers: dict[str, gpd.GeoDataFrame]) -> None:
    town = layers["town"].to_crs(METRIC)
    assert len(town) == 1
    geom = shapely.union_all(town.geometry.values)
    assert geom.is_valid and geom.geom_type == "Polygon" and not geom.interiors
    assert geom.area / 1e6 == pytest.approx(73.4, rel=0.02)


def test_villages_tile_the_town_exactly(layers: dict[str, gpd.GeoDataFrame]) -> None:
    villages = layers["villages"].to_crs(METRIC)
    town = layers["town"].to_crs(METRIC).geometry.iloc[0]
    assert villages.geometry.is_valid.all()
    union = shapely.union_all(villages.geometry.values)
    assert abs(union.area - town.area) / town.area < 1e-6
    assert shapely.symmetric_difference(union, town).area / town.area < 1e-6
    # Overlaps: the areas add up to the union, and no neighbour pair shares area.
    assert abs(villages.area.sum() - union.area) / union.area < 1e-9
    geoms = villages.geometry.values
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]]))
    assert overlap.max() < 1e-3


def test_micro_grids_cover_their_villages(layers: dict[str, gpd.GeoDataFrame]) -> None:
    grids = layers["micro_grids"].to_crs(METRIC)
    villages = layers["villages"].to_crs(METRIC).set_index("code")
    assert len(grids) == 206 and grids.geometry.is_valid.all()
    for code, group in grids.groupby("village_code"):
        v = villages.geometry[code]
        assert abs(shapely.union_all(group.geometry.values).area - v.area) / v.area < 1e-4
        assert len(group) == villages.loc[code, "groups_count"]
        assert (group["code"].str[:12] == code).all()


def test_each_unit_inside_exactly_its_village(layers: dict[str, gpd.GeoDataFrame]) -> None:
    units = layers["units"].to_crs(METRIC)
    villages = layers["villages"].to_crs(METRIC)
    joined = gpd.sjoin(
        units, villages[["code", "geometry"]], predicate="within", lsuffix="unit", rsuffix="village"
    )
    assert joined.index.is_unique and len(joined) == len(units)
    assert (joined["village_code"] == joined["code_village"]).all()
    boundary = villages.set_index("code").boundary
    dist = shapely.distance(units.geometry.values, boundary[units["village_code"]].values)
    assert dist.min() > 1.0


def test_hazards_inside_their_village(layers: dict[str, gpd.GeoDataFrame]) -> None:
    hazards = layers["hazards"].to_crs(METRIC)
    villages = layers["villages"].to_crs(METRIC).set_index("code")
    inside = shapely.within(
        hazards.geometry.values, villages.geometry[hazards["village_code"]].values
    )
    assert inside.all()


def test_road_graph(layers: dict[str, gpd.GeoDataFrame]) -> None:
    roads = layers["roads"]
    graph = nx.Graph()
    graph.add_edges_from(zip(roads["source"], roads["target"], strict=True))
    assert nx.is_connected(graph)
    # Node ids agree with endpoint coordinates: one id per coordinate and vice versa.
    node_at: dict[int, tuple[float, float]] = {}
    for geom, s, t in zip(roads.geometry, roads["source"], roads["target"], strict=True):
        coords = shapely.get_coordinates(geom)
        for nid, xy in ((s, tuple(coords[0])), (t, tuple(coords[-1]))):
            assert node_at.setdefault(int(nid), xy) == xy
    assert len(set(node_at.values())) == len(node_at)
    metric = roads.to_crs(METRIC)
    assert np.allclose(metric.length, roads["length_m"], atol=0.05)
    speeds = dict(zip(roads["road_class"], roads["speed_kmh"], strict=True))
    assert speeds == {"S": 60, "X": 50, "Y": 40, "C": 25}
    assert 210 <= metric.length.sum() / 1000 <= 250


def test_gas_and_fire_stations(layers: dict[str, gpd.GeoDataFrame]) -> None:
    pipes = layers["gas_pipelines"]
    assert (pipes["pressure_class"] == "sub_high").sum() >= 1
    assert (pipes["pressure_class"] == "medium").sum() >= 3
    kinds = layers["gas_facilities"]["kind"].value_counts()
    assert kinds["regulator_station"] == 1 and kinds["valve"] >= 5
    assert 2 <= kinds["regulator_box"] <= 4
    fire = layers["fire_stations"]["kind"].value_counts()
    assert fire["fire_station"] == 1 and fire["emergency_team"] == 1
    assert 3 <= fire["micro_station"] <= 6


def test_pipeline_demo_situations(layers: dict[str, gpd.GeoDataFrame]) -> None:
    units = layers["units"].to_crs(METRIC)
    pipes = layers["gas_pipelines"].to_crs(METRIC)
    medium = shapely.union_all(pipes[pipes["pressure_class"] == "medium"].geometry.values)
    allpipes = shapely.union_all(pipes.geometry.values)
    bottled = units[units["gas_use"] == "bottled"]
    assert (shapely.distance(bottled.geometry.values, medium) <= 50).sum() >= 3
    sensitive = units[units["industry_code"].str[0].isin(["P", "Q", "R"])]
    assert (shapely.distance(sensitive.geometry.values, allpipes) <= 200).sum() >= 3
