"""``gridsafe import`` and ``gridsafe export``: the ledger and GIS exchange formats."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from gis.audit import Actor
from gis.io.exporters import EXPORT_FORMATS
from gis.workflows.imports import import_file

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from gis.settings import Settings

DATASETS = ("units", "villages")


def _settings_and_engine() -> tuple[Settings, Engine]:
    from api.cli import _prepare
    from gis.settings import get_settings

    settings = get_settings()
    return settings, _prepare(settings)


def cmd_import(args: argparse.Namespace) -> int:
    settings, engine = _settings_and_engine()
    town = args.town or settings.town_code
    coords: str | int = int(args.coords) if args.coords.isdigit() else args.coords
    with engine.begin() as conn:
        report = import_file(
            conn,
            args.dataset,
            Path(args.file),
            town_code=town,
            actor=Actor.system("cli:import", town_code=town),
            coords=coords,
            fmt=args.format,
            dry_run=args.dry_run,
        )
    if args.dry_run:
        print("（试运行，未写入）", end="")
    print(report.summary())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from gis.io.exporters import export_units, export_villages

    settings, engine = _settings_and_engine()
    town = args.town or settings.town_code
    exporter = export_units if args.dataset == "units" else export_villages
    with engine.connect() as conn:
        path = exporter(
            conn, town, args.format, dest=Path(args.out), crs=args.crs, encoding=args.encoding
        )
    print(f"written {path}")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``import`` and ``export``."""
    imp = sub.add_parser("import", help="import a ledger or GIS file (all or nothing)")
    imp.add_argument("dataset", choices=DATASETS)
    imp.add_argument("file")
    imp.add_argument(
        "--format",
        choices=["xlsx", "csv", "geojson", "gpkg", "shp", "kml", "zip"],
        help="default: from the file name",
    )
    imp.add_argument(
        "--coords",
        default="wgs84",
        help="wgs84 | cgcs2000 | gcj02 | bd09 | 4547 | 4526 (default wgs84)",
    )
    imp.add_argument("--town", help="12-digit town code (default GRIDSAFE_TOWN_CODE)")
    imp.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
    imp.set_defaults(func=cmd_import)

    exp = sub.add_parser("export", help="export units or villages")
    exp.add_argument("dataset", choices=DATASETS)
    exp.add_argument("--format", choices=EXPORT_FORMATS, required=True)
    exp.add_argument("--out", required=True, help="file or directory")
    exp.add_argument("--crs", type=int, choices=[4547, 4526], help="projected shp/gpkg output")
    exp.add_argument(
        "--encoding", default="GBK", choices=["GBK", "UTF-8"], help="shapefile DBF encoding"
    )
    exp.add_argument("--town", help="12-digit town code (default GRIDSAFE_TOWN_CODE)")
    exp.set_defaults(func=cmd_export)
