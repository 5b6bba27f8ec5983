"""Entry point: generate a dataset directory (town, county or province scale) and manifest."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from data.generator.activity import build_activity
from data.generator.gas import build_fire_stations, build_gas, point_ll
from data.generator.people import build_staff
from data.generator.projection import to_lonlat
from data.generator.roads import SPEED_KMH, build_roads
from data.generator.town import TownSpec, build_micro_grids, build_town, place_settlements
from data.generator.units import Placer, build_units
from data.generator.writer import CSVWriter, FeatureBuffer, GeoJSONWriter, write_manifest

GENERATOR_VERSION = "1.0.0"
SCALES = ("town", "county", "province")
#: Random-stream layers in their fixed spawn order; append new layers at the end only.
LAYERS = (
    "town",
    "roads",
    "settlements",
    "micro_grids",
    "gas",
    "fire",
    "units",
    "staff",
    "activity",
)
DEFAULT_TOWN = TownSpec(
    index=0,
    code="411003101000",
    name="五女店镇（示例数据）",
    county_code="411003000000",
    centre=(500_000.0, 3_769_540.0),
)
ACTIVITY_YEAR = 2024
INSPECTION_COLUMNS = (
    "code",
    "unit_code",
    "village_code",
    "inspected_on",
    "kind",
    "inspector_codes",
    "hazard_count",
    "result",
)
_TOWN_SYLLABLES = "安昌丰福广和华吉嘉金康乐隆明宁平庆仁瑞顺泰望文祥新兴阳永裕正"


def layer_rng(seed: int, layer: str, town_index: int) -> np.random.Generator:
    """The generator of one layer of one town.

    ``SeedSequence(seed, spawn_key=(L, i))`` is exactly
    ``SeedSequence(seed).spawn(n)[L].spawn(m)[i]``: layers are spawned from the master seed in
    the fixed order of :data:`LAYERS`, towns from their layer, without the O(i) cost of
    spawning i siblings first.
    """
    ss = np.random.SeedSequence(seed, spawn_key=(LAYERS.index(layer), town_index))
    return np.random.Generator(np.random.PCG64(ss))


def town_specs(scale: str, towns: int | None = None) -> Iterator[TownSpec]:
    """The towns of a scale: one; ~100 in one county; ≥2 000 in 20 counties (province)."""
    if scale == "town":
        yield DEFAULT_TOWN
        return
    per_county = 100
    n = towns or (100 if scale == "county" else 2000)
    cols = int(np.ceil(np.sqrt(n)))
    cx, cy = DEFAULT_TOWN.centre
    for i in range(n):
        county, k = divmod(i, per_county)
        county6 = "411003" if scale == "county" else f"4110{county + 1:02d}"
        code = f"{county6}{100 + k:03d}000"
        if code == DEFAULT_TOWN.code:
            name = DEFAULT_TOWN.name
        else:
            a = _TOWN_SYLLABLES[i % len(_TOWN_SYLLABLES)]
            b = _TOWN_SYLLABLES[(i // len(_TOWN_SYLLABLES) + 7 * i) % len(_TOWN_SYLLABLES)]
            name = f"{a}{b}{'镇' if k % 3 else '乡'}{k:03d}（示例数据）"
        row, col = divmod(i, cols)
        yield TownSpec(
            index=i,
            code=code,
            name=name,
            county_code=f"{county6}000000",
            centre=(cx + (col - cols // 2) * 13_000.0, cy + (row - cols // 2) * 12_000.0),
        )


def generate(
    out_dir: Path, seed: int = 2024, scale: str = "town", towns: int | None = None
) -> dict[str, Any]:
    """Generate a demo dataset following the file contract of data/README.md.

    Parameters
    ----------
    out_dir
        Directory to write into (created if missing; existing contract files are overwritten).
    seed
        Master seed; the same seed gives byte-identical files.
    scale
        ``town`` (the §5 demo town with a year of activity), ``county`` (~100 towns, ~52 000
        units; main roads only, no gas or activity) or ``province`` (2 000 towns, ≥1 000 000
        units; main roads as in the county; no gas, micro-grids or activity).
    towns
        Override the number of towns (county/province), e.g. for a quick smoke test.

    Returns
    -------
    dict
        The manifest (also written to ``manifest.json``).

    Examples
    --------
    >>> manifest = generate(Path("/tmp/demo"), seed=2024)  # doctest: +SKIP
    >>> manifest["files"]["villages.geojson"]["count"]  # doctest: +SKIP
    35
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    multi = scale != "town"
    # Every scale has roads; above the town only the main S/X/Y network (no 村道 grid), so
    # road-network figures (fire cover, assignment travel) work on the province too.
    with_roads = True
    with_grid_roads = scale == "town"
    with_gas = scale == "town"
    with_micro = scale in ("town", "county")
    with_activity = scale == "town"
    started = time.perf_counter()

    writers: dict[str, Any] = {
        "town.geojson": GeoJSONWriter(out / "town.geojson", multi_polygons=True),
        "villages.geojson": GeoJSONWriter(out / "villages.geojson", multi_polygons=True),
        "staff.geojson": GeoJSONWriter(out / "staff.geojson"),
        "units.geojson": GeoJSONWriter(out / "units.geojson"),
        "fire_stations.geojson": GeoJSONWriter(out / "fire_stations.geojson"),
    }
    if with_micro:
        writers["micro_grids.geojson"] = GeoJSONWriter(out / "micro_grids.geojson", True)
    if with_roads:
        writers["roads.geojson"] = GeoJSONWriter(out / "roads.geojson")
    if with_gas:
        writers["gas_pipelines.geojson"] = GeoJSONWriter(out / "gas_pipelines.geojson")
        writers["gas_facilities.geojson"] = GeoJSONWriter(out / "gas_facilities.geojson")
    if with_activity:
        writers["inspections.csv"] = CSVWriter(out / "inspections.csv", INSPECTION_COLUMNS)
        writers["hazards.geojson"] = GeoJSONWriter(out / "hazards.geojson")
    stats: dict[str, float] = {"road_km": 0.0}

    options = {
        "multi": multi,
        "with_roads": with_roads,
        "with_grid_roads": with_grid_roads,
        "with_gas": with_gas,
        "with_micro": with_micro,
        "with_activity": with_activity,
    }
    n_towns = 0
    if not multi:
        for spec in town_specs(scale, towns):
            n_towns += 1
            _one_town(spec, seed, writers, stats, **options)
    else:
        # Towns are independent, so workers may build them in parallel; imap returns them in
        # input order and each town's lines are written as a block, so bytes do not depend on
        # the number of workers.
        geo = {k: w.multi_polygons for k, w in writers.items() if isinstance(w, GeoJSONWriter)}
        jobs = ((spec, seed, geo, options) for spec in town_specs(scale, towns))
        with multiprocessing.get_context("fork").Pool(
            processes=min(2, os.cpu_count() or 1)
        ) as pool:
            for lines, town_stats in pool.imap(_town_lines, jobs, chunksize=4):
                n_towns += 1
                stats["road_km"] += town_stats["road_km"]
                for name in sorted(lines):
                    for line in lines[name]:
                        writers[name].write_line(line)
    files = {name: w.close() for name, w in sorted(writers.items())}
    manifest: dict[str, Any] = {
        "generator": "data.generator",
        "version": GENERATOR_VERSION,
        "seed": seed,
        "scale": scale,
        "towns": n_towns,
        "crs": "EPSG:4490",
        "is_sample": True,
        "activity_year": ACTIVITY_YEAR if with_activity else None,
        "road_km": round(stats["road_km"], 3) if with_roads else None,
        "files": files,
    }
    write_manifest(out / "manifest.json", manifest)
    # Wall time goes to the caller, never into a file: files must not depend on the clock.
    manifest["_seconds"] = round(time.perf_counter() - started, 2)
    return manifest


