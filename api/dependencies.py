"""Typed FastAPI dependencies: settings, the process engine, and a connection per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine

from gis.access import Scope
from gis.settings import Settings, get_settings

SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def get_conn(engine: EngineDep) -> Iterator[Connection]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    with engine.begin() as conn:
        yield conn


ConnDep = Annotated[Connection, Depends(get_conn)]


def get_scope() -> Scope:
    """The data scope of the caller; every read and write goes through it."""
    return Scope.unrestricted()


ScopeDep = Annotated[Scope, Depends(get_scope)]
