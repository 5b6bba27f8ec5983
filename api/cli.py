"""The one command line: ``gridsafe demo|serve|db|generate|import|export|backup|restore``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from gis.errors import ConfigurationError, GridsafeError, ImportRejected
from gis.settings import Settings, demo_settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine


def _say(message: str) -> None:
    print(message, flush=True)


def _engine(settings: Settings) -> Engine:
    from gis.db.engine import get_engine

    return get_engine(settings)


def _prepare(settings: Settings) -> Engine:
    """Start the database if it is ours, migrate it and load the reference tables.

    Every command comes through here; a new schema revision or changed reference table is
    audited as ``cli:prepare`` (a start that changes nothing writes nothing).
    """
    from data import REFERENCE_DIR
    from gis.audit import Actor
    from gis.db.bootstrap import prepare

    engine = _engine(settings)
    prepare(engine, REFERENCE_DIR, actor=Actor.system("cli:prepare", town_code=settings.town_code))
    return engine


def _serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    from api.main import create_app

    _say(f"gridsafe is serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    if workers > 1:
        # Each worker process builds its own app, engine and pool from the same environment
        # (the schema is already migrated by the parent): one Python process is GIL-bound, so
        # this is what uses the other cores.
        _say(f"{workers} worker processes")
        uvicorn.run(
            "api.main:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
        )
        return
    app = create_app(settings, engine=_engine(settings))
    uvicorn.run(app, host=host, port=port, log_level="info")


def cmd_demo(args: argparse.Namespace) -> int:
    from data import DEMO_DIR
    from gis.audit import Actor
    from gis.db.bootstrap import load_dataset_once

    # Its own random secret, kept in the data dir (unless GRIDSAFE_SECRET_KEY is set).
    settings = demo_settings(get_settings())
    engine = _prepare(settings)
    report = load_dataset_once(engine, DEMO_DIR, actor=Actor.system("cli:demo"))
    if report is None:
        _say("demo town already loaded")
    else:
        _say(f"demo town loaded: {report.total_rows} rows in {report.seconds:.1f} s")
        _assign_demo_town(engine, settings.town_code)
    from api.cli_accounts import announce_demo_accounts  # ensure_demo_accounts, and say so

    announce_demo_accounts(engine, settings.town_code)
    _serve(settings, args.host, args.port)
    return 0


def _assign_demo_town(engine: Engine, town_code: str) -> None:
    """Give the freshly loaded demo town its grid chiefs, inspectors and 五包一 teams.

    As of the first day of the demo year, so the year's inspections and hazards have
    responsible people and later runs (as of today) are allowed.
    """
    import datetime as dt

    from gis.access import Scope
    from gis.audit import Actor
    from gis.workflows.assignments import run_assignment

    with engine.begin() as conn:
        report = run_assignment(
            conn,
            town_code,
            dt.date(2024, 1, 1),
            Scope.unrestricted(),
            actor=Actor.system("cli:demo", town_code=town_code),
            dry_run=False,
        )
    _say(f"demo assignment: {report.filled}/{report.required} slots filled")


def cmd_serve(args: argparse.Namespace) -> int:
    settings = get_settings()
    settings.signing_secret()  # refuse before touching the database
    _prepare(settings)
    _serve(settings, args.host, args.port, args.workers)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from gis.db import migrate
    from gis.db.engine import local_server

    settings = get_settings()
    server = local_server(settings)
    if args.action == "start":
        if settings.database_url:
            _say("GRIDSAFE_DATABASE_URL is set: gridsafe does not manage that server")
            return 0
        server.start()
        _say(json.dumps(server.status(), ensure_ascii=False))
    elif args.action == "stop":
        _say("stopped" if server.stop() else "not running")
    elif args.action == "status":
        if settings.database_url:
            _say("external database: " + settings.database_url.split("@")[-1])
        else:
            _say(json.dumps(server.status(), ensure_ascii=False))
    elif args.action == "upgrade":
        _prepare(settings)
        _say(f"schema at revision {migrate.current(_engine(settings))}")
    elif args.action == "downgrade":
        from gis.audit import Actor

        actor = Actor.system("cli:db-downgrade", town_code=settings.town_code)
        migrate.downgrade(_engine(settings), actor, args.revision)
        _say(f"schema at revision {migrate.current(_engine(settings))}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from data.generator.core import generate

    manifest = generate(Path(args.out), seed=args.seed, scale=args.scale)
    _say(json.dumps(manifest.get("counts", {}), ensure_ascii=False))
    if args.load:
        from gis.audit import Actor
        from gis.db.bootstrap import load_dataset_once

        engine = _prepare(get_settings())
        report = load_dataset_once(engine, Path(args.out), actor=Actor.system("cli:generate"))
        if report is not None:
            rate = report.total_rows / max(report.seconds, 1e-9)
            _say(f"loaded {report.total_rows} rows in {report.seconds:.1f} s ({rate:,.0f} rows/s)")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gridsafe", description="网格安监 gridsafe")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the service on the demo town (embedded database)")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.set_defaults(func=cmd_demo)

    serve = sub.add_parser("serve", help="run the service on the configured database")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="worker processes (production: about one per core; each has its own pool and cache)",
    )
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="manage the database")
    db.add_argument("action", choices=["start", "stop", "status", "upgrade", "downgrade"])
    db.add_argument("--revision", default="base", help="target of downgrade")
    db.set_defaults(func=cmd_db)

    gen = sub.add_parser("generate", help="generate a synthetic town/county/province dataset")
    gen.add_argument("--scale", choices=["town", "county", "province"], default="town")
    gen.add_argument("--seed", type=int, default=2024)
    gen.add_argument("--out", required=True)
    gen.add_argument("--load", action="store_true", help="also load it into the database")
    gen.set_defaults(func=cmd_generate)

    from api import cli_backup, cli_gaps, cli_io

    cli_io.add_commands(sub)
    __import__("api.cli_assign").cli_assign.add_commands(sub)
    from api import cli_accounts

    cli_accounts.add_commands(sub)
    cli_backup.add_commands(sub)
    cli_gaps.add_commands(sub)
    __import__("api.cli_route").cli_route.add_commands(sub)
    __import__("api.cli_hazards").cli_hazards.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ImportRejected as exc:
        print(f"导入被拒绝，未写入任何数据 ({len(exc.problems)} 个问题):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except ConfigurationError as exc:
        print("配置错误，服务未启动 (configuration refused; not started):", file=sys.stderr)
        print(f"  {exc.message}", file=sys.stderr)
        return 2
    except GridsafeError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except ValidationError as exc:  # settings refused at start, e.g. the default secret
        print("配置错误，服务未启动 (configuration refused; not started):", file=sys.stderr)
        for error in exc.errors():
            print(f"  {error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