def _town_lines(
    job: tuple[TownSpec, int, dict[str, bool], dict[str, bool]],
) -> tuple[dict[str, list[str]], dict[str, float]]:
    """Worker: one town's features, serialised, keyed by file name."""
    spec, seed, geo, options = job
    buffers = {name: FeatureBuffer(multi) for name, multi in geo.items()}
    stats = {"road_km": 0.0}
    _one_town(spec, seed, buffers, stats, **options)
    return {name: b.lines for name, b in buffers.items()}, stats


def _one_town(
    spec: TownSpec,
    seed: int,
    w: dict[str, Any],
    stats: dict[str, float],
    *,
    multi: bool,
    with_roads: bool,
    with_grid_roads: bool,
    with_gas: bool,
    with_micro: bool,
    with_activity: bool,
) -> None:
    i = spec.index
    town = build_town(spec, layer_rng(seed, "town", i))
    net = build_roads(town, layer_rng(seed, "roads", i), with_grid=with_grid_roads)
    place_settlements(town, net.main_m, layer_rng(seed, "settlements", i))
    tc = {"town_code": spec.code} if multi else {}

    w["town.geojson"].write(
        town.geom_ll,
        {"code": spec.code, "name": spec.name, "county_code": spec.county_code, "is_sample": True},
    )
    for v in town.villages:
        w["villages.geojson"].write(
            v.geom_ll,
            {
                "code": v.code,
                "town_code": spec.code,
                "name": v.name,
                "kind": v.kind.value,
                "urban_rural_code": v.urban_rural_code,
                "population": v.population,
                "households": v.households,
                "groups_count": v.groups_count,
            },
        )
    if with_micro:
        for g in build_micro_grids(town, layer_rng(seed, "micro_grids", i)):
            w["micro_grids.geojson"].write(
                g.geom_ll, {"code": g.code, "village_code": g.village_code, "name": g.name}
            )
    roads_m = None
    if with_roads:
        node_offset = i * 100_000 if multi else 0
        for e in net.edges:
            stats["road_km"] += e.length_m / 1000
            w["roads.geojson"].write(
                e.geom_ll,
                {
                    **tc,
                    "code": e.code,
                    "name": e.name,
                    "road_class": e.road_class.value,
                    "speed_kmh": SPEED_KMH[e.road_class],
                    "oneway": False,
                    "length_m": round(e.length_m, 2),
                    "source": e.source + node_offset,
                    "target": e.target + node_offset,
                },
            )
        if with_grid_roads:
            roads_m = shapely.union_all([e.geom_m for e in net.edges])
    gas = build_gas(town, net, layer_rng(seed, "gas", i)) if with_gas else None
    if gas is not None:
        for pipe in gas.pipelines:
            w["gas_pipelines.geojson"].write(
                shapely.LineString(to_lonlat(shapely.get_coordinates(pipe.geom_m))),
                {
                    "code": pipe.code,
                    "name": pipe.name,
                    "pressure_class": pipe.pressure_class.value,
                    "dn": pipe.dn,
                    "material": pipe.material,
                    "build_year": pipe.build_year,
                    "operator": "许昌示例燃气有限公司（示例数据）",
                },
            )
        for f in gas.facilities:
            w["gas_facilities.geojson"].write(
                point_ll(f.xy), {"code": f.code, "kind": f.kind, "name": f.name}
            )
    for f in build_fire_stations(town, layer_rng(seed, "fire", i)):
        w["fire_stations.geojson"].write(
            point_ll(f.xy),
            {**tc, "code": f.code, "kind": f.kind, "name": f.name, "staff_count": f.staff_count},
        )
    units_rng = layer_rng(seed, "units", i)
    units = build_units(
        town,
        units_rng,
        roads_m,
        net.trunk_m,
        gas.all_m if gas else None,
        gas.medium_m if gas else None,
        spec.short_name,
        serial_base=i * 1000,
    )
    unit_points = shapely.points(to_lonlat(np.array([u.xy for u in units])))
    for u, pt in zip(units, unit_points, strict=True):
        w["units.geojson"].write(
            pt,
            {
                "code": u.code,
                "uscc": u.uscc,
                "name": u.name,
                "address": u.address,
                "village_code": u.village_code,
                "industry_code": u.industry_code,
                "department_code": u.department_code,
                "risk_color": u.risk_color.value,
                "fire_key_level": u.fire_key_level.value,
                "nine_small_category": u.nine_small_category.value
                if u.nine_small_category
                else None,
                "high_risk": u.high_risk,
                "gas_use": u.gas_use.value,
                "status": u.status.value,
                "employees": u.employees,
                "floor_area_m2": u.floor_area_m2,
            },
        )
    staff = build_staff(town, layer_rng(seed, "staff", i))
    for person in staff:
        p = person
        w["staff.geojson"].write(
            point_ll(p.xy),
            {
                **tc,
                "code": p.code,
                "name": p.name,
                "department_code": p.department_code,
                "role": p.role.value,
                "home_village_code": p.home_village_code,
                "capacity_units": p.capacity_units,
                "capacity_teams": p.capacity_teams,
                "phone": p.phone,
                "license_no": p.license_no,
                "active": p.active,
            },
        )
    if not with_activity:
        return
    act_rng = layer_rng(seed, "activity", i)
    placer = Placer(town, act_rng, roads_m, net.trunk_m, None)
    inspections, hazards = build_activity(units, staff, placer, act_rng, ACTIVITY_YEAR)
    for insp in inspections:
        w["inspections.csv"].write(
            {
                "code": insp.code,
                "unit_code": insp.unit_code,
                "village_code": insp.village_code,
                "inspected_on": insp.inspected_on.isoformat(),
                "kind": insp.kind.value,
                "inspector_codes": ";".join(insp.inspector_codes),
                "hazard_count": insp.hazard_count,
                "result": insp.result,
            }
        )
    for h in hazards:
        w["hazards.geojson"].write(
            point_ll(h.xy),
            {
                "code": h.code,
                "unit_code": h.unit_code,
                "village_code": h.village_code,
                "inspection_code": h.inspection.code if h.inspection else None,
                "source": h.source.value,
                "category": h.category.value,
                "fatal_factor": h.fatal_factor.value if h.fatal_factor else None,
                "level": h.level.value,
                "description": h.description,
                "location_desc": h.location_desc,
                "found_on": h.found_on.isoformat(),
                "deadline": _iso(h.deadline),
                "rectified_on": _iso(h.rectified_on),
                "reviewed_on": _iso(h.reviewed_on),
                "closed_on": _iso(h.closed_on),
                "status": h.status.value,
                "supervised": h.supervised,
                "reporter_name": h.reporter_name,
                "reporter_phone": h.reporter_phone,
            },
        )


def _iso(d: Any) -> str | None:
    return d.isoformat() if d is not None else None
